"""Evaluation reports: every scored run in the results database, summarised side by side,
written as one self-contained HTML file with plots and as Markdown tables for a README.

The HTML needs nothing but itself: CSS inline, plots drawn with matplotlib's Agg canvas
and embedded as base64 PNG data URIs (RFC 2397), no scripts, no external URLs. Every piece
of text that came from a model or a database is escaped.
"""

from __future__ import annotations

import base64
import io
import json
import sqlite3
import textwrap
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from kaiyuan.evals.sweep import OFF, Prices

_THINKING_KEYS = ("enable_thinking", "thinking_budget")
# Enough failures to see what goes wrong without turning the report into a dump.
_FAILURES_SHOWN = 50
_DETAIL_CHARS = 400


@dataclass(frozen=True)
class Failure:
    """One case a run got wrong, or that ended in a request error."""

    case_id: str
    category: str
    detail: str
    request_error: bool


@dataclass(frozen=True)
class RunSummary:
    """One run (endpoint, model, suite, parameters) as scored in the database.

    Accuracy counts a request error as a wrong answer; `errors` keeps them visible.
    Latency covers the answered cases. Token means are per case, a missing count taken
    as zero; `completion_tokens` includes reasoning, as in the OpenAI usage object.
    """

    endpoint: str
    model: str
    suite: str
    params: dict[str, Any]
    params_key: str
    thinking_budget: int | str | None
    cases: int
    correct: int
    errors: int
    accuracy: float
    by_category: dict[str, float]
    mean_latency_s: float | None
    median_latency_s: float | None
    p95_latency_s: float | None
    mean_reasoning_tokens: float
    mean_completion_tokens: float
    prompt_tokens: int
    completion_tokens: int
    wall_s: float | None
    latencies: list[float] = field(repr=False)
    failures: list[Failure] = field(repr=False)

    @property
    def setting(self) -> str:
        """The request parameters in words, thinking first: "budget 256, temperature=0.0"."""
        return ", ".join(_setting_parts(self.params).values()) or "default"


def thinking_budget(params: dict[str, Any]) -> int | str | None:
    """The thinking budget a run asked for: "off" when `enable_thinking` is false, the
    `thinking_budget` when one is set, None when the model's default was left alone.
    Looks at the top level, `extra_body`, and `extra_body.chat_template_kwargs`."""
    layers = _thinking_layers(params)
    if any(layer.get("enable_thinking") is False for layer in layers):
        return OFF
    for layer in layers:
        budget = layer.get("thinking_budget")
        if isinstance(budget, int) and not isinstance(budget, bool):
            return budget
    return None


def cost_per_correct(run: RunSummary, prices: Prices) -> float | None:
    """USD spent on the run over its correct answers; None when none was correct."""
    if not run.correct:
        return None
    return prices.cost(run.prompt_tokens, run.completion_tokens) / run.correct


def collect(db: Path, *, models: Iterable[str] | None = None,
            suites: Iterable[str] | None = None) -> list[RunSummary]:
    """One summary per (endpoint, model, suite, parameters) that has scores in `db`,
    limited to `models` and `suites` when given, ordered by suite, model and budget."""
    wanted_models = set(models) if models is not None else None
    wanted_suites = set(suites) if suites is not None else None
    con = _open(db)
    try:
        keys = con.execute(
            "SELECT DISTINCT endpoint, model, suite, params_key FROM scores").fetchall()
        runs = [
            _summarise(con, *key) for key in keys
            if (wanted_models is None or key[1] in wanted_models)
            and (wanted_suites is None or key[2] in wanted_suites)
        ]
    finally:
        con.close()
    return sorted(runs, key=lambda r: (r.suite, r.model, r.endpoint,
                                       _budget_order(r.thinking_budget), r.setting))


