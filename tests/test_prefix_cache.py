"""Which idle sequence a request takes and how much of its prompt it reuses (no model)."""

from __future__ import annotations

import pytest

from kaiyuan.engine.prefix_cache import PrefixCache

PROMPT = list(range(100, 110))  # ten tokens; chunks of four below
REPLY = [7, 8, 9]


def test_a_reproducible_request_reuses_only_exact_whole_chunks() -> None:
    cache = PrefixCache(chunk=4)
    assert cache.reusable(PROMPT, 8, [*PROMPT[:7], 0, 0, 0], reproducible=True) == 4
    assert cache.reusable(PROMPT, 8, [*PROMPT[:8], 0], reproducible=True) == 8
    assert cache.reusable(PROMPT, 4, [*PROMPT, 0], reproducible=True) == 4
    assert cache.reusable(PROMPT, 8, [0, *PROMPT[1:]], reproducible=True) == 0
    assert cache.reusable([], 0, PROMPT, reproducible=True) == 0


def test_any_other_request_reuses_the_whole_common_prefix() -> None:
    cache = PrefixCache(chunk=4)
    assert cache.reusable([*PROMPT, *REPLY], 8, [*PROMPT, *REPLY, 1, 2], reproducible=False) == 13
    assert cache.reusable(PROMPT, 8, [*PROMPT[:7], 0, 0, 0], reproducible=False) == 7


def test_at_least_one_prompt_token_is_left_to_compute() -> None:
    cache = PrefixCache(chunk=4)
    # An identical eight-token prompt: its last token's logits must still be computed.
    assert cache.reusable(PROMPT[:8], 8, PROMPT[:8], reproducible=True) == 4
    assert cache.reusable(PROMPT[:8], 8, PROMPT[:8], reproducible=False) == 7
    assert cache.reusable(PROMPT, 8, PROMPT[:9], reproducible=True) == 8


def test_a_sequence_keeps_every_cell_and_reuse_depends_on_the_request() -> None:
    cache = PrefixCache(chunk=4)
    assert cache.keep(0, [*PROMPT, *REPLY], exact=8) == 13
    next_turn = [*PROMPT, *REPLY, 1, 2]
    placement = cache.place([0, 1], next_turn, n=1, reproducible=True)
    assert (placement.seq_ids, placement.reused, placement.exact) == ([0], 8, 8)
    cache.keep(0, [*PROMPT, *REPLY], exact=8)
    placement = cache.place([0, 1], next_turn, n=1, reproducible=False)
    assert (placement.seq_ids, placement.reused, placement.exact) == ([0], 13, 8)


def test_the_exact_part_of_a_shorter_reuse_is_its_whole_chunks() -> None:
    cache = PrefixCache(chunk=4)
    cache.keep(0, [*PROMPT, *REPLY], exact=8)
    placement = cache.place([0], [*PROMPT[:6], 0, 0], n=1, reproducible=False)
    assert (placement.reused, placement.exact) == (6, 4)


def test_the_leader_is_the_sequence_with_the_longest_reusable_prefix() -> None:
    cache = PrefixCache(chunk=4)
    cache.keep(0, [*PROMPT[:4], 1, 2, 3, 4], exact=8)
    cache.keep(1, PROMPT, exact=8)
    placement = cache.place([0, 1, 2], [*PROMPT, 5], n=2, reproducible=True)
    assert placement.seq_ids[0] == 1 and placement.reused == 8
    # The sibling is the empty sequence, so sequence 0's cells survive.
    assert placement.seq_ids[1] == 2
    assert cache.place([0], [*PROMPT[:4], 1, 2, 3, 4, 5], n=1, reproducible=True).reused == 8


def test_without_a_match_the_least_recently_used_cells_are_given_up() -> None:
    cache = PrefixCache(chunk=4)
    cache.keep(0, [1] * 8, exact=8)
    cache.keep(1, [2] * 8, exact=8)
    placement = cache.place([0, 1], [3] * 9, n=1, reproducible=True)
    assert placement.seq_ids == [0] and placement.reused == 0
    # Sequence 0 now holds nothing; sequence 1 still holds its cells.
    assert cache.place([0, 1], [2] * 9, n=1, reproducible=True).reused == 8


def test_a_taken_sequence_forgets_what_it_held() -> None:
    cache = PrefixCache(chunk=4)
    cache.keep(0, PROMPT, exact=8)
    cache.place([0], [9] * 5, n=1, reproducible=False)
    assert cache.place([0], PROMPT, n=1, reproducible=False).reused == 0


def test_disabled_reuses_nothing() -> None:
    cache = PrefixCache(chunk=4, enabled=False)
    assert cache.keep(0, PROMPT, exact=8) == 0
    placement = cache.place([0, 1], PROMPT, n=2, reproducible=False)
    assert placement.seq_ids == [0, 1] and placement.reused == 0


def test_asking_for_more_sequences_than_are_free_is_an_error() -> None:
    with pytest.raises(ValueError, match="3 sequences asked for, 2 free"):
        PrefixCache(chunk=4).place([0, 1], PROMPT, n=3, reproducible=True)
