"""The batching engine in-process, on the real SmolLM2 model: isolation and limits."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from kaiyuan.engine.embedded import resolve_model
from kaiyuan.engine.events import Finished, GenerationEvent, TextDelta
from kaiyuan.engine.model import Model
from kaiyuan.engine.sampling import SamplingParams
from kaiyuan.engine.scheduler import Engine, EngineConfig, GenerationRequest
from kaiyuan.protocol.errors import ServerOverloadedError


class Collector:
    """A sink that records events and signals when every choice has finished."""

    def __init__(self, choices: int = 1, fail_on_text: bool = False):
        self.events: list[GenerationEvent] = []
        self.done = threading.Event()
        self._left = choices
        self._fail_on_text = fail_on_text

    def __call__(self, event: GenerationEvent) -> None:
        if self._fail_on_text and isinstance(event, TextDelta):
            raise RuntimeError("consumer broke")
        self.events.append(event)
        if isinstance(event, Finished):
            self._left -= 1
            if not self._left:
                self.done.set()

    def text(self) -> str:
        return "".join(e.text for e in self.events if isinstance(e, TextDelta))


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    model = Model(resolve_model("smollm2-135m").path)
    engine = Engine(model, EngineConfig(parallel=2, ctx_per_seq=256, threads=2, max_queue=1))
    yield engine
    engine.close()
    model.close()


def _request(engine: Engine, text: str, max_tokens: int = 24) -> GenerationRequest:
    prompt = engine.model.tokenize(f"<|im_start|>user\n{text}<|im_end|>\n<|im_start|>assistant\n",
                                   add_special=False)
    # Ban the end-of-turn tokens so each request runs exactly max_tokens.
    never_end = {t: -100.0 for t in range(engine.model.n_vocab) if engine.model.is_eog(t)}
    return GenerationRequest(prompt, SamplingParams(temperature=0, max_tokens=max_tokens,
                                                    logit_bias=never_end))


def _idle(engine: Engine) -> bool:
    for _ in range(50):
        if engine.running_sequences == 0:
            return True
        threading.Event().wait(0.1)
    return False


def test_a_failing_consumer_does_not_end_its_neighbour(engine: Engine) -> None:
    broken, healthy = Collector(fail_on_text=True), Collector()
    engine.submit(_request(engine, "Tell a story."), broken)
    engine.submit(_request(engine, "Name some fruit."), healthy)
    assert healthy.done.wait(60)
    finished = [e for e in healthy.events if isinstance(e, Finished)]
    assert finished == [Finished(0, "length", 24)]
    assert healthy.text()
    assert _idle(engine), "the broken request's sequence must be freed"


def test_queue_limit(engine: Engine) -> None:
    generations = [engine.submit(_request(engine, f"Story {i}.", 200), Collector())
                   for i in range(2)]
    for _ in range(50):  # both admitted to the running batch
        if engine.running_sequences == 2:
            break
        threading.Event().wait(0.1)
    generations.append(engine.submit(_request(engine, "Waits.", 200), Collector()))
    assert engine.queue_depth == 1  # the queue (max 1) is now full
    with pytest.raises(ServerOverloadedError) as caught:
        engine.submit(_request(engine, "One more."), Collector())
    assert caught.value.status_code == 429
    for generation in generations:
        generation.cancel()
    assert _idle(engine)
    assert engine.queue_depth == 0


def test_n_choices_share_the_prompt_and_keep_their_seeds(engine: Engine) -> None:
    def run(n: int) -> Collector:
        request = _request(engine, "Write a poem.", 16)
        request.params = SamplingParams(temperature=1.0, seed=11, max_tokens=16)
        request.n = n
        sink = Collector(choices=n)
        engine.submit(request, sink)
        assert sink.done.wait(60)
        return sink

    alone, pair = run(1), run(2)
    texts = ["".join(e.text for e in pair.events if isinstance(e, TextDelta) and e.index == i)
             for i in (0, 1)]
    assert texts[0] == alone.text(), "choice 0 of n=2 is the same draw as n=1 with that seed"
    assert texts[0] != texts[1]


def test_a_repeated_prompt_reuses_its_prefix_and_draws_the_same_text(engine: Engine) -> None:
    fruit = ", ".join(["apple", "pear", "plum", "fig", "kiwi", "lime"] * 14)
    prompt = _request(engine, f"Here are some fruit: {fruit}. Which is the sweetest?").prompt
    assert 128 < len(prompt) <= 256 - 16, "two prefill chunks, room for the reply"

    def run(tokens: list[int], n: int = 1) -> tuple[list[str], list[Finished]]:
        sink = Collector(choices=n)
        engine.submit(GenerationRequest(tokens, SamplingParams(temperature=1.0, seed=5,
                                                               max_tokens=16), n=n), sink)
        assert sink.done.wait(60)
        texts = ["".join(e.text for e in sink.events if isinstance(e, TextDelta)
                         and e.index == i) for i in range(n)]
        return texts, [e for e in sink.events if isinstance(e, Finished)]

    (cold,), (first,) = run(prompt)
    (warm,), (second,) = run(prompt)
    assert (first.cached_prompt_tokens, second.cached_prompt_tokens) == (0, 128)
    assert warm == cold, "a reused prefix must not change a seeded draw"
    pair, finished = run(prompt, n=2)
    assert pair[0] == cold
    assert sorted(f.cached_prompt_tokens for f in finished) == [0, 128], "counted once"
    # A prompt that differs inside the first chunk reuses nothing.
    _, (other,) = run(prompt[:100] + prompt[101:])
    assert other.cached_prompt_tokens == 0


def test_an_unseeded_draw_reuses_the_reply_and_a_seeded_one_stays_exact(engine: Engine) -> None:
    def run(on: Engine, tokens: list[int], params: SamplingParams) -> tuple[str, Finished]:
        sink = Collector()
        on.submit(GenerationRequest(tokens, params), sink)
        assert sink.done.wait(60)
        [finished] = [e for e in sink.events if isinstance(e, Finished)]
        return sink.text(), finished

    fruit = ", ".join(["mango", "cherry", "grape", "melon", "peach", "apricot"] * 10)
    # No chat header, so nothing an earlier test left in the cache matches.
    prompt = engine.model.tokenize(f"Fruit of the day: {fruit}. The sweetest", add_special=False)
    assert 128 < len(prompt) <= 150
    never_end = {t: -100.0 for t in range(engine.model.n_vocab) if engine.model.is_eog(t)}
    # An unseeded draw; the narrow nucleus keeps the reply plain text that tokenizes back
    # the same.
    unseeded = SamplingParams(temperature=1.0, top_p=0.05, max_tokens=16, logit_bias=never_end)
    reply, first = run(engine, prompt, unseeded)
    assert first.cached_prompt_tokens == 0
    follow = [*prompt, *engine.model.tokenize(f"{reply} Which is sourest?", add_special=False)]
    assert len(follow) <= 256 - 16

    _, second = run(engine, follow, unseeded)
    assert second.cached_prompt_tokens > len(prompt), "the reply's cells are reused"
    seeded = SamplingParams(temperature=1.0, seed=5, max_tokens=16)
    warm, third = run(engine, follow, seeded)
    assert third.cached_prompt_tokens == 128, "only the exact whole chunk"

    uncached = Engine(engine.model, EngineConfig(parallel=2, ctx_per_seq=256, threads=2,
                                                 prefix_cache=False))
    try:
        cold, _ = run(uncached, follow, seeded)
    finally:
        uncached.close()
    assert warm == cold, "cells from unseeded requests must not change a seeded draw"
