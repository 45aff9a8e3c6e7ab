"""Stop strings and UTF-8: what may be streamed, checked at every split of the output."""

from __future__ import annotations

import pytest

from kaiyuan.engine.stops import TextStream


def run(pieces: list[bytes], stops: tuple[str, ...]) -> tuple[list[str], bool]:
    stream = TextStream(stops)
    shown = []
    for piece in pieces:
        emitted = stream.feed(piece)
        shown.append(emitted.text)
        if emitted.stopped:
            return shown, True
    shown.append(stream.flush())
    return shown, False


TEXT = "Hello wörld 你好!\n\nUser: more text".encode()


@pytest.mark.parametrize("stops,expected,stopped", [
    ((), TEXT.decode(), False),
    (("\n\nUser:",), "Hello wörld 你好!", True),
    (("wörld", "\n\nUser:"), "Hello ", True),
    (("absent",), TEXT.decode(), False),
    (("好!\n", "x"), "Hello wörld 你", True),
])
def test_every_byte_split_gives_the_same_text(stops, expected, stopped) -> None:
    for size in range(1, len(TEXT) + 1):
        pieces = [TEXT[i:i + size] for i in range(0, len(TEXT), size)]
        shown, did_stop = run(pieces, stops)
        assert "".join(shown) == expected, size
        assert did_stop is stopped
        for part in shown:  # never half a character, never the start of a stop string
            assert "\ufffd" not in part
        if stopped:
            for stop in stops:
                assert stop not in "".join(shown)


def test_partial_stop_is_held_then_released() -> None:
    stream = TextStream(("STOP",))
    assert stream.feed(b"abc ST").text == "abc "
    assert stream.feed(b"OX").text == "STOX"


def test_partial_stop_at_the_end_is_flushed() -> None:
    stream = TextStream(("STOP",))
    assert stream.feed(b"abc STO").text == "abc "
    assert stream.flush() == "STO"
