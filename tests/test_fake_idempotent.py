"""client.idempotent: a request whose connection dies after it was written is
sent again on the next connection, a bounded number of times; plain
requests are never sent twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bothclients import AnyClient, MakeClient
from fakenode import FakeNode, Handler, NodeConnection, default_handler
from thingsdb.engine.requests import MAX_RESENDS
from thingsdb.exceptions import ConnectionLostError
from thingsdb.protocol import Package, PackageType

HOST = "127.0.0.1"


def cutting(times: int) -> tuple[list[int], Handler]:
    """A handler that cuts the connection on the first ``times`` queries or
    runs it receives (after they were written), and answers the rest."""
    seen = [0]

    def handler(conn: NodeConnection, pkg: Package) -> None:
        if pkg.type in (PackageType.QUERY, PackageType.RUN):
            seen[0] += 1
            if seen[0] <= times:
                conn.cut()
                return
        default_handler(conn, pkg)

    return seen, handler


@pytest.fixture
async def node() -> AsyncIterator[FakeNode]:
    async with FakeNode() as fake:
        yield fake
        assert fake.errors == [], "a fake node handler raised"


async def connected(
    node: FakeNode, make_client: MakeClient, **kwargs: object
) -> AnyClient:
    client = make_client(reconnect_delay=0.01, reconnect_max_delay=0.05, **kwargs)
    await client.connect(HOST, node.port)
    await client.authenticate("admin", "pass")
    return client


async def test_a_lost_idempotent_query_is_sent_again(
    node: FakeNode, make_client: MakeClient
) -> None:
    seen, node.handler = cutting(2)
    client = await connected(node, make_client)
    try:
        answer = await client.idempotent.query("x = 1;", timeout=5)
        assert answer == "x = 1;"
        assert seen[0] == 3  # sent three times: two cut, one answered
        assert len(node.connections) == 3
    finally:
        await client.close_and_wait()


async def test_a_lost_idempotent_run_is_sent_again(
    node: FakeNode, make_client: MakeClient
) -> None:
    seen, node.handler = cutting(1)
    client = await connected(node, make_client)
    try:
        assert await client.idempotent.run("proc", 1, 2, timeout=5) == ["proc", [1, 2]]
        assert seen[0] == 2
    finally:
        await client.close_and_wait()


async def test_a_plain_query_is_never_sent_again(
    node: FakeNode, make_client: MakeClient
) -> None:
    seen, node.handler = cutting(1)
    client = await connected(node, make_client)
    try:
        with pytest.raises(ConnectionLostError, match="may or may not have run"):
            await client.query("x = 1;", timeout=5)
        await asyncio.sleep(0.1)  # a resend would arrive meanwhile
        assert seen[0] == 1
    finally:
        await client.close_and_wait()


async def test_resends_are_bounded(node: FakeNode, make_client: MakeClient) -> None:
    seen, node.handler = cutting(100)
    client = await connected(node, make_client)
    try:
        with pytest.raises(ConnectionLostError):
            await client.idempotent.query("x = 1;", timeout=5)
        assert seen[0] == 1 + MAX_RESENDS
    finally:
        await client.close_and_wait()


async def test_without_auto_reconnect_nothing_is_sent_again(
    node: FakeNode, make_client: MakeClient
) -> None:
    seen, node.handler = cutting(1)
    client = await connected(node, make_client, auto_reconnect=False)
    try:
        with pytest.raises(ConnectionLostError):
            await client.idempotent.query("x = 1;", timeout=5)
        assert seen[0] == 1
    finally:
        await client.close_and_wait()


async def test_bad_input_is_refused_before_sending(
    node: FakeNode, make_client: MakeClient
) -> None:
    client = await connected(node, make_client)
    try:
        with pytest.raises(ValueError, match="is not a ThingsDB scope"):
            await client.idempotent.query("1;", scope="stuff")
        with pytest.raises(TypeError, match="either by position or by name"):
            await client.idempotent.run("p", 1, a=2)
        with pytest.raises(ValueError, match="timeout"):
            await client.idempotent.query("1;", timeout=0)
        assert node.last_connection.requests(PackageType.QUERY) == []
        assert node.last_connection.requests(PackageType.RUN) == []
    finally:
        await client.close_and_wait()
