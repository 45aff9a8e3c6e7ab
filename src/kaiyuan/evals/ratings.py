"""Arena ratings: Bradley-Terry scores, with bootstrap intervals, from pairwise votes.

The model is Bradley and Terry (1952), "Rank Analysis of Incomplete Block Designs: I. The
Method of Paired Comparisons", Biometrika 39(3/4), 324-345. Chatbot Arena fits it by maximum
likelihood and reports it on the Elo scale, P(a beats b) = 1 / (1 + 10^((R_b - R_a) / 400));
see Chiang et al. (2024), "Chatbot Arena: An Open Platform for Evaluating LLMs by Human
Preference", arXiv:2403.04132, section 5, and https://lmsys.org/blog/2023-12-07-leaderboard/.
As in LMArena's rating code (lm-sys/FastChat, `fastchat/serve/monitor/rating_systems.py`), a
tie counts as half a win for each side, and intervals come from resampling battles.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

Winner = Literal["a", "b", "tie"]

_SCORE_OF_A: dict[str, float] = {"a": 1.0, "b": 0.0, "tie": 0.5}
_WINNER_OF_VOTE: dict[str, Winner] = {
    "model_a": "a",
    "model_b": "b",
    "tie": "tie",
    "tie (bothbad)": "tie",
}
_MAX_NEWTON_STEPS = 200
# In log-odds units; far below any difference a rating shows (0.01 points).
_STEP_TOLERANCE = 1e-10
_ROUNDING_SLACK = 1e-12


@dataclass(frozen=True)
class Battle:
    """One comparison: `winner` is "a" (model_a won), "b" (model_b won) or "tie"."""

    model_a: str
    model_b: str
    winner: Winner

    def __post_init__(self) -> None:
        for side in (self.model_a, self.model_b):
            if not isinstance(side, str) or not side:
                raise ValueError(f"a battle needs two model names, got {side!r}")
        if self.model_a == self.model_b:
            raise ValueError(
                f"a battle of {self.model_a!r} against itself says nothing about its rating; "
                "drop it from the battles"
            )
        if self.winner not in _SCORE_OF_A:
            raise ValueError(f"winner must be 'a', 'b' or 'tie', got {self.winner!r}")


@dataclass(frozen=True)
class Rating:
    """A model's rating with its bootstrap interval and its record in the battles."""

    model: str
    rating: float
    lower: float
    upper: float
    battles: int
    wins: int
    losses: int
    ties: int


@dataclass(frozen=True)
class _Design:
    """The battles grouped into distinct (model_a, model_b, winner) rows.

    `incidence` has one row per distinct outcome, +1 in model_a's column and -1 in
    model_b's; `score` is model_a's score in that row and `count` how many battles share it.
    """

    models: tuple[str, ...]
    incidence: np.ndarray
    score: np.ndarray
    count: np.ndarray


@dataclass(frozen=True)
class _Scale:
    """How log-odds strengths become displayed ratings."""

    scale: float
    base: float
    anchor: float
    anchor_index: int | None

    def points(self, strength: np.ndarray) -> np.ndarray:
        rating = strength * self.scale / math.log(self.base)
        centre = rating.mean() if self.anchor_index is None else rating[self.anchor_index]
        return rating - centre + self.anchor


def fit_bradley_terry(
    battles: Iterable[Battle],
    *,
    scale: float = 400.0,
    base: float = 10.0,
    anchor: float = 1000.0,
    anchor_model: str | None = None,
    ridge: float = 1e-3,
) -> dict[str, float]:
    """Fit Bradley-Terry ratings to `battles` and return them by model name.

    The model is P(a beats b) = 1 / (1 + base^((R_b - R_a) / scale)); a tie scores half a
    win for each side. Ratings maximise the log-likelihood plus a Gaussian prior on the
    log-odds strengths theta = R * ln(base) / scale, namely -ridge/2 * sum(theta^2), by
    Newton's method with step halving (deterministic; the objective is strictly concave, so
    the maximum is unique). The prior is what keeps ratings finite when a model wins (or
    loses) every battle: plain maximum likelihood would send it to infinity, whereas with
    the prior its gap to the others grows only like ln(wins / ridge) (about 1,360 points
    for 10 straight wins over one opponent at the default ridge). With the default
    ridge of 1e-3, the prior weighs as much as a small fraction of one battle, so on
    ordinary data it moves ratings by well under a point. Ratings are then shifted so
    that `anchor_model` (or, when it is None, the mean over all models) sits at `anchor`.

    Raises ValueError when there are no battles, when `anchor_model` never plays, or when
    the battles split into groups of models that never meet, directly or through others
    (ratings across such groups would only reflect the prior). A battle of a model against
    itself is refused earlier, when the `Battle` is made.
    """
    design, rating_scale, strength = _fit(battles, scale, base, anchor, anchor_model, ridge)
    return dict(zip(design.models, rating_scale.points(strength).tolist(), strict=True))


