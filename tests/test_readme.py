"""The README's Python examples, run against a real node.

Each ```python block runs as written, except that the node address
(`localhost`, port 9200 / 9270) is pointed at the test node. Blocks that use
top-level ``await`` get a connected ``client`` (and the names they import).
"""

from __future__ import annotations

import ast
import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import realnode
from thingsdb.client import Client, set_package_fail_file

pytestmark = pytest.mark.node

README = Path(__file__).resolve().parent.parent / "README.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def python_blocks() -> list[str]:
    return _BLOCK.findall(README.read_text())


def runnable(block: str) -> bool:
    # `async for` over a room waits for events forever by design; blocks
    # naming example hosts (node0.local...) would send look-ups off this
    # machine; the signature block is no code; the blocking client's
    # examples run in test_real_sync.py (which also checks their threads),
    # the migration example in test_migrate_readme.py (in its own folder),
    # the HTTP API's in test_http_readme.py (on a node with its HTTP API on)
    return (
        "async for" not in block
        and ".local" not in block
        and "thingsdb.client.Client(" not in block
        and "thingsdb.sync" not in block
        and "thingsdb.migrate" not in block
        and "thingsdb.http" not in block
    )


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


BLOCKS = [b for b in python_blocks() if runnable(b)]


def test_the_readme_has_examples() -> None:
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example(index: int, node: realnode.Node, stuff: None) -> None:
    source = point_at(BLOCKS[index], node)
    code = compile(
        source, f"README block {index}", "exec", ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
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