def write_report(runs: Sequence[RunSummary], html: Path, markdown: Path, *,
                 title: str = "kaiyuan evaluation report",
                 prices: dict[str, tuple[float, float]] | None = None) -> None:
    """Write `runs` as a self-contained HTML report (tables and plots) and as Markdown
    (the same tables, no images). `prices` maps a model to its (input, output) USD per
    million tokens; models with a price get a cost-per-correct-answer table."""
    if not runs:
        raise ValueError("no scored runs to report: run `kaiyuan eval` first, or widen the "
                         "--model / --suite filters")
    sections = _sections(list(runs), prices)
    html.parent.mkdir(parents=True, exist_ok=True)
    markdown.parent.mkdir(parents=True, exist_ok=True)
    html.write_text(_render_html(title, sections), encoding="utf-8")
    markdown.write_text(_render_markdown(title, sections), encoding="utf-8")


# --- reading the database ---------------------------------------------------------------

@dataclass(frozen=True)
class _CaseRow:
    case_id: str
    category: str
    correct: int | None
    detail: str
    params: str | None
    latency_s: float | None
    prompt_tokens: int | None
    completion_tokens: int | None
    reasoning_tokens: int | None


def _open(db: Path) -> sqlite3.Connection:
    # sqlite3.connect would quietly create an empty file for a mistyped path.
    if not db.is_file():
        raise FileNotFoundError(f"no results database at {db}: run `kaiyuan eval` first, "
                                "or point --db at the file it wrote")
    con = sqlite3.connect(db)
    tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    missing = {"results", "scores", "runs"} - tables
    if missing:
        con.close()
        raise ValueError(f"{db} is not a kaiyuan results database (no table "
                         f"{', '.join(sorted(missing))})")
    return con


def _summarise(con: sqlite3.Connection, endpoint: str, model: str, suite: str,
               key: str) -> RunSummary:
    where = (endpoint, model, suite, key)
    rows = [_CaseRow(*row) for row in con.execute(
        "SELECT s.case_id, s.category, s.correct, s.detail, r.params, r.latency_s, "
        "r.prompt_tokens, r.completion_tokens, r.reasoning_tokens "
        "FROM scores s LEFT JOIN results r ON r.endpoint=s.endpoint AND r.model=s.model "
        "AND r.suite=s.suite AND r.case_id=s.case_id AND r.params_key=s.params_key "
        "WHERE s.endpoint=? AND s.model=? AND s.suite=? AND s.params_key=? "
        "ORDER BY s.case_id", where)]
    wall = con.execute("SELECT COUNT(*), SUM(wall_s) FROM runs WHERE endpoint=? AND model=? "
                       "AND suite=? AND params_key=?", where).fetchone()
    params = next((json.loads(r.params) for r in rows if r.params), {})
    latencies = [r.latency_s for r in rows if r.latency_s is not None and r.correct is not None]
    cases = len(rows)
    correct = sum(r.correct == 1 for r in rows)
    return RunSummary(
        endpoint=endpoint, model=model, suite=suite, params=params, params_key=key,
        thinking_budget=thinking_budget(params),
        cases=cases,
        correct=correct,
        errors=sum(r.correct is None for r in rows),
        accuracy=correct / cases,
        by_category=_by_category(rows),
        mean_latency_s=float(np.mean(latencies)) if latencies else None,
        median_latency_s=float(np.median(latencies)) if latencies else None,
        # numpy's default "linear" method: Hyndman and Fan's type 7, as in R and Excel.
        p95_latency_s=float(np.percentile(latencies, 95)) if latencies else None,
        mean_reasoning_tokens=sum(r.reasoning_tokens or 0 for r in rows) / cases,
        mean_completion_tokens=sum(r.completion_tokens or 0 for r in rows) / cases,
        prompt_tokens=sum(r.prompt_tokens or 0 for r in rows),
        completion_tokens=sum(r.completion_tokens or 0 for r in rows),
        wall_s=float(wall[1]) if wall[0] else None,
        latencies=latencies,
        failures=[Failure(r.case_id, r.category, r.detail, r.correct is None)
                  for r in rows if r.correct != 1],
    )


def _by_category(rows: Sequence[_CaseRow]) -> dict[str, float]:
    verdicts: dict[str, list[bool]] = {}
    for row in rows:
        verdicts.setdefault(row.category, []).append(row.correct == 1)
    return {c: sum(v) / len(v) for c, v in sorted(verdicts.items())}


