"""Decoder fuzzing: over 100,000 inputs, nothing but ``ProtocolError`` may
escape ``PackageDecoder.feed`` (no node needed).

Inputs are built with ``random.Random(seed)`` (fast and reproducible): valid
packages with random MessagePack values, then mutated (bit flips, byte sets,
truncation, insertion, deletion, splicing), hand-made hostile payloads
(MessagePack's never-used ``0xc1``, lengths far beyond the data, deep
nesting, bad UTF-8, bad timestamps, unhashable keys), random headers, and
plain noise; each stream is fed in random chunk sizes. A hypothesis run adds
shrinking on top, over a smaller budget.

What must hold, per stream:

* only ``ProtocolError`` escapes ``feed``; after it, further ``feed`` calls
  raise ``ProtocolError`` too (the stream is unusable);
* every package returned has a pid in 0..0xFFFF, a type in 0..0xFF, and
  ``buffered`` never exceeds what was fed;
* an unmutated stream decodes to exactly the packages that were framed.
"""

from __future__ import annotations

import random
import struct
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thingsdb.exceptions import ProtocolError
from thingsdb.protocol import Package, PackageDecoder, frame

from . import tally

pytestmark = pytest.mark.adversity

SEED = 0x7D8
RANDOM_INPUTS = 100_000
HYPOTHESIS_INPUTS = 3_000

HOSTILE_PAYLOADS = [
    b"\xc1",
    b"\x91\xc1",
    b"\xdd\xff\xff\xff\xff",  # array of 4 G entries, no data
    b"\xdf\xff\xff\xff\xff",  # map of 4 G entries
    b"\xdb\xff\xff\xff\xff",  # str of 4 GB
    b"\xc6\xff\xff\xff\xff",  # bin of 4 GB
    b"\xc9\xff\xff\xff\xff\x05",  # ext of 4 GB
    b"\x91" * 50_000 + b"\xc0",  # nesting beyond the recursion limit
    b"\x81" * 50_000 + b"\xc0",
    b"\xa2\xc3\x28",  # bad UTF-8
    b"\xa3\xed\xa0\x80",  # an encoded surrogate
    b"\xd6\xff\x00",  # truncated timestamp
    b"\xd5\xff\x00\x00",  # timestamp of a bad size
    b"\xd7\xff" + b"\xff" * 8,  # timestamp nanoseconds out of range
    b"\x81\x81\x01\x02\x03",  # a map as a key
    b"\x81\x91\x01\x02",  # an array as a key
    b"\x01\x02",  # trailing data
    b"",
]


def random_value(rnd: random.Random, depth: int = 0) -> Any:
    kind = rnd.randrange(11 if depth < 4 else 7)
    if kind == 0:
        return None
    if kind == 1:
        return rnd.random() < 0.5
    if kind == 2:
        return rnd.randint(-(2**63), 2**64 - 1)
    if kind == 3:
        return rnd.choice([0.0, -1.5, 1e308, float("inf"), float("nan"), rnd.random()])
    if kind == 4:
        return "".join(
            chr(rnd.randrange(0x20, 0x2FF)) for _ in range(rnd.randrange(40))
        )
    if kind == 5:
        return rnd.randbytes(rnd.randrange(40))
    if kind == 6:
        return rnd.randrange(128)
    if kind in (7, 8):
        return [random_value(rnd, depth + 1) for _ in range(rnd.randrange(6))]
    return {
        f"k{rnd.randrange(1000)}": random_value(rnd, depth + 1)
        for _ in range(rnd.randrange(6))
    }


def mutate(rnd: random.Random, data: bytearray) -> None:
    for _ in range(rnd.randrange(1, 4)):
        op = rnd.randrange(7)
        n = len(data)
        if op == 0 and n:  # flip a bit
            data[rnd.randrange(n)] ^= 1 << rnd.randrange(8)
        elif op == 1 and n:  # set a byte to something interesting
            data[rnd.randrange(n)] = rnd.choice([0x00, 0xFF, 0xC1, 0x7F, 0x80, 0xDD])
        elif op == 2 and n:  # truncate
            del data[rnd.randrange(n) :]
        elif op == 3:  # insert noise
            i = rnd.randrange(n + 1)
            data[i:i] = rnd.randbytes(rnd.randrange(1, 9))
        elif op == 4 and n:  # delete a run
            i = rnd.randrange(n)
            del data[i : i + rnd.randrange(1, 9)]
        elif op == 5 and n:  # duplicate a slice
            i = rnd.randrange(n)
            data[i:i] = data[i : i + rnd.randrange(1, 32)]
        elif op == 6:  # splice in a hostile payload
            i = rnd.randrange(n + 1)
            data[i:i] = rnd.choice(HOSTILE_PAYLOADS[:7])


