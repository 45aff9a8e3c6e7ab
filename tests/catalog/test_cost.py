"""Cost arithmetic on hand-checked examples."""

from __future__ import annotations

import datetime as dt

import pytest

from kaiyuan.catalog import store
from kaiyuan.catalog.cost import SelfHosting, Workload, api_monthly, blended, cost
from kaiyuan.catalog.fit import Workload as Load
from kaiyuan.catalog.fit import decode_speed
from kaiyuan.catalog.quant import scheme
from kaiyuan.catalog.schema import Price

PRICE = Price(provider="p", input=0.2, output=0.8, seen=dt.date(2026, 11, 12), src="s")


def test_self_hosted_cost_per_million_by_hand() -> None:
    # $2/hour at 1,000 tokens/s, busy half the time: 1.8M tokens an hour, $1.11 per M.
    hosting = SelfHosting("gpu", 2.0, 1000, 0.5, "given")
    assert hosting.usd_per_million == pytest.approx(2.0 / 1.8)


def test_api_cost_of_a_month_by_hand() -> None:
    # 1M requests of 1,000 in + 200 out: 1e9 in at $0.2/M + 2e8 out at $0.8/M = $360.
    assert api_monthly(PRICE, Workload(1e6, 1000, 200)) == pytest.approx(360.0)
    assert blended(PRICE, 0.75) == pytest.approx(0.35)


def test_hosted_month_rents_enough_whole_devices() -> None:
    model = store.default().model("qwen3-8b")
    hosting = SelfHosting("gpu", 1.0, 100, 1.0, "given")
    # 100 tok/s all month = 262.8M tokens; 600M output tokens need 3 devices.
    report = cost(model, hosting, Workload(1e6, 1000, 600))
    assert report.hosted is not None
    assert report.hosted.devices == 3
    assert report.hosted.monthly_usd == pytest.approx(3 * 730.0)
    assert [c.usd_per_million_blended for c in report.api] == sorted(
        c.usd_per_million_blended for c in report.api)
    assert any("no cache-hit" in a for a in report.assumptions)


def test_impossible_costs_are_refused() -> None:
    with pytest.raises(ValueError, match="utilisation"):
        SelfHosting("gpu", 1.0, 10, 1.5, "given")
    with pytest.raises(ValueError, match="hourly"):
        SelfHosting("gpu", -1.0, 10, 0.5, "given")
    with pytest.raises(ValueError, match="negative"):
        Workload(-5, 10, 10)


def test_batched_moe_decode_reads_more_experts_than_one_stream() -> None:
    model = store.default().model("qwen3-30b-a3b")
    one = decode_speed(model, scheme("Q4_K_M"), Load(1024, 1), 1000)
    many = decode_speed(model, scheme("Q4_K_M"), Load(1024, 64), 1000)
    # Per token, a batch of 64 shares the weights it reads, but touches most experts.
    assert many.bytes_per_token < one.bytes_per_token
    assert many.tokens_per_second < 64 * one.tokens_per_second