# --- parameters in words ----------------------------------------------------------------

def _thinking_layers(params: dict[str, Any]) -> list[dict[str, Any]]:
    extra = params.get("extra_body") or {}
    return [params, extra, extra.get("chat_template_kwargs") or {}]


def _without_thinking(params: dict[str, Any]) -> dict[str, Any]:
    """`params` less every thinking switch, so runs that differ only by budget match."""
    kept: dict[str, Any] = {}
    for name, value in params.items():
        if name in _THINKING_KEYS:
            continue
        if isinstance(value, dict):
            value = _without_thinking(value)
            if not value:
                continue
        kept[name] = value
    return kept


def _flatten(params: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    for name, value in sorted(params.items()):
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", json.dumps(value)


def _setting_parts(params: dict[str, Any]) -> dict[str, str]:
    """Named pieces of a setting, thinking first, each ready to print."""
    budget = thinking_budget(params)
    parts: dict[str, str] = {}
    if budget is not None:
        parts["thinking"] = "thinking off" if budget == OFF else f"budget {budget}"
    for name, value in _flatten(_without_thinking(params)):
        parts[name] = f"{name}={value}"
    return parts


def _varying_settings(params: Sequence[dict[str, Any]]) -> list[str]:
    """Each setting shortened to the pieces that differ between them, for plot labels."""
    parts = [_setting_parts(p) for p in params]
    names = list(dict.fromkeys(name for p in parts for name in p))
    varying = [n for n in names if len({p.get(n) for p in parts}) > 1]
    return [", ".join(p[n] for n in varying if n in p) for p in parts]


def _budget_order(budget: int | str | None) -> tuple[int, int]:
    if budget is None:
        return (0, 0)
    if budget == OFF:
        return (1, 0)
    return (2, int(budget))


# --- report content, shared by HTML and Markdown ----------------------------------------

@dataclass(frozen=True)
class _Table:
    headers: list[str]
    rows: list[list[str]]
    caption: str = ""


@dataclass(frozen=True)
class _Figure:
    png_base64: str
    alt: str


@dataclass(frozen=True)
class _Section:
    title: str
    note: str
    tables: list[_Table]
    figures: list[_Figure] = field(default_factory=list)
    html_only: bool = False


@dataclass(frozen=True)
class _Names:
    """How runs are named across the report: with the endpoint only when there are
    several, since most reports compare models behind one endpoint."""

    show_endpoint: bool

    @classmethod
    def of(cls, runs: Sequence[RunSummary]) -> _Names:
        return cls(len({r.endpoint for r in runs}) > 1)

    def headers(self) -> list[str]:
        return (["endpoint"] if self.show_endpoint else []) + ["model", "suite", "setting"]

    def cells(self, run: RunSummary) -> list[str]:
        lead = [run.endpoint] if self.show_endpoint else []
        return [*lead, run.model, run.suite, run.setting]

    def model(self, run: RunSummary) -> str:
        return f"{run.model} @ {run.endpoint}" if self.show_endpoint else run.model

    def labels(self, runs: Sequence[RunSummary], *, with_suite: bool) -> list[str]:
        settings = _varying_settings([r.params for r in runs])
        return [" / ".join(part for part in
                           (self.model(r), r.suite if with_suite else "", setting) if part)
                for r, setting in zip(runs, settings, strict=True)]


def _sections(runs: list[RunSummary], prices: dict[str, tuple[float, float]] | None
              ) -> list[_Section]:
    names = _Names.of(runs)
    sections = [_runs_section(runs, names), _category_section(runs, names)]
    sweeps = _sweeps(runs)
    if sweeps:
        sections.append(_budget_section(sweeps, names))
    sections.append(_latency_section(runs, names))
    if prices is not None:
        sections.append(_cost_section(runs, names, prices))
    if any(r.failures for r in runs):
        sections.append(_failures_section(runs, names))
    return sections


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} s"


def _usd(value: float | None) -> str:
    if value is None:
        return "n/a"
    return "$" + np.format_float_positional(value, precision=3, unique=False,
                                            fractional=False, trim="-")


