"""Evaluation reports from a real results database: numbers checked by hand, HTML that
stands alone and escapes what models wrote, Markdown tables ready for a README."""

from __future__ import annotations

import base64
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest

from kaiyuan.evals.cache import Result, ResultCache, RunKey
from kaiyuan.evals.report import (
    RunSummary,
    collect,
    cost_per_correct,
    thinking_budget,
    write_report,
)
from kaiyuan.evals.sweep import OFF, Prices, thinking_params

ENDPOINT = "http://127.0.0.1:8000/v1"
BASE = {"temperature": 0.0, "max_tokens": 512}
SCRIPT = "<script>alert(1)</script>"


@dataclass(frozen=True)
class Case:
    case_id: str
    category: str
    correct: bool | None
    latency_s: float | None = 1.0
    completion_tokens: int = 50
    reasoning_tokens: int = 0
    detail: str = ""


def store_run(cache: ResultCache, model: str, suite: str, params: dict, cases: list[Case],
              walls: list[float]) -> None:
    key = RunKey.of(ENDPOINT, model, suite, params)
    for case in cases:
        answered = case.correct is not None
        cache.store(key, Result(
            case.case_id,
            {"choices": [{"message": {"content": "..."}}]} if answered else None,
            None if answered else "HTTP 500: boom",
            case.latency_s if answered else None, None,
            100 if answered else None,
            case.completion_tokens if answered else None,
            case.reasoning_tokens if answered else None, 1))
    cache.store_scores(key, [(c.case_id, c.category, c.correct, c.detail) for c in cases])
    for wall in walls:
        cache.record_progress(cache.begin_run(key, cached=0), wall, len(cases), 0)


def build_database(path: Path) -> Path:
    cache = ResultCache(path)
    # alpha on BFCL: simple 2/3, multiple 1/3 with one request error; latencies 1..5 s.
    store_run(cache, "alpha", "bfcl-native", BASE, [
        Case("simple_0", "simple", True, 1.0),
        Case("simple_1", "simple", True, 2.0),
        Case("simple_2", "simple", False, 3.0, detail=f"wrong function {SCRIPT}"),
        Case("multiple_0", "multiple", True, 4.0),
        Case("multiple_1", "multiple", None),
        Case("multiple_2", "multiple", False, 5.0, detail="missing argument 'x'"),
    ], walls=[10.0, 2.5])
    store_run(cache, "beta", "bfcl-native", BASE, [
        Case("simple_0", "simple", True, 0.5),
        Case("simple_1", "simple", True, 0.5),
        Case("simple_2", "simple", True, 0.5),
        Case("multiple_0", "multiple", True, 0.5),
        Case("multiple_1", "multiple", False, 0.5, detail="wrong order"),
        Case("multiple_2", "multiple", True, 0.5),
    ], walls=[3.0])
    # alpha on HumanEval at three budgets: 1/4, 2/4, 3/4 correct.
    for budget, right, reasoning, walls in ((OFF, 1, 0, [4.0]), (0, 2, 0, [5.0]),
                                            (256, 3, 256, [])):
        store_run(cache, "alpha", "humaneval", thinking_params(BASE, budget), [
            Case(f"HumanEval/{i}", "humaneval", i < right, 2.0,
                 completion_tokens=40 + reasoning, reasoning_tokens=reasoning,
                 detail="" if i < right else "AssertionError")
            for i in range(4)
        ], walls=walls)
    # Asked but never scored: not a run a report can show.
    cache.store(RunKey.of(ENDPOINT, "gamma", "humaneval", BASE),
                Result("HumanEval/0", None, "timeout", None, None, None, None, None, 3))
    cache.close()
    return path


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_database(tmp_path_factory.mktemp("report") / "evals.sqlite")


@pytest.fixture(scope="module")
def runs(database: Path) -> list[RunSummary]:
    return collect(database)


@dataclass(frozen=True)
class Written:
    html: str
    markdown: str


@pytest.fixture(scope="module")
def report(runs: list[RunSummary], tmp_path_factory: pytest.TempPathFactory) -> Written:
    out = tmp_path_factory.mktemp("out")
    write_report(runs, out / "report.html", out / "report.md",
                 prices={"alpha": (1.0, 2.0)})
    return Written((out / "report.html").read_text(), (out / "report.md").read_text())


