"""100,000 requests in flight at once: the asyncio client against the bare
floor, each in a fresh process so that its peak memory is its own.

    python -m bench.inflight [--quick] [--uvloop]

Both hold every request at once; the node has 65,535 request ids, so both
keep the rest in line until ids come back (the floor in a plain deque).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import resource
import time
from typing import Any

from thingsdb.client import Client

from . import harness
from .floors import SCOPE, open_async_floor


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run(host: str, port: int, n: int, kind: str) -> dict[str, Any]:
    api: Any
    if kind == "floor":
        api = await open_async_floor(host, port)
    else:
        api = Client(ping_interval=None)
        await api.connect(host, port)
        await api.authenticate("admin", "pass")
        api.set_default_scope(SCOPE)
    await api.query("nil")
    base = peak_rss_mib()
    c0, w0 = time.process_time(), time.perf_counter()
    results = await asyncio.gather(*[api.query("i", i=i) for i in range(n)])
    c1, w1 = time.process_time(), time.perf_counter()
    wrong = sum(1 for i, r in enumerate(results) if r != i)
    if kind == "floor":
        api.close()
    else:
        await api.close_and_wait()
    return {
        "kind": kind,
        "n": n,
        "wrong": wrong,
        "cpu": c1 - c0,
        "wall": w1 - w0,
        "rss_connected": base,
        "rss_peak": peak_rss_mib(),
    }


def child(host: str, port: int, n: int, kind: str, uvloop: bool, out: Any) -> None:
    if uvloop:
        import uvloop as uv

        asyncio.set_event_loop_policy(uv.EventLoopPolicy())
    out.put(asyncio.run(run(host, port, n, kind)))


def measure_in_child(
    node: harness.Node, n: int, kind: str, uvloop: bool
) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=child, args=(node.host, node.port, n, kind, uvloop, out))
    proc.start()
    result: dict[str, Any] = out.get(timeout=600)
    proc.join()
    return result


def main(argv: list[str] | None = None) -> None:
    p = harness.parser(__doc__.split("\n")[0])
    p.add_argument("--uvloop", action="store_true", help="run on uvloop")
    args: argparse.Namespace = p.parse_args(argv)
    n = 100_000
    with harness.bench_node(args) as (node, _):
        rows = []
        results = {}
        for kind in ("floor", "connector"):
            d = results[kind] = measure_in_child(node, n, kind, args.uvloop)
            rows.append(
                [
                    kind,
                    f"{d['n']:,}",
                    str(d["wrong"]),
                    f"{d['n'] / d['wall']:,.0f}",
                    f"{d['cpu'] / d['n'] * 1e6:.1f}",
                    f"{d['rss_connected']:.0f}",
                    f"{d['rss_peak']:.0f}",
                ]
            )
        harness.progress("in flight")
        print()
        print(harness.environment(node, args, "uvloop" if args.uvloop else "asyncio"))
        print()
        print(f"{n:,} requests in flight at once (a fresh process each):")
        print(
            harness.table(
                [
                    "client",
                    "requests",
                    "wrong",
                    "req/s",
                    "CPU us/req",
                    "RSS connected MiB",
                    "peak RSS MiB",
                ],
                rows,
            )
        )
        f, c = results["floor"], results["connector"]
        grown_f = f["rss_peak"] - f["rss_connected"]
        grown_c = c["rss_peak"] - c["rss_connected"]
        print(
            f"peak memory, connector / floor: {c['rss_peak'] / f['rss_peak']:.2f} "
            f"(growth while in flight: {grown_c:.0f} MiB against {grown_f:.0f} MiB)"
        )


if __name__ == "__main__":
    main()
