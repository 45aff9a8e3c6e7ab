"""How many bytes a model's weights take under a quantization scheme, counted per tensor
group the way each format actually stores them.

GGUF schemes follow llama.cpp's own rules, so the estimate tracks real files:
- block sizes from `ggml/src/ggml-common.h` (e.g. `block_q4_K` is 144 bytes per 256
  weights, 4.5 bits per weight);
- the per-tensor choices of `llama_tensor_get_type_impl` in `src/llama-quant.cpp`: the
  output projection (and a tied embedding) at Q6_K, `attn_v` and `ffn_down` of some layers
  one step up (`use_more_bits`), the token embedding at the base type;
- `tensor_type_fallback`: a tensor whose row length is not a multiple of the type's block
  falls back (Q4_K to Q5_0, Q5_K to Q5_1, Q6_K to Q8_0, Q2_K/Q3_K to Q4_0).
Non-GGUF schemes (BF16, FP8, AWQ/GPTQ int4) keep the embedding and the output projection
in 16 bits, as their published checkpoints do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kaiyuan.catalog.schema import Model


@dataclass(frozen=True)
class StorageType:
    """One tensor storage type: bits per weight, block length, and what llama.cpp uses
    instead when a row is not a multiple of the block."""

    name: str
    bits: float
    block: int = 1
    fallback: str | None = None


# ggml-common.h: bytes per block x 8 / weights per block.
TYPES: dict[str, StorageType] = {
    t.name: t
    for t in (
        StorageType("F32", 32.0),
        StorageType("F16", 16.0),
        StorageType("BF16", 16.0),
        StorageType("Q8_0", 34 * 8 / 32, 32),
        StorageType("Q6_K", 210 * 8 / 256, 256, "Q8_0"),
        StorageType("Q5_K", 176 * 8 / 256, 256, "Q5_1"),
        StorageType("Q5_1", 24 * 8 / 32, 32),
        StorageType("Q5_0", 22 * 8 / 32, 32),
        StorageType("Q4_K", 144 * 8 / 256, 256, "Q5_0"),
        StorageType("Q4_1", 20 * 8 / 32, 32),
        StorageType("Q4_0", 18 * 8 / 32, 32),
        StorageType("Q3_K", 110 * 8 / 256, 256, "Q4_0"),
        StorageType("Q2_K", 84 * 8 / 256, 256, "Q4_0"),
        # FP8 e4m3 with one FP32 scale per 128x128 block (DeepSeek-V3's README_WEIGHTS.md).
        StorageType("FP8", 8 + 32 / (128 * 128)),
        # 4-bit AWQ/GPTQ, group 128: an FP16 scale and a 4-bit zero point per group.
        StorageType("INT4-G128", 4 + (16 + 4) / 128),
    )
}


def use_more_bits(layer: int, layers: int) -> bool:
    """llama.cpp's choice of the layers whose `attn_v`/`ffn_down` get more bits."""
    return layer < layers // 8 or layer >= 7 * layers // 8 or (layer - layers // 8) % 3 == 2


def _share(layers: int, chosen: Callable[[int, int], bool]) -> float:
    return sum(chosen(i, layers) for i in range(layers)) / layers


@dataclass(frozen=True)
class Scheme:
    """A quantization scheme: the base type, the embedding and output types, and for
    the `attn_v`, `attn_output` and `ffn_down` groups a function giving, for a model with
    L layers and a GQA ratio g, the mix of types as (type, share of the group's weights)."""

    name: str
    format: str
    description: str
    base: str
    embedding: str
    output: str
    attn_v: Callable[[int, float], list[tuple[str, float]]] | None = None
    attn_output: Callable[[int, float], list[tuple[str, float]]] | None = None
    ffn_down: Callable[[int, float], list[tuple[str, float]]] | None = None


def _more_bits(up: str, base: str) -> Callable[[int, float], list[tuple[str, float]]]:
    def mix(layers: int, _gqa: float) -> list[tuple[str, float]]:
        share = _share(layers, use_more_bits)
        return [(up, share), (base, 1 - share)]
    return mix


