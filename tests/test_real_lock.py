"""The distributed lock (thingsdb.misc.lock) against a real node: processes
that share a counter, a holder killed while it holds the lock, waiters served
in order, giving up, running past the timeout."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

import realnode
from thingsdb import exceptions as tdx
from thingsdb.client import Client
from thingsdb.misc import lock as lock_module
from thingsdb.misc.lock import DEFAULT_SCOPE, lock, locked, setup

pytestmark = [pytest.mark.node, pytest.mark.timeout(60)]

#: A separate Python process that takes the lock (host, port, mode, lock
#: collection, lock name, then per mode: counter collection and rounds, or
#: the lock's timeout). Modes: "count" does read-modify-write rounds on
#: `.counter`, each under the lock; "hold" takes the lock and keeps it.
WORKER = """
import asyncio, sys, time
from thingsdb.client import Client
from thingsdb.misc.lock import lock

async def main():
    host, port, mode, scope, name = sys.argv[1:6]
    client = Client()
    await client.connect(host, int(port))
    await client.authenticate("admin", "pass")
    try:
        if mode == "count":
            counter_scope, rounds = sys.argv[6], int(sys.argv[7])
            print("ready", flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
            for _ in range(rounds):
                async with lock(client, name, scope=scope, timeout=30):
                    value = await client.query(".counter;", scope=counter_scope)
                    await asyncio.sleep(0.002)  # others would slip in here
                    await client.query(
                        ".counter = value;", value=value + 1, scope=counter_scope
                    )
            print("done", flush=True)
        elif mode == "hold":
            async with lock(client, name, scope=scope, timeout=int(sys.argv[6])):
                print("locked", time.time(), flush=True)
                await asyncio.sleep(3600)
    finally:
        await client.close_and_wait()

asyncio.run(main())
"""


class Worker:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def line(self, timeout: float = 20.0) -> str:
        assert self.proc.stdout is not None
        raw = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not raw:
            assert self.proc.stderr is not None
            err = await self.proc.stderr.read()
            raise AssertionError(f"worker ended early:\n{err.decode()}")
        return raw.decode().strip()

    async def send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode() + b"\n")
        await self.proc.stdin.drain()

    async def finish(self, timeout: float = 30.0) -> None:
        _, err = await asyncio.wait_for(self.proc.communicate(), timeout)
        assert self.proc.returncode == 0, err.decode()


@pytest.fixture
async def workers() -> AsyncIterator[list[Worker]]:
    """Start workers with ``start(*args)``; any still running afterwards are
    killed by their PID."""
    started: list[Worker] = []
    yield started
    for w in started:
        if w.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(w.proc.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(w.proc.communicate(), 10)


@pytest.fixture
def script(tmp_path: Path) -> Path:
    """The worker's source, as a file."""
    path = tmp_path / "worker.py"
    path.write_text(WORKER)
    return path


async def start_worker(
    started: list[Worker], script: Path, node: realnode.Node, *args: str
) -> Worker:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        node.host,
        str(node.client_port),
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    w = Worker(proc)
    started.append(w)
    return w


@pytest.fixture
async def tcp_client(node: realnode.Node) -> AsyncIterator[Client]:
    """For the tests whose other side is processes (those use TCP)."""
    c = Client()
    await c.connect(*node.address, timeout=10)
    try:
        await c.authenticate(node.user, node.password, timeout=10)
        yield c
    finally:
        await c.close_and_wait()


@pytest.fixture
def lock_scope(node: realnode.Node) -> Iterator[str]:
    """A lock collection that does not exist yet; removed afterwards."""
    name = f"locks_{uuid.uuid4().hex[:10]}"
    yield f"@:{name}"
    node.query("has_collection(name) && del_collection(name); nil;", name=name)


async def connect_like(client: Client, node: realnode.Node) -> Client:
    """Another client on the same transport as ``client``."""
    c = Client()
    if client.is_websocket():
        await c.connect(node.ws_address, timeout=10)
    else:
        await c.connect(*node.address, timeout=10)
    await c.authenticate(node.user, node.password, timeout=10)
    return c


def unique_name() -> str:
    return f"lock-{uuid.uuid4().hex[:8]}"


async def queue_length(client: Client, name: str, scope: str = DEFAULT_SCOPE) -> int:
    length: int = await client.query(
        "lk = .locks.get('lock:' + name); is_nil(lk) ? 0 : lk.queue.len();",
        name=name,
        scope=scope,
    )
    return length


async def until(
    check: Callable[[], Awaitable[bool]], what: str, timeout: float = 10.0
) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        await asyncio.sleep(0.02)


# -- across processes ----------------------------------------------------------


async def test_no_lost_update_across_processes(
    node: realnode.Node,
    tcp_client: Client,
    collection: str,
    lock_scope: str,
    workers: list[Worker],
    script: Path,
) -> None:
    """Processes increment one counter (read, pause, write) under the lock;
    they also race to create the lock's collection."""
    processes, rounds = 4, 12
    counter_scope = f"//{collection}"
    await tcp_client.query(".counter = 0;", scope=counter_scope)
    name = unique_name()
    group = [
        await start_worker(
            workers,
            script,
            node,
            "count",
            lock_scope,
            name,
            counter_scope,
            str(rounds),
        )
        for _ in range(processes)
    ]
    for w in group:
        assert await w.line() == "ready"
    for w in group:
        await w.send("go")
    for w in group:
        assert await w.line(timeout=40) == "done"
        await w.finish()
    assert (
        await tcp_client.query(".counter;", scope=counter_scope) == processes * rounds
    )
    assert await locked(tcp_client, name, lock_scope) is False
    assert await tcp_client.query("tasks().len();", scope=lock_scope) == 0


async def test_killed_holder_is_released_after_its_timeout(
    node: realnode.Node, tcp_client: Client, workers: list[Worker], script: Path
) -> None:
    name = unique_name()
    holder = await start_worker(workers, script, node, "hold", DEFAULT_SCOPE, name, "2")
    word, when = (await holder.line()).split()
    assert word == "locked"
    taken = float(when)  # the holder's clock, right after it got the lock
    assert await locked(tcp_client, name) is True
    os.kill(holder.proc.pid, signal.SIGKILL)  # dies holding the lock
    await holder.proc.wait()

    async with lock(tcp_client, name, timeout=5):
        waited = time.time() - taken
    # free after more than its timeout (2 s) and at most 2 s more (the node
    # counts whole seconds); 1.9: the holder printed just after the node
    # gave it the lock
    assert 1.9 < waited < 5.5, waited
    assert await locked(tcp_client, name) is False
    assert await queue_length(tcp_client, name) == 0


# -- in one process, several clients -------------------------------------------


async def test_waiters_are_served_in_order(node: realnode.Node, client: Client) -> None:
    name = unique_name()
    others = [await connect_like(client, node) for _ in range(3)]
    served: list[int] = []
    inside = 0

    async def waiter(c: Client, i: int) -> None:
        nonlocal inside
        async with lock(c, name, timeout=10):
            inside += 1
            assert inside == 1, "two holders at once"
            served.append(i)
            await asyncio.sleep(0.05)
            inside -= 1

    try:
        async with lock(client, name, timeout=10) as ticket:
            assert isinstance(ticket, int)
            tasks = []
            for i, c in enumerate(others, 1):
                tasks.append(asyncio.create_task(waiter(c, i)))
                queued = functools.partial(_has_length, client, name, i + 1)
                await until(queued, f"waiter {i} queued")
            await asyncio.sleep(0.2)
            assert served == []  # nobody got in meanwhile
        await asyncio.wait_for(asyncio.gather(*tasks), 20)
        assert served == [1, 2, 3]
        assert await locked(client, name) is False
        for c in [client, *others]:
            assert c.get_rooms() == ()  # ticket rooms end with their tickets
    finally:
        for c in others:
            await c.close_and_wait()


async def _has_length(client: Client, name: str, n: int) -> bool:
    return await queue_length(client, name) == n


async def test_wait_limit_gives_the_place_up(
    node: realnode.Node, client: Client
) -> None:
    name = unique_name()
    other = await connect_like(client, node)
    try:
        async with lock(client, name):
            started = time.monotonic()
            with pytest.raises(tdx.TimeoutError, match=name):
                async with lock(other, name, wait=0.3):
                    pytest.fail("got a held lock")
            assert time.monotonic() - started < 3
            assert await queue_length(client, name) == 1

            # giving up before the ticket's answer came: it is given back
            for _ in range(3):
                with pytest.raises(tdx.TimeoutError):
                    async with lock(other, name, wait=0.0001):
                        pytest.fail("got a held lock")
            await until(lambda: _has_length(client, name, 1), "tickets given back")

            # a cancelled waiter leaves the queue too
            # (once it waits in its ticket's room: cancelled before the
            # ticket's answer came, the give-back runs in the background,
            # which the loop above covers)
            task = asyncio.create_task(_enter(other, name))
            await until(lambda: _has_length(client, name, 2), "waiter queued")
            await until(lambda: _is_waiting(other), "waiter in its room")
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert await queue_length(client, name) == 1
        assert await locked(client, name) is False
        # the lock is free for the one that gave up
        async with lock(other, name, wait=5):
            assert await locked(client, name) is True
    finally:
        await other.close_and_wait()


async def _is_waiting(c: Client) -> bool:
    return len(c.get_rooms()) == 1


async def _enter(c: Client, name: str) -> None:
    async with lock(c, name):
        pytest.fail("got a held lock")


async def test_holder_past_its_timeout_loses_the_lock(
    node: realnode.Node, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    name = unique_name()
    other = await connect_like(client, node)
    try:
        with caplog.at_level(logging.WARNING, logger="thingsdb.lock"):
            async with lock(client, name, timeout=1):
                started = time.monotonic()
                async with lock(other, name, timeout=5, wait=10):
                    waited = time.monotonic() - started
            assert 0.5 < waited < 4, waited
        assert any("longer than its timeout" in r.getMessage() for r in caplog.records)
    finally:
        await other.close_and_wait()


@pytest.mark.parametrize("name", ["#", " ", "", "a lock/with:any \u00e9 text"])
async def test_any_name(client: Client, name: str) -> None:
    async with lock(client, name, timeout=5):
        assert await locked(client, name) is True
    assert await locked(client, name) is False


async def test_an_error_in_the_block_releases(client: Client) -> None:
    name = unique_name()
    with pytest.raises(KeyError):
        async with lock(client, name):
            raise KeyError("inside")
    assert await locked(client, name) is False


# -- set-up and arguments ------------------------------------------------------


async def test_setup_is_idempotent_and_takes_a_name(
    client: Client, lock_scope: str
) -> None:
    bare = lock_scope[2:]  # "@:name" -> "name"
    await asyncio.gather(*(setup(client, bare) for _ in range(3)))
    await setup(client, lock_scope)
    procedures = await client.query("procedures_info();", scope=lock_scope)
    assert sorted(p["name"] for p in procedures) == [
        "lock_acquire",
        "lock_locked",
        "lock_release",
        "lock_ticket",
    ]
    async with lock(client, "x", scope=bare):
        assert await locked(client, "x", scope=lock_scope) is True


async def test_set_up_again_when_the_collection_went_away(
    client: Client, lock_scope: str
) -> None:
    async with lock(client, "x", scope=lock_scope):
        pass
    await client.del_collection(lock_scope[2:])
    async with lock(client, "x", scope=lock_scope):  # set up once more
        assert await locked(client, "x", scope=lock_scope) is True


async def test_compatible_module_api(client: Client) -> None:
    """``from thingsdb.misc import lock`` is the module, as in python-thingsdb."""
    name = unique_name()
    await lock_module.setup(client)
    async with lock_module.lock(client=client, name=name, timeout=5):
        assert await lock_module.locked(client, name) is True
    assert await lock_module.locked(client, name) is False


async def test_bad_arguments(client: Client) -> None:
    with pytest.raises(ValueError, match="timeout"):
        async with lock(client, "x", timeout=0):
            pass
    with pytest.raises(TypeError, match="name"):
        async with lock(client, 1):  # type: ignore[arg-type]
            pass
    with pytest.raises(ValueError, match="collection scope"):
        async with lock(client, "x", scope="@thingsdb"):
            pass
    with pytest.raises(ValueError, match="wait"):
        async with lock(client, "x", wait=0):
            pass