def find(runs: list[RunSummary], model: str, suite: str,
         budget: int | str | None = None) -> RunSummary:
    [run] = [r for r in runs if (r.model, r.suite, r.thinking_budget) == (model, suite, budget)]
    return run


def table_rows(lines: list[str], header_start: str) -> list[str]:
    """The body rows of the Markdown table whose header starts with `header_start`."""
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def test_collect_summarises_each_scored_run(runs: list[RunSummary]) -> None:
    assert [(r.model, r.suite, r.thinking_budget) for r in runs] == [
        ("alpha", "bfcl-native", None), ("beta", "bfcl-native", None),
        ("alpha", "humaneval", OFF), ("alpha", "humaneval", 0), ("alpha", "humaneval", 256)]
    alpha = find(runs, "alpha", "bfcl-native")
    assert (alpha.cases, alpha.correct, alpha.errors) == (6, 3, 1)
    assert alpha.accuracy == pytest.approx(0.5)
    assert alpha.by_category == pytest.approx({"multiple": 1 / 3, "simple": 2 / 3})
    assert alpha.latencies == [4.0, 5.0, 1.0, 2.0, 3.0]  # case id order, error left out
    assert alpha.mean_latency_s == pytest.approx(3.0)
    assert alpha.median_latency_s == pytest.approx(3.0)
    assert alpha.p95_latency_s == pytest.approx(4.8)  # 4 + 0.8 * (5 - 4)
    assert alpha.wall_s == pytest.approx(12.5)
    assert (alpha.prompt_tokens, alpha.completion_tokens) == (500, 250)
    assert alpha.mean_completion_tokens == pytest.approx(250 / 6)
    assert alpha.setting == "max_tokens=512, temperature=0.0"
    assert [(f.case_id, f.request_error) for f in alpha.failures] == [
        ("multiple_1", True), ("multiple_2", False), ("simple_2", False)]
    beta = find(runs, "beta", "bfcl-native")
    assert beta.accuracy == pytest.approx(5 / 6)
    assert beta.by_category == pytest.approx({"multiple": 2 / 3, "simple": 1.0})
    assert beta.p95_latency_s == pytest.approx(0.5)


def test_budgets_come_from_the_request_parameters(runs: list[RunSummary]) -> None:
    off, zero, full = (find(runs, "alpha", "humaneval", b) for b in (OFF, 0, 256))
    assert [r.accuracy for r in (off, zero, full)] == [0.25, 0.5, 0.75]
    assert full.mean_reasoning_tokens == 256
    assert full.mean_completion_tokens == 296
    assert full.wall_s is None  # never logged: unknown, not zero
    assert off.setting == "thinking off, max_tokens=512, temperature=0.0"
    assert thinking_budget({}) is None
    assert thinking_budget({"extra_body": {"thinking_budget": 1024}}) == 1024
    assert thinking_budget({"extra_body": {"chat_template_kwargs":
                                           {"enable_thinking": False}}}) == OFF
    assert thinking_budget({"extra_body": {"enable_thinking": False,
                                           "thinking_budget": 64}}) == OFF
    assert thinking_budget({"extra_body": {"enable_thinking": True}}) is None


def test_filters_pick_models_and_suites(database: Path) -> None:
    assert [r.suite for r in collect(database, models=["beta"])] == ["bfcl-native"]
    assert {r.model for r in collect(database, suites=["humaneval"])} == {"alpha"}
    assert collect(database, models=["gamma"]) == []


def test_a_wrong_database_is_refused_clearly(tmp_path: Path) -> None:
    missing = tmp_path / "nope.sqlite"
    with pytest.raises(FileNotFoundError, match="kaiyuan eval"):
        collect(missing)
    assert not missing.exists()
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(ValueError, match="not a kaiyuan results database"):
        collect(other)


def test_html_stands_alone(report: Written) -> None:
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", report.html, re.I)
    assert "@import" not in report.html and "url(" not in report.html
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', report.html)
    # Two category charts (both suites have several runs), the budget plot, latency.
    assert len(images) == 4
    assert all(base64.b64decode(i).startswith(b"\x89PNG\r\n\x1a\n") for i in images)


