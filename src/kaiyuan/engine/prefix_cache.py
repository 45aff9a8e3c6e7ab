"""Prompt prefixes left in the KV cache of idle sequences, for the next request that
starts the same way (the same conversation one turn later, an agent's fixed system prompt
and tools).

Each sequence has a KV stream of its own, so what an idle sequence keeps costs no other
sequence any room; it is dropped when the sequence is given to a request that does not
share it.

Only whole prefill chunks are reused, cut where a cold prefill of the new prompt would cut
them (multiples of the chunk size from position 0). Those cells were computed from the
same tokens by the same chunked decode calls as a cold prefill would compute them, so a
reused prefix gives the same logits as none: a seeded request's text does not depend on
what ran before it. Cells written one token at a time while decoding a reply are not
reused for the same reason.
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


@dataclass
class _Kept:
    tokens: list[int]
    last_used: int


@dataclass
class PrefixCache:
    """Which prompt tokens each idle sequence still holds, and which sequences a new request
    should take. The engine does the KV cache operations this asks for."""

    chunk: int
    enabled: bool = True
    _kept: dict[int, _Kept] = field(default_factory=dict)
    _clock: itertools.count[int] = field(default_factory=itertools.count)

    def reusable(self, kept: Sequence[int], prompt: Sequence[int]) -> int:
        """How many leading tokens of `prompt` can come from cells holding `kept`: whole
        chunks of their common prefix, leaving at least one prompt token to compute (its
        logits start the reply)."""
        common = 0
        for a, b in zip(kept, prompt, strict=False):
            if a != b:
                break
            common += 1
        common = min(common, len(prompt) - 1)
        return common - common % self.chunk

    def place(self, free_ids: Sequence[int], prompt: Sequence[int], n: int) -> Placement:
        """Choose `n` of `free_ids`: first the one holding the longest reusable prefix of
        `prompt`, then those whose kept prefixes are worth least (none, then the least
        recently used). Whatever the chosen ones held beyond what is reused is forgotten."""
        if n > len(free_ids):
            raise ValueError(f"{n} sequences asked for, {len(free_ids)} free")
        gains = {seq_id: self._gain(seq_id, prompt) for seq_id in free_ids}
        leader = max(free_ids, key=lambda seq_id: (gains[seq_id], -self._age(seq_id)))
        others = sorted((s for s in free_ids if s != leader), key=self._age)[: n - 1]
        reused = gains[leader]
        for seq_id in (leader, *others):
            self._kept.pop(seq_id, None)
        return Placement([leader, *others], reused)

    def keep(self, seq_id: int, prompt: Sequence[int], prefilled: int) -> int:
        """Remember what a sequence that has just ended holds: the whole chunks of the
        `prefilled` first prompt tokens. Returns that length; the engine drops every cell
        from there on."""
        if not self.enabled:
            return 0
        length = prefilled - prefilled % self.chunk
        if length:
            self._kept[seq_id] = _Kept(list(prompt[:length]), next(self._clock))
        return length

    def _gain(self, seq_id: int, prompt: Sequence[int]) -> int:
        kept = self._kept.get(seq_id)
        return self.reusable(kept.tokens, prompt) if kept and self.enabled else 0

    def _age(self, seq_id: int) -> int:
        """Sort key: empty sequences first, then the least recently used."""
        kept = self._kept.get(seq_id)
        return -1 if kept is None else kept.last_used
