"""Tokens left in the KV cache of idle sequences, for the next request that starts the
same way (the same conversation one turn later, an agent's fixed system prompt and tools).

Each sequence has a KV stream of its own, so what an idle sequence keeps costs no other
sequence any room; it is dropped when the sequence is given to a request that does not
share it.

An idle sequence keeps every cell it computed: its prompt and the reply tokens it decoded.
Which of them a request may reuse depends on whether its text must be reproducible
(`SamplingParams.reproducible`):

- A seeded or greedy request reuses only *exact* cells: whole prefill chunks, cut where a
  cold prefill of the new prompt would cut them (multiples of the chunk size from position
  0), computed over exact cells only. Those were computed from the same tokens by the same
  chunked decode calls as a cold prefill would compute them, so a reused prefix gives the
  same logits as none and the text does not depend on what ran before it. Cells of a
  partial last chunk, or written one token at a time while decoding a reply, differ from a
  cold prefill's in the last bits.
- Any other request reuses the whole common prefix, the previous reply included: its draw
  is different every time anyway, and the next turn of a chat then computes only the new
  message.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Placement:
    """Where a new request runs: its sequences (the one that prefills first) and how many
    prompt tokens the first one already holds."""

    seq_ids: list[int]
    reused: int
    exact: int
    """How many of the reused cells are exact (whole chunks computed as a cold prefill)."""


@dataclass
class _Kept:
    tokens: list[int]
    """The token of every cell the sequence holds, from position 0."""
    exact: int
    last_used: int


@dataclass
class PrefixCache:
    """Which prompt tokens each idle sequence still holds, and which sequences a new request
    should take. The engine does the KV cache operations this asks for."""

    chunk: int
    enabled: bool = True
    _kept: dict[int, _Kept] = field(default_factory=dict)
    _clock: itertools.count[int] = field(default_factory=itertools.count)

    def reusable(self, kept: Sequence[int], exact: int, prompt: Sequence[int],
                 *, reproducible: bool) -> int:
        """How many leading tokens of `prompt` can come from cells holding `kept`, the first
        `exact` of them exact: the common prefix (only its exact whole chunks for a
        `reproducible` request), leaving at least one prompt token to compute (its logits
        start the reply)."""
        common = 0
        for a, b in zip(kept, prompt, strict=False):
            if a != b:
                break
            common += 1
        common = min(common, len(prompt) - 1)
        if not reproducible:
            return common
        return self._whole_chunks(min(common, exact))

    def place(self, free_ids: Sequence[int], prompt: Sequence[int], n: int,
              *, reproducible: bool) -> Placement:
        """Choose `n` of `free_ids`: first the one holding the longest reusable prefix of
        `prompt`, then those whose kept cells are worth least (none, then the least
        recently used). Whatever the chosen ones held beyond what is reused is forgotten."""
        if n > len(free_ids):
            raise ValueError(f"{n} sequences asked for, {len(free_ids)} free")
        gains = {seq_id: self._gain(seq_id, prompt, reproducible) for seq_id in free_ids}
        leader = max(free_ids, key=lambda seq_id: (gains[seq_id], -self._age(seq_id)))
        others = sorted((s for s in free_ids if s != leader), key=self._age)[: n - 1]
        reused = gains[leader]
        kept = self._kept.get(leader)
        exact = self._whole_chunks(min(reused, kept.exact)) if kept else 0
        for seq_id in (leader, *others):
            self._kept.pop(seq_id, None)
        return Placement([leader, *others], reused, exact)

    def keep(self, seq_id: int, tokens: Sequence[int], exact: int) -> int:
        """Remember what a sequence that has just ended holds: a cell for each of `tokens`,
        the first `exact` of them exact. Returns how many cells to keep; the engine drops
        every cell from there on."""
        if not self.enabled or not tokens:
            return 0
        self._kept[seq_id] = _Kept(list(tokens), exact, next(self._clock))
        return len(tokens)

    def _whole_chunks(self, length: int) -> int:
        return length - length % self.chunk

    def _gain(self, seq_id: int, prompt: Sequence[int], reproducible: bool) -> int:
        kept = self._kept.get(seq_id)
        if kept is None or not self.enabled:
            return 0
        return self.reusable(kept.tokens, kept.exact, prompt, reproducible=reproducible)

    def _age(self, seq_id: int) -> int:
        """Sort key: empty sequences first, then the least recently used."""
        kept = self._kept.get(seq_id)
        return -1 if kept is None else kept.last_used
