"""Will a model fit a device, by how much, what would make it fit, and how fast would it
decode?

Memory = weights (every expert of an MoE model is resident: routing picks different
experts for every token) + KV cache for every sequence + a runtime allowance. Decode
speed at batch 1 is bounded by memory bandwidth: each token reads the active weights
(all of them for a dense model, the active experts' for MoE) and the sequence's cache.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from kaiyuan.catalog.quant import LADDER, SCHEMES, Scheme, weight_bytes
from kaiyuan.catalog.schema import Device, Model

GIB = 1024**3

# Bytes per cached element for llama.cpp's `--cache-type-k/v` choices (ggml block sizes).
KV_TYPES: dict[str, float] = {"f16": 2.0, "bf16": 2.0, "fp8": 1.0, "q8_0": 34 / 32,
                              "q4_0": 18 / 32}

# Share of peak bandwidth a decode step achieves. llmfit uses 0.55 by default and checks
# it against llama.cpp runs (AlexsJones/llmfit docs/how-it-works.md).
DEFAULT_BANDWIDTH_EFFICIENCY = 0.55


@dataclass(frozen=True)
class Workload:
    """What the model must hold: context per sequence, concurrent sequences, cache type."""

    context: int
    sequences: int = 1
    kv_type: str = "f16"

    def __post_init__(self) -> None:
        if self.context <= 0:
            raise ValueError("context must be a positive number of tokens")
        if self.sequences <= 0:
            raise ValueError("sequences must be at least 1")
        if self.kv_type not in KV_TYPES:
            raise ValueError(
                f"Unknown KV cache type '{self.kv_type}'. Known: {', '.join(KV_TYPES)}."
            )


@dataclass(frozen=True)
class Allowance:
    """Runtime memory beyond weights and cache (compute buffers, CUDA context, logits):
    a heuristic, `fixed_gib` plus `fraction` of the weights, shown as its own row."""

    fixed_gib: float = 0.5
    fraction: float = 0.05

    def bytes(self, weights: float) -> float:
        return self.fixed_gib * GIB + self.fraction * weights


def kv_bytes_per_token(model: Model, kv_type: str = "f16") -> float:
    """Cache bytes one token adds to one sequence, over all layers that cache every token.

    GQA/MHA: K and V for each KV head, `2 x layers x kv_heads x head_dim x bytes`.
    MLA: one compressed latent plus the decoupled RoPE key, `layers x (kv_lora_rank +
    rope_head_dim) x bytes` (DeepSeek-V3's inference code caches exactly these).
    Windowed layers are left out here; `kv_cache_bytes` adds them up to their window.
    """
    arch = model.architecture
    element = KV_TYPES[kv_type]
    if arch.kind == "mla":
        return arch.layers * (arch.kv_lora_rank + arch.rope_head_dim) * element
    return 2 * _full_layers(model) * _kv_width(model) * element


def _kv_width(model: Model) -> int:
    arch = model.architecture
    head_dim = arch.head_dim or arch.hidden // arch.heads
    return (arch.kv_heads or arch.heads) * head_dim


def _full_layers(model: Model) -> int:
    arch = model.architecture
    layers = arch.kv_layers or arch.layers
    return layers - (arch.window.layers if arch.window else 0)


def linear_state_bytes(model: Model) -> float:
    """Per-sequence state of linear-attention layers (hybrid models), which does not grow
    with context. Assumed one `head_dim x head_dim` FP32 matrix per head per layer, the
    shape of lightning/linear attention's recurrent state."""
    arch = model.architecture
    if arch.kind != "hybrid-linear" or arch.kv_layers is None:
        return 0.0
    head_dim = arch.head_dim or arch.hidden // arch.heads
    return (arch.layers - arch.kv_layers) * arch.heads * head_dim * head_dim * 4.0


def kv_cache_bytes(model: Model, workload: Workload) -> float:
    """The whole cache for `workload`: every sequence holding `context` tokens."""
    arch = model.architecture
    per_sequence = kv_bytes_per_token(model, workload.kv_type) * workload.context
    if arch.window and arch.kind != "mla":
        per_sequence += (2 * arch.window.layers * _kv_width(model) * KV_TYPES[workload.kv_type]
                         * min(workload.context, arch.window.tokens))
    per_sequence += linear_state_bytes(model)
    return per_sequence * workload.sequences


@dataclass(frozen=True)
class Memory:
    """Bytes needed, by row."""

    weights: float
    kv_cache: float
    runtime: float

    @property
    def total(self) -> float:
        return self.weights + self.kv_cache + self.runtime


def memory(model: Model, quant: Scheme, workload: Workload,
           allowance: Allowance = Allowance()) -> Memory:
    """What serving `model` under `quant` for `workload` needs."""
    weights = weight_bytes(model, quant)
    return Memory(weights, kv_cache_bytes(model, workload), allowance.bytes(weights))


@dataclass(frozen=True)
class Target:
    """Where the model should run: memory usable for the model, and peak bandwidth."""

    name: str
    memory_gib: float
    bandwidth_gbs: float | None
    usable_fraction: float = 1.0

    @property
    def usable_bytes(self) -> float:
        return self.memory_gib * GIB * self.usable_fraction

    @classmethod
    def of(cls, device: Device, usable_fraction: float | None = None) -> Target:
        """A catalog device. Unified-memory, CPU and phone devices share their memory
        with the system, so by default only 75% is counted as usable."""
        if usable_fraction is None:
            usable_fraction = 1.0 if device.kind == "gpu" else 0.75
        return cls(device.name, device.memory_gib, device.bandwidth_gbs, usable_fraction)


@dataclass(frozen=True)
class Speed:
    """A decode estimate and the assumptions behind it."""

    tokens_per_second: float
    bytes_per_token: float
    assumption: str


def weights_read_per_step(model: Model, weights: float, streams: int) -> float:
    """Weight bytes one decode step reads when `streams` sequences decode together.

    Dense: all of them. MoE: the always-used part plus the experts the batch touches;
    with E experts, k per token and uniform routing, a step touches E(1 - (1 - k/E)^B)
    of them. The expert share of the parameters follows from the total and active counts:
    total = dense + expert, active = dense + expert x k/E.
    """
    if model.moe is None:
        return weights
    experts, per_token = model.moe.experts, model.moe.active
    total, active = model.params_b, model.active_b
    expert_params = (total - active) / (1 - per_token / experts)
    touched = experts * (1 - (1 - per_token / experts) ** streams)
    share = (total - expert_params + expert_params * touched / experts) / total
    return weights * min(share, 1.0)


def decode_speed(model: Model, quant: Scheme, workload: Workload, bandwidth_gbs: float,
                 efficiency: float = DEFAULT_BANDWIDTH_EFFICIENCY) -> Speed:
    """Aggregate decode tokens per second for `workload.sequences` streams, if decoding
    is bandwidth-bound: each step reads the weights once (the touched experts' for MoE)
    and every stream's cache, at `efficiency` x peak bandwidth."""
    streams = workload.sequences
    per_step = (weights_read_per_step(model, weight_bytes(model, quant), streams)
                + kv_cache_bytes(model, workload))
    kind = "the experts the batch touches (uniform routing)" if model.moe else "all weights"
    return Speed(
        tokens_per_second=streams * efficiency * bandwidth_gbs * 1e9 / per_step,
        bytes_per_token=per_step / streams,
        assumption=(
            f"{streams} stream(s), bandwidth-bound: each step reads {kind} once and "
            f"{streams} full {workload.context}-token cache(s) at {efficiency:.0%} of "
            f"{bandwidth_gbs:g} GB/s peak; compute limits not modelled"
        ),
    )


@dataclass(frozen=True)
class Suggestion:
    """One change that would make the model fit, with what it costs."""

    change: str
    detail: str


@dataclass(frozen=True)
class FitReport:
    """The answer to "does it fit": verdict, rows, margin, remedies and a speed estimate."""

    model: str
    quant: str
    target: Target
    workload: Workload
    memory: Memory
    fits: bool
    margin_bytes: float
    speed: Speed | None
    suggestions: list[Suggestion] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)


