"""The suites `kaiyuan eval` can run, by name."""

from __future__ import annotations

from collections.abc import Sequence

from kaiyuan.evals.bfcl import data as bfcl_data
from kaiyuan.evals.suites.bfcl import BfclSuite
from kaiyuan.evals.suites.humaneval import HumanEvalSuite

NAMES = ("bfcl", "humaneval")


def build(name: str, *, categories: Sequence[str] = (), mode: str = "native",
          samples: int = 1) -> BfclSuite | HumanEvalSuite:
    """The suite called `name`, configured by the options that apply to it."""
    if name == "bfcl":
        return BfclSuite(tuple(categories) or bfcl_data.CATEGORIES, mode)
    if name == "humaneval":
        return HumanEvalSuite(samples)
    raise ValueError(f"unknown suite '{name}'; choose one of {', '.join(NAMES)}")
