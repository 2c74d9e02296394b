"""The frames the picows driver makes itself for a batch of packages."""

from __future__ import annotations

import os
import struct

import pytest

pytest.importorskip("picows")
websockets = pytest.importorskip("websockets")

from websockets.frames import Frame, Opcode  # noqa: E402
from websockets.streams import StreamReader  # noqa: E402

from thingsdb.transport import ws_picows  # noqa: E402


def parse(data: bytes) -> Frame:
    """The frame as websockets' own parser reads it (as a server would)."""
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    parser = Frame.parse(reader.read_exact, mask=True)
    try:
        next(parser)
    except StopIteration as done:
        frame: Frame = done.value
        return frame
    raise AssertionError("incomplete frame")


@pytest.mark.parametrize("size", [0, 1, 20, 125, 126, 127, 65535, 65536, 200_000])
def test_a_frame_is_one_final_masked_binary_message(size: int) -> None:
    payload = os.urandom(size)
    data = ws_picows._client_frame(payload)
    frame = parse(data)
    assert frame.opcode is Opcode.BINARY
    assert frame.fin
    assert frame.data == payload
    assert data[1] & 0x80  # masked, as a client's frames must be


def test_keys_differ_from_frame_to_frame() -> None:
    keys = set()
    for _ in range(50):
        data = ws_picows._client_frame(b"x" * 10)
        keys.add(data[2:6])
    assert len(keys) > 40


def test_the_python_mask_matches_websockets_compiled_one() -> None:
    from websockets.speedups import apply_mask

    for size in (0, 1, 3, 4, 5, 125, 126, 70_000):
        data, key = os.urandom(size), os.urandom(4)
        assert ws_picows._python_mask(data, key) == apply_mask(data, key)


def test_length_fields() -> None:
    assert ws_picows._client_frame(b"x" * 125)[1] == 0x80 | 125
    medium = ws_picows._client_frame(b"x" * 300)
    assert medium[1] == 0x80 | 126
    assert struct.unpack("!H", medium[2:4])[0] == 300
    large = ws_picows._client_frame(b"x" * 70_000)
    assert large[1] == 0x80 | 127
    assert struct.unpack("!Q", large[2:10])[0] == 70_000
