"""thingsdb.testing.Cluster against the real binary: nodes that form one
cluster, a client that fails over when one stops, and a cluster that does
not become ready in time."""

from __future__ import annotations

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


async def test_two_nodes_form_a_cluster_and_a_client_fails_over() -> None:
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
            await victim.astop()
            assert not victim.is_alive()
            # the other node answers: a read needs no quorum
            assert await client.query("has_collection('app');", timeout=60) is True
            assert client.connection_info() != used
        finally:
            await client.close_and_wait()
        pids = [n.pid for n in cluster.nodes]
        folder = cluster.workdir
    assert not any(running(pid) for pid in pids)
    assert not folder.exists()
    assert live_nodes() == []


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
    assert live_nodes() == []
    cluster.close()
    assert not cluster.workdir.exists()
