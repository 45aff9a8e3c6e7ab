"""A client that goes away frees its sequence at once."""

from __future__ import annotations

import asyncio
import contextlib
import re

import httpx
from conftest import RunningServer

# SmolLM2's end-of-generation tokens; banning them keeps a stream running until it is cut.
NEVER_END = {"logit_bias": {"0": -100, "2": -100, "4": -100}}


def _gauge(server: RunningServer, name: str) -> float:
    text = httpx.get(f"{server.url}/metrics").text
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} missing from /metrics"
    return float(match.group(1))


async def _abandon_stream(client, server: RunningServer, i: int) -> None:
    stream = await client.chat.completions.create(
        model=server.model, messages=[{"role": "user", "content": f"Write an essay on {i}."}],
        max_tokens=400, stream=True, extra_body=NEVER_END,
    )
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            break
    await stream.close()


async def _until_idle(server: RunningServer) -> None:
    """Within 2 s: far less than the seconds the abandoned generations would still take."""
    for _ in range(20):
        if _gauge(server, "kaiyuan_running_sequences") == 0:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("cancelled sequences were never freed")


async def test_cancelled_streams_free_their_slots(smol: RunningServer) -> None:
    client = smol.async_client()
    for wave in range(3):  # 24 abandoned streams on 8 slots
        await asyncio.gather(*(_abandon_stream(client, smol, wave * 8 + i) for i in range(8)))
    await _until_idle(smol)
    assert _gauge(smol, "kaiyuan_queue_depth") == 0

    async def full(i: int) -> str:
        reply = await client.chat.completions.create(
            model=smol.model, messages=[{"role": "user", "content": f"Say {i}."}],
            max_tokens=8, temperature=0,
        )
        return reply.choices[0].finish_reason

    assert set(await asyncio.gather(*(full(i) for i in range(8)))) <= {"stop", "length"}


async def test_disconnected_non_streaming_request_is_cancelled(smol: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=smol.base_url) as http:
        request = asyncio.ensure_future(http.post("/chat/completions", json={
            "model": smol.model, "max_tokens": 450, **NEVER_END,
            "messages": [{"role": "user", "content": "Write a very long story."}]}))
        await asyncio.sleep(0.5)
        assert _gauge(smol, "kaiyuan_running_sequences") == 1
        request.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await request
    await _until_idle(smol)


async def test_running_batch_is_shared(smol: RunningServer) -> None:
    client = smol.async_client()
    streams = [
        await client.chat.completions.create(
            model=smol.model, messages=[{"role": "user", "content": f"Story {i}."}],
            max_tokens=300, stream=True, extra_body=NEVER_END)
        for i in range(4)
    ]
    for stream in streams:  # every stream has started producing
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                break
    assert _gauge(smol, "kaiyuan_running_sequences") == 4
    for stream in streams:
        await stream.close()
    await _until_idle(smol)
