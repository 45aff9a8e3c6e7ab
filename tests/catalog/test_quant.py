"""Weight-size estimates against GGUF files whose sizes are published or on this disk.

Each published figure is cited here or in tests/data/catalog/published_gguf.toml (URL and
the quoted line). The estimator must land within 10% of every one.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from kaiyuan.catalog import store
from kaiyuan.catalog.quant import scheme, use_more_bits, weight_bytes
from kaiyuan.engine.embedded import EMBEDDED_MODELS

PUBLISHED = Path(__file__).parents[1] / "data" / "catalog" / "published_gguf.toml"
GIB = 1024**3

# llama.cpp tools/quantize/README.md, table for meta-llama/Llama-3.1-8B, "size (GiB)":
# https://github.com/ggml-org/llama.cpp/blob/master/tools/quantize/README.md
LLAMA_31_8B_GIB = {"Q4_K_M": 4.58, "Q5_K_M": 5.33, "Q6_K": 6.14, "Q8_0": 7.95,
                   "F16": 14.96, "Q4_K_S": 4.36, "Q2_K": 2.95}


def _published() -> list[tuple[str, str, float, str]]:
    rows = tomllib.loads(PUBLISHED.read_text(encoding="utf-8"))["files"]
    out = []
    for row in rows:
        size = (row.get("bytes") or row.get("gb", 0) * 1e9 or row.get("gib", 0) * GIB)
        out.append((row["model"], row["quant"], float(size), row["url"]))
    return out


@pytest.fixture(scope="module")
def catalog() -> store.Catalog:
    return store.load()


def _check(estimate: float, published: float) -> None:
    assert abs(estimate / published - 1) < 0.10, (
        f"estimate {estimate / 1e9:.2f} GB vs published {published / 1e9:.2f} GB"
    )


@pytest.mark.parametrize(("quant", "gib"), sorted(LLAMA_31_8B_GIB.items()))
def test_llama_31_8b_matches_llama_cpp_published_sizes(catalog, quant: str, gib: float) -> None:
    _check(weight_bytes(catalog.model("llama-3.1-8b"), scheme(quant)), gib * GIB)


@pytest.mark.parametrize(("model_id", "quant", "size", "url"), _published(),
                         ids=lambda v: v if isinstance(v, str) and "/" not in v else "")
def test_published_gguf_sizes(catalog, model_id: str, quant: str, size: float,
                              url: str) -> None:
    _check(weight_bytes(catalog.model(model_id), scheme(quant)), size)


@pytest.mark.parametrize(("alias", "quant"), [("smollm2-135m", "Q4_1"),
                                              ("qwen2.5-coder-0.5b", "Q4_K_M")])
def test_embedded_models_measured_on_disk(catalog, alias: str, quant: str) -> None:
    """The files kaiyuan serves: SmolLM2's Q4_1 (token embedding stored at Q8_0) and
    Qwen's Q4_K_M, whose 896-wide rows force llama.cpp's Q5_0/Q8_0 fallbacks and which
    stores a separate output matrix although the checkpoint ties it."""
    path = EMBEDDED_MODELS[alias].path()
    _check(weight_bytes(catalog.model(alias), scheme(quant)), path.stat().st_size)


def test_more_bits_go_to_half_the_layers_as_in_llama_cpp() -> None:
    # 32 layers: the first 4, the last 4, and every third of the middle 24.
    chosen = [i for i in range(32) if use_more_bits(i, 32)]
    assert chosen == [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31]


def test_moe_weights_count_every_expert(catalog) -> None:
    model = catalog.model("qwen3-30b-a3b")
    size = weight_bytes(model, scheme("Q8_0"))
    assert size > model.params_b * 1e9 * 8 / 8
    assert size > 5 * model.active_b * 1e9


def test_an_unknown_quantization_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"Unknown quantization 'Q9_K'.*Q4_K_M"):
        scheme("Q9_K")


def test_awq_and_gptq_are_int4() -> None:
    assert scheme("awq").name == scheme("GPTQ").name == "INT4"
