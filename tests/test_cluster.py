"""A real 3-node cluster: failover under write load with SIGTERM and SIGKILL,
rooms across a failover, a restarted node used again."""

from __future__ import annotations

import asyncio
import itertools
import logging
import signal
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

import realnode
from bothclients import AnyClient, Blocking, MakeClient
from realcluster import (
    WRITABLE_WITHIN,
    cluster_binary,
    known_everywhere,
    make_healthy,
    node_of,
    start_cluster,
    wait_cluster_ready,
)
from thingsdb.client import Client
from thingsdb.exceptions import ConnectionLostError, NodeError
from thingsdb.room import Room, event
from thingsdb.sync import Room as SyncRoom

# a test's set-up may wait for a restarted node to synchronize (up to
# realcluster.READY_TIMEOUT) before the test itself runs
pytestmark = [pytest.mark.node, pytest.mark.timeout(600)]

# nodes keep answering for this long after SIGTERM: the writes in flight at
# SIGTERM must still be replicated and answered before the node goes, and on
# a busy machine 3 seconds were once not enough (20 writes cut, each with
# ConnectionLostError); nor were 6 for release 1.9.2, which stores changes
# more slowly than the head (see realcluster.READY_TIMEOUT)
CLUSTER_CONFIG = {"shutdown_period": 15}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[realnode.Node]]:
    binary, reason = cluster_binary()
    if binary is None:
        pytest.skip(reason)
    workdir: Path = tmp_path_factory.mktemp("cluster")
    nodes = start_cluster(workdir, binary, config=CLUSTER_CONFIG)
    try:
        yield nodes
    finally:
        for node in nodes:
            node.stop()


@pytest.fixture
def healthy(cluster: list[realnode.Node]) -> list[realnode.Node]:
    """Every node up and READY before the test (an earlier test may have
    killed one)."""
    make_healthy(cluster)
    return cluster


@pytest.fixture
async def pooled(
    healthy: list[realnode.Node], make_client: MakeClient
) -> AsyncIterator[AnyClient]:
    """A client of the pool, for each client (see bothclients.py)."""
    client = make_client(reconnect_delay=0.05, reconnect_max_delay=0.5)
    await client.connect_pool([n.address for n in healthy], "admin", "pass", timeout=20)
    yield client
    await client.close_and_wait()


@pytest.fixture
async def collection(healthy: list[realnode.Node]) -> str:
    name = f"c_{uuid.uuid4().hex[:10]}"
    # after a SIGKILL under writes, the cluster holds new writes until it
    # gives up on the change the killed node had started (42 s)
    healthy[0].query("new_collection(name);", name=name, timeout=WRITABLE_WITHIN)
    healthy[0].query(".w = [];", scope=f"//{name}", timeout=WRITABLE_WITHIN)
    known_everywhere(healthy, ".w;", f"//{name}")
    return name


class Load:
    """20 tasks writing unique ids through one client, recording every
    acknowledgement and failure and the time of every answer."""

    def __init__(
        self, client: AnyClient, scope: str, timeout: float, first_id: int = 0
    ) -> None:
        self.timeout = timeout
        self.client = client
        self.scope = scope
        self.first_id = first_id
        self.next_id = first_id
        self.acked: list[int] = []
        self.acked_at: dict[int, float] = {}
        self.failed: list[tuple[int, BaseException]] = []
        self.answer_times: list[float] = []
        self.running = True
        self.tasks: list[asyncio.Task[None]] = []

    async def writer(self) -> None:
        while self.running:
            self.next_id += 1
            wid = self.next_id
            try:
                await self.client.query(
                    ".w.push(wid);", wid=wid, scope=self.scope, timeout=self.timeout
                )
            except Exception as exc:  # noqa: BLE001 - recorded and checked
                self.failed.append((wid, exc))
            else:
                self.acked.append(wid)
                self.acked_at[wid] = time.monotonic()
            self.answer_times.append(time.monotonic())

    def start(self) -> None:
        self.tasks = [asyncio.create_task(self.writer()) for _ in range(20)]

    async def stop(self) -> None:
        self.running = False
        # no request may hang: every writer ends within its timeout
        await asyncio.wait_for(asyncio.gather(*self.tasks), 30)

    def written(self, values: list[int]) -> set[int]:
        """Of ``values``, the ids this load wrote."""
        return {v for v in values if self.first_id < v <= self.next_id}

    def longest_pause(self) -> float:
        times = sorted(self.answer_times)
        return max(b - a for a, b in itertools.pairwise(times))


async def stored(
    client: AnyClient | Client, scope: str, timeout: float = 30
) -> list[int]:
    result = await client.query(".w;", scope=scope, timeout=timeout)
    assert isinstance(result, list)
    return result


