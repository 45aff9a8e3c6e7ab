"""The catalog's data model: what a family file and the device table may say, and the rule
that every number names its source.

A number is written either as `{ value = 36, src = "config" }` or inside a table that has
its own `src` (a benchmark row, a price row, an architecture section whose numbers all
come from one config.json). `src` is a key of the file's `[sources]` table. A section's
`src` covers the plain numbers directly in it; a field written as `{ value, src }`
overrides it. `unsourced_numbers` in `sourcing.py` enforces the rule on the raw files.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SourceKind = Literal[
    "config.json",
    "model card",
    "technical report",
    "blog",
    "licence",
    "price page",
    "price feed",
    "spec sheet",
    "gguf metadata",
    "gguf listing",
    "source code",
    "leaderboard",
    "repository",
]

Thinking = Literal["hybrid", "always", "none"]
AttentionKind = Literal["mha", "gqa", "mla", "hybrid-linear"]
Modality = Literal["text", "image", "audio", "video"]
DeviceKind = Literal["gpu", "apple", "cpu", "mobile"]
UseCase = Literal[
    "chat", "coding", "math", "agent", "long-context", "multilingual", "edge"
]

# Canonical benchmark names, so that the recommender compares like with like. A lab's own
# spelling goes in `version`/`setting`, never in a new name.
BENCHMARKS = (
    "MMLU", "MMLU-Pro", "MMLU-Redux", "GPQA-Diamond", "SuperGPQA", "C-Eval", "CMMLU",
    "HumanEval", "HumanEval+", "MBPP", "MBPP+", "LiveCodeBench", "SWE-bench Verified",
    "Aider-Polyglot", "MATH", "MATH-500", "GSM8K", "AIME24", "AIME25", "HMMT25",
    "BFCL", "TAU-bench-retail", "TAU-bench-airline", "TAU2-bench", "IFEval",
    "Arena-Hard", "MultiPL-E", "MGSM", "LongBench-v2", "RULER", "HellaSwag", "ARC-C",
    "BBH", "TriviaQA", "BrowseComp", "Humanity's-Last-Exam",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Strict):
    """Where a fact was read: the primary URL, what kind of document it is and, when the
    primary was read through a copy, which copy."""

    url: str = Field(pattern=r"^https://")
    kind: SourceKind
    title: str | None = None
    seen: dt.date | None = None
    via: str | None = None


def _unwrap_sourced(data: Any) -> Any:
    """Turn `{value, src}` fields of a section into plain values, keeping each field's
    source in `field_sources`, with the section's own `src` as the default."""
    if not isinstance(data, dict):
        return data
    out: dict[str, Any] = {}
    field_sources: dict[str, str] = {}
    for key, item in data.items():
        if isinstance(item, dict) and set(item) >= {"value", "src"} and set(item) <= {
            "value", "src", "note"
        }:
            out[key] = item["value"]
            field_sources[key] = item["src"]
        else:
            out[key] = item
    out["field_sources"] = field_sources
    return out


class _Section(_Strict):
    """A table of facts that may share one source (`src`) or name one per field."""

    src: str | None = None
    note: str | None = None
    field_sources: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _unwrap(cls, data: Any) -> Any:
        return _unwrap_sourced(data)

    def source_of(self, field: str) -> str | None:
        """The source key of `field`: its own, else the section's."""
        return self.field_sources.get(field, self.src)

    def referenced_sources(self) -> set[str]:
        keys = set(self.field_sources.values())
        if self.src:
            keys.add(self.src)
        return keys


class Window(_Section):
    """Layers whose attention sees only the last `tokens` tokens (sliding or chunked).
    Its numbers need their own `src`: a nested table is not covered by its parent's."""

    layers: int = Field(gt=0)
    tokens: int = Field(gt=0)


class Architecture(_Section):
    """Shape facts, as config.json states them. `kv_layers` is how many layers keep a
    per-token KV cache when not all do (hybrid linear attention); `window` describes
    layers that cache only a window of tokens."""

    kind: AttentionKind
    layers: int = Field(gt=0)
    hidden: int = Field(gt=0)
    heads: int = Field(gt=0)
    kv_heads: int | None = Field(default=None, gt=0)
    head_dim: int | None = Field(default=None, gt=0)
    kv_lora_rank: int | None = Field(default=None, gt=0)
    rope_head_dim: int | None = Field(default=None, gt=0)
    kv_layers: int | None = Field(default=None, gt=0)
    window: Window | None = None
    vocab: int = Field(gt=0)
    context: int = Field(gt=0)
    tied_embeddings: bool

    @model_validator(mode="after")
    def _consistent(self) -> Architecture:
        if self.kind == "mla" and (self.kv_lora_rank is None or self.rope_head_dim is None):
            raise ValueError("an MLA model needs kv_lora_rank and rope_head_dim")
        if self.kind in ("gqa", "hybrid-linear") and self.kv_heads is None:
            raise ValueError(f"a {self.kind} model needs kv_heads")
        if self.kind == "hybrid-linear" and self.kv_layers is None:
            raise ValueError("a hybrid-linear model needs kv_layers (its softmax layers)")
        if self.kv_layers is not None and self.kv_layers > self.layers:
            raise ValueError("kv_layers cannot exceed layers")
        return self


