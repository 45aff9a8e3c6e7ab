"""The official `openai` client, unchanged, against `kaiyuan serve` on a real model."""

from __future__ import annotations

import asyncio

import httpx
from conftest import RunningServer

MESSAGES = [{"role": "user", "content": "Name three colours."}]


def test_models_lists_the_served_model(smol: RunningServer) -> None:
    assert [m.id for m in smol.client().models.list().data] == [smol.model]


def test_sync_chat_non_streaming(smol: RunningServer) -> None:
    reply = smol.client().chat.completions.create(
        model=smol.model, messages=MESSAGES, max_tokens=12, temperature=0
    )
    choice = reply.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content
    assert choice.finish_reason in {"stop", "length"}
    assert reply.id.startswith("chatcmpl-")
    usage = reply.usage
    assert usage is not None and usage.prompt_tokens > 5
    assert 1 <= usage.completion_tokens <= 12
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_max_tokens_gives_length(smol: RunningServer) -> None:
    reply = smol.client().chat.completions.create(
        model=smol.model, messages=[{"role": "user", "content": "Write a long essay on rivers."}],
        max_completion_tokens=5, temperature=0,
    )
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage.completion_tokens == 5


def test_sync_chat_streaming_with_usage(smol: RunningServer) -> None:
    stream = smol.client().chat.completions.create(
        model=smol.model, messages=MESSAGES, max_tokens=12, temperature=0, stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and
                c.choices[0].finish_reason]
    assert text and finishes in (["stop"], ["length"])
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert 1 <= chunks[-1].usage.completion_tokens <= 12


def test_streaming_without_include_usage_sends_no_usage(smol: RunningServer) -> None:
    stream = smol.client().chat.completions.create(
        model=smol.model, messages=MESSAGES, max_tokens=4, stream=True
    )
    assert all(c.usage is None for c in stream)


async def test_async_chat_streaming_and_not(smol: RunningServer) -> None:
    client = smol.async_client()
    reply = await client.chat.completions.create(
        model=smol.model, messages=MESSAGES, max_tokens=8, temperature=0
    )
    stream = await client.chat.completions.create(
        model=smol.model, messages=MESSAGES, max_tokens=8, temperature=0, stream=True
    )
    streamed = "".join([c.choices[0].delta.content or "" async for c in stream])
    assert reply.choices[0].message.content == streamed


def test_streaming_equals_non_streaming_at_temperature_zero(qwen: RunningServer) -> None:
    client = qwen.client()
    request = dict(model=qwen.model, messages=[{"role": "user", "content":
                   "Write a Python function that reverses a string."}],
                   max_tokens=60, temperature=0)
    whole = client.chat.completions.create(**request).choices[0].message.content
    parts = [c.choices[0].delta.content or ""
             for c in client.chat.completions.create(**request, stream=True) if c.choices]
    assert "".join(parts) == whole
    assert len([p for p in parts if p]) > 5, "the text should arrive in many chunks"


def test_n_choices(smol: RunningServer) -> None:
    reply = smol.client().chat.completions.create(
        model=smol.model, messages=MESSAGES, max_tokens=16, temperature=1.0, n=2, seed=3
    )
    assert [c.index for c in reply.choices] == [0, 1]
    assert all(c.message.content for c in reply.choices)
    assert reply.choices[0].message.content != reply.choices[1].message.content
    assert 2 <= reply.usage.completion_tokens <= 32


def test_n_choices_streaming(smol: RunningServer) -> None:
    stream = smol.client().chat.completions.create(
        model=smol.model, messages=MESSAGES, max_tokens=10, n=2, stream=True, seed=5
    )
    texts = {0: "", 1: ""}
    finished = set()
    for chunk in stream:
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
            if choice.finish_reason:
                finished.add(choice.index)
    assert finished == {0, 1}
    assert texts[0] and texts[1]


def test_stop_string_is_cut_and_never_streamed(smol: RunningServer) -> None:
    client = smol.client()
    request = dict(model=smol.model, messages=[{"role": "user", "content": "Count: 1, 2, 3"}],
                   max_tokens=40, temperature=0)
    free = client.chat.completions.create(**request).choices[0].message.content
    assert len(free) > 6
    stop = free[3:6]  # a multi-character stop string the model is known to produce
    cut = client.chat.completions.create(**request, stop=[stop, "never-appears"])
    assert cut.choices[0].finish_reason == "stop"
    assert cut.choices[0].message.content == free[: free.index(stop)]
    streamed = "".join(c.choices[0].delta.content or ""
                       for c in client.chat.completions.create(**request, stop=stop, stream=True)
                       if c.choices)
    assert streamed == free[: free.index(stop)]