async def test_sigterm_failover_loses_and_fails_nothing(
    healthy: list[realnode.Node], pooled: AnyClient, collection: str
) -> None:
    scope = f"//{collection}"
    load = Load(pooled, scope, timeout=20)
    load.start()
    await asyncio.sleep(1.0)
    before = len(load.acked)
    # the node in use now
    victim = node_of(pooled, healthy)
    victim.kill(signal.SIGTERM)
    await asyncio.sleep(3.0)
    await load.stop()
    assert len(load.acked) > before + 20, "writes did not go on after the SIGTERM"
    assert node_of(pooled, healthy) is not victim
    assert load.failed == [], f"the node that got SIGTERM:\n{victim.log_tail()}"
    values = await stored(pooled, scope)
    assert sorted(values) == sorted(load.acked)  # all stored, none twice
    assert load.longest_pause() < 1.0, load.longest_pause()


SLOW_READ = "x = 0; range(20000).each(|j| x += j); i;"


async def test_sigkill_idempotent_reads_are_sent_again(
    healthy: list[realnode.Node],
    pooled: AnyClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Reads marked idempotent survive a SIGKILL: those in flight go out
    again on the next node instead of failing as lost. (Early in the module:
    with no write in flight at the kill, the restarted node syncs at once,
    whereas after the writers' SIGKILL below it waits out a missing change.)"""
    answers: list[int] = []
    failed: list[BaseException] = []
    running = True

    async def reader(i: int) -> None:
        # reads that take the node a few milliseconds, so that some are
        # always waiting at the node when it is killed
        while running:
            try:
                answers.append(
                    await pooled.idempotent.query(SLOW_READ, i=i, timeout=20)
                )
            except Exception as exc:  # noqa: BLE001 - recorded and checked
                failed.append(exc)

    with caplog.at_level(logging.INFO, logger="thingsdb.client"):
        tasks = [asyncio.create_task(reader(i)) for i in range(20)]
        await asyncio.sleep(1.0)
        before = len(answers)
        victim = node_of(pooled, healthy)  # the node in use at the kill
        victim.kill(signal.SIGKILL)
        await asyncio.sleep(3.0)
        running = False
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
    assert failed == [], [repr(exc) for exc in failed[:5]]
    assert len(answers) > before + 20, "reads did not go on after the SIGKILL"
    assert set(answers) == set(range(20))  # each reader got its own answers
    assert node_of(pooled, healthy) is not victim
    resent = [r for r in caplog.records if "idempotent request again" in r.message]
    assert resent, "no read was in flight at the kill: nothing was tested"


class Counter(Room):
    def __init__(self, room: int | str, scope: str | None = None) -> None:
        super().__init__(room, scope)
        self.joins = 0
        self.got: list[str] = []

    async def on_join(self) -> None:
        self.joins += 1

    @event("msg")
    def on_msg(self, text: str) -> None:
        self.got.append(text)


class SyncCounter(SyncRoom):
    """Counter, as a blocking room."""

    def __init__(self, room: int | str, scope: str | None = None) -> None:
        super().__init__(room, scope)
        self.joins = 0
        self.got: list[str] = []

    def on_join(self) -> None:
        self.joins += 1

    @event("msg")
    def on_msg(self, text: str) -> None:
        self.got.append(text)


async def joined_counter(
    client: AnyClient, room_id: int, scope: str
) -> Counter | SyncCounter:
    """A Counter of the client's flavour, joined."""
    if isinstance(client, Blocking):
        blocking = SyncCounter(room_id, scope)
        await client.call(blocking.join, client.client)
        return blocking
    assert isinstance(client, Client)
    room = Counter(room_id, scope)
    await room.join(client)
    return room


async def until(predicate: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
async def test_room_keeps_receiving_after_failover(
    healthy: list[realnode.Node],
    pooled: AnyClient,
    collection: str,
    sig: signal.Signals,
) -> None:
    scope = f"//{collection}"
    room_id = await pooled.query(".r = room(); .r.id();", scope=scope, timeout=30)
    room = await joined_counter(pooled, room_id, scope)
    victim = node_of(pooled, healthy)
    victim.kill(sig)
    await until(lambda: room.joins == 2)  # joined again on the new node
    survivor = next(n for n in healthy if n is not victim)
    survivor.query(".r.emit('msg', 'after');", scope=scope, timeout=30)
    await until(lambda: room.got == ["after"])
    assert node_of(pooled, healthy) is not victim


async def test_restarted_node_is_used_again(
    healthy: list[realnode.Node], pooled: AnyClient
) -> None:
    victim = node_of(pooled, healthy)
    victim.kill(signal.SIGKILL)
    await until(
        lambda: pooled.is_connected() and node_of(pooled, healthy) is not victim
    )
    victim.restart(wait="client_port")
    wait_cluster_ready(healthy)
    # each reconnect moves on to the next node of the pool
    for _ in range(len(healthy)):
        if node_of(pooled, healthy) is victim:
            break
        task = pooled.reconnect()
        assert task is not None
        await asyncio.wait_for(task, 20)
    assert node_of(pooled, healthy) is victim
    assert await pooled.query("1 + 1;", timeout=10) == 2


async def test_a_write_waits_for_the_quorum_within_its_timeout(
    healthy: list[realnode.Node],
    collection: str,
    caplog: pytest.LogCaptureFixture,
    make_client: MakeClient,
) -> None:
    """With two of three nodes stopped, the last one answers every write
    "does not have the required quorum" (nothing ran). A client with a pool
    of that one node waits, with back-off, and the write goes through once a
    second node is back; with retry_not_ready=0 the answer is raised."""
    scope = f"//{collection}"
    lone, *others = healthy
    for node in others:
        node.kill(signal.SIGTERM)
    for node in others:
        assert node.proc is not None
        await asyncio.to_thread(node.proc.wait, 30)
    impatient = make_client(retry_not_ready=0)
    await impatient.connect_pool([lone.address], "admin", "pass", timeout=20)
    patient = make_client()
    await patient.connect_pool([lone.address], "admin", "pass", timeout=20)
    try:
        with pytest.raises(NodeError, match="required quorum"):
            await impatient.query(".w.push(1);", scope=scope, timeout=20)
        with caplog.at_level(logging.INFO, logger="thingsdb.client"):
            write = asyncio.ensure_future(
                patient.query(".w.push(2); 'stored';", scope=scope, timeout=120)
            )

            def waits() -> int:
                return sum(
                    "required quorum" in r.getMessage()
                    and "trying again" in r.getMessage()
                    for r in caplog.records
                )

            await until(lambda: waits() >= 3, timeout=60)
            assert not write.done()
            await asyncio.to_thread(others[0].restart, wait="client_port")
            assert await asyncio.wait_for(write, 120) == "stored"
        assert patient.connection_info() == f"{lone.host}:{lone.client_port}"
        assert await stored(patient, scope) == [2]
    finally:
        await impatient.close_and_wait()
        await patient.close_and_wait()


# last: after it the cluster may hold writes for most of a minute (so one
# SIGKILL serves both clients, side by side)
async def test_sigkill_failover_never_hangs_or_doubles(
    healthy: list[realnode.Node],
    collection: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scope = f"//{collection}"
    # both clients start on the same node: the one that is killed
    monkeypatch.setattr("thingsdb.engine.failover.random.randrange", lambda n: 0)
    clients: list[AnyClient] = [
        Client(reconnect_delay=0.05, reconnect_max_delay=0.5),
        Blocking(reconnect_delay=0.05, reconnect_max_delay=0.5),
    ]
    try:
        for client in clients:
            pool = [n.address for n in healthy]
            await client.connect_pool(pool, "admin", "pass", timeout=20)
        # each client its own ids
        loads = [
            Load(client, scope, timeout=3, first_id=n * 1_000_000)
            for n, client in enumerate(clients)
        ]
        for load in loads:
            load.start()
        await asyncio.sleep(1.0)
        victim = node_of(clients[0], healthy)  # the node in use at the kill
        assert node_of(clients[1], healthy) is victim
        killed_at = time.monotonic()
        victim.kill(signal.SIGKILL)
        await asyncio.sleep(8.0)
        for load in loads:
            await load.stop()  # no request hangs: each ended within its timeout
        # (a read, too, was once seen to wait 30 s and more in that window)
        values = await stored(clients[0], scope, timeout=WRITABLE_WITHIN)
        assert len(values) == len(set(values)), "a write was stored twice"
        for client, load in zip(clients, loads, strict=True):
            assert node_of(client, healthy) is not victim
            # Requests in flight at the kill fail as lost with the
            # connection. The survivors then hold every new write until they
            # give up on the change the dead node had started (the node
            # waits 42 s for a missing change), so later writes end with the
            # client's timeout: may or may not have run.
            for _, exc in load.failed:
                assert isinstance(exc, (ConnectionLostError, TimeoutError)), repr(exc)
            assert any(isinstance(exc, ConnectionLostError) for _, exc in load.failed)
            # reads need no change: the new node answers them
            assert await client.query("1 + 1;", timeout=WRITABLE_WITHIN) == 2
            # A node answers a write, then sends the change to the others:
            # killed in between, it takes the change with it (seen once: the
            # last 4 of ~15,000 writes). No client can prevent that; a write
            # acknowledged well before the kill must be there.
            mine = load.written(values)
            missing = set(load.acked) - mine
            early = sorted(w for w in missing if load.acked_at[w] < killed_at - 0.5)
            assert not early, f"acknowledged writes missing: {early[:10]}"
            # a failed write may or may not have run, but never twice
            assert mine <= set(load.acked) | {wid for wid, _ in load.failed}
    finally:
        for client in clients:
            await client.close_and_wait()