class Moe(_Section):
    """Mixture of experts: routed experts per MoE layer, how many a token uses, and
    always-on shared experts."""

    experts: int = Field(gt=1)
    active: int = Field(gt=0)
    shared: int = Field(ge=0)

    @model_validator(mode="after")
    def _active_within(self) -> Moe:
        if self.active > self.experts:
            raise ValueError("active experts cannot exceed experts")
        return self


class Benchmark(_Strict):
    """One published score, as the source reports it (percent unless `unit` says not)."""

    name: str
    score: float
    src: str
    setting: str | None = None
    version: str | None = None
    unit: Literal["percent", "elo", "score"] = "percent"
    measured_by: Literal["lab", "third party"] = "lab"

    @field_validator("name")
    @classmethod
    def _known(cls, name: str) -> str:
        if name not in BENCHMARKS:
            raise ValueError(f"unknown benchmark {name!r}; use one of {', '.join(BENCHMARKS)}")
        return name


class Price(_Strict):
    """An API list price in USD per million tokens, as seen on `seen`."""

    provider: str
    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(default=None, ge=0)
    seen: dt.date
    src: str
    note: str | None = None


class Model(_Section):
    """One open-weight model. Parameter counts are in billions."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9.\-]*$")
    name: str
    hf_repo: str | None = None
    organisation: str
    country: str = Field(pattern=r"^[A-Z]{2}$")
    released: dt.date
    licence: str
    params_b: float = Field(gt=0)
    active_params_b: float | None = Field(default=None, gt=0)
    thinking: Thinking
    tool_format: str | None = None
    modalities: tuple[Modality, ...] = ("text",)
    languages: tuple[str, ...] = ()
    language_count: int | None = Field(default=None, gt=0)
    strengths: tuple[UseCase, ...] = ()
    architecture: Architecture
    moe: Moe | None = None
    benchmarks: tuple[Benchmark, ...] = ()
    prices: tuple[Price, ...] = ()
    gguf_separate_output: bool | None = None
    aliases: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _moe_consistent(self) -> Model:
        for fact in ("licence", "released", "params_b"):
            if self.source_of(fact) is None:
                raise ValueError(f"{self.id}: {fact} needs a source")
        if self.moe is not None and self.active_params_b is None:
            raise ValueError(f"{self.id}: an MoE model needs active_params_b")
        if self.active_params_b is not None and self.active_params_b > self.params_b:
            raise ValueError(f"{self.id}: active_params_b exceeds params_b")
        return self

    @property
    def active_b(self) -> float:
        """Parameters used per token, in billions (all of them for a dense model)."""
        return self.active_params_b or self.params_b

    def referenced_sources(self) -> set[str]:
        keys = super().referenced_sources() | self.architecture.referenced_sources()
        if self.moe:
            keys |= self.moe.referenced_sources()
        keys |= {b.src for b in self.benchmarks} | {p.src for p in self.prices}
        return keys


class FamilyFile(_Strict):
    """One file of `catalog/data/models/`: the sources it cites and its models."""

    sources: dict[str, Source]
    models: tuple[Model, ...]

    @model_validator(mode="after")
    def _sources_resolve(self) -> FamilyFile:
        for model in self.models:
            missing = model.referenced_sources() - set(self.sources)
            if missing:
                raise ValueError(f"{model.id} cites undefined sources: {sorted(missing)}")
        return self


class HourlyPrice(_Strict):
    """What renting the device costs, per hour, from one provider."""

    provider: str
    usd: float = Field(gt=0)
    seen: dt.date
    src: str


class Device(_Section):
    """A machine to run on: memory usable for weights and cache, and peak bandwidth."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9.\-]*$")
    name: str
    kind: DeviceKind
    memory_gib: float = Field(gt=0)
    bandwidth_gbs: float = Field(gt=0)
    hourly: tuple[HourlyPrice, ...] = ()


class DeviceFile(_Strict):
    sources: dict[str, Source]
    devices: tuple[Device, ...]