def bootstrap_ratings(
    battles: Iterable[Battle],
    *,
    rounds: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    scale: float = 400.0,
    base: float = 10.0,
    anchor: float = 1000.0,
    anchor_model: str | None = None,
    ridge: float = 1e-3,
) -> list[Rating]:
    """Rate every model with a percentile-bootstrap interval, best first.

    Each round draws as many battles as there are, with replacement (as a multinomial over
    the distinct outcomes, which is the same draw), and refits; the interval is the central
    `confidence` share of a model's rounds. The point rating is the fit to all battles, as
    in LMArena's leaderboard. A round that happens to draw none of a model's battles says
    nothing about it and is left out of that model's interval; a round without the anchor
    model cannot be put on the scale and is left out altogether. When an `anchor_model` is
    given its interval is the single point `anchor`, since every round is shifted to it.
    The remaining keywords are those of `fit_bradley_terry`; `seed` makes the draw repeatable.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    fixed = tuple(battles)
    design, rating_scale, strength = _fit(fixed, scale, base, anchor, anchor_model, ridge)
    samples = _bootstrap_points(design, rating_scale, ridge, strength, rounds, seed)
    tail = (1.0 - confidence) / 2.0
    records = _records(fixed)
    ratings = []
    for index, (model, rating) in enumerate(
        zip(design.models, rating_scale.points(strength).tolist(), strict=True)
    ):
        drawn = samples[:, index][~np.isnan(samples[:, index])]
        if drawn.size == 0:
            raise ValueError(
                f"no bootstrap round could rate {model!r}: every round missed its battles "
                "or the anchor model's; use more rounds or add battles"
            )
        lower, upper = np.quantile(drawn, [tail, 1.0 - tail]).tolist()
        ratings.append(Rating(model, rating, lower, upper, *records[model]))
    return sorted(ratings, key=lambda r: (-r.rating, r.model))


class Vote(BaseModel):
    """One recorded human vote in LMArena's public format; other fields are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    model_a: str = Field(min_length=1)
    model_b: str = Field(min_length=1)
    winner: Literal["model_a", "model_b", "tie", "tie (bothbad)"]
    prompt_id: str | int | None = None
    judge: str | None = None

    def battle(self) -> Battle:
        """The vote as a battle; "tie (bothbad)" is a tie, as LMArena scores it."""
        return Battle(self.model_a, self.model_b, _WINNER_OF_VOTE[self.winner])


def read_votes(path: str | PathLike[str]) -> list[Battle]:
    """Read votes from a JSONL file, one JSON object per line (blank lines are skipped).

    Each object has "model_a", "model_b" and "winner" ("model_a", "model_b", "tie" or
    "tie (bothbad)"), optionally "prompt_id" and "judge". A bad line raises ValueError
    naming the file, the line number and what is wrong with it.
    """
    battles = []
    with Path(path).open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                battles.append(_parse_vote(line, f"{path}, line {number}"))
    return battles


def _parse_vote(line: str, where: str) -> Battle:
    hint = (
        "each line must be one JSON object with model_a, model_b and winner "
        "('model_a', 'model_b', 'tie' or 'tie (bothbad)')"
    )
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}: not valid JSON ({exc}); {hint}") from None
    try:
        return Vote.model_validate(data).battle()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'the line'}: {error['msg']}"
            for error in exc.errors()
        )
        raise ValueError(f"{where}: {problems}; {hint}") from None
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def _fit(
    battles: Iterable[Battle],
    scale: float,
    base: float,
    anchor: float,
    anchor_model: str | None,
    ridge: float,
) -> tuple[_Design, _Scale, np.ndarray]:
    """Check the battles and settings, then fit strengths to all battles."""
    design = _design(battles)
    rating_scale = _scale(design, scale, base, anchor, anchor_model)
    if not ridge > 0.0:
        raise ValueError(f"ridge must be positive (it keeps unbeaten models finite), got {ridge}")
    _check_connected(design)
    strength = _maximise(design, design.count, ridge, np.zeros(len(design.models)))
    return design, rating_scale, strength


def _design(battles: Iterable[Battle]) -> _Design:
    outcomes = Counter((b.model_a, b.model_b, b.winner) for b in battles)
    if not outcomes:
        raise ValueError("no battles to rate; record some votes first")
    models = tuple(sorted({m for a, b, _ in outcomes for m in (a, b)}))
    column = {model: index for index, model in enumerate(models)}
    rows = sorted(outcomes)
    incidence = np.zeros((len(rows), len(models)))
    for row, (a, b, _) in enumerate(rows):
        incidence[row, column[a]] = 1.0
        incidence[row, column[b]] = -1.0
    score = np.array([_SCORE_OF_A[winner] for _, _, winner in rows])
    count = np.array([float(outcomes[key]) for key in rows])
    return _Design(models, incidence, score, count)