def test_legacy_completions(smol: RunningServer) -> None:
    client = smol.client()
    reply = client.completions.create(
        model=smol.model, prompt="The capital of France is", max_tokens=6, temperature=0
    )
    assert reply.object == "text_completion"
    assert reply.choices[0].text
    assert reply.usage.prompt_tokens > 0
    streamed = "".join(c.choices[0].text for c in client.completions.create(
        model=smol.model, prompt="The capital of France is", max_tokens=6, temperature=0,
        stream=True) if c.choices)
    assert streamed == reply.choices[0].text


def test_legacy_completions_batch_and_echo(smol: RunningServer) -> None:
    reply = smol.client().completions.create(
        model=smol.model, prompt=["One, two,", "Red, green,"], max_tokens=4, temperature=0,
        n=2, echo=True,
    )
    assert [c.index for c in reply.choices] == [0, 1, 2, 3]
    assert reply.choices[0].text.startswith("One, two,")
    assert reply.choices[3].text.startswith("Red, green,")
    assert reply.choices[0].text == reply.choices[1].text  # greedy: same text for each n


async def test_eight_concurrent_streams(smol: RunningServer) -> None:
    client = smol.async_client()

    async def one(i: int) -> tuple[str, str]:
        stream = await client.chat.completions.create(
            model=smol.model, messages=[{"role": "user", "content": f"Tell me about {i}."}],
            max_tokens=24, temperature=0, stream=True,
        )
        text, reason = "", ""
        async for chunk in stream:
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
                reason = chunk.choices[0].finish_reason or reason
        return text, reason

    results = await asyncio.gather(*(one(i) for i in range(8)))
    assert all(text and reason in {"stop", "length"} for text, reason in results)
    assert len({text for text, _ in results}) > 1


def test_the_next_turn_of_a_conversation_reuses_the_cached_prompt(smol: RunningServer) -> None:
    client = smol.client()
    notes = " ".join(f"Note {i}: the meeting moved to room {100 + i}." for i in range(20))
    messages = [{"role": "system", "content": f"You take minutes. {notes}"},
                {"role": "user", "content": "Which room is note 3 about?"}]
    first = client.chat.completions.create(model=smol.model, messages=messages,
                                           max_tokens=12, temperature=0)
    assert first.usage.prompt_tokens > 256
    assert first.usage.prompt_tokens_details.cached_tokens == 0
    messages += [{"role": "assistant", "content": first.choices[0].message.content},
                 {"role": "user", "content": "And note 7?"}]
    chunks = list(client.chat.completions.create(
        model=smol.model, messages=messages, max_tokens=12, temperature=0, stream=True,
        stream_options={"include_usage": True}))
    cached = chunks[-1].usage.prompt_tokens_details.cached_tokens
    # The first turn's prompt, in whole prefill chunks of 128 tokens.
    assert cached == first.usage.prompt_tokens // 128 * 128
    metrics = httpx.get(f"{smol.url}/metrics").text
    [line] = [x for x in metrics.splitlines()
              if x.startswith("kaiyuan_cached_prompt_tokens_total")]
    assert float(line.split()[-1]) >= cached


def test_an_unseeded_conversation_reuses_the_previous_reply_too(smol: RunningServer) -> None:
    client = smol.client()
    notes = " ".join(f"Item {i}: a parcel for desk {200 + i}." for i in range(20))
    messages = [{"role": "system", "content": f"You sort the post. {notes}"},
                {"role": "user", "content": "Where does item 4 go?"}]
    # OpenAI's default sampling (temperature 1, no seed): the draw is not reproducible, so
    # every cell of the last turn can be reused. SmolLM2's end tokens (ids 0 and 2) are
    # banned so that there is a reply to reuse.
    first = client.chat.completions.create(model=smol.model, messages=messages, max_tokens=12,
                                           logit_bias={"0": -100, "2": -100})
    assert first.usage.completion_tokens == 12
    messages += [{"role": "assistant", "content": first.choices[0].message.content},
                 {"role": "user", "content": "And item 9?"}]
    second = client.chat.completions.create(model=smol.model, messages=messages, max_tokens=12)
    assert second.usage.prompt_tokens_details.cached_tokens > first.usage.prompt_tokens


def test_cached_tokens_count_each_prompt_of_a_batch_once(smol: RunningServer) -> None:
    client = smol.client()
    prompt = " ".join(f"Line {i}: a quick brown fox jumps over the lazy dog." for i in range(16))
    ask = dict(model=smol.model, prompt=[prompt, prompt], n=2, max_tokens=4, temperature=0)
    cold = client.completions.create(**ask)
    length = cold.usage.prompt_tokens // 2
    assert length > 128
    warm = client.completions.create(**ask)
    # Both prompts find a sequence holding their whole chunks; the last token is computed.
    assert warm.usage.prompt_tokens_details.cached_tokens == 2 * ((length - 1) // 128 * 128)
    assert [c.text for c in warm.choices] == [c.text for c in cold.choices]
