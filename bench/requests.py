"""Requests through the asyncio client against the bare asyncio floor.

    python -m bench.requests [--quick] [--repeat N] [--uvloop]

Sequential and pipelined (1,000 at a time under ``asyncio.gather``) ``nil``
and ``run('add', 1, 2)``, large results, a 1 MiB argument, and room events
received, each against :class:`bench.floors.AsyncFloor`; the pipelined
ones also against the coroutine-shaped floor; WebSocket on picows against
the bare picows floor, and both libraries against the connector's own TCP
figures.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from thingsdb.client import Client
from thingsdb.room import Room, event

from . import harness
from .floors import (
    EMIT,
    HEADER,
    SCOPE,
    BlockingFloor,
    CoroutineFloor,
    QuickAckFloor,
    open_async_floor,
    open_picows_floor,
)
from .harness import Row, Sample, ameasure, best

Body = Callable[[], Awaitable[None]]


async def open_client(address: str, port: int = 9200, **settings: Any) -> Client:
    client = Client(ping_interval=None, **settings)
    await client.connect(address, port)
    await client.authenticate("admin", "pass")
    client.set_default_scope(SCOPE)
    return client


def sequential(api: Any, n: int, code: str, **kw: Any) -> Body:
    async def body() -> None:
        query = api.query
        for _ in range(n):
            await query(code, **kw)

    return body


def sequential_run(api: Any, n: int) -> Body:
    async def body() -> None:
        run = api.run
        for _ in range(n):
            await run("add", 1, 2)

    return body


def pipelined(n: int, make: Callable[[], Awaitable[Any]], depth: int = 1000) -> Body:
    async def body() -> None:
        for _ in range(n // depth):
            await asyncio.gather(*[make() for _ in range(depth)])

    return body


async def compare(
    rounds: int, n: int, reference: Body, conn: Body
) -> tuple[Sample, Sample]:
    refs, conns = [], []
    for _ in range(rounds):
        refs.append(await ameasure(n, reference))
        conns.append(await ameasure(n, conn))
    return best(refs), best(conns)


async def tcp_rows(node: harness.Node, sizes: dict[str, int], rounds: int) -> list[Row]:
    floor = await open_async_floor(node.host, node.port)
    old = await open_async_floor(node.host, node.port, CoroutineFloor)
    acking = await open_async_floor(node.host, node.port, QuickAckFloor)
    client = await open_client(node.host, node.port)
    for api in (floor, old, acking, client):  # warm up
        await api.query("nil")
        await asyncio.gather(*[api.query("nil") for _ in range(1000)])
        await api.run("add", 1, 2)
    rows: list[Row] = []

    async def add(
        name: str, n: int, ref: Body, conn: Body, versus: str = "floor"
    ) -> None:
        f, c = await compare(rounds, n, ref, conn)
        rows.append(Row(name, f, c, versus))
        harness.progress(name)

    n = sizes["seq"]
    await add(
        "sequential nil", n, sequential(floor, n, "nil"), sequential(client, n, "nil")
    )
    await add(
        "sequential run('add', 1, 2)",
        n,
        sequential_run(floor, n),
        sequential_run(client, n),
    )
    n = sizes["pipe"]
    await add(
        "pipelined nil",
        n,
        pipelined(n, lambda: floor.query("nil")),
        pipelined(n, lambda: client.query("nil")),
    )
    await add(
        "pipelined run('add', 1, 2)",
        n,
        pipelined(n, lambda: floor.run("add", 1, 2)),
        pipelined(n, lambda: client.run("add", 1, 2)),
    )
    await add(
        "pipelined nil",
        n,
        pipelined(n, lambda: acking.query("nil")),
        pipelined(n, lambda: client.query("nil")),
        versus="quick-ack floor",
    )
    await add(
        "pipelined run('add', 1, 2)",
        n,
        pipelined(n, lambda: acking.run("add", 1, 2)),
        pipelined(n, lambda: client.run("add", 1, 2)),
        versus="quick-ack floor",
    )
    await add(
        "pipelined nil",
        n,
        pipelined(n, lambda: old.query("nil")),
        pipelined(n, lambda: client.query("nil")),
        versus="coroutine floor",
    )
    n = sizes["big"]
    for name, code, kw in [
        ("100,000-int result", "range(100000);", {}),
        ("10,000-thing result", ".things;", {}),
        ("1 MiB bytes argument", "nil", {"b": os.urandom(1 << 20)}),
    ]:
        await add(
            name, n, sequential(floor, n, code, **kw), sequential(client, n, code, **kw)
        )
    floor.close()
    old.close()
    acking.close()
    await client.close_and_wait()
    return rows


async def ws_rows(node: harness.Node, sizes: dict[str, int], rounds: int) -> list[Row]:
    """Each WebSocket library against the connector over TCP."""
    rows = []
    tcp = await open_client(node.host, node.port)
    for library in ("picows", "websockets"):
        ws = await open_client(node.ws_address, websocket_library=library)
        await asyncio.gather(*[ws.query("nil") for _ in range(1000)])
        n = sizes["seq"]
        t, w = await compare(
            rounds, n, sequential(tcp, n, "nil"), sequential(ws, n, "nil")
        )
        rows.append(Row(f"WS {library}: sequential nil", t, w, "TCP"))
        n = sizes["pipe"]
        t, w = await compare(
            rounds,
            n,
            pipelined(n, lambda: tcp.query("nil")),
            pipelined(n, lambda c=ws: c.query("nil")),  # type: ignore[misc]
        )
        rows.append(Row(f"WS {library}: pipelined nil", t, w, "TCP"))
        await ws.close_and_wait()
    await tcp.close_and_wait()
    harness.progress("WebSocket")
    return rows


async def picows_floor_rows(
    node: harness.Node, sizes: dict[str, int], rounds: int
) -> list[Row]:
    """The connector on picows against the bare picows floor."""
    floor = await open_picows_floor(node.ws_address)
    ws = await open_client(node.ws_address, websocket_library="picows")
    for api in (floor, ws):  # warm up
        await asyncio.gather(*[api.query("nil") for _ in range(1000)])
    n = sizes["seq"]
    f, w = await compare(
        rounds, n, sequential(floor, n, "nil"), sequential(ws, n, "nil")
    )
    rows = [Row("WS picows: sequential nil", f, w, "picows floor")]
    n = sizes["pipe"]
    f, w = await compare(
        rounds,
        n,
        pipelined(n, lambda: floor.query("nil")),
        pipelined(n, lambda: ws.query("nil")),
    )
    rows.append(Row("WS picows: pipelined nil", f, w, "picows floor"))
    floor.close()
    await ws.close_and_wait()
    harness.progress("WebSocket floor")
    return rows


# -- room events --------------------------------------------------------------------


class Counter(Room):
    def on_init(self) -> None:
        self.count = 0
        self.wanted = 0
        self.done: asyncio.Future[None] | None = None

    @event("ev")
    def on_ev(self, _value: int) -> None:
        self.count += 1
        if self.count == self.wanted and self.done is not None:
            self.done.set_result(None)


def emit(
    host: str,
    port: int,
    room_id: int,
    n: int,
    cores: frozenset[int],
    ready: Any,
    go: Any,
) -> None:
    """The second client (a child process beside the node): emit ``n``
    events once ``go`` is set, then read the ``n`` answers."""
    if cores:
        os.sched_setaffinity(0, cores)
    sock = BlockingFloor(host, port).sock
    ready.set()
    go.wait()
    out = bytearray()
    for i in range(n):
        data = msgspec.msgpack.encode((SCOPE, room_id, "ev", i))
        out += HEADER.pack(len(data), i & 0x7FFF, EMIT, EMIT ^ 0xFF) + data
    sock.sendall(out)
    buf, answered = bytearray(), 0
    while answered < n:
        chunk = sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("the node closed the connection")
        buf += chunk
        while len(buf) >= 8 and len(buf) >= 8 + HEADER.unpack_from(buf)[0]:
            del buf[: 8 + HEADER.unpack_from(buf)[0]]
            answered += 1
    sock.close()


async def events_round(
    node: harness.Node, room_id: int, n: int, done: asyncio.Future[None]
) -> Sample:
    ctx = multiprocessing.get_context("spawn")
    ready, go = ctx.Event(), ctx.Event()
    args = (node.host, node.port, room_id, n, node.cores, ready, go)
    child = ctx.Process(target=emit, args=args)
    child.start()
    await asyncio.to_thread(ready.wait, 60)

    async def body() -> None:
        go.set()
        await done

    sample = await ameasure(n, body)
    await asyncio.to_thread(child.join)
    return sample


async def events_row(node: harness.Node, room_id: int, n: int, rounds: int) -> Row:
    floor = await open_async_floor(node.host, node.port)
    client = await open_client(node.host, node.port)
    room = Counter(room_id, scope=SCOPE)
    await room.join(client)
    await room.leave()
    loop = asyncio.get_running_loop()
    refs, conns = [], []
    for _ in range(rounds):
        await floor.join(room_id)  # the floor alone in the room
        floor.events, floor.events_wanted = 0, n
        floor.events_done = loop.create_future()
        refs.append(await events_round(node, room_id, n, floor.events_done))
        await floor.leave(room_id)
        await room.join(client)  # then the connector alone
        room.count, room.wanted = 0, n
        room.done = loop.create_future()
        conns.append(await events_round(node, room_id, n, room.done))
        await room.leave()
    floor.close()
    await client.close_and_wait()
    harness.progress("room events")
    return Row(f"{n:,} room events (received)", best(refs), best(conns))


async def main_async(
    args: argparse.Namespace, node: harness.Node, room_id: int
) -> None:
    quick = args.quick
    sizes = {
        "seq": 3_000 if quick else 10_000,
        "pipe": 20_000 if quick else 100_000,
        "big": 10 if quick else 40,
        "events": 20_000,
    }
    rounds = harness.rounds(args)
    rows = await tcp_rows(node, sizes, rounds)
    rows.append(await events_row(node, room_id, sizes["events"], rounds))
    rows.extend(await picows_floor_rows(node, sizes, rounds))
    ws = await ws_rows(node, sizes, rounds)
    print()
    print(harness.environment(node, args, "uvloop" if args.uvloop else "asyncio"))
    print()
    print(harness.ratio_table(rows))
    print()
    print(harness.ratio_table(ws, "TCP"))


def main(argv: list[str] | None = None) -> None:
    p = harness.parser(__doc__.split("\n")[0])
    p.add_argument("--uvloop", action="store_true", help="run on uvloop")
    args = p.parse_args(argv)
    if args.uvloop:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    with harness.bench_node(args) as (node, room_id):
        asyncio.run(main_async(args, node, room_id))


if __name__ == "__main__":
    main()
