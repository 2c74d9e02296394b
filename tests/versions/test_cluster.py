"""thingsdb.testing's Cluster and the client's failover against each
release: two nodes, a room listener, SIGTERM of the node in use."""

from __future__ import annotations

from typing import Any

import pytest

from thingsdb.client import Client
from thingsdb.room import Room, event
from thingsdb.testing import Cluster

from .test_api_async import until

pytestmark = [pytest.mark.node, pytest.mark.timeout(180)]


class Listener(Room):
    def on_init(self) -> None:
        self.got: list[Any] = []
        self.joins = 0

    async def on_join(self) -> None:
        self.joins += 1

    @event("tick")
    def on_tick(self, n: int) -> None:
        self.got.append(n)


async def test_failover_in_a_cluster(tier_binary: str) -> None:
    async with Cluster(2, tier_binary) as cluster:
        client = Client(reconnect_delay=0.05)
        await client.connect_pool(cluster.addresses, "admin", "pass", timeout=30)
        try:
            await client.query("new_collection('c');", scope="@t", timeout=30)
            room_id = await client.query(".r = room(); .r.id();", scope="//c")
            listener = Listener(room_id, "//c")
            await listener.join(client, wait=10)
            await client.query(".r.emit('tick', 1);", scope="//c")
            used = client.connection_info()
            stopped = next(n for n in cluster if used == f"{n.host}:{n.client_port}")
            await stopped.astop()
            # the other node takes the client, and the room is joined there
            await until(
                lambda: client.connection_info() not in (used, "disconnected"), 60
            )
            await until(lambda: listener.joins == 2)
            await listener.emit("tick", 2)
            await until(lambda: listener.got == [1, 2])
        finally:
            await client.close_and_wait()
