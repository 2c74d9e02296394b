"""Typed results against the fake node, for both clients: the answer read
as its type (and only that request's), a misfit as ResultTypeError while
the connection goes on, and an idempotent typed request sent again after
lost connections still read as its type."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest

from bothclients import AnyClient, Blocking, MakeClient
from fakenode import FakeNode, NodeConnection, default_handler
from thingsdb.exceptions import ResultTypeError
from thingsdb.protocol import Package, PackageType

HOST = "127.0.0.1"


class Call(msgspec.Struct, array_like=True):
    """What the fake node answers to run(): [procedure, args]."""

    procedure: str
    args: list[int]


@pytest.fixture
async def node() -> AsyncIterator[FakeNode]:
    async with FakeNode() as fake:
        yield fake
        assert fake.errors == [], "a fake node handler raised"


async def connected(node: FakeNode, make_client: MakeClient) -> AnyClient:
    client = make_client(reconnect_delay=0.01, reconnect_max_delay=0.05)
    await client.connect(HOST, node.port)
    await client.authenticate("admin", "pass")
    return client


async def typed(
    client: AnyClient, tp: Any, method: str, *args: Any, idempotent: bool = False
) -> Any:
    """``client[.idempotent].typed(tp).<method>(*args)`` for either client."""
    if isinstance(client, Blocking):
        sync = client.client.idempotent if idempotent else client.client
        return await client.call(getattr(sync.typed(tp), method), *args, timeout=5)
    view: Any = client.idempotent if idempotent else client
    return await getattr(view.typed(tp), method)(*args, timeout=5)


async def test_only_the_typed_request_is_read_as_its_type(
    node: FakeNode, make_client: MakeClient
) -> None:
    client = await connected(node, make_client)
    try:
        plain = client.run("add", 1, 2)
        call = await typed(client, Call, "run", "add", 1, 2)
        assert call == Call("add", [1, 2])
        assert await plain == ["add", [1, 2]]
        assert await client.run("add", 1, 2) == ["add", [1, 2]]
        assert await typed(client, str, "query", "x = 1;") == "x = 1;"
    finally:
        await client.close_and_wait()


async def test_a_misfit_raises_and_the_connection_goes_on(
    node: FakeNode, make_client: MakeClient
) -> None:
    client = await connected(node, make_client)
    try:
        with pytest.raises(ResultTypeError) as info:
            await typed(client, Call, "run", "add", 1, "two")
        assert str(info.value) == "$[1][1]: expected int, got str"
        assert await client.query("nil;") == "nil;"
        assert len(node.connections) == 1
    finally:
        await client.close_and_wait()


async def test_a_resent_idempotent_typed_request_is_still_typed(
    node: FakeNode, make_client: MakeClient
) -> None:
    seen = [0]

    def cut_twice(conn: NodeConnection, pkg: Package) -> None:
        if pkg.type == PackageType.RUN:
            seen[0] += 1
            if seen[0] <= 2:
                conn.cut()
                return
        default_handler(conn, pkg)

    node.handler = cut_twice
    client = await connected(node, make_client)
    try:
        call = await typed(client, Call, "run", "add", 1, 2, idempotent=True)
        assert call == Call("add", [1, 2])
        assert seen[0] == 3
        assert len(node.connections) == 3
    finally:
        await client.close_and_wait()


async def test_many_typed_and_plain_requests_at_once(
    node: FakeNode, make_client: MakeClient
) -> None:
    client = await connected(node, make_client)
    try:
        typed_calls = [typed(client, Call, "run", "p", i) for i in range(200)]
        plain_calls = [client.run("p", i) for i in range(200)]
        found = await asyncio.gather(*typed_calls, *plain_calls)
        assert found[:200] == [Call("p", [i]) for i in range(200)]
        assert found[200:] == [["p", [i]] for i in range(200)]
    finally:
        await client.close_and_wait()
