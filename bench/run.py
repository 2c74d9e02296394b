"""Benchmark: this connector against a bare-socket floor, on a real node.

    python bench/run.py [--quick] [--uvloop] [--repeat N]

Starts a ThingsDB node (``thingsdb`` on PATH or ``THINGSDB_BIN``) on free
loopback ports in a temporary folder, runs every workload through the
connector and through ``Floor`` (a minimal client written here: pack, write,
match the id, unpack, nothing else), prints one table, and stops the node by
its PID.

Client CPU is ``time.process_time()`` of this process around each workload
(the node is another process, so its CPU is not counted). Where the machine
has two cores or more, the client runs on one and the node (with the
events' emitter) on another (``--no-pin`` leaves that to the scheduler):
sharing a core, each wakeup of one evicts the other's caches, which makes
the figures swing by a third from one run to the next. Each workload runs
``--repeat`` times, alternating floor and connector; the best (lowest CPU)
round of each is reported, which is the figure least disturbed by other load
on the machine. The in-flight workload runs in a fresh child process so that
its peak RSS (``resource.getrusage``) is its own; room events are emitted by
a second client in a child process, so only receiving is measured here.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import json
import os
import platform
import resource
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import msgspec

from thingsdb import testing
from thingsdb.client import Client
from thingsdb.room import Room, event

HEADER = struct.Struct("<IHBB")
AUTH, QUERY, RUN, JOIN, EMIT = 0x21, 0x22, 0x25, 0x26, 0x28
OK, DATA, ERROR, ROOM_EMIT = 0x11, 0x12, 0x13, 0x08
EVENT_PID = 0xFFFF
USER, PASSWORD = "admin", "pass"
SCOPE = "//bench"
MIB = 1 << 20

_enc = msgspec.msgpack.Encoder()


def client_cores() -> set[int]:
    """The client's core: the first one this process may use."""
    return {min(os.sched_getaffinity(0))}


def node_cores() -> set[int]:
    """Every other core, for the node and the emitter."""
    return os.sched_getaffinity(0) - client_cores()


#: Set (through the environment) for the emitter child when pinning is on.
NODE_CORES = {int(c) for c in os.environ.get("BENCH_NODE_CORES", "").split(",") if c}
_dec = msgspec.msgpack.Decoder()


# -- the floor: a bare asyncio client ------------------------------------------------


