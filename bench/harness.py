"""What every benchmark program shares: the node (thingsdb.testing's, pinned
to a core of its own), its data, measuring, and the tables.

Client CPU is ``time.process_time()`` of this process around a workload
(the node is another process, so its CPU is not counted). On two cores or
more the client runs on one and the node (and the room events' emitter) on
the others: sharing a core, each wake-up of one evicts the other's caches,
which makes figures swing by a third between runs. Each workload runs
``--repeat`` rounds, alternating floor and connector; the round with the
least CPU of each is reported, the one least disturbed by other load.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import platform
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass

import msgspec

from thingsdb import testing

from .floors import SCOPE


class Node(testing.Node):
    """The benchmark's node, with its client port as ``port``."""

    #: the cores the node is pinned to (empty: not pinned); helper
    #: processes of the node's side (the events' emitter) go there too
    cores: frozenset[int] = frozenset()

    @property
    def port(self) -> int:
        return self.client_port


def client_cores() -> set[int]:
    return {min(os.sched_getaffinity(0))}


def node_cores() -> set[int]:
    return os.sched_getaffinity(0) - client_cores()


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="fewer requests")
    p.add_argument("--repeat", type=int, default=0, help="rounds per workload")
    p.add_argument("--no-pin", action="store_true", help="leave cores to the OS")
    return p


def rounds(args: argparse.Namespace) -> int:
    return int(args.repeat) or (1 if args.quick else 3)


@contextlib.contextmanager
def bench_node(
    args: argparse.Namespace, http_api: bool = False
) -> Iterator[tuple[Node, int]]:
    """A node with the benchmark's data (a collection, a procedure, 10,000
    things, a room), its HTTP API on with ``http_api``; yields it and the
    room's id, and stops it by its PID."""
    with tempfile.TemporaryDirectory(prefix="tdb-bench-") as tmp:
        node = Node(workdir=tmp, log_level="warning", http_api=http_api)
        node.start()
        try:
            if not args.no_pin and len(os.sched_getaffinity(0)) >= 2:
                node.cores = frozenset(node_cores())
                os.sched_setaffinity(node.pid, node.cores)
                os.sched_setaffinity(0, client_cores())
            node.query("new_collection('bench');")
            node.query("new_procedure('add', |a, b| a + b);", SCOPE)
            node.query(
                ".things = range(10000).map(|i| {n: i, name: `thing {i}`, ok: true});",
                SCOPE,
            )
            room_id: int = node.query(".room = room(); .room.id();", SCOPE)
            print(f"node pid {node.pid} on {node.host}:{node.port}", file=sys.stderr)
            yield node, room_id
        finally:
            node.stop()


def environment(node: Node, args: argparse.Namespace, loop: str = "asyncio") -> str:
    version = node.query("node_info().load().version;", "@n")
    env = (
        f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
        f"{platform.system()} {platform.release()}; Python "
        f"{platform.python_version()} ({loop} loop), msgspec {msgspec.__version__}; "
        f"ThingsDB {version}; {'--quick, ' if args.quick else ''}"
        f"best of {rounds(args)} rounds"
    )
    if node.cores:
        mine = ",".join(map(str, sorted(os.sched_getaffinity(0))))
        env += (
            f"; client on core {mine}, node on {','.join(map(str, sorted(node.cores)))}"
        )
    return env


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


def measure(n: int, body: Callable[[], object]) -> Sample:
    gc.collect()
    c0, w0 = time.process_time(), time.perf_counter()
    body()
    c1, w1 = time.process_time(), time.perf_counter()
    return Sample(n, c1 - c0, w1 - w0)


async def ameasure(n: int, body: Callable[[], Awaitable[None]]) -> Sample:
    gc.collect()
    c0, w0 = time.process_time(), time.perf_counter()
    await body()
    c1, w1 = time.process_time(), time.perf_counter()
    return Sample(n, c1 - c0, w1 - w0)


def best(samples: Sequence[Sample]) -> Sample:
    return min(samples, key=lambda s: s.cpu)


@dataclass
class Row:
    """One workload: the connector's sample against a reference's."""

    name: str
    reference: Sample | None
    conn: Sample
    #: what the ratios compare with, as printed
    versus: str = "floor"


def ratio_table(rows: Sequence[Row], reference: str = "floor") -> str:
    lines = []
    for r in rows:
        c, f = r.conn, r.reference
        if f is None:
            lines.append(
                [r.name, "-", f"{c.rps:,.0f}", "-", f"{c.cpu_us:.1f}", "-", "-"]
            )
            continue
        lines.append(
            [
                r.name,
                f"{f.rps:,.0f}",
                f"{c.rps:,.0f}",
                f"{f.cpu_us:.1f}",
                f"{c.cpu_us:.1f}",
                f"{c.cpu_us / f.cpu_us:.2f} x {r.versus}",
                f"{(c.wall / c.n) / (f.wall / f.n):.2f} x {r.versus}",
            ]
        )
    return table(
        [
            "workload",
            f"{reference} req/s",
            "connector req/s",
            f"{reference} CPU us/req",
            "connector CPU us/req",
            "CPU per request",
            "time per request",
        ],
        lines,
    )


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    out = [
        "| "
        + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
        + " |"
    ]
    out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        cells = [
            c.rjust(w) if i else c.ljust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def rss_mib() -> float:
    """The resident set now (not the peak), from /proc."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / (1 << 20)


def progress(what: str) -> None:
    print(f"  {what}: done", file=sys.stderr)
