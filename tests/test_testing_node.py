"""thingsdb.testing.Node against the real binary: blocking and async context
managers, ports, status port, log, restart and kill, cancellation, and a
node that does not start (taken ports, never ready, exits at once)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from thingsdb.client import Client
from thingsdb.testing import (
    Node,
    NodeStartError,
    live_nodes,
    wire,
)
from thingsdb.testing import node as node_module

pytestmark = pytest.mark.node


def running(pid: int) -> bool:
    """Whether a process with this PID exists (our nodes are reaped when
    they stop, so a stopped one is gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def ask(address: tuple[str, int] | str, code: str) -> object:
    """``code`` through the connector under test."""
    client = Client()
    try:
        if isinstance(address, str):
            await client.connect(address, timeout=10)
        else:
            await client.connect(*address, timeout=10)
        await client.authenticate("admin", "pass", timeout=10)
        return await client.query(code, timeout=10)
    finally:
        await client.close_and_wait()


def test_blocking_node_lives_in_its_block() -> None:
    with Node() as node:
        ports = {node.client_port, node.node_port, node.ws_port, node.status_port}
        assert len(ports) == 4
        assert 0 not in ports
        assert node.status() == "READY"
        assert wire.status(node.host, node.status_port, "/ready", 5) == (200, "OK")
        assert node.query("a + b;", a=40, b=2) == 42
        assert node.version is not None
        assert node.version in node.query("node_info().load().version;", "@node")
        assert asyncio.run(ask(node.address, "'tcp';")) == "tcp"
        assert asyncio.run(ask(node.ws_address, "'ws';")) == "ws"
        # (the unix socket: test_real_unix.py, as this binary may crash on it)
        assert node.pipe_path.is_socket()
        pid, workdir, log = node.pid, node.workdir, node.log_path
        assert running(pid)
        assert "start listening for client connections" in log.read_text()
        assert node in live_nodes()
    assert not running(pid)
    assert not workdir.exists()  # its own temporary folder
    assert node not in live_nodes()
    assert not node.died_unexpectedly()


async def test_async_node_lives_in_its_block() -> None:
    async with Node() as node:
        assert await ask(node.address, "6 * 7;") == 42
        await node.aready()
        node.ready(wait="healthy")
        first_pid, address = node.pid, node.address
        await node.arestart()
        assert not running(first_pid)
        assert node.address == address
        assert await ask(node.address, "'back';") == "back"
        pid, workdir = node.pid, node.workdir
    assert not running(pid)
    assert not workdir.exists()
    assert node.proc is not None
    assert node.proc.returncode == 0  # SIGTERM: a clean exit


def test_restart_keeps_store_and_ports_kill_is_no_death(tmp_path: Path) -> None:
    node = Node(workdir=tmp_path).start()
    try:
        node.query("new_collection('kept');")
        address, first_pid = node.address, node.pid
        node.restart()
        assert node.address == address
        assert node.pid != first_pid
        assert not running(first_pid)
        assert node.query("has_collection('kept');") is True
        starts = [
            line for line in node.log_tail(500).splitlines() if "-- thingsdb" in line
        ]
        assert "--init" in starts[0]
        assert "--init" not in starts[-1]

        node.kill()
        assert node.proc is not None
        assert node.proc.wait(30) == -signal.SIGKILL
        assert not node.died_unexpectedly()  # killed on purpose
        node.restart()
        assert node.query("has_collection('kept');") is True
    finally:
        node.stop()
    assert not running(node.pid)
    assert tmp_path.exists()  # a given folder stays, with the log
    assert (tmp_path / "node0.log").exists()


def test_restart_takes_flags_and_a_sigterm_is_clean(tmp_path: Path) -> None:
    with Node(workdir=tmp_path) as node:
        node.restart("-l", "debug")
        assert node.query("1;") == 1
        assert "-l debug" in node.log_tail(500)
        assert node.stop() == 0


async def test_cancelled_start_leaves_nothing_running() -> None:
    # a node that waits for a secret is never READY: the start hangs until
    # cancelled
    node = Node(init=False, secret="never-sent")
    task = asyncio.create_task(node.astart(timeout=120))
    for _ in range(600):
        if node.proc is not None:
            break
        await asyncio.sleep(0.05)
    assert node.proc is not None, "the node was not launched"
    pid = node.pid
    await asyncio.sleep(0.5)  # well into waiting for READY
    assert running(pid)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not running(pid)
    assert node not in live_nodes()
    node.close()


def test_node_that_never_gets_ready_is_stopped_with_its_log() -> None:
    node = Node(init=False, secret="never-sent", ready_timeout=3)
    with pytest.raises(NodeStartError) as info:
        node.start()
    text = str(info.value)
    assert f"(pid {node.pid}) was not ready after 3" in text
    assert "status port: 503" in text
    assert "Waiting for an invite" in text  # the node's own log
    assert str(node.log_path) in text
    assert not running(node.pid)
    assert node not in live_nodes()


@pytest.fixture
def held_port() -> Iterator[tuple[socket.socket, int]]:
    """A port some other program listens on (every interface)."""
    sock = socket.socket()
    sock.bind(("0.0.0.0", 0))
    sock.listen()
    try:
        yield sock, sock.getsockname()[1]
    finally:
        sock.close()


@pytest.mark.parametrize(
    "which", ["client_port", "node_port", "ws_port", "status_port"]
)
def test_a_taken_port_is_a_clear_error(
    which: str, held_port: tuple[socket.socket, int]
) -> None:
    _, port = held_port
    node = Node(**{which: port})  # type: ignore[arg-type]
    with pytest.raises(NodeStartError) as info:
        node.start()
    text = str(info.value)
    assert "exited during start-up" in text
    assert "a port was taken" in text
    assert str(port) in text
    assert "already in use" in text or "EADDRINUSE" in text  # the node's words
    assert not running(node.pid)
    assert node not in live_nodes()


def test_a_picked_port_taken_meanwhile_is_picked_again(
    monkeypatch: pytest.MonkeyPatch, held_port: tuple[socket.socket, int]
) -> None:
    _, port = held_port
    real = node_module.free_ports
    calls: list[int] = []

    def first_one_taken(count: int, host: str = "127.0.0.1") -> list[int]:
        calls.append(count)
        ports = real(count, host)
        return [port, *ports[1:]] if len(calls) == 1 else ports

    monkeypatch.setattr(node_module, "free_ports", first_one_taken)
    with Node() as node:
        assert node.client_port != port
        assert node.query("1 + 1;") == 2
        log = node.log_path.read_text()
    assert len(calls) == 2
    assert "address already in use" in log  # the first try, kept in the log
    assert log.count("-- thingsdb.testing:") == 2


def test_a_node_that_exits_at_start_is_reported(tmp_path: Path) -> None:
    with Node(workdir=tmp_path) as first:
        # the same store, while the first node holds it
        second = Node(workdir=tmp_path)
        with pytest.raises(NodeStartError) as info:
            second.start()
        text = str(info.value)
        assert f"(pid {second.pid}) exited during start-up (exit code 1)" in text
        assert "path is locked by another process" in text
        assert str(second.log_path) in text
        assert not running(second.pid)
        assert first.query("1;") == 1  # untouched


def test_a_running_node_cannot_be_started_twice() -> None:
    with Node() as node:
        with pytest.raises(RuntimeError, match="already running"):
            node.start()
        assert node.is_alive()