def _runs_section(runs: list[RunSummary], names: _Names) -> _Section:
    rows = [[*names.cells(r), str(r.cases), _percent(r.accuracy), str(r.errors),
             _seconds(r.wall_s), _seconds(r.mean_latency_s)] for r in runs]
    table = _Table([*names.headers(), "cases", "accuracy", "errors", "wall time",
                    "mean latency"], rows)
    note = ("One row per run. Accuracy counts a request error as wrong; errors are also "
            "counted on their own. Wall time sums every invocation of the run, resumes "
            "included.")
    return _Section("Runs", note, [table])


def _category_section(runs: list[RunSummary], names: _Names) -> _Section:
    tables: list[_Table] = []
    figures: list[_Figure] = []
    for suite in dict.fromkeys(r.suite for r in runs):
        in_suite = [r for r in runs if r.suite == suite]
        categories = sorted({c for r in in_suite for c in r.by_category})
        rows = [[*names.cells(r), *(_percent(r.by_category.get(c)) for c in categories),
                 _percent(r.accuracy)] for r in in_suite]
        tables.append(_Table([*names.headers(), *categories, "overall"], rows, caption=suite))
        if len(in_suite) > 1:
            figures.append(_category_figure(suite, in_suite, categories,
                                            names.labels(in_suite, with_suite=False)))
    return _Section("Accuracy by category", "Share of cases correct in each category.",
                    tables, figures)


@dataclass(frozen=True)
class _Sweep:
    """Runs of one model and suite that differ only by thinking budget, "off" first."""

    runs: list[RunSummary]


def _sweeps(runs: list[RunSummary]) -> list[_Sweep]:
    groups: dict[tuple[str, str, str, str], list[RunSummary]] = {}
    for run in runs:
        if run.thinking_budget is None:
            continue
        rest = json.dumps(_without_thinking(run.params), sort_keys=True)
        groups.setdefault((run.endpoint, run.model, run.suite, rest), []).append(run)
    return [_Sweep(sorted(g, key=lambda r: _budget_order(r.thinking_budget)))
            for g in groups.values() if len(g) > 1]


def _budget_section(sweeps: list[_Sweep], names: _Names) -> _Section:
    rows = [[names.model(r), r.suite, str(r.thinking_budget), _percent(r.accuracy),
             f"{r.mean_reasoning_tokens:.1f}", f"{r.mean_completion_tokens:.1f}",
             _seconds(r.mean_latency_s)] for s in sweeps for r in s.runs]
    table = _Table(["model", "suite", "thinking budget", "accuracy",
                    "mean reasoning tokens", "mean completion tokens", "mean latency"], rows)
    note = ("Runs that differ only by thinking budget. The left plot spaces budgets evenly "
            "(\"off\" first); the right one places each budget at the completion tokens it "
            "actually spent per case.")
    return _Section("Accuracy vs thinking budget", note, [table],
                    [_budget_figure(sweeps, names)])


def _latency_section(runs: list[RunSummary], names: _Names) -> _Section:
    rows = [[*names.cells(r), str(len(r.latencies)), _seconds(r.mean_latency_s),
             _seconds(r.median_latency_s), _seconds(r.p95_latency_s)] for r in runs]
    table = _Table([*names.headers(), "answered", "mean", "median", "p95"], rows)
    timed = [r for r in runs if r.latencies]
    figures = ([_latency_figure(timed, names.labels(timed, with_suite=True))]
               if timed else [])
    note = ("Seconds per request for the cases that were answered. Boxes span the "
            "quartiles, whiskers reach 1.5 times the interquartile range, triangles mark "
            "the mean.")
    return _Section("Latency", note, [table], figures)


