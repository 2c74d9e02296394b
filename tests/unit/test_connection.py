"""A Connection driven by hand, with a stand-in driver: what the receiving
side does with bytes that no real node sends on cue."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from thingsdb.client.connection import Connection, RequestFuture, RetryHandler
from thingsdb.engine.requests import NotSent
from thingsdb.exceptions import ConnectionLostError, ProtocolError
from thingsdb.protocol import Package, PackageType, encode, frame
from thingsdb.transport import parse_address


class Wire:
    """The least of a Driver: it records what is written."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.aborted = False
        self.acks = 0

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def write_many(self, packages: list[bytes]) -> None:
        self.written.extend(packages)

    writing_paused = False

    async def wait_writable(self) -> None:
        return None

    def close(self) -> None:
        self.aborted = True

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.aborted

    def keep_alive(self, idle: float, timeout: float) -> None:
        return None

    def ack_now(self) -> None:
        self.acks += 1


def connection(
    address: str, on_retry: RetryHandler | None = None
) -> tuple[Connection, Wire]:
    events: list[Package] = []

    def on_event(_: Connection, pkg: Package) -> None:
        events.append(pkg)

    def on_close(_: Connection, exc: Exception | None) -> None:
        return None

    conn = Connection(
        parse_address(address),
        max_package_size=1 << 20,
        on_event=on_event,
        on_close=on_close,
        on_retry=on_retry,
    )
    wire = Wire()
    conn.attach(wire)
    return conn, wire


def answer(pid: int, value: Any) -> bytes:
    return frame(pid, PackageType.DATA, encode(value))


async def test_a_websocket_message_with_part_of_a_package() -> None:
    conn, wire = connection("ws://127.0.0.1:9270")
    first = conn.request(PackageType.QUERY, encode(["@t", "1"]), None, None)
    second = conn.request(PackageType.QUERY, encode(["@t", "2"]), None, None)
    await asyncio.sleep(0)  # the second was corked; now it is written
    assert len(wire.written) == 2
    whole = answer(0, 1)
    conn.on_data(whole)  # one whole package: fine
    assert await first == 1
    conn.on_data(answer(1, 2)[:-1])  # a message that stops short
    with pytest.raises(ProtocolError, match="incomplete package"):
        await second
    assert wire.aborted


async def test_a_byte_stream_may_split_a_package() -> None:
    conn, _ = connection("127.0.0.1")
    fut = conn.request(PackageType.QUERY, encode(["@t", "1"]), None, None)
    data = answer(0, "split")
    conn.on_data(data[:5])
    conn.on_data(data[5:])
    assert await fut == "split"


async def test_a_read_is_acknowledged_at_once_while_answers_are_owed() -> None:
    """While requests wait for answers the connection asks the driver to
    acknowledge each read at once (TCP_QUICKACK: the node's Nagle would
    hold its next answers back); with nothing owed it does not."""
    conn, wire = connection("127.0.0.1")
    first = conn.request(PackageType.QUERY, b"\x92\xa2@t\xa1x", None, None)
    second = conn.request(PackageType.QUERY, b"\x92\xa2@t\xa1y", None, None)
    conn.on_data(answer(0, 1))
    assert wire.acks == 1  # the second answer is still owed
    conn.on_data(answer(1, 2))
    assert wire.acks == 1  # nothing owed any more
    assert await first == 1
    assert await second == 2


async def test_requests_never_written_go_to_on_retry_not_lost() -> None:
    """Requests corked behind one in flight, when the connection goes before
    the end of the loop's iteration, were never written: they go to
    on_retry as NotSent (with their ids released), while the one written
    fails with ConnectionLostError."""
    handed: list[tuple[Any, Exception]] = []

    def on_retry(_: Connection, fut: RequestFuture[Any], exc: Exception) -> None:
        handed.append((fut, exc))

    conn, wire = connection("127.0.0.1", on_retry)
    written = conn.send(PackageType.QUERY, b"\x92\xa2@t\xa1x", None, None, 0)
    corked = [
        conn.send(PackageType.QUERY, b"\x92\xa2@t\xa1y", None, None, 0)
        for _ in range(2)
    ]
    assert written is not None
    assert len(wire.written) == 1  # the other two wait for the iteration's end
    conn.on_lost(None)
    assert [fut for fut, _ in handed] == corked
    assert all(isinstance(exc, NotSent) for _, exc in handed)
    assert all(fut is not None and not fut.done() for fut in corked)
    with pytest.raises(ConnectionLostError):
        await written
    await asyncio.sleep(0)
    assert len(wire.written) == 1  # and nothing more went out on this one
