"""The documentation's Python examples (README.md and every page of the
site, ``docs/**/*.md``), run against a real node.

Each ```python block runs as written, except that the node address
(`localhost`, port 9200 / 9270) is pointed at the test node. Blocks that use
top-level ``await`` get a connected ``client`` (and the names they import).
The blocks this test leaves out run in the tests named in ``RUN_ELSEWHERE``
(or cannot run at all: ``NOT_RUN``); ``test_every_block_is_accounted_for``
holds that each block is run here or there.
"""

from __future__ import annotations

import ast
import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

import realnode
from docpages import python_blocks
from thingsdb.client import Client, set_package_fail_file

pytestmark = pytest.mark.node

#: pages whose examples talk to the nodes the page itself starts (on the
#: ports it gives): test_docs_nodes.py runs the page's steps in order
BY_HAND = (
    "docs/getting-started/node-by-hand.md",
    "docs/getting-started/cluster-by-hand.md",
)

#: what marks a block that runs in another test, and that test: the
#: blocking client's examples in test_real_sync.py (which also checks
#: their threads), the migration example in test_migrate_readme.py (in its
#: own folder, with the commands around it), the HTTP API's in
#: test_http_readme.py (on a node with its HTTP API on)
RUN_ELSEWHERE = {
    "thingsdb.sync": "test_real_sync.py",
    "thingsdb.migrate": "test_migrate_readme.py",
    "thingsdb.http": "test_http_readme.py",
}

#: blocks that cannot run as written, and why: `async for` over a room
#: waits for events forever by design (a room's async iteration runs in
#: test_real_rooms.py); example hosts (node0.local...) would send look-ups
#: off this machine (connect_pool() over real nodes runs in the
#: cluster-by-hand page's example, test_docs_nodes.py, and in
#: test_cluster.py); a signature is no code (the constructor's settings
#: run in test_real_node.py)
NOT_RUN = ("async for", ".local", "thingsdb.client.Client(")


def where_it_runs(page: str, block: str) -> str:
    """The test that runs a block, or why none does."""
    if page in BY_HAND:
        return "test_docs_nodes.py"
    for marker, test in RUN_ELSEWHERE.items():
        if marker in block:
            return test
    for marker in NOT_RUN:
        if marker in block:
            return f"not run: {marker}"
    return "test_docs.py"


def runnable(page: str, block: str) -> bool:
    return where_it_runs(page, block) == "test_docs.py"


def point_at(block: str, node: realnode.Node) -> str:
    block = block.replace('"ws://localhost:9270"', repr(node.ws_address))
    host, port = node.address
    block = block.replace("@localhost:9200/", f"@{host}:{port}/")
    return block.replace('connect("localhost")', f"connect{node.address!r}")


@pytest.fixture
def stuff(node: realnode.Node) -> Iterator[None]:
    """The examples use the collection `stuff`, which a new node has; it is
    emptied afterwards (not re-created: other tests expect the original)."""
    node.query("has_collection('stuff') || new_collection('stuff');")
    yield
    node.query(".keys().each(|k| .del(k));", scope="//stuff")


ALL = python_blocks()
BLOCKS = [(page, block) for page, block in ALL if runnable(page, block)]


def test_the_pages_have_examples() -> None:
    assert len(BLOCKS) >= 15
    assert any(page == "README.md" for page, _ in BLOCKS)


def test_every_block_is_accounted_for() -> None:
    """Each block is run here or by the test named for it; the blocks that
    cannot run are few and of the kinds NOT_RUN explains."""
    places = [where_it_runs(page, block) for page, block in ALL]
    assert all(p.startswith("not run") or p.startswith("test_") for p in places), places
    assert sum(p.startswith("not run") for p in places) <= 6, places


def _id(index: int) -> str:
    page, _ = BLOCKS[index]
    return f"{page.removeprefix('docs/')}-{index}"


@pytest.mark.parametrize("index", range(len(BLOCKS)), ids=_id)
def test_docs_example(index: int, node: realnode.Node, stuff: None) -> None:
    page, block = BLOCKS[index]
    source = point_at(block, node)
    # dont_inherit: the block runs as a reader's file would, without this
    # module's `from __future__ import annotations` (which would leave a
    # class's annotations as strings that name nothing in this namespace)
    code = compile(
        source,
        f"{page} block {index}",
        "exec",
        ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
        dont_inherit=True,
    )
    if "asyncio.run(" in source:
        exec(code, {"__name__": "readme"})  # a complete program
        return

    async def run_block() -> None:
        client = Client()
        await client.connect(*node.address)
        await client.authenticate("admin", "pass")
        namespace: dict[str, Any] = {"client": client, "Client": Client}
        try:
            result = eval(code, namespace)
            if asyncio.iscoroutine(result):
                await result
        finally:
            await client.close_and_wait()
            other = namespace.get("client")
            if isinstance(other, Client) and other is not client:
                await other.close_and_wait()

    try:
        asyncio.run(run_block())
    finally:
        set_package_fail_file("")
