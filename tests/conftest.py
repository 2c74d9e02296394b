"""Shared fixtures and hooks.

The nodes come from the package's own harness, :mod:`thingsdb.testing`, and
its pytest plugin (loaded by ``-p thingsdb.testing`` in pyproject's addopts):
``node`` is the plugin's session node, ``collection`` its per-test
collection. The plugin also fails a test during which a node died, with the
node's log.

Tests marked ``node`` need a real ThingsDB node: when no binary is found
(``THINGSDB_BIN``, else ``thingsdb`` on PATH) they are all skipped with one
reason; a ``THINGSDB_BIN`` that names no executable stops the run at once.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator

import pytest

from loopthread import LoopThread
from thingsdb.client import Client
from thingsdb.testing import BinaryError, Node, which_binary

#: make_client: the tests over both clients (see bothclients.py)
pytest_plugins = ["bothclients"]


def pytest_configure(config: pytest.Config) -> None:
    if sys.version_info < (3, 11):
        # Python 3.10's asyncio leaves the TLS transport of a connection
        # whose handshake failed unclosed (nothing reaches it: the connect
        # call raises), and says so from __del__ at some later collection;
        # 3.11's rewritten sslproto closes it. Not this library's to fix.
        config.addinivalue_line(
            "filterwarnings",
            "ignore:unclosed transport <asyncio.sslproto._SSLProtocolTransport"
            ":ResourceWarning",
        )


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    try:
        binary, reason = which_binary(
            config.getoption("thingsdb_bin"), given_as="--thingsdb-bin="
        )
    except BinaryError as exc:
        raise pytest.UsageError(str(exc)) from exc
    if binary is not None:
        return
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if item.get_closest_marker("node") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def node(thingsdb_node: Node) -> Node:
    """One ThingsDB node (fresh store) for the whole session."""
    return thingsdb_node


@pytest.fixture(params=["tcp", "ws", "ws-websockets"])
async def client(node: Node, request: pytest.FixtureRequest) -> AsyncIterator[Client]:
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
def collection(thingsdb_collection: str) -> str:
    """A new, uniquely named collection, removed afterwards."""
    return thingsdb_collection


@pytest.fixture
def loop() -> Iterator[LoopThread]:
    """An event loop in a thread of its own, for tests of the blocking
    client (a fake node or a proxy runs there)."""
    thread = LoopThread()
    try:
        yield thread
    finally:
        thread.stop()
