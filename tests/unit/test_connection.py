"""A Connection driven by hand, with a stand-in driver: what the receiving
side does with bytes that no real node sends on cue."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from thingsdb.client.connection import Connection
from thingsdb.exceptions import ProtocolError
from thingsdb.protocol import Package, PackageType, encode, frame
from thingsdb.transport import parse_address


class Wire:
    """The least of a Driver: it records what is written."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.aborted = False

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


def connection(address: str) -> tuple[Connection, Wire]:
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