class Floor(asyncio.Protocol):
    """The least an asyncio client can do: struct header, msgspec, pid->future."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.futs: dict[int, asyncio.Future[Any]] = {}
        self.pid = 0
        self.events = 0
        self.events_done: asyncio.Future[None] | None = None
        self.events_wanted = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a stream transport (not an asyncio.Transport subclass on uvloop)
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        pos, end = 0, len(buf)
        with memoryview(buf) as view:
            while end - pos >= 8:
                size, pid, tp, _ = HEADER.unpack_from(view, pos)
                stop = pos + 8 + size
                if stop > end:
                    break
                value = _dec.decode(view[pos + 8 : stop]) if size else None
                pos = stop
                if pid == EVENT_PID:
                    if tp == ROOM_EMIT:
                        self.events += 1
                        if self.events == self.events_wanted and self.events_done:
                            self.events_done.set_result(None)
                    continue
                fut = self.futs.pop(pid)
                if tp == ERROR:
                    fut.set_exception(RuntimeError(value))
                else:
                    fut.set_result(value)
        del buf[:pos]

    def request(self, tp: int, payload: Any) -> asyncio.Future[Any]:
        pid = self.pid
        self.pid = 0 if pid == 0xFFFE else pid + 1
        data = _enc.encode(payload)
        fut = self.loop.create_future()
        self.futs[pid] = fut
        assert self.transport is not None
        self.transport.write(HEADER.pack(len(data), pid, tp, tp ^ 0xFF) + data)
        return fut

    # the same call shapes as the connector, so the workloads are identical
    async def query(self, code: str, scope: str = SCOPE, **kw: Any) -> Any:
        return await self.request(QUERY, (scope, code, kw) if kw else (scope, code))

    async def run(self, proc: str, *args: Any, scope: str = SCOPE) -> Any:
        return await self.request(RUN, (scope, proc, args))

    async def join(self, room_id: int) -> None:
        await self.request(JOIN, (SCOPE, room_id))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def open_floor(host: str, port: int) -> Floor:
    loop = asyncio.get_running_loop()
    _, proto = await loop.create_connection(Floor, host, port)
    await proto.request(AUTH, [USER, PASSWORD])
    return proto


async def open_client(address: str, port: int = 9200, **settings: Any) -> Client:
    client = Client(ping_interval=None, **settings)
    await client.connect(address, port)
    await client.authenticate(USER, PASSWORD)
    client.set_default_scope(SCOPE)
    return client


# -- the node ----------------------------------------------------------------------


def blocking_request(sock: socket.socket, tp: int, payload: Any) -> Any:
    data = _enc.encode(payload)
    sock.sendall(HEADER.pack(len(data), 0, tp, tp ^ 0xFF) + data)
    head = recv_exact(sock, 8)
    size, _, rtp, _ = HEADER.unpack(head)
    value = _dec.decode(recv_exact(sock, size)) if size else None
    if rtp == ERROR:
        raise RuntimeError(value)
    return value


def recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < n:
        chunk = sock.recv(n - len(chunks))
        if not chunk:
            raise ConnectionError("the node closed the connection")
        chunks += chunk
    return bytes(chunks)


def connect_blocking(host: str, port: int) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=30)
    blocking_request(sock, AUTH, [USER, PASSWORD])
    return sock


class Node(testing.Node):
    """The node: thingsdb.testing's (free loopback ports, stopped by its
    PID), with its client port as ``port`` and a way to pin it to cores."""

    @property
    def port(self) -> int:
        return self.client_port

    def pin(self, cores: set[int]) -> None:
        os.sched_setaffinity(self.pid, cores)


def set_up(node: Node) -> int:
    """Collection, procedure, 10,000 stored things, a room; returns its id."""
    node.query("new_collection('bench');")
    node.query("new_procedure('add', |a, b| a + b);", SCOPE)
    node.query(
        ".things = range(10000).map(|i| {n: i, name: `thing {i}`, ok: true});",
        SCOPE,
    )
    room_id: int = node.query(".room = room(); .room.id();", SCOPE)
    return room_id


# -- measuring ---------------------------------------------------------------------


@dataclass
class Sample:
    n: int
    cpu: float
    wall: float

    @property
    def rps(self) -> float:
        return self.n / self.wall

    @property
    def cpu_us(self) -> float:
        return self.cpu / self.n * 1e6


async def measure(n: int, body: Callable[[], Awaitable[None]]) -> Sample:
    gc.collect()
    c0, w0 = time.process_time(), time.perf_counter()
    await body()
    c1, w1 = time.process_time(), time.perf_counter()
    return Sample(n, c1 - c0, w1 - w0)


Api = Any  # Floor or Client: both have query() and run() with these shapes


def sequential(api: Api, n: int, code: str, **kw: Any) -> Callable[[], Awaitable[None]]:
    async def body() -> None:
        query = api.query
        for _ in range(n):
            await query(code, **kw)

    return body


def pipelined(
    n: int, depth: int, make: Callable[[], Awaitable[Any]]
) -> Callable[[], Awaitable[None]]:
    async def body() -> None:
        for _ in range(n // depth):
            await asyncio.gather(*[make() for _ in range(depth)])

    return body


@dataclass
class Row:
    name: str
    floor: Sample | None
    conn: Sample
    note: str = ""
    versus: str = "floor"  # what the ratio compares with


async def best_of(
    rounds: int,
    floor_body: Callable[[], Awaitable[None]] | None,
    conn_body: Callable[[], Awaitable[None]],
    n: int,
) -> tuple[Sample | None, Sample]:
    best_f: Sample | None = None
    best_c: Sample | None = None
    for _ in range(rounds):
        if floor_body is not None:
            s = await measure(n, floor_body)
            if best_f is None or s.cpu < best_f.cpu:
                best_f = s
        s = await measure(n, conn_body)
        if best_c is None or s.cpu < best_c.cpu:
            best_c = s
    assert best_c is not None
    return best_f, best_c


# -- room events -------------------------------------------------------------------


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


def emitter_main(host: str, port: int, room_id: int, n: int) -> None:
    """The second client: wait for 'go' on stdin, emit ``n`` events."""
    with connect_blocking(host, port) as sock:
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        sys.stdin.readline()
        batch = 500
        for start in range(0, n, batch):
            count = min(batch, n - start)
            out = bytearray()
            for i in range(start, start + count):
                data = _enc.encode((SCOPE, room_id, "ev", i))
                out += HEADER.pack(len(data), i & 0x7FFF, EMIT, EMIT ^ 0xFF) + data
            sock.sendall(out)
            for _ in range(count):
                size, _, rtp, _ = HEADER.unpack(recv_exact(sock, 8))
                if size:
                    recv_exact(sock, size)
                if rtp == ERROR:
                    raise RuntimeError("emit failed")


async def events_round(
    node: Node, room_id: int, n: int, wait_done: Callable[[], Awaitable[None]]
) -> Sample:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--emitter",
        f"{node.host}:{node.port}:{room_id}:{n}",
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    assert await proc.stdout.readline() == b"ready\n"

    async def body() -> None:
        assert proc.stdin is not None
        proc.stdin.write(b"go\n")
        await wait_done()

    sample = await measure(n, body)
    await proc.wait()
    return sample


async def events_workload(node: Node, room_id: int, n: int, rounds: int) -> Row:
    floor = await open_floor(node.host, node.port)
    await floor.join(room_id)
    client = await open_client(node.host, node.port)
    room = Counter(room_id, scope=SCOPE)
    await room.join(client)
    loop = asyncio.get_running_loop()
    best_f: Sample | None = None
    best_c: Sample | None = None
    for _ in range(rounds):
        # floor alone in the room, then the connector alone
        floor.events, floor.events_wanted = 0, n
        floor.events_done = loop.create_future()
        await room.leave()
        done_f = floor.events_done

        async def wait_floor(fut: asyncio.Future[None] = done_f) -> None:
            await fut

        s = await events_round(node, room_id, n, wait_floor)
        best_f = s if best_f is None or s.cpu < best_f.cpu else best_f
        await floor.request(0x27, (SCOPE, room_id))  # LEAVE
        await room.join(client)
        room.count, room.wanted = 0, n
        room.done = loop.create_future()
        done_c = room.done

        async def wait_conn(fut: asyncio.Future[None] = done_c) -> None:
            await fut

        s = await events_round(node, room_id, n, wait_conn)
        best_c = s if best_c is None or s.cpu < best_c.cpu else best_c
        await floor.join(room_id)
    await room.leave()
    floor.close()
    await client.close_and_wait()
    assert best_c is not None
    return Row(f"{n:,} room events (received)", best_f, best_c)


# -- 100,000 in flight (child process) ---------------------------------------------


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def inflight_child(host: str, port: int, n: int, kind: str) -> dict[str, Any]:
    before = rss_mib()
    api: Api
    if kind == "floor":
        api = await open_floor(host, port)
    else:
        api = await open_client(host, port)
    await api.query("nil")
    base = rss_mib()
    c0, w0 = time.process_time(), time.perf_counter()
    if kind == "floor":
        # the bare client has no id management: at most 65,535 in flight,
        # so it sends in waves of 50,000
        results: list[Any] = []
        for start in range(0, n, 50_000):
            results += await asyncio.gather(
                *[api.query("i", i=i) for i in range(start, min(n, start + 50_000))]
            )
    else:
        results = await asyncio.gather(*[api.query("i", i=i) for i in range(n)])
    c1, w1 = time.process_time(), time.perf_counter()
    wrong = sum(1 for i, r in enumerate(results) if r != i)
    if kind == "floor":
        api.close()
    else:
        await api.close_and_wait()
    return {
        "n": n,
        "correct": len(results) - wrong,
        "wrong": wrong,
        "cpu": c1 - c0,
        "wall": w1 - w0,
        "rss_start": before,
        "rss_connected": base,
        "rss_peak": rss_mib(),
    }


def run_inflight(node: Node, n: int, kind: str, use_uvloop: bool) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--inflight", f"{node.host}:{node.port}:{n}"]
    cmd += ["--kind", kind] + (["--uvloop"] if use_uvloop else [])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(out)
    return result


# -- codec side table --------------------------------------------------------------


def codec_table(quick: bool) -> list[tuple[str, float, float]]:
    try:
        import msgpack  # type: ignore[import-untyped]
    except ImportError:
        print("(no codec table: pip install msgpack)", file=sys.stderr)
        return []
    request = ("@:stuff", "nil", {"a": 1, "name": "ada"})
    ints = list(range(100_000))
    ints_packed = msgspec.msgpack.encode(ints)
    small_answer = msgspec.msgpack.encode({"#": 42, "name": "ada", "n": 7})
    loops = 20_000 if quick else 100_000

    def per_call(fn: Callable[[], Any], k: int) -> float:
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            for _ in range(k):
                fn()
            best = min(best, (time.perf_counter() - t0) / k * 1e6)
        return best

    packer = msgpack.Packer()
    big = 20 if quick else 50
    rows = [
        (
            "encode a query payload",
            per_call(lambda: _enc.encode(request), loops),
            per_call(lambda: packer.pack(request), loops),
        ),
        (
            "decode a small thing",
            per_call(lambda: _dec.decode(small_answer), loops),
            per_call(lambda: msgpack.unpackb(small_answer), loops),
        ),
        (
            "decode 100,000 ints",
            per_call(lambda: _dec.decode(ints_packed), big),
            per_call(lambda: msgpack.unpackb(ints_packed), big),
        ),
        (
            "encode 1 MiB bytes",
            per_call(lambda: _enc.encode(("@t", "nil", {"b": bytes(MIB)})), big),
            per_call(lambda: packer.pack(("@t", "nil", {"b": bytes(MIB)})), big),
        ),
    ]
    return rows


# -- the benchmark -----------------------------------------------------------------


async def tcp_workloads(node: Node, sizes: dict[str, int], rounds: int) -> list[Row]:
    floor = await open_floor(node.host, node.port)
    client = await open_client(node.host, node.port)
    for api in (floor, client):  # warm up
        await api.query("nil")
        await asyncio.gather(*[api.query("nil") for _ in range(1000)])
        await api.run("add", 1, 2)
    rows: list[Row] = []

    async def add(name: str, n: int, fb: Any, cb: Any, note: str = "") -> None:
        f, c = await best_of(rounds, fb, cb, n)
        rows.append(Row(name, f, c, note))
        print(f"  {name}: done", file=sys.stderr)

    n = sizes["seq"]
    await add(
        "sequential nil",
        n,
        sequential(floor, n, "nil"),
        sequential(client, n, "nil"),
    )
    n = sizes["pipe"]
    await add(
        "pipelined nil (1,000 deep)",
        n,
        pipelined(n, 1000, lambda: floor.query("nil")),
        pipelined(n, 1000, lambda: client.query("nil")),
    )
    n = sizes["run"]
    await add(
        "run('add', 1, 2) sequential",
        n,
        sequential_run(floor, n),
        sequential_run(client, n),
    )
    await add(
        "run('add', 1, 2) pipelined",
        n,
        pipelined(n, 1000, lambda: floor.run("add", 1, 2)),
        pipelined(n, 1000, lambda: client.run("add", 1, 2)),
    )
    n = sizes["ints"]
    code = "range(100000);"
    assert len(await client.query(code)) == 100_000
    await add(
        "100,000-int result",
        n,
        sequential(floor, n, code),
        sequential(client, n, code),
    )
    n = sizes["things"]
    code = ".things;"
    assert len(await client.query(code)) == 10_000
    await add(
        "10,000-thing result",
        n,
        sequential(floor, n, code),
        sequential(client, n, code),
    )
    n = sizes["blob"]
    blob = os.urandom(MIB)
    await add(
        "1 MiB bytes argument",
        n,
        sequential(floor, n, "nil", b=blob),
        sequential(client, n, "nil", b=blob),
    )
    floor.close()
    await client.close_and_wait()
    return rows


def sequential_run(api: Api, n: int) -> Callable[[], Awaitable[None]]:
    async def body() -> None:
        run = api.run
        for _ in range(n):
            await run("add", 1, 2)

    return body


async def ws_workloads(node: Node, sizes: dict[str, int], rounds: int) -> list[Row]:
    rows = []
    for library in ("picows", "websockets"):
        client = await open_client(node.ws_address, websocket_library=library)
        await asyncio.gather(*[client.query("nil") for _ in range(1000)])
        n = sizes["seq"]
        _, c = await best_of(rounds, None, sequential(client, n, "nil"), n)
        rows.append(Row(f"WS {library}: sequential nil", None, c, versus="tcp"))
        n = sizes["pipe"]
        body = pipelined(n, 1000, functools.partial(client.query, "nil"))
        _, c = await best_of(rounds, None, body, n)
        rows.append(Row(f"WS {library}: pipelined nil", None, c, versus="tcp"))
        await client.close_and_wait()
    print("  WebSocket: done", file=sys.stderr)
    return rows


def fmt_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    out = [
        "| "
        + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
        + " |"
    ]
    out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        pairs = enumerate(zip(r, widths, strict=True))
        cells = [c.rjust(w) if i else c.ljust(w) for i, (c, w) in pairs]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def report(
    rows: list[Row], inflight: dict[str, dict[str, Any]], codec: Any, env: str
) -> None:
    tcp = {r.name: r for r in rows}
    table: list[list[str]] = []
    for r in rows:
        c = r.conn
        if r.versus == "tcp":
            base = tcp[
                "sequential nil"
                if "sequential" in r.name
                else "pipelined nil (1,000 deep)"
            ].conn
            table.append(
                [
                    r.name,
                    "-",
                    f"{c.rps:,.0f}",
                    "-",
                    f"{c.cpu_us:.1f}",
                    f"{c.cpu_us / base.cpu_us:.2f} x TCP",
                    f"{c.wall / c.n / (base.wall / base.n):.2f} x TCP",
                ]
            )
            continue
        f = r.floor
        assert f is not None
        table.append(
            [
                r.name,
                f"{f.rps:,.0f}",
                f"{c.rps:,.0f}",
                f"{f.cpu_us:.1f}",
                f"{c.cpu_us:.1f}",
                f"{c.cpu_us / f.cpu_us:.2f}",
                f"{c.wall / f.wall:.2f}",
            ]
        )
    print()
    print(env)
    print()
    print(
        fmt_table(
            [
                "workload",
                "floor req/s",
                "connector req/s",
                "floor CPU us/req",
                "connector CPU us/req",
                "CPU ratio",
                "time ratio",
            ],
            table,
        )
    )
    print()
    lines = []
    for kind in ("floor", "connector"):
        d = inflight[kind]
        lines.append(
            [
                kind,
                f"{d['n']:,}",
                f"{d['correct']:,}",
                f"{d['wrong']}",
                f"{d['n'] / d['wall']:,.0f}",
                f"{d['cpu'] / d['n'] * 1e6:.1f}",
                f"{d['rss_connected']:.0f}",
                f"{d['rss_peak']:.0f}",
            ]
        )
    print("100,000 requests in flight at once (fresh child process each):")
    print(
        fmt_table(
            [
                "client",
                "requests",
                "correct",
                "wrong",
                "req/s",
                "CPU us/req",
                "RSS before MiB",
                "peak RSS MiB",
            ],
            lines,
        )
    )
    if not codec:
        return
    print()
    print("Codec (microseconds per call, best of 3):")
    print(
        fmt_table(
            ["operation", "msgspec", "msgpack", "msgpack / msgspec"],
            [[name, f"{a:.2f}", f"{b:.2f}", f"{b / a:.1f}"] for name, a, b in codec],
        )
    )


async def main_async(args: argparse.Namespace, node: Node, room_id: int) -> None:
    quick = args.quick
    sizes = {
        "seq": 3_000 if quick else 10_000,
        "pipe": 20_000 if quick else 100_000,
        "run": 3_000 if quick else 10_000,
        "ints": 10 if quick else 40,
        "things": 5 if quick else 20,
        "blob": 10 if quick else 40,
        "events": 20_000,
    }
    rounds = args.repeat or (1 if quick else 3)
    rows = await tcp_workloads(node, sizes, rounds)
    rows.append(await events_workload(node, room_id, sizes["events"], rounds))
    print("  room events: done", file=sys.stderr)
    rows += await ws_workloads(node, sizes, rounds)
    inflight = {
        kind: run_inflight(node, 100_000, kind, args.uvloop)
        for kind in ("floor", "connector")
    }
    print("  in flight: done", file=sys.stderr)
    codec = codec_table(quick)
    version = node.query("node_info().load().version;", "@n")
    loop = "uvloop" if args.uvloop else "asyncio"
    env = (
        f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
        f"{platform.system()} {platform.release()}; Python "
        f"{platform.python_version()} ({loop} loop), msgspec {msgspec.__version__}; "
        f"ThingsDB {version}; {'--quick, ' if quick else ''}best of {rounds} rounds"
    )
    pinned = os.environ.get("BENCH_NODE_CORES")
    if pinned:
        mine = ",".join(map(str, sorted(os.sched_getaffinity(0))))
        env += f"; client on core {mine}, node on {pinned}"
    report(rows, inflight, codec, env)


def new_loop_policy(use_uvloop: bool) -> None:
    if use_uvloop:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests")
    parser.add_argument("--uvloop", action="store_true", help="use uvloop")
    parser.add_argument("--repeat", type=int, default=0, help="rounds per workload")
    parser.add_argument(
        "--no-pin", action="store_true", help="do not pin client and node to cores"
    )
    parser.add_argument("--emitter", help=argparse.SUPPRESS)
    parser.add_argument("--inflight", help=argparse.SUPPRESS)
    parser.add_argument("--kind", default="connector", help=argparse.SUPPRESS)
    args = parser.parse_args()
    new_loop_policy(args.uvloop)
    if args.emitter:
        if NODE_CORES:
            os.sched_setaffinity(0, NODE_CORES)  # beside the node, not the client
        host, port, room, n = args.emitter.split(":")
        emitter_main(host, int(port), int(room), int(n))
        return
    if args.inflight:
        host, port, n = args.inflight.split(":")
        result = asyncio.run(inflight_child(host, int(port), int(n), args.kind))
        print(json.dumps(result))
        return
    binary = os.environ.get("THINGSDB_BIN") or shutil.which("thingsdb")
    if not binary:
        sys.exit("no ThingsDB node binary: set THINGSDB_BIN or put thingsdb on PATH")
    with tempfile.TemporaryDirectory(prefix="tdb-bench-") as tmp:
        node = Node(binary, workdir=tmp, log_level="warning").start()
        try:
            if not args.no_pin and len(os.sched_getaffinity(0)) >= 2:
                os.environ["BENCH_NODE_CORES"] = ",".join(map(str, node_cores()))
                node.pin(node_cores())
                os.sched_setaffinity(0, client_cores())
            room_id = set_up(node)
            where = f"{node.host}:{node.port}"
            print(f"node pid {node.pid} on {where}", file=sys.stderr)
            asyncio.run(main_async(args, node, room_id))
        finally:
            node.stop()


if __name__ == "__main__":
    main()
