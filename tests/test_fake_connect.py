"""connect() and connect_pool() when they fail or are interrupted: what the
client is left with, and what waiting requests are told."""

from __future__ import annotations

import asyncio
import socket
import warnings

import pytest

from fakenode import FakeNode, hold_everything
from thingsdb.client import Client
from thingsdb.exceptions import NotConnectedError
from thingsdb.exceptions import TimeoutError as ClientTimeoutError


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_failed_connect_leaves_nothing_to_reconnect_to() -> None:
    client = Client()
    with pytest.raises(ConnectionRefusedError):
        await client.connect("127.0.0.1", closed_port())
    # no reconnect loop to an address that never answered: at once
    with pytest.raises(NotConnectedError, match="call connect"):
        await asyncio.wait_for(client.query("1"), 2)
    assert client._reconnect_task is None
    await client.close_and_wait()


async def test_close_during_connect() -> None:
    async with FakeNode() as node:
        client = Client()
        connecting = asyncio.ensure_future(client.connect("127.0.0.1", node.port))
        await asyncio.sleep(0)  # the connect is under way
        client.close()
        with pytest.raises(NotConnectedError, match="closed while connecting"):
            await connecting
        assert not client.is_connected()
        await asyncio.wait_for(client.wait_closed(), 5)
        await asyncio.sleep(0.05)
        assert all(not c.is_open for c in node.connections)


async def test_close_during_connect_pool() -> None:
    async with FakeNode() as node:
        node.handler = hold_everything  # AUTH never answered
        client = Client()
        connecting = asyncio.ensure_future(
            client.connect_pool([("127.0.0.1", node.port)], "admin", "pass")
        )
        await node.wait_for_connections(1)
        client.close()
        with pytest.raises(NotConnectedError, match="closed while connecting"):
            await asyncio.wait_for(connecting, 5)
        await asyncio.wait_for(client.wait_closed(), 5)
        assert not client.is_connected()


async def test_requests_waiting_when_connect_pool_gives_up() -> None:
    client = Client(reconnect_delay=0.05)
    pool = [("127.0.0.1", closed_port())]
    connecting = asyncio.ensure_future(
        client.connect_pool(pool, "admin", "pass", timeout=0.5)
    )
    await asyncio.sleep(0.1)
    waiting = asyncio.ensure_future(client.query("1"))  # no timeout of its own
    with pytest.raises(ClientTimeoutError):
        await connecting
    # told at once that there is nothing to wait for, not left hanging
    with pytest.raises(NotConnectedError):
        await asyncio.wait_for(waiting, 2)
    await client.close_and_wait()


def test_get_event_loop_outside_a_loop_gives_a_usable_one() -> None:
    client = Client()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not even a DeprecationWarning
        loop = client.get_event_loop()
    try:
        assert loop.run_until_complete(asyncio.sleep(0, "ran")) == "ran"
        assert client.get_event_loop() is loop
    finally:
        asyncio.set_event_loop(None)
        loop.close()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reconnect_delay": 0}, "reconnect_delay"),
        ({"reconnect_max_delay": -1}, "reconnect_max_delay"),
        ({"connect_timeout": 0}, "connect_timeout"),
        ({"ping_timeout": 0}, "ping_timeout"),
        ({"retry_not_ready": -1}, "retry_not_ready"),
        ({"ping_interval": 0}, "ping_interval"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Client(**kwargs)  # type: ignore[arg-type]