def fit(model: Model, quant: Scheme, target: Target, workload: Workload,
        allowance: Allowance = Allowance(), alternatives: list[Device] | None = None,
        efficiency: float = DEFAULT_BANDWIDTH_EFFICIENCY) -> FitReport:
    """Check `model` under `quant` on `target`; when it does not fit, say what would."""
    need = memory(model, quant, workload, allowance)
    margin = target.usable_bytes - need.total
    fits = margin >= 0
    single = Workload(workload.context, 1, workload.kv_type)
    speed = (decode_speed(model, quant, single, target.bandwidth_gbs, efficiency)
             if fits and target.bandwidth_gbs else None)
    suggestions = [] if fits else _remedies(model, quant, target, workload, allowance,
                                            need, alternatives or [])
    assumptions = [
        "weights: every expert resident" if model.moe else "weights: dense, all resident",
        f"KV cache: {workload.sequences} sequence(s) x {workload.context} tokens, "
        f"{workload.kv_type}",
        f"runtime allowance: {allowance.fixed_gib:g} GiB + {allowance.fraction:.0%} of "
        "weights (heuristic)",
        f"usable memory: {target.usable_fraction:.0%} of {target.memory_gib:g} GiB",
    ]
    if linear_state_bytes(model):
        assumptions.append("linear-attention state: one head_dim² FP32 matrix per head "
                           "per linear layer (assumed shape)")
    if workload.context > model.architecture.context:
        assumptions.append(f"context {workload.context} exceeds the model's supported "
                           f"{model.architecture.context}")
    return FitReport(model.id, quant.name, target, workload, need, fits, margin, speed,
                     suggestions, assumptions)


