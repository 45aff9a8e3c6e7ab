"""From a team's requirements to a ranked list of models, each with its reasons and
trade-offs, and the excluded ones with why.

Quality comes only from the catalog's published scores: for each benchmark that matters
to the use case, a model's best reported score is ranked against the other candidates that
report it (0 = lowest, 1 = highest), and the ranks are averaged. Scores at pass@k for k > 1
are left out of the ranking, as they cannot be compared with pass@1. A model with no relevant
score is listed after those with scores, saying so; nothing is imputed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from kaiyuan.catalog import fit as fitting
from kaiyuan.catalog.cost import blended
from kaiyuan.catalog.quant import Scheme
from kaiyuan.catalog.schema import Benchmark, Model, UseCase

USE_CASE_BENCHMARKS: dict[str, tuple[str, ...]] = {
    "chat": ("Arena-Hard", "IFEval", "MMLU-Pro", "MMLU", "GPQA-Diamond"),
    "coding": ("LiveCodeBench", "HumanEval", "HumanEval+", "MBPP", "MBPP+",
               "SWE-bench Verified", "MultiPL-E", "Aider-Polyglot"),
    "math": ("AIME24", "AIME25", "HMMT25", "MATH-500", "MATH", "GSM8K"),
    "agent": ("BFCL", "TAU-bench-retail", "TAU-bench-airline", "TAU2-bench",
              "SWE-bench Verified", "BrowseComp"),
    "long-context": ("RULER", "LongBench-v2"),
    "multilingual": ("MGSM", "C-Eval", "CMMLU"),
    "edge": ("IFEval", "MMLU", "GSM8K", "HellaSwag", "ARC-C", "HumanEval"),
}

PERMISSIVE_LICENCES = frozenset({"Apache-2.0", "MIT", "BSD-3-Clause", "BSD-2-Clause"})


def is_permissive(licence: str) -> bool:
    """Whether every licence named in `licence` is permissive. Derived models list
    theirs and their base's, e.g. "MIT (DeepSeek's fine-tune) + Apache-2.0 (Qwen2.5 base)"."""
    parts = [part.split(" (")[0].strip() for part in licence.split("+")]
    return all(part in PERMISSIVE_LICENCES for part in parts)

# The context a fit check assumes when the user asks for none.
DEFAULT_FIT_CONTEXT = 8192

LicencePolicy = Literal["any", "permissive"]
Preference = Literal["quality", "cost", "size"]


@dataclass(frozen=True)
class Requirements:
    """What the user needs. `target` is where the model must fit, with `quant` and
    `context` (when a context is required, models supporting less are excluded);
    `max_usd_per_million` caps the cheapest listed API price."""

    use_case: UseCase
    licence: LicencePolicy = "any"
    languages: tuple[str, ...] = ()
    target: fitting.Target | None = None
    quant: Scheme | None = None
    context: int | None = None
    max_usd_per_million: float | None = None
    thinking: bool = False
    tools: bool = False
    prefer: Preference = "quality"


@dataclass(frozen=True)
class Candidate:
    """A model that meets the requirements, with its rank's reasons and trade-offs."""

    model: Model
    quality: float | None
    scores: dict[str, tuple[float, str | None]]
    missing: tuple[str, ...]
    memory_gib: float | None
    tokens_per_second: float | None
    cheapest_price: tuple[str, float] | None
    reasons: list[str] = field(default_factory=list)
    tradeoffs: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Exclusion:
    model: Model
    why: list[str]


@dataclass(frozen=True)
class Recommendation:
    requirements: Requirements
    ranked: list[Candidate]
    excluded: list[Exclusion]
    notes: list[str]


def recommend(models: Iterable[Model], req: Requirements) -> Recommendation:
    """Rank `models` against `req`."""
    kept: list[tuple[Model, fitting.FitReport | None]] = []
    excluded: list[Exclusion] = []
    for model in models:
        report = _fit(model, req)
        why = _unmet(model, req, report)
        if why:
            excluded.append(Exclusion(model, why))
        else:
            kept.append((model, report))
    benchmarks = USE_CASE_BENCHMARKS[req.use_case]
    best = {model.id: _best_scores(model, benchmarks) for model, _ in kept}
    percentiles = _percentiles(best, benchmarks)
    ranked = [_candidate(model, report, req, benchmarks, best[model.id], percentiles)
              for model, report in kept]
    ranked.sort(key=lambda c: _order(c, req.prefer))
    notes = [
        f"quality for {req.use_case}: each model's best published score on "
        f"{', '.join(benchmarks)}, ranked among the candidates that report it, averaged",
        "scores are as the labs (or the named third party) report them, under their own "
        "settings; they compare models only roughly",
    ]
    if req.target and req.quant:
        context = req.context or DEFAULT_FIT_CONTEXT
        notes.append(f"fit: {req.quant.name} weights, a context of {context:,} tokens (or the "
                     f"model's own, if shorter), one sequence, on {req.target.name}")
    return Recommendation(req, ranked, excluded, notes)


def _fit(model: Model, req: Requirements) -> fitting.FitReport | None:
    if req.target is None or req.quant is None:
        return None
    context = min(req.context or DEFAULT_FIT_CONTEXT, model.architecture.context)
    return fitting.fit(model, req.quant, req.target, fitting.Workload(context))


