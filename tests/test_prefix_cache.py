"""Which idle sequence a request takes and how much of its prompt it reuses (no model)."""

from __future__ import annotations

import pytest

from kaiyuan.engine.prefix_cache import PrefixCache

PROMPT = list(range(100, 110))  # ten tokens; chunks of four below


def test_only_whole_chunks_of_the_common_prefix_are_reused() -> None:
    cache = PrefixCache(chunk=4)
    assert cache.reusable(PROMPT, [*PROMPT[:7], 0, 0, 0]) == 4
    assert cache.reusable(PROMPT, [*PROMPT[:8], 0]) == 8
    assert cache.reusable(PROMPT, [0, *PROMPT[1:]]) == 0
    assert cache.reusable([], PROMPT) == 0


def test_at_least_one_prompt_token_is_left_to_compute() -> None:
    cache = PrefixCache(chunk=4)
    # An identical eight-token prompt: its last token's logits must still be computed.
    assert cache.reusable(PROMPT[:8], PROMPT[:8]) == 4
    assert cache.reusable(PROMPT, PROMPT[:9]) == 8


def test_a_sequence_keeps_the_whole_chunks_it_prefilled() -> None:
    cache = PrefixCache(chunk=4)
    assert cache.keep(0, PROMPT, prefilled=10) == 8
    assert cache.keep(1, PROMPT, prefilled=3) == 0  # cancelled before a whole chunk
    placement = cache.place([0, 1], [*PROMPT, 7], n=1)
    assert placement.seq_ids == [0] and placement.reused == 8


def test_the_leader_is_the_sequence_with_the_longest_reusable_prefix() -> None:
    cache = PrefixCache(chunk=4)
    cache.keep(0, [*PROMPT[:4], 1, 2, 3, 4], prefilled=8)
    cache.keep(1, PROMPT, prefilled=10)
    placement = cache.place([0, 1, 2], [*PROMPT, 5], n=2)
    assert placement.seq_ids[0] == 1 and placement.reused == 8
    # The sibling is the empty sequence, so sequence 0's prefix survives.
    assert placement.seq_ids[1] == 2
    assert cache.place([0], [*PROMPT[:4], 1, 2, 3, 4, 5], n=1).reused == 8


def test_without_a_match_the_least_recently_used_prefix_is_given_up() -> None:
    cache = PrefixCache(chunk=4)
    cache.keep(0, [1] * 8, prefilled=8)
    cache.keep(1, [2] * 8, prefilled=8)
    placement = cache.place([0, 1], [3] * 9, n=1)
    assert placement.seq_ids == [0] and placement.reused == 0
    # Sequence 0 now holds nothing; sequence 1 still holds its prefix.
    assert cache.place([0, 1], [2] * 9, n=1).reused == 8


def test_a_taken_sequence_forgets_what_it_held() -> None:
    cache = PrefixCache(chunk=4)
    cache.keep(0, PROMPT, prefilled=10)
    cache.place([0], [9] * 5, n=1)
    assert cache.place([0], PROMPT, n=1).reused == 0


def test_disabled_reuses_nothing() -> None:
    cache = PrefixCache(chunk=4, enabled=False)
    assert cache.keep(0, PROMPT, prefilled=10) == 0
    placement = cache.place([0, 1], PROMPT, n=2)
    assert placement.seq_ids == [0, 1] and placement.reused == 0


def test_asking_for_more_sequences_than_are_free_is_an_error() -> None:
    with pytest.raises(ValueError, match="3 sequences asked for, 2 free"):
        PrefixCache(chunk=4).place([0, 1], PROMPT, n=3)
