"""Continuous batching on one llama.cpp context that holds several sequences.

One engine thread runs the loop. Each step builds a single batch: one token for every
sequence that is decoding, then prompt chunks of waiting requests in the room left, so a
long prompt is prefilled over several steps while running streams keep producing. New
requests join at the next step; finished and cancelled sequences are free for the next
request at once, keeping the cells they computed, which a request with the same prefix
reuses (`prefix_cache`). A request for `n` choices prefills its prompt once and copies
the cache to its sibling sequences, which then sample from the same logits with their
own seeds.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import llama_cpp

from kaiyuan.engine.events import Finished, FinishReason, GenerationEvent, TextDelta
from kaiyuan.engine.model import Model
from kaiyuan.engine.prefix_cache import PrefixCache
from kaiyuan.engine.sampling import Sampler, SamplingParams, choice_seed
from kaiyuan.engine.stops import TextStream
from kaiyuan.engine.thinking import ThinkingLimit, ThinkingTracker
from kaiyuan.protocol.errors import (
    ContextLengthExceededError,
    InvalidRequestError,
    ServerOverloadedError,
)

log = logging.getLogger(__name__)

Sink = Callable[[GenerationEvent], None]


@dataclass(frozen=True)
class EngineConfig:
    """Limits of one engine; every field is a `kaiyuan serve` option."""

    parallel: int = 8
    """Sequences decoded together (KV streams in the context)."""
    ctx_per_seq: int = 4096
    """Context window of each sequence: prompt plus completion."""
    batch_tokens: int = 512
    """Most tokens in one llama.cpp decode call."""
    prefill_chunk: int = 128
    """Prompt tokens per prefill chunk; one chunk per step while other sequences decode."""
    threads: int = field(default_factory=lambda: os.cpu_count() or 1)
    max_queue: int = 256
    """Requests allowed to wait for a free sequence before new ones are refused."""
    prefix_cache: bool = True
    """Reuse the KV cells of an earlier prompt that starts the same way."""

    def __post_init__(self) -> None:
        if self.batch_tokens < max(self.parallel, self.prefill_chunk):
            raise ValueError(
                f"batch_tokens ({self.batch_tokens}) must be at least parallel "
                f"({self.parallel}) and prefill_chunk ({self.prefill_chunk})"
            )


@dataclass
class GenerationRequest:
    prompt: list[int]
    params: SamplingParams
    n: int = 1
    thinking: ThinkingLimit | None = None
    grammar: str | None = None
    """GBNF (root `root`) the reply must follow, from the end of any thinking span on."""


class Generation:
    """A submitted request: lets the caller cancel it; its events go to the sink."""

    def __init__(self, request: GenerationRequest, sink: Sink):
        self.request = request
        self.sink = sink
        self._cancelled = threading.Event()

    def cancel(self) -> None:
        """Stop generating; the engine frees the sequences at its next step."""
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()


@dataclass(eq=False)
class _Sequence:
    seq_id: int
    index: int
    sampler: Sampler
    seed: int
    text: TextStream
    thinking: ThinkingTracker | None = None
    grammar_pending: bool = False
    n_past: int = 0
    generated: int = 0
    next_token: int | None = None
    fed: list[int] = field(default_factory=list)
    """Reply tokens decoded into this sequence's cells, after the prompt."""
    done: bool = False


@dataclass(eq=False)
class _Running:
    generation: Generation
    seqs: list[_Sequence]
    prefilled: int = 0
    reused: int = 0
    """Prompt tokens whose KV cells came from an earlier request."""
    exact: int = 0
    """Leading prompt cells computed exactly as a cold prefill computes them (`prefix_cache`)."""

    @property
    def prompt(self) -> list[int]:
        return self.generation.request.prompt

    @property
    def prefilling(self) -> bool:
        return self.prefilled < len(self.prompt)


@dataclass
class _Slot:
    """One token of the batch being built, and what to do with its logits."""

    token: int
    pos: int
    seq_id: int
    owner: _Running
    sample: bool = False


