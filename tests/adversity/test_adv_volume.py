"""200,000 requests through one client, with random timeouts (some far too
short) and random cancellations: afterwards the pending-request table is
empty, and the process does not grow from one round to the next."""

from __future__ import annotations

import asyncio
import gc
import os
import random

import pytest

from thingsdb.client import Client
from thingsdb.exceptions import TimeoutError as ClientTimeoutError

from . import tally
from .helpers import pending, settled

pytestmark = [pytest.mark.adversity, pytest.mark.node]

ROUNDS = 10
PER_ROUND = 20_000
#: requests in flight at once
WINDOW = 2_000
#: RSS may grow this much after the 2nd round (allocator noise)
TOLERANCE = 4 * 1024 * 1024
#: live Python objects may grow this much after the 2nd round
OBJECT_TOLERANCE = 2_000


def rss() -> int:
    with open("/proc/self/statm") as f:
        resident = int(f.read().split()[1])
    return resident * os.sysconf("SC_PAGE_SIZE")


async def _one(client: Client, i: int, timeout: float) -> str:
    got = await client.query("x", x=i, timeout=timeout)
    if got != i:
        raise AssertionError(f"request {i} got {got!r}")
    return "ok"


async def _round(client: Client, rnd: random.Random, base: int) -> dict[str, int]:
    counts = {"ok": 0, "timeout": 0, "cancelled": 0}
    for start in range(base, base + PER_ROUND, WINDOW):
        tasks: list[asyncio.Task[str]] = []
        for i in range(start, start + WINDOW):
            # 10 % hopeless timeouts, the rest generous
            timeout = rnd.uniform(1e-5, 2e-3) if rnd.random() < 0.1 else 30.0
            tasks.append(asyncio.ensure_future(_one(client, i, timeout)))
        # cancel about 10 % of them, at random moments
        victims = rnd.sample(tasks, WINDOW // 10)
        for n, task in enumerate(victims):
            if n % 4 == 0:
                await asyncio.sleep(0)
            task.cancel()
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if result == "ok":
                counts["ok"] += 1
            elif isinstance(result, asyncio.CancelledError):
                counts["cancelled"] += 1
            elif isinstance(result, ClientTimeoutError):
                counts["timeout"] += 1
            else:
                raise AssertionError(f"unexpected outcome {result!r}")
    return counts


async def test_200k_requests(direct: Client) -> None:
    client = direct
    rnd = random.Random(8)
    sizes: list[int] = []
    objects: list[int] = []
    totals = {"ok": 0, "timeout": 0, "cancelled": 0}
    for r in range(ROUNDS):
        counts = await _round(client, rnd, r * PER_ROUND)
        for k, v in counts.items():
            totals[k] += v
        tally.tried["requests"] += PER_ROUND
        tally.tried["cancellations"] += counts["cancelled"]
        # late answers of timed-out and cancelled requests come in and free
        # their ids
        await settled(client, 20.0)
        tally.check("the pending table is empty after each round", True)
        gc.collect()
        sizes.append(rss())
        objects.append(len(gc.get_objects()))
    assert pending(client) == 0
    assert totals["ok"], totals
    assert totals["timeout"], totals
    assert totals["cancelled"], totals
    assert sum(totals.values()) == ROUNDS * PER_ROUND
    growth = max(sizes[2:]) - sizes[1]
    mib = [round(s / 2**20, 1) for s in sizes]
    assert tally.check(
        "memory does not grow from round to round", growth < TOLERANCE
    ), f"RSS per round (MiB): {mib}"
    more = max(objects[2:]) - objects[1]
    assert tally.check(
        "live objects do not grow from round to round", more < OBJECT_TOLERANCE
    ), f"live objects per round: {objects}"
    # the client still answers normally
    assert await client.query("x", x="end", timeout=10) == "end"
    print(f"200k requests: {totals}; RSS per round (MiB): {mib}; objects {objects}")
