"""HumanEval as a runnable suite: each problem asked `samples` times, each answer run
against the problem's tests in the sandbox, pass@k from the counts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kaiyuan.evals import humaneval
from kaiyuan.evals.cache import Result
from kaiyuan.evals.pass_at_k import mean_pass_at_k
from kaiyuan.evals.runner import Task
from kaiyuan.evals.suite import CaseScore

INSTRUCTION = (
    "Complete the following Python function. Reply with the whole function in one "
    "```python code block.\n\n"
)


@dataclass
class HumanEvalSuite:
    """HumanEval's 164 problems; with `samples` > 1, case ids are `TASK#i`."""

    samples: int = 1
    name: str = "humaneval"
    _problems: dict[str, humaneval.Problem] = field(default_factory=dict, init=False,
                                                    repr=False)

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise ValueError("samples must be at least 1")
        self._problems = {p.task_id: p for p in humaneval.load_problems()}

    def case_ids(self) -> list[str]:
        if self.samples == 1:
            return list(self._problems)
        return [f"{task}#{i}" for task in self._problems for i in range(self.samples)]

    def problem(self, case_id: str) -> humaneval.Problem:
        return self._problems[case_id.split("#")[0]]

    def category(self, case_id: str) -> str:
        return "humaneval"

    def task(self, case_id: str, params: dict[str, Any]) -> Task:
        problem = self.problem(case_id)
        message = {"role": "user", "content": INSTRUCTION + problem.prompt}
        return Task(case_id, {"messages": [message], **params})

    def score(self, result: Result) -> CaseScore:
        if result.response is None:
            return CaseScore(result.case_id, "humaneval", None, result.error or "no response")
        problem = self.problem(result.case_id)
        reply = result.response["choices"][0]["message"].get("content") or ""
        execution = humaneval.score(problem, humaneval.extract_completion(problem, reply))
        detail = "" if execution.passed else f"{execution.outcome}: " + (
            execution.stderr_tail.strip().splitlines() or [""])[-1]
        return CaseScore(result.case_id, "humaneval", execution.passed, detail)


def pass_at(scores: Sequence[CaseScore], ks: Sequence[int]) -> dict[int, float]:
    """Unbiased pass@k over problems, for each k no larger than the samples per problem."""
    per_problem: dict[str, list[bool]] = {}
    for score in scores:
        per_problem.setdefault(score.case_id.split("#")[0], []).append(bool(score.correct))
    counts = [(len(v), sum(v)) for v in per_problem.values()]
    smallest = min((n for n, _ in counts), default=0)
    return {k: mean_pass_at_k(counts, k) for k in ks if 0 < k <= smallest}
