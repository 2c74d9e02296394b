"""PackageDecoder: framing, header checks, payload errors, chunking."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from thingsdb.exceptions import ProtocolError
from thingsdb.protocol import (
    DEFAULT_MAX_PACKAGE_SIZE,
    EVENT_PID,
    HEADER_SIZE,
    Package,
    PackageDecoder,
    PackageType,
    encode,
    frame,
)

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

_NO_PAYLOAD = object()


def pkg(pid: int, tp: int, value: Any = _NO_PAYLOAD) -> bytes:
    """One framed package; no payload at all when ``value`` is omitted."""
    if value is _NO_PAYLOAD:
        return frame(pid, tp)
    return frame(pid, tp, encode(value))


def header(size: int, pid: int, tp: int, check: int | None = None) -> bytes:
    if check is None:
        check = tp ^ 0xFF
    return struct.pack("<IHBB", size, pid, tp, check)


def feed_all(decoder: PackageDecoder, chunks: list[bytes]) -> list[Package]:
    out: list[Package] = []
    for chunk in chunks:
        out.extend(decoder.feed(chunk))
    return out


def feed_until_error(
    decoder: PackageDecoder, chunks: list[bytes]
) -> tuple[list[Package], ProtocolError | None]:
    """Feed every chunk; stop at a ProtocolError and return it (any other
    exception propagates and fails the test)."""
    out: list[Package] = []
    for chunk in chunks:
        try:
            out.extend(decoder.feed(chunk))
        except ProtocolError as exc:
            return out, exc
    return out, None


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    chunks: list[bytes] = []
    prev = 0
    for p in points:
        chunks.append(data[prev:p])
        prev = p
    chunks.append(data[prev:])
    return chunks


# --- framing helpers --------------------------------------------------------


def test_frame_header_layout() -> None:
    raw = frame(0x1234, PackageType.DATA, b"ab")
    assert raw == struct.pack("<IHBB", 2, 0x1234, 0x12, 0xED) + b"ab"
    assert HEADER_SIZE == 8
    assert frame(7, PackageType.PING) == struct.pack("<IHBB", 0, 7, 0x20, 0xDF)


def test_negative_max_package_size_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        PackageDecoder(max_package_size=-1)


# --- the happy paths --------------------------------------------------------


def test_single_package() -> None:
    dec = PackageDecoder()
    out = dec.feed(pkg(3, PackageType.DATA, {"a": [1, 2.5, "x", b"\x00", None]}))
    assert out == [Package(3, PackageType.DATA, {"a": [1, 2.5, "x", b"\x00", None]})]
    assert dec.buffered == 0


def test_many_packages_in_one_chunk() -> None:
    values: list[Any] = [1, "two", [3], {"four": 4}, None, True, -5, 6.25, b"7"]
    stream = b"".join(pkg(i, PackageType.DATA, v) for i, v in enumerate(values))
    stream += pkg(EVENT_PID, PackageType.NODE_STATUS, {"id": 0, "status": "READY"})
    stream += pkg(99, PackageType.OK)
    out = PackageDecoder().feed(stream)
    expected = [Package(i, PackageType.DATA, v) for i, v in enumerate(values)]
    expected.append(
        Package(EVENT_PID, PackageType.NODE_STATUS, {"id": 0, "status": "READY"})
    )
    expected.append(Package(99, PackageType.OK, None))
    assert out == expected


def _three_packages() -> tuple[bytes, list[Package]]:
    stream = (
        pkg(1, PackageType.DATA, "hello world")
        + pkg(2, PackageType.PONG)
        + pkg(0xFFFE, PackageType.ERROR, {"error_code": -54, "error_msg": "x"})
    )
    expected = [
        Package(1, PackageType.DATA, "hello world"),
        Package(2, PackageType.PONG, None),
        Package(0xFFFE, PackageType.ERROR, {"error_code": -54, "error_msg": "x"}),
    ]
    return stream, expected


def test_split_at_every_byte_boundary() -> None:
    stream, expected = _three_packages()
    for i in range(len(stream) + 1):
        dec = PackageDecoder()
        first = dec.feed(stream[:i])
        done = sum(len(p) for p in _prefix_packages(stream, first))
        assert dec.buffered == i - done
        second = dec.feed(stream[i:])
        assert first + second == expected, i
        assert dec.buffered == 0


def _prefix_packages(stream: bytes, done: list[Package]) -> list[bytes]:
    """The raw bytes of the first len(done) packages of ``stream``."""
    raws: list[bytes] = []
    pos = 0
    for _ in done:
        (size,) = struct.unpack_from("<I", stream, pos)
        raws.append(stream[pos : pos + HEADER_SIZE + size])
        pos += HEADER_SIZE + size
    return raws


def test_one_byte_at_a_time() -> None:
    stream, expected = _three_packages()
    dec = PackageDecoder()
    out: list[Package] = []
    for i in range(len(stream)):
        out.extend(dec.feed(stream[i : i + 1]))
    assert out == expected
    assert dec.buffered == 0


def test_every_split_into_three_parts() -> None:
    stream, expected = _three_packages()
    n = len(stream)
    for i in range(0, n + 1, 3):
        for j in range(i, n + 1, 5):
            dec = PackageDecoder()
            out = feed_all(dec, [stream[:i], stream[i:j], stream[j:]])
            assert out == expected, (i, j)


def test_empty_payload_gives_none() -> None:
    dec = PackageDecoder()
    raw = frame(5, PackageType.PONG)
    assert len(raw) == HEADER_SIZE
    assert dec.feed(raw) == [Package(5, PackageType.PONG, None)]
    # an explicit msgpack nil is a one-byte payload and also decodes to None
    assert dec.feed(frame(6, PackageType.DATA, b"\xc0")) == [
        Package(6, PackageType.DATA, None)
    ]


def test_empty_feed_returns_nothing() -> None:
    dec = PackageDecoder()
    assert dec.feed(b"") == []
    assert dec.buffered == 0
    dec.feed(b"\x01\x00")
    assert dec.feed(b"") == []
    assert dec.buffered == 2


def test_accepts_bytearray_and_memoryview() -> None:
    stream, expected = _three_packages()
    dec = PackageDecoder()
    out = dec.feed(bytearray(stream[:10]))
    out += dec.feed(memoryview(stream)[10:20])
    out += dec.feed(memoryview(bytearray(stream[20:])))
    assert out == expected


def test_caller_may_reuse_its_buffer_after_feed() -> None:
    """The incomplete tail must be copied, not referenced."""
    raw = pkg(4, PackageType.DATA, b"binary payload")
    buf = bytearray(raw[:11])
    dec = PackageDecoder()
    assert dec.feed(buf) == []
    buf[:] = b"\xaa" * len(buf)  # the caller reuses its read buffer
    view_src = bytearray(raw[11:])
    out = dec.feed(memoryview(view_src))
    view_src[:] = b"\x55" * len(view_src)
    assert out == [Package(4, PackageType.DATA, b"binary payload")]


def test_decoded_values_do_not_alias_the_input() -> None:
    buf = bytearray(pkg(4, PackageType.DATA, [b"abc", "def"]))
    out = PackageDecoder().feed(buf)
    buf[:] = b"\x00" * len(buf)
    assert out == [Package(4, PackageType.DATA, [b"abc", "def"])]
    assert isinstance(out[0].data[0], bytes)


def test_buffered_property() -> None:
    raw = pkg(1, PackageType.DATA, "abcdef")
    dec = PackageDecoder()
    assert dec.buffered == 0
    dec.feed(raw[:3])
    assert dec.buffered == 3
    dec.feed(raw[3:HEADER_SIZE])
    assert dec.buffered == HEADER_SIZE
    assert dec.feed(raw[HEADER_SIZE:]) == [Package(1, PackageType.DATA, "abcdef")]
    assert dec.buffered == 0
    out = dec.feed(raw + raw[:5])
    assert len(out) == 1
    assert dec.buffered == 5


def test_package_at_exact_size_cap_is_accepted() -> None:
    payload = encode("x" * 20)
    dec = PackageDecoder(max_package_size=len(payload))
    assert dec.feed(frame(1, PackageType.DATA, payload)) == [
        Package(1, PackageType.DATA, "x" * 20)
    ]


def test_zero_cap_allows_empty_packages() -> None:
    dec = PackageDecoder(max_package_size=0)
    assert dec.feed(frame(1, PackageType.OK)) == [Package(1, PackageType.OK, None)]
    with pytest.raises(ProtocolError):
        dec.feed(frame(2, PackageType.DATA, b"\x01"))


# --- header errors ----------------------------------------------------------


def test_wrong_check_byte_fails_before_the_payload() -> None:
    dec = PackageDecoder()
    # a header announcing 100 payload bytes, none of which has arrived
    with pytest.raises(ProtocolError, match="check byte"):
        dec.feed(header(100, 1, PackageType.DATA, check=0x00))


def test_wrong_check_byte_on_split_header() -> None:
    dec = PackageDecoder()
    bad = header(100, 1, PackageType.DATA, check=PackageType.DATA)
    assert dec.feed(bad[:7]) == []
    with pytest.raises(ProtocolError):
        dec.feed(bad[7:])


def test_size_over_cap_fails_at_once() -> None:
    dec = PackageDecoder(max_package_size=10)
    with pytest.raises(ProtocolError, match="max_package_size"):
        dec.feed(header(11, 1, PackageType.DATA))


def test_size_over_default_cap_fails_at_once() -> None:
    dec = PackageDecoder()
    with pytest.raises(ProtocolError):
        dec.feed(header(DEFAULT_MAX_PACKAGE_SIZE + 1, 1, PackageType.DATA))
    # exactly at the cap: waits for the payload
    dec2 = PackageDecoder()
    assert dec2.feed(header(DEFAULT_MAX_PACKAGE_SIZE, 1, PackageType.DATA)) == []
    assert dec2.buffered == HEADER_SIZE


def test_good_packages_before_a_bad_header_are_kept() -> None:
    good = pkg(1, PackageType.DATA, 1) + pkg(2, PackageType.OK)
    dec = PackageDecoder()
    with pytest.raises(ProtocolError) as info:
        dec.feed(good + header(0, 3, PackageType.OK, check=0x11))
    assert info.value.packages == [
        Package(1, PackageType.DATA, 1),
        Package(2, PackageType.OK, None),
    ]
    assert info.value.payload is None


# --- payload errors ---------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(b"\x92\x01", id="truncated-array"),
        pytest.param(b"\xa5abc", id="truncated-str"),
        pytest.param(b"\x01\x02", id="trailing-bytes"),
        pytest.param(b"\xc1", id="invalid-opcode"),
        pytest.param(b"\x81\x80\x01", id="unhashable-key"),
        pytest.param(b"\xdd\xff\xff\xff\xff", id="huge-array-length"),
    ],
)
def test_undecodable_payload(payload: bytes) -> None:
    dec = PackageDecoder()
    with pytest.raises(ProtocolError) as info:
        dec.feed(frame(9, PackageType.DATA, payload))
    assert info.value.payload == payload
    assert info.value.packages == []


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(b"\xa2\xff\xfe", id="fixstr"),
        pytest.param(b"\xd9\x01\xff", id="str8"),
        pytest.param(b"\x81\xa1\xff\x01", id="map-key"),
        pytest.param(b"\xa3\xed\xa0\x80", id="surrogate"),
    ],
)
def test_invalid_utf8_is_a_protocol_error(payload: bytes) -> None:
    dec = PackageDecoder()
    with pytest.raises(ProtocolError) as info:
        dec.feed(frame(9, PackageType.DATA, payload))
    assert info.value.payload == payload


def test_too_deeply_nested_payload_is_a_protocol_error() -> None:
    payload = b"\x91" * 100_000 + b"\x01"
    dec = PackageDecoder()
    with pytest.raises(ProtocolError) as info:
        dec.feed(frame(9, PackageType.DATA, payload))
    assert info.value.payload == payload


def test_moderately_nested_payload_decodes() -> None:
    value: list[Any] = []
    for _ in range(100):
        value = [value]
    assert PackageDecoder().feed(pkg(1, PackageType.DATA, value)) == [
        Package(1, PackageType.DATA, value)
    ]


def test_invalid_utf8_fails_the_decoder_for_good() -> None:
    dec = PackageDecoder()
    with pytest.raises(ProtocolError):
        dec.feed(frame(9, PackageType.DATA, b"\xa2\xff\xfe"))
    with pytest.raises(ProtocolError):
        dec.feed(pkg(1, PackageType.OK))


def test_good_packages_before_a_bad_payload_are_kept() -> None:
    a = pkg(1, PackageType.DATA, "a")
    b = pkg(2, PackageType.DATA, "b")
    c = pkg(3, PackageType.DATA, "c")
    dec = PackageDecoder()
    # 'a' arrives whole in an earlier read and is returned by it
    assert dec.feed(a + b[:4]) == [Package(1, PackageType.DATA, "a")]
    # the bad package comes in the same read that completes 'b' and 'c'
    with pytest.raises(ProtocolError) as info:
        dec.feed(b[4:] + c + frame(4, PackageType.DATA, b"\x92\x01") + a)
    assert info.value.packages == [
        Package(2, PackageType.DATA, "b"),
        Package(3, PackageType.DATA, "c"),
    ]
    assert info.value.payload == b"\x92\x01"


def test_no_feed_after_failure() -> None:
    dec = PackageDecoder()
    with pytest.raises(ProtocolError):
        dec.feed(header(0, 1, PackageType.OK, check=0))
    assert dec.buffered == 0
    with pytest.raises(ProtocolError):
        dec.feed(pkg(1, PackageType.OK))
    with pytest.raises(ProtocolError):
        dec.feed(b"")


def test_failure_while_buffering_clears_the_buffer() -> None:
    raw = pkg(1, PackageType.DATA, "x" * 50)
    dec = PackageDecoder()
    dec.feed(raw[:20])
    assert dec.buffered == 20
    with pytest.raises(ProtocolError) as info:
        dec.feed(raw[20:] + header(0, 2, PackageType.OK, check=1))
    assert info.value.packages == [Package(1, PackageType.DATA, "x" * 50)]
    assert dec.buffered == 0
    with pytest.raises(ProtocolError):
        dec.feed(raw)


# --- property-based ---------------------------------------------------------

msgpack_values: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.binary(max_size=20),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=15,
)

package_specs = st.lists(
    st.tuples(
        st.integers(0, 0xFFFF),
        st.integers(0, 0xFF),
        st.one_of(st.just(_NO_PAYLOAD), msgpack_values),
    ),
    max_size=12,
)


def _build(specs: list[tuple[int, int, Any]]) -> tuple[list[bytes], list[Package]]:
    raws = [pkg(pid, tp, value) for pid, tp, value in specs]
    expected = [
        Package(pid, tp, None if value is _NO_PAYLOAD else value)
        for pid, tp, value in specs
    ]
    return raws, expected


@SETTINGS
@given(specs=package_specs, cuts=st.lists(st.integers(min_value=0), max_size=20))
def test_roundtrip_in_random_chunks(
    specs: list[tuple[int, int, Any]], cuts: list[int]
) -> None:
    raws, expected = _build(specs)
    stream = b"".join(raws)
    dec = PackageDecoder()
    out = feed_all(dec, split_at(stream, cuts))
    assert out == expected
    assert dec.buffered == 0


@SETTINGS
@given(
    specs=package_specs.filter(bool),
    data=st.data(),
    cuts=st.lists(st.integers(min_value=0), max_size=20),
)
def test_corrupt_header_always_fails_and_never_misdecodes(
    specs: list[tuple[int, int, Any]], data: st.DataObject, cuts: list[int]
) -> None:
    raws, expected = _build(specs)
    k = data.draw(st.integers(0, len(raws) - 1), label="corrupted package")
    offset = sum(len(r) for r in raws[:k])
    # byte 6 is the type, byte 7 the check byte: either change breaks the check
    which = data.draw(st.sampled_from([6, 7]), label="header byte")
    old = raws[k][which]
    new = data.draw(st.integers(0, 255).filter(lambda b: b != old), label="value")
    stream = bytearray(b"".join(raws))
    stream[offset + which] = new

    got, error = feed_until_error(PackageDecoder(), split_at(bytes(stream), cuts))
    assert error is not None
    assert error.payload is None
    assert got + error.packages == expected[:k]


@SETTINGS
@given(
    blob=st.binary(max_size=600),
    cuts=st.lists(st.integers(min_value=0), max_size=20),
    cap=st.sampled_from([0, 16, 1024, DEFAULT_MAX_PACKAGE_SIZE]),
)
@example(blob=frame(0, 0x12, b"\xa2\xff\xfe"), cuts=[5], cap=1024)
def test_random_bytes_yield_packages_or_protocol_error(
    blob: bytes, cuts: list[int], cap: int
) -> None:
    dec = PackageDecoder(max_package_size=cap)
    got, error = feed_until_error(dec, split_at(blob, cuts))
    if error is not None:
        got += error.packages
        assert dec.buffered == 0
    assert all(isinstance(p, Package) for p in got)
    assert all(0 <= p.pid <= 0xFFFF and 0 <= p.type <= 0xFF for p in got)


@SETTINGS
@given(
    payloads=st.lists(st.binary(min_size=1, max_size=64), max_size=6),
    cuts=st.lists(st.integers(min_value=0), max_size=10),
)
@example(payloads=[b"\xa2\xff\xfe"], cuts=[])
def test_random_payloads_in_valid_frames_yield_packages_or_protocol_error(
    payloads: list[bytes], cuts: list[int]
) -> None:
    stream = b"".join(
        frame(i, PackageType.DATA, payload) for i, payload in enumerate(payloads)
    )
    got, error = feed_until_error(PackageDecoder(), split_at(stream, cuts))
    if error is not None:
        got += error.packages
        # the error names the payload of the first frame not decoded
        assert error.payload == payloads[len(got)]
    # whatever was decoded came from the right frames, in order
    assert [p.pid for p in got] == list(range(len(got)))