def _cost_section(runs: list[RunSummary], names: _Names,
                  prices: dict[str, tuple[float, float]]) -> _Section:
    rows: list[list[str]] = []
    for run in runs:
        if run.model not in prices:
            continue
        price = Prices(*prices[run.model])
        rows.append([*names.cells(run), str(run.prompt_tokens), str(run.completion_tokens),
                     _usd(price.cost(run.prompt_tokens, run.completion_tokens)),
                     str(run.correct), _usd(cost_per_correct(run, price))])
    unpriced = sorted({r.model for r in runs} - set(prices))
    note = ("USD at the given price per million input and output tokens; reasoning tokens "
            "are billed as output. Cost per correct answer is the run's cost over its "
            "correct answers.")
    if unpriced:
        note += f" No price given for: {', '.join(unpriced)}."
    table = _Table([*names.headers(), "prompt tokens", "completion tokens", "cost",
                    "correct", "cost per correct"], rows)
    return _Section("Cost per correct answer", note, [table] if rows else [])


def _failures_section(runs: list[RunSummary], names: _Names) -> _Section:
    tables = []
    for run, label in zip(runs, names.labels(runs, with_suite=True), strict=True):
        if not run.failures:
            continue
        shown = run.failures[:_FAILURES_SHOWN]
        rows = [[f.case_id, f.category, "request error" if f.request_error else "wrong",
                 textwrap.shorten(f.detail, _DETAIL_CHARS, placeholder=" [...]")]
                for f in shown]
        more = len(run.failures) - len(shown)
        caption = f"{label}: {len(run.failures)} not correct" + (
            f" (first {len(shown)} shown)" if more else "")
        tables.append(_Table(["case", "category", "verdict", "detail"], rows, caption))
    return _Section("Failures", "What each run got wrong, as the scorer saw it.", tables,
                    html_only=True)


# --- plots ------------------------------------------------------------------------------

def _figure(width: float, height: float) -> Figure:
    # A bare Figure draws on the Agg canvas without pyplot's global state or GUI backends.
    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _png(figure: Figure, alt: str) -> _Figure:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return _Figure(base64.b64encode(buffer.getvalue()).decode("ascii"), alt)


def _plain_text() -> AbstractContextManager[None]:
    # Model and category names are text, not TeX: "$" must not start mathtext.
    return matplotlib.rc_context({"text.parse_math": False, "font.size": 9})


def _wrap(label: str) -> str:
    return textwrap.fill(label, 36)


def _category_figure(suite: str, runs: list[RunSummary], categories: list[str],
                     labels: list[str]) -> _Figure:
    with _plain_text():
        figure = _figure(min(16.0, 3.0 + 0.35 * len(categories) * len(runs) ** 0.5), 4.0)
        axes = figure.add_subplot()
        width = 0.8 / len(runs)
        positions = np.arange(len(categories))
        for i, (run, label) in enumerate(zip(runs, labels, strict=True)):
            heights = [100 * run.by_category.get(c, np.nan) for c in categories]
            axes.bar(positions + (i - (len(runs) - 1) / 2) * width, heights, width,
                     label=label)
        axes.set_xticks(positions, categories, rotation=30 if len(categories) > 4 else 0,
                        ha="right" if len(categories) > 4 else "center")
        axes.set_ylim(0, 100)
        axes.set_ylabel("accuracy (%)")
        axes.set_title(suite)
        axes.legend(fontsize=8)
        return _png(figure, f"accuracy by category, {suite}")


def _budget_figure(sweeps: list[_Sweep], names: _Names) -> _Figure:
    budgets = sorted({r.thinking_budget for s in sweeps for r in s.runs}, key=_budget_order)
    position = {b: i for i, b in enumerate(budgets)}
    first_runs = [s.runs[0] for s in sweeps]
    rests = _varying_settings([_without_thinking(r.params) for r in first_runs])
    with _plain_text():
        figure = _figure(10.0, 4.0)
        by_budget, by_tokens = figure.subplots(1, 2)
        for sweep, run, rest in zip(sweeps, first_runs, rests, strict=True):
            label = " / ".join(p for p in (names.model(run), run.suite, rest) if p)
            accuracy = [100 * r.accuracy for r in sweep.runs]
            by_budget.plot([position[r.thinking_budget] for r in sweep.runs], accuracy,
                           marker="o", label=label)
            by_tokens.plot([r.mean_completion_tokens for r in sweep.runs], accuracy,
                           marker="o", label=label)
        by_budget.set_xticks(range(len(budgets)), [str(b) for b in budgets])
        by_budget.set_xlabel("thinking budget (tokens)")
        by_tokens.set_xlabel("mean completion tokens per case")
        for axes in (by_budget, by_tokens):
            axes.set_ylim(0, 100)
            axes.set_ylabel("accuracy (%)")
            axes.grid(alpha=0.3)
        by_budget.legend(fontsize=8)
        return _png(figure, "accuracy against thinking budget")


