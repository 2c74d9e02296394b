"""Shared fixtures and hooks.

Tests marked ``node`` need a real ThingsDB node: when no binary is found
(``THINGSDB_BIN``, else ``thingsdb`` on PATH) they are all skipped with one
reason. One node serves the whole session; tests that change data make their
own collection.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Generator, Iterator
from typing import NoReturn

import pytest

import realnode
from thingsdb.client import Client


def pytest_report_header(config: pytest.Config) -> str:
    binary, reason = realnode.find_binary()
    if binary is None:
        return f"real-node tests: skipped ({reason})"
    return f"real-node tests: {binary}"


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    binary, reason = realnode.find_binary()
    if binary is not None:
        return
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if item.get_closest_marker("node") is not None:
            item.add_marker(skip)


def _report(dead: list[realnode.Node]) -> NoReturn:
    pytest.fail("\n\n".join(n.death_report() for n in dead), pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, object, object]:
    """A set-up that fails because a node is gone says so, with its log."""
    if item.get_closest_marker("node") is None:
        return (yield)
    try:
        return (yield)
    except BaseException:
        dead = realnode.dead_nodes()
        if dead:
            _report(dead)
        raise


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """A node that dies during a test fails it, with the node's last words."""
    if item.get_closest_marker("node") is None:
        return (yield)
    funcargs: dict[str, object] = getattr(item, "funcargs", {})
    gone = [
        n
        for n in funcargs.values()
        if isinstance(n, realnode.Node) and n.died_unexpectedly()
    ]
    if gone:  # died before this test started
        _report(gone)
    try:
        result = yield
    except BaseException:
        new = realnode.take_new_deaths()
        if new:
            _report(new)
        raise
    new = realnode.take_new_deaths()
    if new:
        _report(new)
    return result


@pytest.fixture(scope="session")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[realnode.Node]:
    """One ThingsDB node (fresh store) for the whole session."""
    binary, reason = realnode.find_binary()
    if binary is None:
        pytest.skip(reason)
    workdir = tmp_path_factory.mktemp("thingsdb")
    started = realnode.start_node(workdir, binary=binary)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(params=["tcp", "ws", "ws-websockets"])
async def client(
    node: realnode.Node, request: pytest.FixtureRequest
) -> AsyncIterator[Client]:
    """A connected, authenticated client on the session node; every test
    that uses it runs over TCP and over WebSocket, on each WebSocket
    library ("ws" is the default choice, picows)."""
    c = Client(
        websocket_library="websockets" if request.param == "ws-websockets" else "auto"
    )
    if request.param != "tcp":
        await c.connect(node.ws_address, timeout=10)
    else:
        await c.connect(*node.address, timeout=10)
    try:
        await c.authenticate(node.user, node.password, timeout=10)
        yield c
    finally:
        await c.close_and_wait()


@pytest.fixture
def collection(node: realnode.Node) -> Iterator[str]:
    """A new, uniquely named collection, removed afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    node.query("new_collection(name);", name=name)
    try:
        yield name
    finally:
        node.query("del_collection(name);", name=name)
