"""``up`` when the connection is cut while it runs: the fault proxy of the
adversity tests sits between the client and a real node. Whatever the cut
hits, the record decides, and no migration is applied twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

import realnode
from adversity.faultproxy import FaultProxy
from thingsdb.client import Client
from thingsdb.migrate import MigrationInterrupted, Migrator, Progress

pytestmark = pytest.mark.node

DATA = 0x12  # the package type of a query's answer

FILES = {
    "0001_log.ti": ".log = [];\n.log.push(1);\n",
    # some work: the node is still running it when the cut comes
    "0002_slow.ti": (
        "x = 0; range(300).each(|_| range(1000).each(|i| x += i));\n.log.push(2);\n"
    ),
    "0003_last.ti": ".log.push(3);\n",
}


@pytest.fixture
async def proxy(node: realnode.Node) -> AsyncIterator[FaultProxy]:
    p = await FaultProxy(node.address).start()
    try:
        yield p
    finally:
        await p.close()


@pytest.fixture
async def client(node: realnode.Node, proxy: FaultProxy) -> AsyncIterator[Client]:
    c = Client(reconnect_delay=0.01, reconnect_max_delay=0.2, connect_timeout=5)
    await c.connect(*proxy.address, timeout=10)
    try:
        await c.authenticate(node.user, node.password, timeout=10)
        yield c
    finally:
        proxy.heal()
        await c.close_and_wait()


def folder_of(tmp_path: Path) -> Path:
    folder = tmp_path / "m"
    folder.mkdir()
    for name, text in FILES.items():
        (folder / name).write_text(text)
    return folder


def log_of(node: realnode.Node, collection: str) -> object:
    return node.query(".get('log');", f"//{collection}")


def at(number: int, action: Callable[[], None]) -> Callable[[Progress], None]:
    """An on_progress callback that calls ``action()`` once, just before
    migration ``number`` is sent."""
    done = False

    def callback(progress: Progress) -> None:
        nonlocal done
        applying = progress.event == "applying"
        if applying and progress.migration.number == number and not done:
            done = True
            action()

    return callback


async def test_answer_cut_after_the_node_applied(
    client: Client,
    proxy: FaultProxy,
    node: realnode.Node,
    collection: str,
    tmp_path: Path,
) -> None:
    """The node applies migration 2, its answer is cut half-way: ``up``
    reads the record on the new connection, sees 2 applied, goes on."""
    migrator = Migrator(client, folder_of(tmp_path), collection)
    events: list[Progress] = []

    def on_progress(progress: Progress) -> None:
        events.append(progress)
        if progress.event == "applying" and progress.migration.number == 2:
            proxy.cut_mid_package(keep=5, types=frozenset({DATA}))

    result = await migrator.up(on_progress=on_progress)
    assert proxy.faults_applied == 1
    assert proxy.accepted >= 2  # it came back on a new connection
    assert [m.number for m in result.applied] == [1, 2, 3]
    notes = {e.migration.number: e.note for e in events if e.event == "applied"}
    assert notes[2] == "confirmed from the record after the connection was lost"
    assert log_of(node, collection) == [1, 2, 3]

    again = await migrator.up()
    assert again.applied == ()
    assert log_of(node, collection) == [1, 2, 3]


async def test_cut_after_the_node_applied_before_the_answer(
    client: Client,
    proxy: FaultProxy,
    node: realnode.Node,
    collection: str,
    tmp_path: Path,
) -> None:
    """The proxy holds what the node sends while the node runs migration 2;
    once the node has applied it (seen on a connection of our own), the
    connection is cut: nobody hears the answer, the record says applied."""
    migrator = Migrator(client, folder_of(tmp_path), collection)
    loop = asyncio.get_running_loop()
    watchers: list[asyncio.Task[None]] = []

    async def cut_once_applied() -> None:
        applied = False
        while not applied:
            await asyncio.sleep(0.01)
            applied = await asyncio.to_thread(log_of, node, collection) == [1, 2]
        proxy.cut()
        proxy.heal()

    def stall() -> None:
        proxy.stall()
        watchers.append(loop.create_task(cut_once_applied()))

    result = await migrator.up(on_progress=at(2, stall))
    await asyncio.gather(*watchers)
    assert proxy.accepted >= 2
    assert [m.number for m in result.applied] == [1, 2, 3]
    assert log_of(node, collection) == [1, 2, 3]


async def test_request_cut_before_the_node_saw_it(
    client: Client,
    proxy: FaultProxy,
    node: realnode.Node,
    collection: str,
    tmp_path: Path,
) -> None:
    """Migration 2's request is held in the proxy and the connection cut:
    the node never ran it. ``up`` reads the record, says so and stops; a
    second ``up`` applies 2 and 3, each once."""
    folder = folder_of(tmp_path)
    loop = asyncio.get_running_loop()

    def hold_then_cut() -> None:
        proxy.delay = 2.0  # the request waits in the proxy...

        def cut() -> None:
            proxy.cut()  # ...and never reaches the node
            proxy.heal()

        loop.call_later(0.3, cut)

    with pytest.raises(MigrationInterrupted) as info:
        await Migrator(client, folder, collection).up(on_progress=at(2, hold_then_cut))
    assert info.value.migration.number == 2
    assert info.value.applied is False
    assert "the record shows it was not applied" in str(info.value)
    assert log_of(node, collection) == [1]

    result = await Migrator(client, folder, collection).up()
    assert [m.number for m in result.applied] == [2, 3]
    assert log_of(node, collection) == [1, 2, 3]