def _scale(
    design: _Design, scale: float, base: float, anchor: float, anchor_model: str | None
) -> _Scale:
    if not scale > 0.0:
        raise ValueError(f"scale must be positive, got {scale}")
    if not base > 1.0:
        raise ValueError(f"base must be greater than 1, got {base}")
    if anchor_model is None:
        return _Scale(scale, base, anchor, None)
    if anchor_model not in design.models:
        raise ValueError(
            f"anchor model {anchor_model!r} never plays in these battles; "
            f"pick one of {', '.join(design.models)} or leave anchor_model unset"
        )
    return _Scale(scale, base, anchor, design.models.index(anchor_model))


def _check_connected(design: _Design) -> None:
    neighbours: dict[int, set[int]] = {i: set() for i in range(len(design.models))}
    for row in design.incidence:
        a, b = int(np.argmax(row)), int(np.argmin(row))
        neighbours[a].add(b)
        neighbours[b].add(a)
    groups: list[list[str]] = []
    unseen = set(neighbours)
    while unseen:
        frontier = [min(unseen)]
        group = set(frontier)
        while frontier:
            for other in neighbours[frontier.pop()] - group:
                group.add(other)
                frontier.append(other)
        unseen -= group
        groups.append(sorted(design.models[i] for i in group))
    if len(groups) > 1:
        listed = " | ".join(", ".join(group) for group in groups)
        raise ValueError(
            f"the battles split into {len(groups)} groups of models that never meet, "
            f"directly or through others ({listed}); add battles between the groups "
            "or rate each group on its own"
        )


def _log_posterior(design: _Design, count: np.ndarray, ridge: float, theta: np.ndarray) -> float:
    gap = design.incidence @ theta
    fit = count @ (design.score * gap - np.logaddexp(0.0, gap))
    return float(fit - 0.5 * ridge * theta @ theta)


def _maximise(
    design: _Design, count: np.ndarray, ridge: float, start: np.ndarray
) -> np.ndarray:
    """Newton's method on the penalised log-likelihood, in log-odds units."""
    x = design.incidence
    prior = ridge * np.eye(x.shape[1])
    theta = start.copy()
    for _ in range(_MAX_NEWTON_STEPS):
        # tanh form of the logistic function: no overflow for large gaps
        p = 0.5 * (1.0 + np.tanh(0.5 * (x @ theta)))
        gradient = x.T @ (count * (design.score - p)) - ridge * theta
        curvature = (x.T * (count * p * (1.0 - p))) @ x + prior
        step = np.linalg.solve(curvature, gradient)
        if np.max(np.abs(step)) < _STEP_TOLERANCE:
            return theta + step
        # Where the likelihood is nearly flat (a model that never loses) a full Newton
        # step overshoots; halving it until the objective rises keeps the ascent monotone.
        # The slack stops rounding noise near the maximum from rejecting good steps.
        floor = _log_posterior(design, count, ridge, theta)
        floor -= _ROUNDING_SLACK * (1.0 + abs(floor))
        length = 1.0
        while (
            _log_posterior(design, count, ridge, theta + length * step) < floor
            and length > _STEP_TOLERANCE
        ):
            length /= 2.0
        theta = theta + length * step
    raise RuntimeError(
        f"the Bradley-Terry fit did not converge in {_MAX_NEWTON_STEPS} Newton steps; "
        "try a larger ridge"
    )


def _bootstrap_points(
    design: _Design,
    rating_scale: _Scale,
    ridge: float,
    start: np.ndarray,
    rounds: int,
    seed: int,
) -> np.ndarray:
    """Ratings of each round (rows) and model (columns); NaN where a round cannot say."""
    rng = np.random.default_rng(seed)
    total = int(design.count.sum())
    draws = rng.multinomial(total, design.count / total, size=rounds).astype(float)
    played = draws @ np.abs(design.incidence) > 0
    samples = np.full((rounds, len(design.models)), np.nan)
    for index in range(rounds):
        anchor = rating_scale.anchor_index
        if anchor is not None and not played[index, anchor]:
            continue
        # The full fit is a close start, so each refit takes only a few Newton steps.
        theta = _maximise(design, draws[index], ridge, start)
        points = rating_scale.points(theta)
        samples[index] = np.where(played[index], points, np.nan)
    return samples


def _records(battles: Sequence[Battle]) -> dict[str, tuple[int, int, int, int]]:
    """(battles, wins, losses, ties) of each model."""
    wins: Counter[str] = Counter()
    losses: Counter[str] = Counter()
    ties: Counter[str] = Counter()
    for battle in battles:
        if battle.winner == "tie":
            ties[battle.model_a] += 1
            ties[battle.model_b] += 1
        else:
            winner, loser = (
                (battle.model_a, battle.model_b)
                if battle.winner == "a"
                else (battle.model_b, battle.model_a)
            )
            wins[winner] += 1
            losses[loser] += 1
    models = set(wins) | set(losses) | set(ties)
    return {m: (wins[m] + losses[m] + ties[m], wins[m], losses[m], ties[m]) for m in models}