def _remedies(model: Model, quant: Scheme, target: Target, workload: Workload,
              allowance: Allowance, need: Memory, devices: list[Device]) -> list[Suggestion]:
    out: list[Suggestion] = []
    smaller = _smaller_quant(model, quant, target, workload, allowance)
    if smaller:
        out.append(smaller)
    shorter = _shorter_context(model, target, workload, need)
    if shorter:
        out.append(shorter)
    offload = _cpu_offload(model, target, need)
    if offload:
        out.append(offload)
    bigger = _bigger_device(model, quant, workload, allowance, devices)
    if bigger:
        out.append(bigger)
    if target.memory_gib:
        count = math.ceil(need.total / target.usable_bytes)
        out.append(Suggestion(
            "several devices",
            f"{count} x {target.name} ({count * target.memory_gib:g} GiB in all) hold "
            f"{need.total / GIB:.1f} GiB, split by layers or tensor parallelism "
            "(each device keeps its own runtime buffers)",
        ))
    return out


def _smaller_quant(model: Model, quant: Scheme, target: Target, workload: Workload,
                   allowance: Allowance) -> Suggestion | None:
    current = weight_bytes(model, quant)
    for candidate in (SCHEMES[name] for name in LADDER):
        size = weight_bytes(model, candidate)
        if size >= current:
            continue
        need = memory(model, candidate, workload, allowance)
        if need.total <= target.usable_bytes:
            return Suggestion(
                f"quantize to {candidate.name}",
                f"needs {need.total / GIB:.1f} GiB (weights {size / GIB:.1f} GiB); "
                "lower bit widths cost accuracy",
            )
    return None


def _shorter_context(model: Model, target: Target, workload: Workload,
                     need: Memory) -> Suggestion | None:
    room = target.usable_bytes - need.weights - need.runtime
    per_token = need.kv_cache / workload.context
    if room <= 0 or per_token <= 0:
        return None
    tokens = int(room / per_token)
    if tokens < 512:
        return None
    return Suggestion(
        "shorter context",
        f"up to {tokens:,} tokens per sequence across {workload.sequences} sequence(s) "
        f"(asked for {workload.context:,})",
    )


def _cpu_offload(model: Model, target: Target, need: Memory) -> Suggestion | None:
    layers = model.architecture.layers
    per_layer = need.weights / layers
    excess = need.total - target.usable_bytes
    count = math.ceil(excess / per_layer)
    if count >= layers:
        return Suggestion(
            "run from system memory",
            f"a machine with at least {need.total / GIB:.0f} GiB of RAM (llama.cpp on CPU, "
            "or experts offloaded to RAM); decode then runs at system-memory bandwidth",
        )
    return Suggestion(
        f"offload {count} of {layers} layers to CPU RAM",
        f"about {count * per_layer / GIB:.1f} GiB in system memory (llama.cpp "
        "`--n-gpu-layers`); those layers then decode at system-memory bandwidth",
    )


def _bigger_device(model: Model, quant: Scheme, workload: Workload, allowance: Allowance,
                   devices: list[Device]) -> Suggestion | None:
    need = memory(model, quant, workload, allowance).total
    fitting = sorted(
        (d for d in devices if Target.of(d).usable_bytes >= need),
        key=lambda d: d.memory_gib,
    )
    if not fitting:
        gpus = [d for d in devices if d.kind == "gpu"]
        if not gpus:
            return None
        largest = max(gpus, key=lambda d: d.memory_gib)
        count = math.ceil(need / Target.of(largest).usable_bytes)
        return Suggestion(f"several of the largest listed GPU: {count} x {largest.name}",
                          f"{count * largest.memory_gib:g} GiB in all for {need / GIB:.1f} "
                          "GiB, split across the devices")
    device = fitting[0]
    return Suggestion(f"a bigger device: {device.name}",
                      f"{device.memory_gib:g} GiB, the smallest listed that holds "
                      f"{need / GIB:.1f} GiB")
