"""local_node(): the node thingsdb-cli --local starts, throwaway or on a
kept data folder."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from thingsdb.client import Client
from thingsdb.testing import NodeStartError, live_nodes, local_node

pytestmark = pytest.mark.node


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def store_and_read(address: tuple[str, int], code: str) -> object:
    async with Client() as client:
        await client.connect(*address, timeout=10)
        await client.authenticate("admin", "pass", timeout=10)
        return await client.query(code, timeout=10)


def test_throwaway_local_node() -> None:
    with local_node() as node:
        assert asyncio.run(store_and_read(node.address, "'local';")) == "local"
        pid, folder = node.pid, node.workdir
        assert node.log_path.name == "local.log"
    assert not running(pid)
    assert not folder.exists()
    assert node not in live_nodes()


def test_data_dir_keeps_data_between_runs(tmp_path: Path) -> None:
    data = tmp_path / "my-data"  # made when missing
    with local_node(data) as node:
        # "stuff" is the collection every new store has
        asyncio.run(store_and_read(node.address, "new_collection('notes');"))
        node.query(".greeting = 'kept';", scope="//notes")
        first_pid = node.pid
    assert not running(first_pid)
    assert (data / "local-store").is_dir()
    with local_node(data) as node:
        assert node.query(".greeting;", scope="//notes") == "kept"
        assert node.pid != first_pid
    starts = [
        line
        for line in (data / "local.log").read_text().splitlines()
        if line.startswith("-- thingsdb.testing:")
    ]
    assert len(starts) == 2
    assert starts[0].endswith("--init")
    assert not starts[1].endswith("--init")


async def test_async_local_node_with_a_fixed_port(tmp_path: Path) -> None:
    with pytest.raises(NodeStartError, match="is not a folder"):
        local_node(Path(__file__))
    async with local_node(tmp_path) as first:
        port = first.client_port
        assert await store_and_read(first.address, "1 + 1;") == 2
        # the same folder a second time, while the first holds it
        with pytest.raises(NodeStartError, match="path is locked by another"):
            await local_node(tmp_path).astart()
        assert await store_and_read(first.address, "'still here';") == "still here"
    async with local_node(tmp_path, client_port=port) as again:
        assert again.address == ("127.0.0.1", port)
        assert await store_and_read(again.address, "2 + 2;") == 4