class Engine:
    """The batching scheduler. `submit` from any thread; `close` stops the loop."""

    def __init__(self, model: Model, config: EngineConfig | None = None):
        self.model = model
        self.config = config or EngineConfig()
        cfg = self.config
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = cfg.ctx_per_seq * cfg.parallel
        params.n_batch = params.n_ubatch = cfg.batch_tokens
        params.n_seq_max = cfg.parallel
        params.n_threads = params.n_threads_batch = cfg.threads
        # One KV stream per sequence: attention then never sees another request's cells,
        # which keeps a seeded request's tokens identical whatever shares the batch (with a
        # unified cache they drift after a few dozen tokens), and costs no speed here.
        params.kv_unified = False
        params.no_perf = True
        self._ctx = llama_cpp.llama_init_from_model(model.handle, params)
        if not self._ctx:
            raise RuntimeError(
                "llama.cpp could not create a context; lower --parallel or --ctx-size"
            )
        self._memory = llama_cpp.llama_get_memory(self._ctx)
        self._batch = llama_cpp.llama_batch_init(cfg.batch_tokens, 0, 1)
        self._free_ids: list[int] = list(range(cfg.parallel))
        self._prefixes = PrefixCache(cfg.prefill_chunk, enabled=cfg.prefix_cache)
        self._pending: deque[Generation] = deque()
        self._running: list[_Running] = []
        self._wake = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="kaiyuan-engine", daemon=True)
        self._thread.start()

    # ---- public API -------------------------------------------------------------------

    def check(self, request: GenerationRequest) -> None:
        """Raise an `InvalidRequestError` if the request can never run on this engine."""
        cfg = self.config
        if not request.prompt:
            raise InvalidRequestError("The prompt is empty after tokenization.", param="prompt")
        if request.n > cfg.parallel:
            raise InvalidRequestError(
                f"n={request.n} is more than this server decodes at once ({cfg.parallel}); "
                "ask for fewer choices or start the server with a larger --parallel.",
                param="n",
            )
        room = cfg.ctx_per_seq - len(request.prompt)
        if room < 1:
            raise ContextLengthExceededError(
                f"The prompt is {len(request.prompt)} tokens but the context window is "
                f"{cfg.ctx_per_seq} tokens. Shorten the prompt or start the server with a "
                "larger --ctx-size."
            )
        if request.params.max_tokens > room:
            raise ContextLengthExceededError(
                f"The prompt ({len(request.prompt)} tokens) plus max_tokens "
                f"({request.params.max_tokens}) exceeds the context window of "
                f"{cfg.ctx_per_seq} tokens. Lower max_tokens to at most {room}.",
                param="max_tokens",
            )
        vocab = self.model.n_vocab
        for token in itertools.chain(request.prompt, request.params.logit_bias):
            if not 0 <= token < vocab:
                raise InvalidRequestError(
                    f"Token id {token} is outside the vocabulary (0..{vocab - 1}).",
                    param="logit_bias" if token in request.params.logit_bias else "prompt",
                )

    def submit(self, request: GenerationRequest, sink: Sink) -> Generation:
        """Queue a request; its events are passed to `sink` on the engine thread."""
        self.check(request)
        generation = Generation(request, sink)
        with self._wake:
            if len(self._pending) >= self.config.max_queue:
                raise ServerOverloadedError(self.config.max_queue)
            self._pending.append(generation)
            self._wake.notify()
        return generation

    @property
    def queue_depth(self) -> int:
        return len(self._pending)

    @property
    def running_sequences(self) -> int:
        return self.config.parallel - len(self._free_ids)

    def close(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self._thread.join()
        llama_cpp.llama_batch_free(self._batch)
        llama_cpp.llama_free(self._ctx)
        self._ctx = None

    # ---- the loop ---------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._stopping and not self._running and not self._pending:
                    self._wake.wait()
                if self._stopping:
                    break
                self._admit()
            self._drop_cancelled()
            if not self._running:
                continue
            try:
                self._step()
            except Exception as exc:  # a bug here must not take every later request down
                log.exception("engine step failed")
                for running in list(self._running):
                    self._fail(running, f"internal error: {exc}")
        for running in list(self._running):
            self._fail(running, "the server is shutting down")

    def _admit(self) -> None:
        while self._pending:
            head = self._pending[0]
            if head.cancelled:
                self._pending.popleft()
                continue
            if head.request.n > len(self._free_ids):
                return
            self._pending.popleft()
            self._running.append(self._start(head))

    def _start(self, generation: Generation) -> _Running:
        request = generation.request
        placement = self._prefixes.place(
            self._free_ids, request.prompt, request.n, reproducible=request.params.reproducible
        )
        for position, seq_id in enumerate(placement.seq_ids):
            self._free_ids.remove(seq_id)
            # The leader keeps the reused prefix; siblings get the prompt copied later.
            keep = placement.reused if position == 0 else 0
            llama_cpp.llama_memory_seq_rm(self._memory, seq_id, keep, -1)
        seqs = []
        for i, seq_id in enumerate(placement.seq_ids):
            tracker = ThinkingTracker(request.thinking) if request.thinking else None
            # A grammar waits until the thinking span is over: reasoning is free text.
            pending = request.grammar is not None and tracker is not None and tracker.thinking
            seed = choice_seed(request.params, i)
            seqs.append(
                _Sequence(
                    seq_id=seq_id,
                    index=i,
                    sampler=self._sampler(request, seed, with_grammar=not pending),
                    seed=seed,
                    text=TextStream(request.params.stop),
                    thinking=tracker,
                    grammar_pending=pending,
                )
            )
        return _Running(
            generation,
            seqs,
            prefilled=placement.reused,
            reused=placement.reused,
            exact=placement.exact,
        )

    def _sampler(self, request: GenerationRequest, seed: int, *, with_grammar: bool) -> Sampler:
        grammar = (
            (self.model.vocab, request.grammar) if with_grammar and request.grammar else None
        )
        return Sampler(request.params, self.model.n_vocab, seed, grammar)

    def _drop_cancelled(self) -> None:
        for running in [r for r in self._running if r.generation.cancelled]:
            for seq in running.seqs:
                if not seq.done:
                    self._release(running, seq)

    def _step(self) -> None:
        """One scheduling step: a token for every decoding sequence, then prompt chunks."""
        decoding = []
        for running in self._running:
            for seq in running.seqs:
                if seq.next_token is not None:
                    seq.fed.append(seq.next_token)
                    decoding.append(
                        _Slot(seq.next_token, seq.n_past, seq.seq_id, running, sample=True)
                    )
        if decoding:
            self._decode(decoding)
        budget = self.config.prefill_chunk if decoding else self.config.batch_tokens
        for running in [r for r in self._running if r.prefilling]:
            while (
                running.prefilling
                and budget > 0
                and running in self._running
                and not running.generation.cancelled
            ):
                chunk = self._next_chunk(running)
                budget -= len(chunk)
                self._decode(chunk)

    def _next_chunk(self, running: _Running) -> list[_Slot]:
        """The next `prefill_chunk` prompt tokens, cut at fixed positions.

        Where a prompt is cut changes the logits a little (llama.cpp computes a chunk's
        attention over the cached part differently from within the chunk), so the cuts
        depend only on the prompt, never on the load, and each chunk is decoded alone:
        llama.cpp would otherwise re-split a mixed batch into equal per-sequence pieces.
        """
        start = running.prefilled
        end = min(len(running.prompt), start + self.config.prefill_chunk)
        leader = running.seqs[0].seq_id
        chunk = [_Slot(running.prompt[pos], pos, leader, running) for pos in range(start, end)]
        chunk[-1].sample = end == len(running.prompt)
        running.prefilled = end
        # A whole chunk over exact cells is exact too; a partial one is cut where a longer
        # prompt's cold prefill would not cut it.
        if running.exact == start and end - start == self.config.prefill_chunk:
            running.exact = end
        return chunk

    def _decode(self, slots: list[_Slot]) -> None:
        """Run one llama.cpp decode over `slots` and sample where logits were asked for."""
        batch = self._batch
        for i, slot in enumerate(slots):
            batch.token[i] = slot.token
            batch.pos[i] = slot.pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = slot.seq_id
            batch.logits[i] = slot.sample
        batch.n_tokens = len(slots)
        status = llama_cpp.llama_decode(self._ctx, batch)
        if status != 0:
            for running in {id(s.owner): s.owner for s in slots}.values():
                self._fail(running, f"llama_decode failed with status {status}")
            return
        for row, slot in enumerate(slots):
            if slot.sample:
                self._after_logits(slot.owner, slot.seq_id, row)

    def _after_logits(self, running: _Running, seq_id: int, row: int) -> None:
        if running.generation.cancelled:
            return
        leader = running.seqs[0]
        if seq_id == leader.seq_id and leader.n_past == 0:
            # The prompt is in the cache now: share it with the sibling choices.
            for seq in running.seqs:
                if seq is not leader:
                    llama_cpp.llama_memory_seq_cp(self._memory, leader.seq_id, seq.seq_id, -1, -1)
                seq.n_past = len(running.prompt)
            targets = [s for s in running.seqs if not s.done]
        else:
            targets = [s for s in running.seqs if s.seq_id == seq_id and not s.done]
            for seq in targets:
                seq.n_past += 1
        for seq in targets:
            if running.generation.cancelled:
                return
            try:
                forced = seq.thinking.forced_token() if seq.thinking else None
                if forced is None:
                    self._advance(running, seq, seq.sampler.sample(self._ctx, row))
                else:
                    seq.sampler.accept(forced)
                    self._advance(running, seq, forced, forced=True)
            except Exception as exc:  # one sequence's failure must not end its neighbours
                log.exception("sequence %d failed", seq.seq_id)
                self._finish(running, seq, "error", error=f"internal error: {exc}")

    def _advance(
        self, running: _Running, seq: _Sequence, token: int, *, forced: bool = False
    ) -> None:
        seq.generated += 1
        request = running.generation.request
        params = request.params
        if self.model.is_eog(token):
            self._finish(running, seq, "stop")
            return
        piece = self.model.piece(token)
        if seq.thinking is not None:
            seq.thinking.observe(piece, forced=forced)
            if seq.grammar_pending and not seq.thinking.thinking:
                # A fresh chain (same seed) with the grammar; penalties restart with it.
                seq.sampler.close()
                seq.sampler = self._sampler(request, seq.seed, with_grammar=True)
                seq.grammar_pending = False
        emitted = seq.text.feed(piece)
        if emitted.text:
            self._emit(running, TextDelta(seq.index, emitted.text, seq.generated))
        if emitted.stopped:
            self._finish(running, seq, "stop")
        elif seq.generated >= params.max_tokens or seq.n_past >= self.config.ctx_per_seq:
            self._finish(running, seq, "length")
        else:
            seq.next_token = token

    def _finish(
        self, running: _Running, seq: _Sequence, reason: FinishReason, error: str | None = None
    ) -> None:
        if seq.done:
            return
        rest = seq.text.flush() if reason == "length" else ""
        if rest:
            self._emit(running, TextDelta(seq.index, rest, seq.generated))
        reasoning = seq.thinking.reasoning_tokens if seq.thinking else 0
        cached = running.reused if seq.index == 0 else 0
        self._emit(running, Finished(seq.index, reason, seq.generated, error, reasoning,
                                     cached_prompt_tokens=cached))
        # After a failed decode the cells' contents are unknown: keep none of them.
        self._release(running, seq, keep_prefix=reason != "error")

    def _emit(self, running: _Running, event: GenerationEvent) -> None:
        """Hand an event to the request's consumer; a consumer that fails is cancelled."""
        try:
            running.generation.sink(event)
        except Exception:
            log.exception("the consumer of a request failed; cancelling the request")
            running.generation.cancel()

    def _fail(self, running: _Running, message: str) -> None:
        for seq in running.seqs:
            if not seq.done:
                self._finish(running, seq, "error", error=message)

    def _release(self, running: _Running, seq: _Sequence, *, keep_prefix: bool = True) -> None:
        if seq.done:
            return
        seq.done = True
        seq.next_token = None
        # The leader holds what it has prefilled so far; a sibling holds the whole prompt
        # once it has been copied over (n_past set), nothing before. Either then holds the
        # reply tokens it decoded.
        if seq is running.seqs[0]:
            prompt_cells = running.prompt[: running.prefilled]
        else:
            prompt_cells = running.prompt if seq.n_past else []
        cells = [*prompt_cells, *seq.fed] if keep_prefix else []
        kept = self._prefixes.keep(seq.seq_id, cells, min(running.exact, len(prompt_cells)))
        llama_cpp.llama_memory_seq_rm(self._memory, seq.seq_id, kept, -1)
        seq.sampler.close()
        self._free_ids.append(seq.seq_id)
        if all(s.done for s in running.seqs):
            self._running.remove(running)
