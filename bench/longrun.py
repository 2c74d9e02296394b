"""A long run: 1,000,000 requests with a forced reconnect every 50,000, on
the asyncio client and on the blocking client; does memory stop growing?

    python -m bench.longrun [--quick] [--requests N] [--every N]

The asyncio client sends 1,000 at a time (``asyncio.gather``), the blocking
one from 8 threads sharing the client. The resident memory (not the peak)
is read after every reconnect; the growth after the first 100,000 requests
(the warm-up: caches, free lists, the allocator's arenas) is what counts.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import threading
from collections.abc import Callable

from thingsdb.client import Client
from thingsdb.sync import Client as BlockingClient

from . import harness
from .floors import SCOPE

WARM_UP = 100_000


async def async_run(
    node: harness.Node, total: int, every: int
) -> list[tuple[int, float]]:
    client = Client(ping_interval=None)
    await client.connect(node.host, node.port)
    await client.authenticate(node.user, node.password)
    client.set_default_scope(SCOPE)
    points: list[tuple[int, float]] = []
    done = 0
    while done < total:
        for _ in range(every // 1000):
            results = await asyncio.gather(*[client.query("nil") for _ in range(1000)])
            assert len(results) == 1000
        done += every
        task = client.reconnect()
        assert task is not None
        await task
        gc.collect()
        points.append((done, harness.rss_mib()))
    await client.close_and_wait()
    return points


def blocking_run(node: harness.Node, total: int, every: int) -> list[tuple[int, float]]:
    client = BlockingClient(ping_interval=None)
    client.connect(node.host, node.port)
    client.authenticate(node.user, node.password)
    client.set_default_scope(SCOPE)
    points: list[tuple[int, float]] = []
    done = 0
    while done < total:
        in_threads(8, every // 8, lambda: client.query("nil"))
        done += every - every % 8
        client.reconnect()
        gc.collect()
        points.append((done, harness.rss_mib()))
    client.close_and_wait()
    return points


def in_threads(threads: int, each: int, call: Callable[[], object]) -> None:
    def work() -> None:
        for _ in range(each):
            call()

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()


def growth(points: list[tuple[int, float]]) -> tuple[float, float, float]:
    """(RSS after the warm-up, RSS at the end, growth between) in MiB."""
    after = next((rss for n, rss in points if n >= WARM_UP), points[0][1])
    return after, points[-1][1], points[-1][1] - after


def main(argv: list[str] | None = None) -> None:
    p = harness.parser(__doc__.split("\n")[0])
    p.add_argument("--requests", type=int, default=0, help="requests per client")
    p.add_argument("--every", type=int, default=50_000, help="reconnect every N")
    args: argparse.Namespace = p.parse_args(argv)
    total = args.requests or (200_000 if args.quick else 1_000_000)
    with harness.bench_node(args) as (node, _):
        rows = []
        for name, points in (
            ("asyncio client", asyncio.run(async_run(node, total, args.every))),
            ("blocking client", blocking_run(node, total, args.every)),
        ):
            after, end, grown = growth(points)
            curve = " ".join(f"{rss:.0f}" for _, rss in points)
            rows.append(
                [
                    name,
                    f"{points[-1][0]:,}",
                    f"{after:.1f}",
                    f"{end:.1f}",
                    f"{grown:+.1f}",
                ]
            )
            print(f"  {name}: RSS MiB after each reconnect: {curve}")
            harness.progress(name)
        print()
        print(harness.environment(node, args))
        print()
        print(f"Requests with a reconnect every {args.every:,} (RSS of this process):")
        print(
            harness.table(
                [
                    "client",
                    "requests",
                    f"RSS at {WARM_UP:,} MiB",
                    "RSS at end MiB",
                    "growth MiB",
                ],
                rows,
            )
        )


if __name__ == "__main__":
    main()
