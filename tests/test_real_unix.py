"""The unix domain socket of a real node (``pipe_client_name``).

Each test has a node of its own: ThingsDB up to 1.9.3 allocates too little
memory for a unix-socket client (``stream__init_uvstream`` in
``src/ti/stream.c`` mallocs a ``uv_stream_t`` where libuv then initialises
the larger ``uv_pipe_t``), and glibc stops such a node soon after the first
unix-socket client. On a node with that bug these tests end as xfail, naming
it; on a node without it they must pass.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

import realnode
from thingsdb import exceptions as tdx
from thingsdb.client import Client

pytestmark = [pytest.mark.node, pytest.mark.timeout(60)]

SMALL = "[1 + 1, 'two', nodes_info().len()];"
SMALL_RESULT = [2, "two", 1]

#: What glibc prints when it finds the node's heap corrupted.
_HEAP_CORRUPTION = re.compile(r"glibc|malloc|free\(\)|corrupted|tcache")
_NODE_BUG = (
    "this thingsdb binary corrupts its heap when a unix-socket client "
    "connects (ThingsDB <= 1.9.3: stream__init_uvstream allocates a "
    "uv_stream_t for a uv_pipe_t); the node crashed, not the connector"
)


@pytest.fixture
def unix_node(tmp_path: Path) -> Iterator[realnode.Node]:
    binary, reason = realnode.find_binary()
    if binary is None:
        pytest.skip(reason)
    node = realnode.start_node(tmp_path, binary=binary)
    try:
        yield node
    finally:
        node.stop()


@asynccontextmanager
async def node_bug_is_xfail(node: realnode.Node) -> AsyncIterator[None]:
    """Run the test body; when the node died of the known heap bug (during
    the body or just after, as glibc may notice later), end as xfail."""
    try:
        yield
    finally:
        await asyncio.sleep(0.2)  # time for a delayed abort to happen
        if not node.is_alive() and _HEAP_CORRUPTION.search(node.log_tail(20)):
            node.exit_expected = True  # reported here, not as a death
            pytest.xfail(_NODE_BUG)


async def test_unix_socket(unix_node: realnode.Node) -> None:
    node = unix_node
    async with node_bug_is_xfail(node), Client() as c:
        await c.connect(node.unix_address)
        await c.authenticate("admin", "pass")
        assert c.connection_info() == node.unix_address
        assert c.connection_info() == f"unix:{node.pipe_path}"
        assert not c.is_websocket()
        assert await c.query(SMALL, scope="@n") == SMALL_RESULT
        blob = b"\x01" * 300_000
        assert await c.query("b;", b=blob, timeout=30) == blob
        await c.query("new_procedure('unix_add', |a, b| a + b);")
        assert await c.run("unix_add", 40, 2) == 42
        fut = c.reconnect()
        assert fut is not None
        await asyncio.wait_for(fut, 10)
        assert c.connection_info() == node.unix_address
        assert await c.query("'again';") == "again"
    assert c.connection_info() == "disconnected"
    # the node is still there and well
    assert node.query("1 + 1;") == 2


async def test_unix_socket_needs_authentication(unix_node: realnode.Node) -> None:
    node = unix_node
    async with node_bug_is_xfail(node), Client() as c:
        await c.connect(node.unix_address)
        with pytest.raises(tdx.AuthError):
            await c.query("1;")