def make_stream(rnd: random.Random) -> tuple[bytes, list[Package] | None]:
    """A byte stream and, when it is unmutated, the packages it holds."""
    kind = rnd.randrange(10)
    if kind == 0:  # noise
        return rnd.randbytes(rnd.randrange(64)), None
    if kind == 1:  # a hostile payload behind a valid header
        payload = rnd.choice(HOSTILE_PAYLOADS)
        return frame(rnd.randrange(0x10000), rnd.randrange(256), payload), None
    if kind == 2:  # a random header (random size, check byte) and some data
        size = rnd.choice([0, 1, 7, 100, 2**30, 2**30 + 1, 2**32 - 1])
        tp = rnd.randrange(256)
        check = tp ^ 0xFF if rnd.random() < 0.7 else rnd.randrange(256)
        head = struct.pack("<IHBB", size, rnd.randrange(0x10000), tp, check)
        return head + rnd.randbytes(rnd.randrange(32)), None
    packages = []
    stream = bytearray()
    for _ in range(rnd.randrange(1, 5)):
        pid, tp = rnd.randrange(0x10000), rnd.randrange(256)
        value = random_value(rnd)
        payload = msgspec.msgpack.encode(value) if rnd.random() < 0.9 else b""
        stream += frame(pid, tp, payload)
        packages.append((pid, tp, payload))
    if kind < 5:  # 30 %: unmutated
        expected = [
            Package(pid, tp, msgspec.msgpack.decode(p) if p else None)
            for pid, tp, p in packages
        ]
        return bytes(stream), expected
    mutate(rnd, stream)
    return bytes(stream), None


def _same(a: Any, b: Any) -> bool:
    """Equality that takes NaN for NaN."""
    return msgspec.msgpack.encode(a) == msgspec.msgpack.encode(b)


def feed_stream(
    data: bytes, chunks: list[int], max_size: int
) -> tuple[list[Package], bool]:
    """Feed ``data`` in chunks; return the packages and whether it failed.
    Anything but ProtocolError propagates (and fails the test)."""
    decoder = PackageDecoder(max_size)
    out: list[Package] = []
    pos = 0
    failed = False
    for size in chunks:
        if pos >= len(data):
            break
        piece = data[pos : pos + size]
        pos += size
        try:
            out += decoder.feed(memoryview(piece) if size % 2 else piece)
        except ProtocolError as exc:
            out += exc.packages
            failed = True
            break
        assert decoder.buffered <= pos
    if not failed and pos < len(data):
        try:
            out += decoder.feed(data[pos:])
        except ProtocolError as exc:
            out += exc.packages
            failed = True
    if failed:
        with pytest.raises(ProtocolError):
            decoder.feed(b"\x00" * 8)
    for pkg in out:
        assert 0 <= pkg.pid <= 0xFFFF
        assert 0 <= pkg.type <= 0xFF
    return out, failed


def test_random_streams() -> None:
    rnd = random.Random(SEED)
    failures = 0
    for _ in range(RANDOM_INPUTS):
        data, expected = make_stream(rnd)
        chunks = [rnd.choice([1, 2, 3, 7, 8, 9, 64, 4096]) for _ in range(8)]
        max_size = rnd.choice([1 << 30, 1 << 30, 64, 8, 0])
        packages, failed = feed_stream(data, chunks, max_size)
        failures += failed
        if expected is not None and max_size == 1 << 30:
            assert not failed
            assert len(packages) == len(expected)
            for got, want in zip(packages, expected, strict=True):
                assert (got.pid, got.type) == (want.pid, want.type)
                assert _same(got.data, want.data)
        tally.tried["fuzz inputs"] += 1
    assert 0 < failures < RANDOM_INPUTS
    tally.check("only ProtocolError escapes the decoder", True)
    tally.check("an unmutated stream decodes exactly", True)


@settings(
    max_examples=HYPOTHESIS_INPUTS,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    head=st.tuples(
        st.integers(0, 2**32 - 1),
        st.integers(0, 0xFFFF),
        st.integers(0, 0xFF),
    ),
    good_check=st.booleans(),
    body=st.binary(max_size=64),
    split=st.integers(0, 80),
)
def test_hypothesis_packages(
    head: tuple[int, int, int], good_check: bool, body: bytes, split: int
) -> None:
    size, pid, tp = head
    if good_check:
        size = len(body) if size % 2 else size
    check = tp ^ 0xFF if good_check else (tp ^ 0xFF) ^ 1
    data = struct.pack("<IHBB", size, pid, tp, check) + body
    feed_stream(data, [split, 1, 3, 1024], 1 << 30)
    tally.tried["fuzz inputs"] += 1
