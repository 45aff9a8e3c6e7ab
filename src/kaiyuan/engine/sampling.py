"""Per-sequence sampling on llama.cpp's native sampler chain.

Each sequence owns its chain, and its `dist` sampler owns its RNG, so a seeded request
draws the same tokens whatever else shares the batch. The vocabulary-sized work (bias,
penalties, truncation, the draw) all happens in C.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import llama_cpp


@dataclass(frozen=True)
class SamplingParams:
    """How to pick each next token, and when to stop. Defaults follow OpenAI's."""

    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    min_p: float = 0.0
    seed: int | None = None
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    repetition_penalty: float = 1.0
    logit_bias: dict[int, float] = field(default_factory=dict)
    max_tokens: int = 256
    stop: tuple[str, ...] = ()

    @property
    def reproducible(self) -> bool:
        """Whether the same request must give the same text whatever ran before it: a
        seeded draw, or greedy decoding (temperature 0 or top_k 1). An unseeded draw is
        different every time anyway."""
        return self.seed is not None or self.temperature <= 0.0 or self.top_k == 1

    @property
    def penalised(self) -> bool:
        return (self.presence_penalty, self.frequency_penalty, self.repetition_penalty) != (
            0.0,
            0.0,
            1.0,
        )


class Sampler:
    """One llama.cpp sampler chain; `sample` draws from a batch row and records the token."""

    def __init__(
        self,
        params: SamplingParams,
        n_vocab: int,
        seed: int,
        grammar: tuple[llama_cpp.llama_vocab_p, str] | None = None,
    ):
        chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
        self._chain = chain
        add = llama_cpp.llama_sampler_chain_add
        if grammar is not None:
            # First in the chain: the bias and truncation below then only see tokens the
            # grammar allows, so they can never leave a forced call with nothing to pick.
            vocab, gbnf = grammar
            add(chain, llama_cpp.llama_sampler_init_grammar(vocab, gbnf.encode(), b"root"))
        if params.logit_bias:
            biases = (llama_cpp.llama_logit_bias * len(params.logit_bias))()
            for slot, (token, bias) in zip(biases, params.logit_bias.items(), strict=True):
                slot.token, slot.bias = token, bias
            add(chain, llama_cpp.llama_sampler_init_logit_bias(n_vocab, len(biases), biases))
        if params.penalised:
            # OpenAI's penalties count every generated token, so the window is the whole
            # completion rather than llama.cpp's default of the last 64.
            add(
                chain,
                llama_cpp.llama_sampler_init_penalties(
                    n_vocab,
                    params.max_tokens,
                    params.repetition_penalty,
                    params.frequency_penalty,
                    params.presence_penalty,
                ),
            )
        if params.temperature <= 0.0:
            add(chain, llama_cpp.llama_sampler_init_greedy())
            return
        if params.top_k > 0:
            add(chain, llama_cpp.llama_sampler_init_top_k(params.top_k))
        if params.top_p < 1.0:
            add(chain, llama_cpp.llama_sampler_init_top_p(params.top_p, 1))
        if params.min_p > 0.0:
            add(chain, llama_cpp.llama_sampler_init_min_p(params.min_p, 1))
        add(chain, llama_cpp.llama_sampler_init_temp(params.temperature))
        add(chain, llama_cpp.llama_sampler_init_dist(seed & 0xFFFFFFFF))

    def sample(self, ctx: llama_cpp.llama_context_p, row: int) -> int:
        return llama_cpp.llama_sampler_sample(self._chain, ctx, row)

    def accept(self, token: int) -> None:
        """Record a token chosen without sampling (forced), as penalties must count it."""
        llama_cpp.llama_sampler_accept(self._chain, token)

    def close(self) -> None:
        if self._chain:
            llama_cpp.llama_sampler_free(self._chain)
            self._chain = None


def choice_seed(params: SamplingParams, index: int) -> int:
    """The RNG seed of choice `index`: derived from the request's seed, random without one."""
    if params.seed is None:
        return random.getrandbits(32)
    return (params.seed + index) & 0xFFFFFFFF