def _unmet(model: Model, req: Requirements, report: fitting.FitReport | None) -> list[str]:
    why: list[str] = []
    if req.licence == "permissive" and not is_permissive(model.licence):
        why.append(f"licence {model.licence} is not permissive")
    if req.thinking and model.thinking == "none":
        why.append("does not think")
    if (req.tools or req.use_case == "agent") and model.tool_format is None:
        why.append("no documented tool-calling format")
    for language in req.languages:
        if language not in model.languages:
            stated = (f"its card counts {model.language_count} languages without naming "
                      f"'{language}'" if model.language_count else
                      f"its card does not name '{language}'")
            why.append(stated)
    if report is not None and not report.fits:
        why.append(f"needs {report.memory.total / fitting.GIB:.1f} GiB, "
                   f"{-report.margin_bytes / fitting.GIB:.1f} GiB more than "
                   f"{report.target.name} offers")
    if req.context and req.context > model.architecture.context:
        why.append(f"supports {model.architecture.context:,} tokens of context, "
                   f"{req.context:,} asked")
    if req.max_usd_per_million is not None:
        cheapest = _cheapest(model)
        if cheapest is None:
            why.append("no API price in the catalog to check against the cost cap")
        elif cheapest[1] > req.max_usd_per_million:
            why.append(f"cheapest API price ${cheapest[1]:.2f}/M ({cheapest[0]}) is over "
                       f"${req.max_usd_per_million:g}/M")
    return why


def _comparable(row: Benchmark) -> bool:
    """Percent scores at pass@1 (or unstated); a pass@5 score cannot be ranked against
    others' pass@1."""
    passes = re.search(r"pass@(\d+)", row.setting or "")
    return row.unit == "percent" and (passes is None or passes.group(1) == "1")


def _best_scores(model: Model, benchmarks: tuple[str, ...]) -> dict[str, tuple[float, str | None]]:
    best: dict[str, tuple[float, str | None]] = {}
    for row in model.benchmarks:
        if row.name in benchmarks and _comparable(row) and (
            row.name not in best or row.score > best[row.name][0]
        ):
            best[row.name] = (row.score, row.setting)
    return best


def _percentiles(best: dict[str, dict[str, tuple[float, str | None]]],
                 benchmarks: tuple[str, ...]) -> dict[tuple[str, str], float]:
    out: dict[tuple[str, str], float] = {}
    for bench in benchmarks:
        scored = [(scores[bench][0], model_id) for model_id, scores in best.items()
                  if bench in scores]
        if len(scored) < 2:
            continue
        scored.sort()
        for index, (_, model_id) in enumerate(scored):
            out[(model_id, bench)] = index / (len(scored) - 1)
    return out


def _cheapest(model: Model) -> tuple[str, float] | None:
    if not model.prices:
        return None
    price = min(model.prices, key=lambda p: blended(p, 0.75))
    return price.provider, blended(price, 0.75)


def _candidate(model: Model, report: fitting.FitReport | None, req: Requirements,
               benchmarks: tuple[str, ...], scores: dict[str, tuple[float, str | None]],
               percentiles: dict[tuple[str, str], float]) -> Candidate:
    ranks = [percentiles[(model.id, b)] for b in scores if (model.id, b) in percentiles]
    quality = sum(ranks) / len(ranks) if ranks else None
    missing = tuple(b for b in benchmarks if b not in scores)
    cheapest = _cheapest(model)
    reasons = [f"{name} {score:g}" + (f" ({setting})" if setting else "")
               for name, (score, setting) in scores.items()]
    if not scores:
        reasons.append(f"no published score on {', '.join(benchmarks)}: rank unknown")
    if req.use_case in model.strengths:
        reasons.append(f"its card names {req.use_case} as a strength")
    tradeoffs = _tradeoffs(model, report, cheapest)
    return Candidate(
        model=model,
        quality=quality,
        scores=scores,
        missing=missing,
        memory_gib=report.memory.total / fitting.GIB if report else None,
        tokens_per_second=report.speed.tokens_per_second if report and report.speed else None,
        cheapest_price=cheapest,
        reasons=reasons,
        tradeoffs=tradeoffs,
    )


def _tradeoffs(model: Model, report: fitting.FitReport | None,
               cheapest: tuple[str, float] | None) -> list[str]:
    out: list[str] = []
    if report:
        out.append(f"{report.memory.total / fitting.GIB:.1f} GiB of "
                   f"{report.target.usable_bytes / fitting.GIB:.1f} GiB")
        if report.speed:
            out.append(f"~{report.speed.tokens_per_second:.0f} tok/s (estimate)")
    if model.moe:
        out.append(f"MoE {model.params_b:g}B total / {model.active_b:g}B active: "
                   "memory for all, compute for the active")
    if not is_permissive(model.licence):
        out.append(f"licence: {model.licence}")
    if model.thinking == "always":
        out.append("always thinks: more output tokens per answer")
    out.append(f"context {model.architecture.context:,}")
    out.append(f"API from ${cheapest[1]:.2f}/M ({cheapest[0]})" if cheapest
               else "no API price listed")
    return out


def _order(candidate: Candidate, prefer: Preference) -> tuple:
    unknown = candidate.quality is None
    quality = -(candidate.quality or 0.0)
    price = candidate.cheapest_price[1] if candidate.cheapest_price else float("inf")
    size = candidate.model.params_b
    # A model with no relevant score cannot be called a cheap *good* choice: it follows
    # the scored ones whatever the preference.
    if prefer == "cost":
        return (unknown, price, quality)
    if prefer == "size":
        return (unknown, size, quality)
    return (unknown, quality, price)