def _latency_figure(runs: list[RunSummary], labels: list[str]) -> _Figure:
    with _plain_text():
        figure = _figure(max(5.0, 1.2 * len(runs) + 2.0), 4.5)
        axes = figure.add_subplot()
        positions = list(range(1, len(runs) + 1))
        axes.boxplot([r.latencies for r in runs], positions=positions, showmeans=True)
        axes.set_xticks(positions, [_wrap(label) for label in labels], rotation=30,
                        ha="right")
        axes.set_ylim(bottom=0)
        axes.set_ylabel("latency (s)")
        axes.grid(axis="y", alpha=0.3)
        return _png(figure, "latency per run")


# --- rendering --------------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 75rem;
       padding: 0 1rem; color: #222; }
h1 { font-size: 1.6rem; } h2 { margin-top: 2.5rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.9rem; }
caption { text-align: left; font-weight: 600; padding: 0.3rem 0; }
th, td { border: 1px solid #ddd; padding: 0.3rem 0.6rem; text-align: left;
         vertical-align: top; }
th { background: #f4f4f4; }
td.detail { font-family: ui-monospace, monospace; white-space: pre-wrap; max-width: 40rem; }
p.note { color: #555; max-width: 60rem; }
img { max-width: 100%; display: block; margin: 1rem 0; }
details { margin: 0.5rem 0; } summary { cursor: pointer; }
"""


def _e(text: str) -> str:
    return escape(text, quote=True)


def _html_table(table: _Table, *, detail_column: int | None = None) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in table.headers)
    body = "".join(
        "<tr>" + "".join(
            f'<td class="detail">{_e(cell)}</td>' if i == detail_column else f"<td>{_e(cell)}</td>"
            for i, cell in enumerate(row)) + "</tr>\n"
        for row in table.rows)
    caption = f"<caption>{_e(table.caption)}</caption>" if table.caption else ""
    return f"<table>{caption}<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody></table>"


def _html_section(section: _Section) -> str:
    parts = [f"<h2>{_e(section.title)}</h2>", f'<p class="note">{_e(section.note)}</p>']
    if section.html_only:
        # Long lists fold away; <details> needs no script.
        parts += [f"<details><summary>{_e(t.caption)}</summary>"
                  f"{_html_table(t, detail_column=len(t.headers) - 1)}</details>"
                  for t in section.tables]
    else:
        parts += [_html_table(t) for t in section.tables]
    parts += [f'<img src="data:image/png;base64,{f.png_base64}" alt="{_e(f.alt)}">'
              for f in section.figures]
    return "<section>\n" + "\n".join(parts) + "\n</section>"


def _render_html(title: str, sections: list[_Section]) -> str:
    body = "\n".join(_html_section(s) for s in sections)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
            f"<h1>{_e(title)}</h1>\n{body}\n</body>\n</html>\n")


def _md_text(text: str) -> str:
    # Markdown allows HTML entities, so escaping keeps markup in names from rendering.
    return escape(" ".join(text.split()), quote=False)


def _md_cell(text: str) -> str:
    return _md_text(text).replace("|", "\\|")


def _markdown_table(table: _Table) -> str:
    lines = [f"**{_md_text(table.caption)}**", ""] if table.caption else []
    lines.append("| " + " | ".join(_md_cell(h) for h in table.headers) + " |")
    lines.append("|" + "---|" * len(table.headers))
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows]
    return "\n".join(lines)


def _render_markdown(title: str, sections: list[_Section]) -> str:
    parts = [f"# {_md_text(title)}"]
    for section in sections:
        if section.html_only:
            continue
        parts += [f"## {_md_text(section.title)}", _md_text(section.note)]
        parts += [_markdown_table(t) for t in section.tables]
    return "\n\n".join(parts) + "\n"
