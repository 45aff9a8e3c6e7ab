"""BFCL's prompt mode, for models served without native tool calling: the functions are
described in the system prompt and the model answers with Python call syntax,
`[func1(a=1, b="x"), func2(c=[1, 2])]`, which is read back with `ast` (never evaluated).

The prompt is BFCL's default (`ret_fmt=python&tool_call_tag=False&func_doc_fmt=json&
prompt_fmt=plaintext&style=classic`, bfcl-eval 2026.3.23,
`bfcl_eval/constants/default_prompts.py`), so scores compare with the leaderboard's
"(Prompt)" rows; two spacing slips in BFCL's assembled text are not reproduced. The
decoding follows BFCL's `default_decode_ast_prompting`: strip backticks, make it a list,
keep keyword arguments, read a bare name as its own text (a variable reference).
"""

from __future__ import annotations

import ast
import json
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kaiyuan.evals.bfcl.checker import Call

CALL_FORMAT = ("[func_name1(params_name1=params_value1, params_name2=params_value2...), "
               "func_name2(params)]")

_PROMPT = (
    "You are an expert in composing functions. You are given a question and a set of "
    "possible functions. Based on the question, you will need to make one or more "
    "function/tool calls to achieve the purpose. If none of the functions can be used, "
    "point it out. If the given question lacks the parameters required by the function, "
    "also point it out.\n\n"
    "You should only return the function calls in your response.\n\n"
    "If you decide to invoke any of the function(s), you MUST put it in the format of "
    "{call_format}. You SHOULD NOT include any other text in the response.\n\n"
    "At each turn, you should try your best to complete the tasks requested by the user "
    "within the current turn. Continue to output functions to call until you have "
    "fulfilled the user's request to the best of your ability. Once you have no more "
    "functions to call, the system will consider the current turn complete and proceed to "
    "the next turn or task.\n\n"
    "Here is a list of functions in json format that you can invoke.\n{functions}\n"
)


def system_prompt(functions: list[dict[str, Any]]) -> str:
    """BFCL's default prompting-mode system prompt for these function docs."""
    return _PROMPT.format(call_format=CALL_FORMAT, functions=json.dumps(functions, indent=4))


def prompt_messages(messages: list[dict[str, str]],
                    functions: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The conversation with the system prompt added as BFCL adds it: in front of the
    case's own system message when it has one, else as a new first message."""
    prompt = system_prompt(functions)
    result = [dict(message) for message in messages]
    if result and result[0]["role"] == "system":
        result[0]["content"] = prompt + "\n\n" + result[0]["content"]
        return result
    return [{"role": "system", "content": prompt}, *result]


@dataclass(frozen=True)
class ParsedCalls:
    """The calls read from a reply; when none could be read, `reason` says why."""

    calls: list[Call] = field(default_factory=list)
    reason: str = ""


class _Unreadable(ValueError):
    """The reply is not a list of calls."""


_FENCE = re.compile(r"```[\w+-]*[ \t]*\n?(.*?)```", re.DOTALL)

_ARITHMETIC: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
# Keeps `10 ** 10 ** 10` in a reply from hanging the scorer.
_MAX_POWER_BITS = 10_000


def _too_big(base: float, exponent: float) -> bool:
    if isinstance(base, float) or isinstance(exponent, float):
        return abs(exponent) > _MAX_POWER_BITS  # float overflow raises instead
    return max(1, int(base).bit_length()) * abs(exponent) > _MAX_POWER_BITS


def _dotted_name(node: ast.expr) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        raise _Unreadable(f"{ast.unparse(node)!r} is not a function name")
    parts.append(node.id)
    return ".".join(reversed(parts))


def _arithmetic(node: ast.BinOp) -> Any:
    # BFCL evaluates arithmetic such as `radius=2*3`; this does it without eval, for
    # numbers (and string concatenation) only, and keeps anything else as its source text.
    left, right = _value(node.left), _value(node.right)
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (left, right))
    strings = isinstance(node.op, ast.Add) and all(isinstance(v, str) for v in (left, right))
    if not (numbers or strings) or type(node.op) not in _ARITHMETIC:
        return ast.unparse(node)
    if isinstance(node.op, ast.Pow) and _too_big(left, right):
        return ast.unparse(node)
    try:
        result = _ARITHMETIC[type(node.op)](left, right)
    except (ArithmeticError, ValueError):
        return ast.unparse(node)
    if isinstance(result, complex) or (isinstance(result, float) and not math.isfinite(result)):
        return ast.unparse(node)
    return result


def _value(node: ast.expr) -> Any:
    """An argument's value; what is not a literal becomes its source text, as BFCL does
    for variable names."""
    if isinstance(node, ast.Constant):
        return "..." if node.value is Ellipsis else node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        operand = _value(node.operand)
        if isinstance(operand, int | float) and not isinstance(operand, bool):
            return -operand if isinstance(node.op, ast.USub) else operand
        return ast.unparse(node)
    if isinstance(node, ast.List):
        return [_value(element) for element in node.elts]
    if isinstance(node, ast.Tuple):
        return tuple(_value(element) for element in node.elts)
    if isinstance(node, ast.Dict):
        if any(key is None for key in node.keys):
            raise _Unreadable("a `**` unpacking inside a dict argument")
        return {_value(key): _value(value)
                for key, value in zip(node.keys, node.values, strict=True) if key is not None}
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.BinOp):
        return _arithmetic(node)
    if isinstance(node, ast.Call) and node.keywords:
        nested = _call(node)
        return {nested.name: nested.arguments}
    return ast.unparse(node)


def _call(node: ast.Call) -> Call:
    arguments = {}
    for keyword in node.keywords:
        if keyword.arg is None:
            raise _Unreadable("a `**` unpacking among the arguments")
        arguments[keyword.arg] = _value(keyword.value)
    # Positional arguments are dropped, as BFCL's decoder drops them: the format asks for
    # keyword arguments, and a missing required one then fails the check.
    return Call(_dotted_name(node.func), arguments)


def _call_list_source(text: str) -> str:
    fenced = _FENCE.search(text)
    body = fenced.group(1) if fenced else text
    body = body.strip("`\n ").strip().strip("'")
    if not body.startswith("["):
        body = "[" + body
    if not body.endswith("]"):
        body = body + "]"
    return body


def parse_calls(text: str) -> ParsedCalls:
    """The calls in a prompt-mode reply such as `[f(a=1), g(b="x")]`, optionally inside a
    fenced code block. A reply that is not such a list yields no calls and the reason."""
    if not text or not text.strip():
        return ParsedCalls(reason="the reply is empty")
    try:
        tree = ast.parse(_call_list_source(text), mode="eval")
        if not isinstance(tree.body, ast.List):
            raise _Unreadable("the reply is not a list of calls")
        calls = []
        for element in tree.body.elts:
            if not isinstance(element, ast.Call):
                raise _Unreadable(f"{ast.unparse(element)!r} is not a function call")
            calls.append(_call(element))
    except SyntaxError as error:
        return ParsedCalls(reason=f"not Python call syntax: {error.msg}")
    except (_Unreadable, TypeError, RecursionError, MemoryError) as error:
        return ParsedCalls(reason=str(error) or type(error).__name__)
    return ParsedCalls(calls=calls)
