"""thingsdb.testing.Cluster against the real binary: nodes that form one
cluster, a client that moves to the other when one stops, and a cluster that does
not become ready in time."""

from __future__ import annotations

import asyncio
import os

import pytest

from thingsdb.client import Client
from thingsdb.testing import Cluster, NodeStartError, live_nodes

pytestmark = pytest.mark.node


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_two_nodes_form_a_cluster_and_a_client_moves_on() -> None:
    async with Cluster(2) as cluster:
        for node in cluster.nodes:
            info = node.query("nodes_info();", scope="@node")
            assert sorted(n["status"] for n in info) == ["READY", "READY"]
        client = Client(reconnect_delay=0.05, reconnect_max_delay=0.5)
        await client.connect_pool(cluster.addresses, "admin", "pass", timeout=30)
        try:
            await client.query("new_collection('app');", timeout=30)
            used = client.connection_info()
            victim = next(
                n for n in cluster.nodes if used == f"{n.host}:{n.client_port}"
            )
            assert await victim.astop() == 0
            assert not victim.is_alive()
            # the client moves to the other node (with two nodes, one left
            # is no quorum: the 3-node failover with writes is the plugin
            # test's, in tests/test_testing_plugin.py)
            for _ in range(600):
                if client.is_connected() and client.connection_info() != used:
                    break
                await asyncio.sleep(0.1)
            other = next(n for n in cluster if n is not victim)
            assert client.connection_info() == f"{other.host}:{other.client_port}"
        finally:
            await client.close_and_wait()
        pids = [n.pid for n in cluster.nodes]
        folder = cluster.workdir
    assert not any(running(pid) for pid in pids)
    assert not folder.exists()
    assert not set(cluster.nodes) & set(live_nodes())


def test_a_cluster_not_ready_in_time_is_stopped_with_the_logs() -> None:
    # a join takes ten seconds or more (the first node's AWAY_SOON period)
    cluster = Cluster(2, ready_timeout=4)
    with pytest.raises(NodeStartError) as info:
        cluster.start()
    text = str(info.value)
    assert "ThingsDB cluster of 2 not READY after 4" in text
    for node in cluster.nodes:
        assert str(node.log_path) in text
        assert not running(node.pid)
        assert node not in live_nodes()
    cluster.close()
    assert not cluster.workdir.exists()