def test_html_has_every_section_and_escapes_model_text(report: Written) -> None:
    headings = re.findall(r"<h2>(.*?)</h2>", report.html)
    assert headings == ["Runs", "Accuracy by category", "Accuracy vs thinking budget",
                        "Latency", "Cost per correct answer", "Failures"]
    assert "<script" not in report.html.lower()
    assert "wrong function &lt;script&gt;alert(1)&lt;/script&gt;" in report.html
    assert "missing argument &#x27;x&#x27;" in report.html


def test_markdown_has_the_same_tables(report: Written) -> None:
    lines = report.markdown.splitlines()
    assert ("| alpha | bfcl-native | max_tokens=512, temperature=0.0 | 6 | 50.0% | 1 "
            "| 12.50 s | 3.00 s |") in lines
    assert ("| beta | bfcl-native | max_tokens=512, temperature=0.0 | 6 | 83.3% | 0 "
            "| 3.00 s | 0.50 s |") in lines
    assert "| model | suite | setting | multiple | simple | overall |" in lines
    assert "| alpha | bfcl-native | max_tokens=512, temperature=0.0 | 33.3% | 66.7% | 50.0% |" \
        in lines
    assert table_rows(lines, "| model | suite | thinking budget |") == [
        "| alpha | humaneval | off | 25.0% | 0.0 | 40.0 | 2.00 s |",
        "| alpha | humaneval | 0 | 50.0% | 0.0 | 40.0 | 2.00 s |",
        "| alpha | humaneval | 256 | 75.0% | 256.0 | 296.0 | 2.00 s |"]
    assert ("| alpha | bfcl-native | max_tokens=512, temperature=0.0 | 5 | 3.00 s | 3.00 s "
            "| 4.80 s |") in lines
    assert "data:image" not in report.markdown and "![" not in report.markdown
    assert "## Failures" not in report.markdown and "alert(1)" not in report.markdown


def test_cost_per_correct_answer_uses_the_given_prices(runs: list[RunSummary],
                                                       report: Written) -> None:
    alpha = find(runs, "alpha", "bfcl-native")
    # (500 prompt * $1 + 250 completion * $2) per million tokens, over 3 correct answers.
    assert cost_per_correct(alpha, Prices(1.0, 2.0)) == pytest.approx(0.001 / 3)
    lines = report.markdown.splitlines()
    assert ("| alpha | bfcl-native | max_tokens=512, temperature=0.0 | 500 | 250 | $0.001 "
            "| 3 | $0.000333 |") in lines
    assert not any(line.startswith("| beta |") and "$" in line for line in lines)
    assert "No price given for: beta." in report.markdown


def test_one_run_gets_no_comparison_plots(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "one.sqlite")
    # Between two "$" matplotlib would parse TeX, and refuse the unknown command \\nope.
    store_run(cache, "cheap$\\nope$|x", "humaneval", BASE, [
        Case("HumanEval/0", "humaneval", False, 1.0, detail="")], walls=[1.0])
    cache.close()
    [run] = collect(tmp_path / "one.sqlite")
    assert cost_per_correct(run, Prices(1.0, 1.0)) is None
    write_report([run], tmp_path / "r.html", tmp_path / "r.md", title="solo <run>",
                 prices={"cheap$\\nope$|x": (1.0, 1.0)})
    page = (tmp_path / "r.html").read_text()
    assert page.count("<img ") == 1  # latency only
    assert "Accuracy vs thinking budget" not in page
    assert "<title>solo &lt;run&gt;</title>" in page
    markdown = (tmp_path / "r.md").read_text()
    assert markdown.startswith("# solo &lt;run&gt;\n")
    assert "| cheap$\\nope$\\|x | humaneval | max_tokens=512, temperature=0.0 | 1 | 0.0% |" \
        in markdown
    assert "| 100 | 50 | $0.00015 | 0 | n/a |" in markdown


def test_nothing_to_report_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no scored runs"):
        write_report([], tmp_path / "r.html", tmp_path / "r.md")
