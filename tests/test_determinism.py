"""Seeds: reproducible per request, whatever else shares the batch."""

from __future__ import annotations

import asyncio

from conftest import RunningServer

POEM = [{"role": "user", "content": "Write a short poem about the sea."}]


async def _sample(server: RunningServer, seed: int, *, neighbours: int = 0) -> str:
    """One seeded request at temperature 1, optionally alongside unseeded neighbours."""
    client = server.async_client()

    async def seeded() -> str:
        reply = await client.chat.completions.create(
            model=server.model, messages=POEM, max_tokens=40, temperature=1.0, seed=seed
        )
        return reply.choices[0].message.content

    async def neighbour(i: int) -> None:
        await client.chat.completions.create(
            model=server.model, messages=[{"role": "user", "content": f"Describe city {i}."}],
            max_tokens=48, temperature=1.0,
        )

    results = await asyncio.gather(seeded(), *(neighbour(i) for i in range(neighbours)))
    return results[0]


async def test_same_seed_same_text_alone_and_in_a_full_batch(qwen: RunningServer) -> None:
    alone = await _sample(qwen, seed=1234)
    again = await _sample(qwen, seed=1234)
    crowded = await _sample(qwen, seed=1234, neighbours=3)
    assert alone == again == crowded


async def test_different_seeds_give_different_texts(qwen: RunningServer) -> None:
    texts = {await _sample(qwen, seed=s) for s in (1, 2, 3)}
    assert len(texts) == 3
