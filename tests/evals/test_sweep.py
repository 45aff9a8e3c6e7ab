"""The thinking-budget sweep: budgets parsed strictly, and, against a real thinking
server, each budget's reasoning tokens are exactly the budget."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import QWEN, RunningServer

from kaiyuan.evals.perf import percentile
from kaiyuan.evals.sweep import OFF, parse_budgets, thinking_params


def test_budgets_are_parsed_strictly() -> None:
    assert parse_budgets("off, 0,256 ,1024") == [OFF, 0, 256, 1024]
    for bad in ("", "-1", "lots", "1.5"):
        with pytest.raises(ValueError):
            parse_budgets(bad)


def test_each_budget_becomes_its_request_parameters() -> None:
    base = {"max_tokens": 64, "extra_body": {"top_k": 1}}
    assert thinking_params(base, OFF)["extra_body"] == {"top_k": 1, "enable_thinking": False}
    assert thinking_params(base, 256)["extra_body"] == {"top_k": 1, "thinking_budget": 256}
    assert base["extra_body"] == {"top_k": 1}


def test_percentiles_interpolate() -> None:
    assert percentile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.5
    assert percentile([1.0, 2.0], 0.95) == pytest.approx(1.95)
    assert percentile([], 0.5) is None


def test_a_sweep_spends_exactly_each_budget(qwen_thinking: RunningServer,
                                            tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "kaiyuan.cli.main", "eval", "sweep", "humaneval",
         "--budgets", "off,0,16", "--limit", "1", "--max-tokens", "48",
         "--base-url", qwen_thinking.base_url, "--model", QWEN,
         "--output-price", "2", "--db", str(tmp_path / "e.sqlite"), "--json"],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    points = {str(p["budget"]): p for p in json.loads(done.stdout)}
    assert points["off"]["mean_reasoning_tokens"] == 0
    assert points["0"]["mean_reasoning_tokens"] == 0
    assert points["16"]["mean_reasoning_tokens"] == 16
    assert points["16"]["mean_completion_tokens"] >= 16
    assert all(p["cases"] == 1 and p["errors"] == 0 for p in points.values())
    assert points["16"]["cost_per_case"] == pytest.approx(
        points["16"]["mean_completion_tokens"] * 2 / 1e6)
