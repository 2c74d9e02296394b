"""Typed results: a 10,000-thing result read three ways, side by side.

    python -m bench.typed [--quick] [--repeat N]

* ``dicts``: ``client.query()``, the plain result (lists and dicts);
* ``Structs, typed``: ``client.typed(list[Thing]).query()``: msgspec's
  typed decoder builds the Structs from the answer's payload;
* ``dicts, then convert``: ``msgspec.convert(client.query(), list[Thing])``,
  what a user does without the typed path.

Both clients, the same node and data as the other programs (``.things``:
10,000 things ``{#, n, name, ok}``). CPU per request of this process, best
of ``--repeat`` rounds taken in turn; ratios against ``dicts`` and against
``dicts, then convert`` of the same run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from thingsdb.client import Client
from thingsdb.sync import Client as SyncClient

from . import harness
from .floors import SCOPE
from .harness import Row, Sample

CODE = ".things;"


class Thing(msgspec.Struct):
    """One of the benchmark's things."""

    n: int
    name: str
    ok: bool
    id: int | None = msgspec.field(default=None, name="#")


async def _dicts(client: Client) -> Any:
    return await client.query(CODE)


async def _typed(client: Client) -> Any:
    return await client.typed(list[Thing]).query(CODE)


async def _convert(client: Client) -> Any:
    return msgspec.convert(await client.query(CODE), list[Thing])


def _sync_dicts(client: SyncClient) -> Any:
    return client.query(CODE)


def _sync_typed(client: SyncClient) -> Any:
    return client.typed(list[Thing]).query(CODE)


def _sync_convert(client: SyncClient) -> Any:
    return msgspec.convert(client.query(CODE), list[Thing])


WAYS = ("dicts", "Structs, typed", "dicts, then convert")


async def async_samples(node: harness.Node, n: int, rounds: int) -> list[Sample]:
    client = Client(ping_interval=None)
    await client.connect(node.host, node.port)
    await client.authenticate("admin", "pass")
    client.set_default_scope(SCOPE)
    ways = (_dicts, _typed, _convert)
    # the same result every way: the comparison is fair
    first = [await way(client) for way in ways]
    assert msgspec.convert(first[0], list[Thing]) == first[1] == first[2]
    samples: list[list[Sample]] = [[] for _ in ways]
    for _ in range(rounds):
        for way, found in zip(ways, samples, strict=True):

            async def body(way: Callable[[Client], Awaitable[Any]] = way) -> None:
                for _ in range(n):
                    await way(client)

            found.append(await harness.ameasure(n, body))
    await client.close_and_wait()
    return [harness.best(found) for found in samples]


def sync_samples(node: harness.Node, n: int, rounds: int) -> list[Sample]:
    client = SyncClient(ping_interval=None)
    client.connect(node.host, node.port)
    try:
        client.authenticate("admin", "pass")
        client.set_default_scope(SCOPE)
        ways = (_sync_dicts, _sync_typed, _sync_convert)
        samples: list[list[Sample]] = [[] for _ in ways]
        for _ in range(rounds):
            for way, found in zip(ways, samples, strict=True):

                def body(way: Callable[[SyncClient], Any] = way) -> None:
                    for _ in range(n):
                        way(client)

                found.append(harness.measure(n, body))
    finally:
        client.close()
    return [harness.best(found) for found in samples]


def rows(client: str, samples: list[Sample]) -> tuple[list[Row], list[Row]]:
    dicts, typed, convert = samples
    against_dicts = [
        Row(f"{client}: {name}", dicts, sample, versus="dicts")
        for name, sample in zip(WAYS, samples, strict=True)
    ]
    against_convert = [
        Row(f"{client}: Structs, typed", convert, typed, versus="convert"),
        Row(f"{client}: dicts", convert, dicts, versus="convert"),
    ]
    return against_dicts, against_convert


def main(argv: list[str] | None = None) -> None:
    args = harness.parser(__doc__.split("\n")[0]).parse_args(argv)
    n = 10 if args.quick else 40
    rounds = harness.rounds(args)
    with harness.bench_node(args) as (node, _room_id):
        one = rows("asyncio", asyncio.run(async_samples(node, n, rounds)))
        two = rows("blocking", sync_samples(node, n, rounds))
        print()
        print(harness.environment(node, args))
        print(f"a 10,000-thing result ({CODE}) read three ways")
        print()
        print(harness.ratio_table(one[0] + two[0], "dicts"))
        print()
        print(harness.ratio_table(one[1] + two[1], "dicts, then convert"))


if __name__ == "__main__":
    main()
