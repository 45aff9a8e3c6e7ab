"""The recommender: filters say why, quality comes only from published scores."""

from __future__ import annotations

import pytest

from kaiyuan.catalog import store
from kaiyuan.catalog.fit import Target
from kaiyuan.catalog.quant import scheme
from kaiyuan.catalog.recommend import Requirements, is_permissive, recommend


@pytest.fixture(scope="module")
def catalog() -> store.Catalog:
    return store.load()


def test_a_permissive_policy_excludes_community_licences_and_says_so(catalog) -> None:
    result = recommend(catalog.models.values(), Requirements("coding", licence="permissive"))
    ranked = {c.model.id for c in result.ranked}
    excluded = {e.model.id: e.why for e in result.excluded}
    assert "llama-3.1-8b" not in ranked
    assert any("not permissive" in why for why in excluded["llama-3.1-8b"])
    assert all(is_permissive(c.model.licence) for c in result.ranked)


def test_derived_models_are_permissive_only_when_every_licence_is() -> None:
    assert is_permissive("MIT (fine-tune) + Apache-2.0 (Qwen2.5 base)")
    assert not is_permissive("MIT (fine-tune) + Llama 3.1 Community License (base)")


def test_a_device_excludes_what_does_not_fit_with_the_shortfall(catalog) -> None:
    req = Requirements("coding", target=Target.of(catalog.device("rtx-4090")),
                       quant=scheme("Q4_K_M"))
    result = recommend(catalog.models.values(), req)
    kimi = next(e for e in result.excluded if e.model.id == "kimi-k2-instruct")
    assert any("GiB more than" in why for why in kimi.why)
    assert all(c.memory_gib is not None and c.memory_gib <= 24 for c in result.ranked)


def test_quality_is_ranked_from_published_scores_only(catalog) -> None:
    result = recommend(catalog.models.values(), Requirements("math"))
    scored = [c for c in result.ranked if c.quality is not None]
    unscored = [c for c in result.ranked if c.quality is None]
    assert scored and result.ranked[: len(scored)] == scored
    assert [c.quality for c in scored] == sorted((c.quality for c in scored), reverse=True)
    for candidate in unscored:
        assert any("no published score" in r for r in candidate.reasons)


def test_agents_need_a_tool_format_and_thinking_can_be_required(catalog) -> None:
    result = recommend(catalog.models.values(), Requirements("agent", thinking=True))
    assert all(c.model.tool_format and c.model.thinking != "none" for c in result.ranked)
    gemma = next(e for e in result.excluded if e.model.id == "gemma-3-4b")
    assert "no documented tool-calling format" in gemma.why


def test_cost_preference_ranks_scored_models_by_price(catalog) -> None:
    result = recommend(catalog.models.values(), Requirements("agent", prefer="cost"))
    scored = [c for c in result.ranked if c.quality is not None]
    prices = [c.cheapest_price[1] if c.cheapest_price else float("inf") for c in scored]
    assert prices == sorted(prices)


def test_a_cost_cap_excludes_models_without_a_price_or_above_it(catalog) -> None:
    result = recommend(catalog.models.values(),
                       Requirements("chat", max_usd_per_million=0.5))
    assert all(c.cheapest_price and c.cheapest_price[1] <= 0.5 for c in result.ranked)
    reasons = [why for e in result.excluded for why in e.why]
    assert any("no API price" in r for r in reasons)


def test_pass_at_k_scores_are_not_ranked_against_pass_at_1(catalog) -> None:
    model = catalog.model("mistral-small-3.2")
    assert any("pass@5" in (b.setting or "") for b in model.benchmarks)
    result = recommend([model, catalog.model("qwen2.5-coder-7b")], Requirements("coding"))
    mistral = next(c for c in result.ranked if c.model.id == "mistral-small-3.2")
    assert all("pass@5" not in (setting or "") for _, setting in mistral.scores.values())
