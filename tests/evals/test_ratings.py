"""Arena ratings: Bradley-Terry fits checked against hand computations and simulations."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from kaiyuan.evals.ratings import (
    Battle,
    bootstrap_ratings,
    fit_bradley_terry,
    read_votes,
)


def _repeat(model_a: str, model_b: str, winner: str, times: int) -> list[Battle]:
    return [Battle(model_a, model_b, winner)] * times  # type: ignore[arg-type]


def _simulate(true: dict[str, float], battles: int, seed: int) -> list[Battle]:
    """Battles between random distinct pairs, won with the Elo-scale BT probability."""
    rng = np.random.default_rng(seed)
    names = list(true)
    drawn = []
    for _ in range(battles):
        i, j = rng.choice(len(names), size=2, replace=False)
        a, b = names[i], names[j]
        p_a = 1.0 / (1.0 + 10.0 ** ((true[b] - true[a]) / 400.0))
        drawn.append(Battle(a, b, "a" if rng.random() < p_a else "b"))
    return drawn


TRUE = {"m0": 1200.0, "m1": 1120.0, "m2": 1040.0, "m3": 960.0, "m4": 880.0, "m5": 800.0}


def test_two_models_match_the_hand_computation() -> None:
    # MLE: P(A beats B) = 3/4, so 10^(d/400) = 3 and d = 400 log10 3.
    ratings = fit_bradley_terry(_repeat("A", "B", "a", 3) + _repeat("A", "B", "b", 1))
    assert ratings["A"] - ratings["B"] == pytest.approx(400 * math.log10(3), abs=0.5)
    assert (ratings["A"] + ratings["B"]) / 2 == pytest.approx(1000.0)


def test_three_models_recover_strengths_4_2_1() -> None:
    # Counts are exactly what strengths 4:2:1 predict, so those strengths are the MLE.
    battles = (
        _repeat("A", "B", "a", 2) + _repeat("A", "B", "b", 1)
        + _repeat("B", "C", "a", 2) + _repeat("C", "B", "a", 1)
        + _repeat("C", "A", "b", 4) + _repeat("A", "C", "b", 1)
    )
    ratings = fit_bradley_terry(battles)
    step = 400 * math.log10(2)
    assert ratings["A"] - ratings["B"] == pytest.approx(step, abs=1.0)
    assert ratings["B"] - ratings["C"] == pytest.approx(step, abs=1.0)
    assert ratings["A"] - ratings["C"] == pytest.approx(2 * step, abs=1.0)


def test_scale_base_and_anchor_model_are_honoured() -> None:
    battles = _repeat("A", "B", "a", 3) + _repeat("B", "A", "a", 1)
    natural = fit_bradley_terry(battles, scale=1.0, base=math.e, anchor=0.0, anchor_model="B")
    assert natural["B"] == 0.0
    assert natural["A"] == pytest.approx(math.log(3), abs=0.005)


def test_ties_alone_give_equal_ratings() -> None:
    ratings = fit_bradley_terry(_repeat("A", "B", "tie", 5) + _repeat("B", "A", "tie", 2))
    assert ratings["A"] == pytest.approx(ratings["B"], abs=1e-9)
    assert ratings["A"] == pytest.approx(1000.0)


def test_a_tie_counts_as_half_a_win() -> None:
    # Two ties and one win each way is a 2-2 record: equal. Two ties and a win for A is
    # 2-1 in A's favour: d = 400 log10 2.
    even = fit_bradley_terry(
        _repeat("A", "B", "tie", 2) + _repeat("A", "B", "a", 1) + _repeat("A", "B", "b", 1)
    )
    assert even["A"] == pytest.approx(even["B"], abs=1e-9)
    ahead = fit_bradley_terry(_repeat("A", "B", "tie", 2) + _repeat("A", "B", "a", 1))
    assert ahead["A"] - ahead["B"] == pytest.approx(400 * math.log10(2), abs=0.5)


def test_a_model_that_never_loses_gets_a_finite_top_rating() -> None:
    battles = _repeat("A", "B", "a", 10) + _repeat("B", "C", "a", 3) + _repeat("C", "B", "a", 2)
    ratings = fit_bradley_terry(battles)
    assert all(math.isfinite(value) for value in ratings.values())
    assert ratings["A"] > ratings["B"] + 400
    assert ratings["A"] - ratings["B"] < 3000


def test_simulated_battles_recover_order_and_intervals_cover_truth() -> None:
    battles = _simulate(TRUE, 3000, seed=7)
    fitted = fit_bradley_terry(battles)
    assert sorted(fitted, key=fitted.__getitem__, reverse=True) == list(TRUE)

    ranked = bootstrap_ratings(battles, rounds=200, seed=1)
    assert [r.model for r in ranked] == list(TRUE)
    # TRUE already averages 1000, the same anchor as the fit.
    covered = [r.model for r in ranked if r.lower <= TRUE[r.model] <= r.upper]
    assert len(covered) >= 5, [(r.model, r.lower, r.upper) for r in ranked]
    for rating in ranked:
        assert rating.rating == pytest.approx(fitted[rating.model])
        assert 0 < rating.upper - rating.lower < 100


def test_bootstrap_counts_records_and_is_repeatable() -> None:
    battles = (
        _repeat("A", "B", "a", 6) + _repeat("B", "A", "a", 2) + _repeat("A", "C", "tie", 3)
        + _repeat("C", "B", "a", 4) + _repeat("B", "C", "a", 1)
    )
    ranked = bootstrap_ratings(battles, rounds=100, seed=3)
    records = {r.model: (r.battles, r.wins, r.losses, r.ties) for r in ranked}
    assert records == {"A": (11, 6, 2, 3), "B": (13, 3, 10, 0), "C": (8, 4, 1, 3)}
    assert [r.rating for r in ranked] == sorted((r.rating for r in ranked), reverse=True)
    assert ranked == bootstrap_ratings(battles, rounds=100, seed=3)
    assert ranked != bootstrap_ratings(battles, rounds=100, seed=4)


def test_bootstrap_with_an_anchor_model_pins_it() -> None:
    battles = _simulate(TRUE, 600, seed=2)
    ranked = {r.model: r for r in bootstrap_ratings(battles, rounds=50, anchor_model="m3")}
    assert ranked["m3"].rating == ranked["m3"].lower == ranked["m3"].upper == 1000.0
    assert ranked["m0"].lower > 1000.0


def test_bad_battles_and_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="against itself"):
        Battle("A", "A", "a")
    with pytest.raises(ValueError, match="winner"):
        Battle("A", "B", "draw")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no battles"):
        fit_bradley_terry([])
    with pytest.raises(ValueError, match="'Z' never plays"):
        fit_bradley_terry(_repeat("A", "B", "a", 1), anchor_model="Z")
    with pytest.raises(ValueError, match="never meet"):
        fit_bradley_terry(_repeat("A", "B", "a", 2) + _repeat("C", "D", "b", 2))
    with pytest.raises(ValueError, match="ridge"):
        fit_bradley_terry(_repeat("A", "B", "a", 1), ridge=0.0)
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ratings(_repeat("A", "B", "a", 1), confidence=95)


def _write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_read_votes_maps_lmarena_winners(tmp_path: Path) -> None:
    votes = [
        {"model_a": "qwen", "model_b": "llama", "winner": "model_a", "prompt_id": "p1"},
        {"model_a": "qwen", "model_b": "llama", "winner": "model_b", "judge": "ann"},
        {"model_a": "llama", "model_b": "qwen", "winner": "tie", "prompt_id": 7},
        {"model_a": "llama", "model_b": "qwen", "winner": "tie (bothbad)", "tstamp": 1.5},
    ]
    path = _write_lines(tmp_path / "votes.jsonl", [json.dumps(v) for v in votes[:2]] + [""]
                       + [json.dumps(v) for v in votes[2:]])
    assert read_votes(path) == [
        Battle("qwen", "llama", "a"),
        Battle("qwen", "llama", "b"),
        Battle("llama", "qwen", "tie"),
        Battle("llama", "qwen", "tie"),
    ]


@pytest.mark.parametrize(
    ("bad_line", "problem"),
    [
        ('{"model_a": "x", "model_b": "y", "winner": "draw"}', "winner"),
        ('{"model_a": "x", "winner": "tie"}', "model_b: Field required"),
        ('{"model_a": "x", "model_b": "y", "winner": "tie"', "not valid JSON"),
        ('["x", "y", "tie"]', "valid dictionary"),
        ('{"model_a": "x", "model_b": "x", "winner": "tie"}', "against itself"),
    ],
)
def test_read_votes_names_the_bad_line(tmp_path: Path, bad_line: str, problem: str) -> None:
    good = '{"model_a": "x", "model_b": "y", "winner": "model_a"}'
    path = _write_lines(tmp_path / "votes.jsonl", [good, "", bad_line, good])
    with pytest.raises(ValueError, match=r"line 3: ") as error:
        read_votes(path)
    assert problem in str(error.value)
