"""Cancellation at every await point of query, run, Room.join, connect and
authenticate.

A slow proxy (a delay per chunk) stretches each call so that every stage is
observable. The caller is cancelled after k event-loop iterations (k = 0..5)
and then after ever longer sleeps, step by step, until the call completes on
its own. After each cancellation:

* the task ends with ``asyncio.CancelledError`` (the client never swallows a
  cancellation, never turns it into another error);
* the next request on the same client gets its own answer (for connect: the
  same client connects again, and all its sockets are gone after close);
* the pending-request table empties once the late answers are in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from thingsdb.client import Client
from thingsdb.room import Room

from . import tally
from .conftest import NodeLike, fast_client
from .faultproxy import FaultProxy
from .helpers import new_token, pending, settled, until

pytestmark = [pytest.mark.adversity, pytest.mark.node]

#: a slow link: every chunk waits this long, both ways
DELAY = 0.004
#: plain loop iterations tried first, then sleeps of SLEEP_STEP * n
ITERATIONS = 6
SLEEP_STEP = 0.0015
MAX_STEPS = 200


async def _wait_step(k: int) -> None:
    if k < ITERATIONS:
        for _ in range(k):
            await asyncio.sleep(0)
    else:
        await asyncio.sleep(SLEEP_STEP * (k - ITERATIONS + 1))


async def cancel_each_point(
    what: str,
    call: Callable[[int], Awaitable[Any]],
    after: Callable[[int], Awaitable[None]],
) -> int:
    """Cancel ``call(k)`` after step k, for k = 0, 1, ... until a call
    completes before its cancellation; run ``after(k)`` each time. Returns
    how many calls were cancelled."""
    for k in range(MAX_STEPS):
        task = asyncio.ensure_future(call(k))
        await _wait_step(k)
        if task.done():
            task.result()  # completed (or failed: raises here)
            await after(k)
            assert k > 0, f"{what}: done before the first cancellation"
            return k  # calls 0 .. k-1 were cancelled
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            tally.check("a cancelled call raises CancelledError", True)
        else:
            tally.check("a cancelled call raises CancelledError", False)
            pytest.fail(
                f"{what}: cancelled at step {k} while running, but the task "
                "completed normally: the cancellation was swallowed"
            )
        tally.tried["cancellations"] += 1
        await after(k)
    pytest.fail(f"{what}: still not complete after {MAX_STEPS} steps")


@pytest.fixture
async def slow(proxy: FaultProxy) -> FaultProxy:
    proxy.delay = DELAY
    return proxy


async def _own_answer(client: Client, k: int) -> None:
    tok = new_token("after", k)
    got = await client.query("x", x=tok, timeout=10)
    assert tally.check("the next request gets its own answer", got == tok)


async def test_cancel_query(proxied: Client, slow: FaultProxy) -> None:
    client = proxied

    async def call(k: int) -> Any:
        return await client.query("x", x=new_token("q", k), timeout=10)

    n = await cancel_each_point("query", call, lambda k: _own_answer(client, k))
    assert n >= 3
    await settled(client)
    tally.check("pending ids of cancelled requests are released", pending(client) == 0)


async def test_cancel_query_with_deadline_unset(
    proxied: Client, slow: FaultProxy
) -> None:
    """The same without a timeout (a request with no deadline handle)."""
    client = proxied

    async def call(k: int) -> Any:
        return await client.query("x", x=new_token("n", k))

    await cancel_each_point("query", call, lambda k: _own_answer(client, k))
    await settled(client)
    tally.check("pending ids of cancelled requests are released", pending(client) == 0)


async def test_cancel_run(
    node: NodeLike, collection: str, proxied: Client, slow: FaultProxy
) -> None:
    scope = f"//{collection}"
    node.query("new_procedure('echo', |x| x);", scope=scope)
    client = proxied

    async def call(k: int) -> Any:
        return await client.run("echo", new_token("r", k), scope=scope, timeout=10)

    async def after(k: int) -> None:
        tok = new_token("ra", k)
        got = await client.run("echo", tok, scope=scope, timeout=10)
        assert tally.check("the next request gets its own answer", got == tok)

    await cancel_each_point("run", call, after)
    await settled(client)
    tally.check("pending ids of cancelled requests are released", pending(client) == 0)


async def test_cancel_join(
    node: NodeLike, collection: str, proxied: Client, slow: FaultProxy
) -> None:
    scope = f"//{collection}"
    node.query(f".rooms = range({MAX_STEPS}).map(|| room());", scope=scope)
    client = proxied
    rooms: list[Room] = []

    def call(k: int) -> Awaitable[None]:
        # code, not an id: the join then has the id query as an await point
        room = Room(f".rooms[{k}].id();", scope=scope)
        rooms.append(room)
        return room.join(client, wait=10)

    async def after(k: int) -> None:
        room = rooms[k]
        joined = room in client.get_rooms()
        assert tally.check(
            "a cancelled join leaves the room joined or not, not half",
            joined == room.inbox.is_open,
        ), f"step {k}: registered={joined} but joined={room.inbox.is_open}"
        await _own_answer(client, k)

    await cancel_each_point("Room.join", call, after)
    await settled(client)
    tally.check("pending ids of cancelled requests are released", pending(client) == 0)
    # the room that joined for good receives events
    last = rooms[-1]
    got: list[Any] = []
    last.on_emit = lambda ev, *args: got.append((ev, list(args)))  # type: ignore[method-assign]
    await client.query(f".rooms[{len(rooms) - 1}].emit('ping', 1);", scope=scope)
    await until(lambda: got == [("ping", [1])], 5.0, "the event of the joined room")


async def test_cancel_connect(node: NodeLike, slow: FaultProxy) -> None:
    clients: list[Client] = []

    def call(k: int) -> Awaitable[None]:
        client = fast_client()
        clients.append(client)
        return client.connect(*slow.address, timeout=10)

    async def after(k: int) -> None:
        client = clients[k]
        try:
            if not client.is_connected():
                # the same client connects again after the cancelled attempt
                await client.connect(*slow.address, timeout=10)
            await client.authenticate(node.user, node.password, timeout=10)
            await _own_answer(client, k)
        finally:
            await client.close_and_wait()

    await cancel_each_point("connect", call, after)
    # no socket left behind by a cancelled connect
    await until(lambda: slow.active == 0, 5.0, "every proxied connection closed")
    tally.check("a cancelled connect leaves no socket behind", True)


async def test_cancel_authenticate(
    node: NodeLike, proxy: FaultProxy, slow: FaultProxy
) -> None:
    client = fast_client()
    await client.connect(*slow.address, timeout=10)
    try:

        async def call(k: int) -> None:
            await client.authenticate(node.user, node.password, timeout=10)

        async def after(k: int) -> None:
            # the same client, on the same connection, authenticates and asks
            await client.authenticate(node.user, node.password, timeout=10)
            await _own_answer(client, k)

        await cancel_each_point("authenticate", call, after)
        await settled(client)
        tally.check(
            "pending ids of cancelled requests are released", pending(client) == 0
        )
    finally:
        await client.close_and_wait()


async def test_cancel_as_the_reconnect_lands(
    proxied: Client, proxy: FaultProxy
) -> None:
    """A request waiting for a reconnect, cancelled in the very loop
    iteration in which the new connection is announced.

    The caller's cancel() comes after the client's wait for a connection has
    been resolved but before the waiting task resumed: the task must still
    end with CancelledError (and must not go on to send the request)."""
    client = proxied
    proxy.refusing = True  # reconnect attempts fail until we say so
    proxy.cut()
    await until(lambda: not client.is_connected(), 5.0, "the cut is noticed")
    tok = new_token("rc", 0)
    task = asyncio.ensure_future(client.query("x", x=tok, timeout=10))
    await until(lambda: client._pool._connected is not None, 5.0, "the request waits")
    connected = client._pool._connected
    assert connected is not None
    connected.add_done_callback(lambda _: task.cancel())
    tally.tried["cancellations"] += 1
    proxy.refusing = False
    try:
        got = await task
    except asyncio.CancelledError:
        tally.check("a cancelled call raises CancelledError", True)
    else:
        tally.check("a cancelled call raises CancelledError", False)
        pytest.fail(
            "cancelled while waiting for the reconnect, but query() went on, "
            f"sent the request and returned {got!r}: the cancellation was "
            "swallowed (asyncio.wait_for in thingsdb.client.connection."
            "wait_until returns the result when the awaited future is done "
            "at the moment of the cancellation, on Python < 3.12)"
        )
    await _own_answer(client, 0)


class _Gated(Room):
    """A room whose first on_join() waits for the test."""

    def on_init(self) -> None:
        self.gate = asyncio.Event()

    async def on_join(self) -> None:
        await self.gate.wait()


async def test_cancel_join_as_on_join_finishes(
    node: NodeLike, collection: str, direct: Client
) -> None:
    """Room.join() cancelled in the very loop iteration in which its first
    on_join() finishes: the task must end with CancelledError."""
    scope = f"//{collection}"
    room = _Gated(".r = room(); .r.id();", scope=scope)
    task = asyncio.ensure_future(room.join(direct, wait=10))
    await until(lambda: room.inbox.is_open, 10.0, "the join request is answered")
    first = room._first_join
    assert first is not None, "on_join() finished already"
    first.add_done_callback(lambda _: task.cancel())
    tally.tried["cancellations"] += 1
    room.gate.set()
    try:
        await task
    except asyncio.CancelledError:
        tally.check("a cancelled call raises CancelledError", True)
    else:
        tally.check("a cancelled call raises CancelledError", False)
        pytest.fail(
            "Room.join() was cancelled while it waited for on_join(), but "
            "returned normally: the cancellation was swallowed "
            "(asyncio.wait_for in thingsdb.room.room.Room.join returns when "
            "the shielded first-join future is done at the moment of the "
            "cancellation, on Python < 3.12)"
        )
    await _own_answer(direct, 0)
