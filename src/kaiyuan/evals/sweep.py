"""Accuracy against thinking budget: one suite run at each budget (and with thinking off),
with tokens, latency and cost per case and per correct answer at each point.

Qwen3 sells its thinking budget as a way to trade accuracy for cost; this measures the
curve on the user's own endpoint instead of taking the vendor's plot on trust.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kaiyuan.evals.evaluate import Evaluation

OFF = "off"


def parse_budgets(text: str) -> list[int | str]:
    """`"off,0,256,1024"` -> ["off", 0, 256, 1024]; refuses negatives and junk."""
    budgets: list[int | str] = []
    for item in (part.strip() for part in text.split(",") if part.strip()):
        if item == OFF:
            budgets.append(OFF)
            continue
        try:
            value = int(item)
        except ValueError:
            raise ValueError(f"budget {item!r} is neither a whole number nor 'off'") from None
        if value < 0:
            raise ValueError(f"budget {value} is negative")
        budgets.append(value)
    if not budgets:
        raise ValueError("give at least one budget, e.g. --budgets off,0,256,1024")
    return budgets


def thinking_params(base: dict[str, Any], budget: int | str) -> dict[str, Any]:
    """Request parameters for one budget: `enable_thinking: false`, or `thinking_budget`."""
    extra = dict(base.get("extra_body") or {})
    if budget == OFF:
        extra["enable_thinking"] = False
    else:
        extra["thinking_budget"] = budget
    return {**base, "extra_body": extra}


@dataclass(frozen=True)
class Prices:
    """USD per million input and output tokens (reasoning is billed as output)."""

    input: float = 0.0
    output: float = 0.0

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input + completion_tokens * self.output) / 1e6


@dataclass(frozen=True)
class SweepPoint:
    """One budget's results, per case."""

    budget: int | str
    accuracy: float
    cases: int
    correct: int
    errors: int
    mean_reasoning_tokens: float
    mean_completion_tokens: float
    mean_latency_s: float | None
    cost_per_case: float
    cost_per_correct: float | None


def point(budget: int | str, evaluation: Evaluation, prices: Prices) -> SweepPoint:
    """Summarise one budget's evaluation."""
    cases = evaluation.summary.cases or 1
    correct = sum(bool(s.correct) for s in evaluation.scores)
    total_cost = prices.cost(evaluation.prompt_tokens, evaluation.completion_tokens)
    return SweepPoint(
        budget=budget,
        accuracy=evaluation.summary.overall,
        cases=evaluation.summary.cases,
        correct=correct,
        errors=evaluation.summary.errors,
        mean_reasoning_tokens=evaluation.reasoning_tokens / cases,
        mean_completion_tokens=evaluation.completion_tokens / cases,
        mean_latency_s=evaluation.mean_latency_s,
        cost_per_case=total_cost / cases,
        cost_per_correct=total_cost / correct if correct else None,
    )


def sweep(budgets: Sequence[int | str], base_params: dict[str, Any],
          run_one: Callable[[dict[str, Any]], Evaluation], prices: Prices) -> list[SweepPoint]:
    """Run `run_one` at every budget, in the order given."""
    return [point(b, run_one(thinking_params(base_params, b)), prices) for b in budgets]