def _first(count: Callable[[int], int], up: str, base: str):
    def mix(layers: int, _gqa: float) -> list[tuple[str, float]]:
        share = min(count(layers), layers) / layers
        return [(up, share), (base, 1 - share)]
    return mix


def _always(kind: str):
    return lambda _layers, _gqa: [(kind, 1.0)]


def _q2k_attn_v(_layers: int, gqa: float) -> list[tuple[str, float]]:
    return [("Q4_K" if gqa >= 4 else "Q3_K", 1.0)]


SCHEMES: dict[str, Scheme] = {
    s.name: s
    for s in (
        Scheme("F16", "gguf", "16-bit floats", "F16", "F16", "F16"),
        Scheme("BF16", "float", "bfloat16, as most checkpoints ship", "BF16", "BF16", "BF16"),
        Scheme("Q8_0", "gguf", "8-bit, blocks of 32", "Q8_0", "Q8_0", "Q8_0"),
        Scheme("Q6_K", "gguf", "6-bit k-quant", "Q6_K", "Q6_K", "Q6_K"),
        Scheme("Q5_K_M", "gguf", "5-bit k-quant, attn_v/ffn_down partly Q6_K",
               "Q5_K", "Q5_K", "Q6_K",
               attn_v=_more_bits("Q6_K", "Q5_K"), ffn_down=_more_bits("Q6_K", "Q5_K")),
        Scheme("Q5_0", "gguf", "5-bit, blocks of 32", "Q5_0", "Q5_0", "Q6_K"),
        Scheme("Q4_K_M", "gguf", "4-bit k-quant, attn_v/ffn_down partly Q6_K",
               "Q4_K", "Q4_K", "Q6_K",
               attn_v=_more_bits("Q6_K", "Q4_K"), ffn_down=_more_bits("Q6_K", "Q4_K")),
        Scheme("Q4_K_S", "gguf", "4-bit k-quant, first layers' attn_v/ffn_down Q5_K",
               "Q4_K", "Q4_K", "Q6_K",
               attn_v=_first(lambda n: 4, "Q5_K", "Q4_K"),
               ffn_down=_first(lambda n: n // 8, "Q5_K", "Q4_K")),
        Scheme("Q4_1", "gguf", "4-bit with minimum, blocks of 32", "Q4_1", "Q4_1", "Q6_K"),
        Scheme("Q4_0", "gguf", "4-bit, blocks of 32", "Q4_0", "Q4_0", "Q6_K"),
        Scheme("Q3_K_M", "gguf", "3-bit k-quant, attn/ffn_down partly 4-5 bit",
               "Q3_K", "Q3_K", "Q6_K",
               attn_v=_first(lambda n: 2, "Q5_K", "Q4_K"),
               attn_output=_always("Q4_K"),
               ffn_down=_first(lambda n: n // 16, "Q5_K", "Q4_K")),
        Scheme("Q2_K", "gguf", "2-bit k-quant, attn/ffn_down at 3-4 bit",
               "Q2_K", "Q2_K", "Q6_K",
               attn_v=_q2k_attn_v, attn_output=_always("Q3_K"), ffn_down=_always("Q3_K")),
        Scheme("FP8", "fp8", "8-bit floats, block-scaled (DeepSeek-V3 style)",
               "FP8", "BF16", "BF16"),
        Scheme("INT4", "int4", "AWQ/GPTQ 4-bit, group 128", "INT4-G128", "F16", "F16"),
    )
}


# The GGUF schemes worth suggesting, best first: the legacy Q4_0/Q4_1/Q5_0 are larger than
# the k-quant at the same quality, so they are never the better choice.
LADDER = ("Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q4_K_S", "Q3_K_M", "Q2_K")


class UnknownQuantError(ValueError):
    """A quantization name kaiyuan does not know."""


def scheme(name: str) -> Scheme:
    """The scheme called `name` (case-insensitive; AWQ and GPTQ mean INT4)."""
    key = name.upper().replace("-", "_")
    key = {"AWQ": "INT4", "GPTQ": "INT4", "FP16": "F16", "INT8": "Q8_0"}.get(key, key)
    if key not in SCHEMES:
        raise UnknownQuantError(
            f"Unknown quantization '{name}'. Known: {', '.join(SCHEMES)} (AWQ and GPTQ "
            "mean INT4)."
        )
    return SCHEMES[key]


@dataclass(frozen=True)
class TensorGroups:
    """Parameter counts by the role that decides how a tensor is stored."""

    embedding: float
    output: float
    attn_v: float
    attn_output: float
    ffn_down: float
    other: float
    layers: int
    hidden: int
    attn_width: int
    gqa: float


def tensor_groups(model: Model, *, separate_output: bool | None = None) -> TensorGroups:
    """Split `model`'s parameters into the groups quantizers treat differently.

    Embedding and output sizes come from the vocabulary and hidden size; attention from
    the heads; the rest is feed-forward, of which a third is `ffn_down` (gate, up and down
    projections are the same size in SwiGLU blocks, dense or expert). MLA and linear
    attention layers are counted as GQA-shaped: their `attn_v` share is small either way.
    """
    arch = model.architecture
    if separate_output is None:
        separate_output = (
            model.gguf_separate_output if model.gguf_separate_output is not None
            else not arch.tied_embeddings
        )
    embedding = float(arch.vocab * arch.hidden)
    output = embedding if separate_output else 0.0
    head_dim = arch.head_dim or arch.hidden // arch.heads
    kv_heads = arch.kv_heads or arch.heads
    attn_width = arch.heads * head_dim
    attn_v = float(arch.layers * arch.hidden * kv_heads * head_dim)
    attn_qk = float(arch.layers * arch.hidden * (attn_width + kv_heads * head_dim))
    attn_output = float(arch.layers * attn_width * arch.hidden)
    checkpoint_params = model.params_b * 1e9
    stored_output = 0.0 if arch.tied_embeddings else embedding
    ffn = max(
        checkpoint_params - embedding - stored_output - attn_v - attn_qk - attn_output, 0.0
    )
    return TensorGroups(
        embedding=embedding,
        output=output,
        attn_v=attn_v,
        attn_output=attn_output,
        ffn_down=ffn / 3,
        other=attn_qk + ffn * 2 / 3,
        layers=arch.layers,
        hidden=arch.hidden,
        attn_width=attn_width,
        gqa=arch.heads / kv_heads,
    )


def _stored(kind: str, row: int) -> StorageType:
    storage = TYPES[kind]
    if storage.block > 1 and row % storage.block:
        fallback = TYPES[storage.fallback] if storage.fallback else TYPES["F16"]
        return fallback if row % fallback.block == 0 else TYPES["F16"]
    return storage


def _bits(mix: list[tuple[str, float]], row: int) -> float:
    return sum(_stored(kind, row).bits * share for kind, share in mix)


def weight_bytes(model: Model, quant: Scheme) -> float:
    """Bytes of `model`'s weights stored under `quant`."""
    groups = tensor_groups(model) if quant.format == "gguf" else tensor_groups(
        model, separate_output=not model.architecture.tied_embeddings
    )
    hidden, layers = groups.hidden, groups.layers
    base = [(quant.base, 1.0)]
    # A tied embedding doubles as the output projection and is stored like it.
    embedding_type = quant.output if groups.output == 0 else quant.embedding
    bits = (
        groups.embedding * _bits([(embedding_type, 1.0)], hidden)
        + groups.output * _bits([(quant.output, 1.0)], hidden)
        + groups.attn_v * _bits(quant.attn_v(layers, groups.gqa) if quant.attn_v else base,
                                hidden)
        + groups.attn_output * _bits(
            quant.attn_output(layers, groups.gqa) if quant.attn_output else base,
            groups.attn_width)
        # ffn_down rows are the feed-forward width, a multiple of 256 in every listed model.
        + groups.ffn_down * _bits(quant.ffn_down(layers, groups.gqa) if quant.ffn_down
                                  else base, 256)
        + groups.other * _bits(base, hidden)
    )
    return bits / 8
