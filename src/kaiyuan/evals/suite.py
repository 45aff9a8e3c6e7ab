"""What a suite is: cases, the request each case becomes, and how an answer is scored.

The runner knows nothing about BFCL or HumanEval; a suite knows nothing about HTTP.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from kaiyuan.evals.cache import Result
from kaiyuan.evals.runner import Task


@dataclass(frozen=True)
class CaseScore:
    """One case's verdict. `correct` is None when the case ended in a request error."""

    case_id: str
    category: str
    correct: bool | None
    detail: str = ""


class Suite(Protocol):
    """A benchmark the runner can drive."""

    name: str

    def case_ids(self) -> Sequence[str]:
        """Every case, in a stable order."""
        ...

    def category(self, case_id: str) -> str:
        """The category `case_id` is scored under."""
        ...

    def task(self, case_id: str, params: dict[str, Any]) -> Task:
        """The request for one case under `params` (sampling, thinking, mode)."""
        ...

    def score(self, result: Result) -> CaseScore:
        """Judge one stored answer."""
        ...


@dataclass(frozen=True)
class Summary:
    """Accuracy by category and overall, errors kept apart."""

    by_category: dict[str, float]
    cases_by_category: dict[str, int]
    overall: float
    cases: int
    errors: int


def summarise(scores: Sequence[CaseScore]) -> Summary:
    """Accuracy per category and over all cases; a request error counts as wrong, and is
    also counted on its own so that a flaky endpoint is visible."""
    by_category: dict[str, list[bool]] = {}
    for score in scores:
        by_category.setdefault(score.category, []).append(bool(score.correct))
    accuracy = {c: sum(v) / len(v) for c, v in sorted(by_category.items())}
    total = [bool(s.correct) for s in scores]
    return Summary(
        by_category=accuracy,
        cases_by_category={c: len(v) for c, v in sorted(by_category.items())},
        overall=sum(total) / len(total) if total else 0.0,
        cases=len(scores),
        errors=sum(s.correct is None for s in scores),
    )
