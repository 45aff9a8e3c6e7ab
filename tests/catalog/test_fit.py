"""KV-cache formulas against hand computations, and the fit verdicts and remedies."""

from __future__ import annotations

import pytest

from kaiyuan.catalog import store
from kaiyuan.catalog.fit import (
    GIB,
    Target,
    Workload,
    decode_speed,
    fit,
    kv_bytes_per_token,
    kv_cache_bytes,
)
from kaiyuan.catalog.quant import scheme, weight_bytes


@pytest.fixture(scope="module")
def catalog() -> store.Catalog:
    return store.load()


def test_gqa_cache_of_qwen3_8b_by_hand(catalog) -> None:
    # Qwen3-8B: 36 layers, 8 KV heads of 128 dims. Per token, K and V for every layer:
    # 2 x 36 x 8 x 128 = 73,728 elements; at 2 bytes (f16) = 147,456 bytes.
    model = catalog.model("qwen3-8b")
    assert kv_bytes_per_token(model) == 147_456
    # 32,768 tokens x 147,456 B = 4.5 GiB exactly; q8_0 blocks store 34 bytes per 32.
    assert kv_cache_bytes(model, Workload(32_768)) == 4.5 * GIB
    assert kv_bytes_per_token(model, "q8_0") == 73_728 * 34 / 32


def test_mla_cache_of_deepseek_v3_by_hand(catalog) -> None:
    # DeepSeek-V3 caches one 512-wide latent and one 64-wide RoPE key per layer:
    # 61 x (512 + 64) = 35,136 elements; at 2 bytes = 70,272 bytes per token.
    model = catalog.model("deepseek-v3")
    assert kv_bytes_per_token(model) == 70_272
    # A GQA formula over its 128 heads would give 61 x 2 x 128 x 128 x 2 = 3.8 MiB/token.
    assert kv_bytes_per_token(model) < 61 * 2 * 128 * 128 * 2 / 50
    assert kv_cache_bytes(model, Workload(131_072, sequences=2)) == 2 * 131_072 * 70_272


def test_windowed_layers_cache_only_their_window(catalog) -> None:
    model = catalog.model("gemma-3-27b")
    window = model.architecture.window
    assert window is not None
    short = kv_cache_bytes(model, Workload(window.tokens))
    long = kv_cache_bytes(model, Workload(window.tokens * 4))
    full_only = kv_bytes_per_token(model) * window.tokens * 3
    assert long - short == pytest.approx(full_only)


def test_hybrid_linear_attention_caches_only_softmax_layers(catalog) -> None:
    model = next(m for m in catalog.models.values() if m.id.startswith("minimax-m1"))
    arch = model.architecture
    assert kv_bytes_per_token(model) == 2 * arch.kv_layers * arch.kv_heads * arch.head_dim * 2


def test_kimi_k2_does_not_fit_a_4090_and_says_by_how_much(catalog) -> None:
    report = fit(catalog.model("kimi-k2-instruct"), scheme("Q4_K_M"),
                 Target.of(catalog.device("rtx-4090")), Workload(8192),
                 alternatives=list(catalog.devices.values()))
    assert not report.fits
    # About a trillion weights at ~4.9 bits: hundreds of GiB, against 24.
    assert report.memory.weights > 500 * GIB
    assert report.margin_bytes < -500 * GIB
    changes = " ".join(s.change for s in report.suggestions)
    assert "several devices" in changes


def test_qwen3_30b_a3b_on_a_4090_gets_a_verdict_with_numbers(catalog) -> None:
    model = catalog.model("qwen3-30b-a3b")
    report = fit(model, scheme("Q4_K_M"), Target.of(catalog.device("rtx-4090")),
                 Workload(8192))
    assert report.memory.weights == weight_bytes(model, scheme("Q4_K_M"))
    assert report.fits == (report.memory.total <= 24 * GIB)
    assert report.speed is not None
    # MoE: decode reads the active experts only, so it is far faster than a dense 30B.
    dense_equivalent = 0.55 * 1008e9 / report.memory.weights
    assert report.speed.tokens_per_second > 3 * dense_equivalent


def test_a_model_that_almost_fits_is_offered_a_smaller_quant(catalog) -> None:
    # Qwen3-32B at Q8_0 is ~35 GB; at Q4_K_M (~18 GiB) plus an 8K cache it fits 24 GiB.
    report = fit(catalog.model("qwen3-32b"), scheme("Q8_0"), Target("24 GiB", 24, 1000),
                 Workload(8192))
    assert not report.fits
    changes = [s.change for s in report.suggestions]
    assert "quantize to Q4_K_M" in changes
    assert any(c.startswith("offload") for c in changes)


def test_a_long_context_that_does_not_fit_is_offered_a_shorter_one(catalog) -> None:
    model = catalog.model("qwen3-32b")
    report = fit(model, scheme("Q4_K_M"), Target("24 GiB", 24, 1000), Workload(32_768))
    assert not report.fits
    shorter = next(s for s in report.suggestions if s.change == "shorter context")
    tokens = int(shorter.detail.split()[2].replace(",", ""))
    assert 1024 < tokens < 32_768
    assert fit(model, scheme("Q4_K_M"), Target("24 GiB", 24, 1000), Workload(tokens)).fits


def test_decode_speed_is_bandwidth_over_bytes_per_token(catalog) -> None:
    model = catalog.model("llama-3.1-8b")
    speed = decode_speed(model, scheme("Q4_K_M"), Workload(1), bandwidth_gbs=1000,
                         efficiency=1.0)
    per_token = weight_bytes(model, scheme("Q4_K_M")) + kv_bytes_per_token(model)
    assert speed.tokens_per_second == pytest.approx(1e12 / per_token)
    assert "bandwidth-bound" in speed.assumption


def test_impossible_workloads_are_refused() -> None:
    with pytest.raises(ValueError, match="context"):
        Workload(0)
    with pytest.raises(ValueError, match="sequences"):
        Workload(10, sequences=0)
    with pytest.raises(ValueError, match="Unknown KV cache type"):
        Workload(10, kv_type="q3")
