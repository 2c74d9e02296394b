"""Typed results over the HTTP API (``thingsdb.http``, both clients): the
answer's body read as the type, a misfit as ResultTypeError, a type that
cannot be read into refused at the call; against a node with its HTTP API
on, and without one."""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
import pytest

import realnode
from thingsdb.exceptions import ProtocolError, ResultTypeError
from thingsdb.http import AsyncClient, Client
from thingsdb.http.exchange import read_answer
from thingsdb.protocol.typed import result_decoder

MSGPACK = "application/msgpack"


class Book(msgspec.Struct):
    title: str
    pages: int | None = None
    key: int | None = msgspec.field(default=None, name="#")


def test_read_answer_with_a_type() -> None:
    decoder = result_decoder(list[Book])
    body = msgspec.msgpack.encode([{"#": 4, "title": "A", "pages": 3}])
    assert read_answer(200, MSGPACK, body, decoder) == [Book("A", 3, 4)]
    with pytest.raises(ResultTypeError, match=r"^\$\[0\]\.pages: expected int"):
        read_answer(
            200,
            MSGPACK,
            msgspec.msgpack.encode([{"title": "A", "pages": "x"}]),
            decoder,
        )
    with pytest.raises(ProtocolError, match="undecodable"):
        read_answer(200, MSGPACK, b"\xc1", decoder)


@pytest.fixture(scope="module")
def http_node() -> Iterator[realnode.Node]:
    binary, reason = realnode.find_binary()
    if binary is None:
        pytest.skip(reason)
    with realnode.Node(binary, http_api=True) as node:
        yield node


CODE = "[{title: 'Dune', pages: 412}, {title: 'Emma'}];"


@pytest.mark.node
@pytest.mark.timeout(60)
def test_blocking_http_client(http_node: realnode.Node) -> None:
    with Client(http_node.http_url, auth=("admin", "pass")) as client:
        books = client.typed(list[Book]).query(CODE)
        assert books == [Book("Dune", 412), Book("Emma")]
        assert client.idempotent.typed(int).query("40 + 2;") == 42
        with pytest.raises(ResultTypeError, match=r"^\$\[1\]\.title: expected str"):
            client.typed(list[Book]).query("[{title: 'a'}, {title: 1}];")
        with pytest.raises(TypeError, match="cannot read results into"):
            client.typed(object.__new__)
        assert client.query("1 + 1;") == 2


@pytest.mark.node
@pytest.mark.timeout(60)
async def test_asyncio_http_client(http_node: realnode.Node) -> None:
    async with AsyncClient(http_node.http_url, auth=("admin", "pass")) as client:
        books = await client.typed(list[Book]).query(CODE)
        assert books == [Book("Dune", 412), Book("Emma")]
        await client.query("new_procedure('double', |n| n * 2);", scope="@t")
        try:
            run = client.idempotent.typed(int).run
            assert await run("double", 21, scope="@t") == 42
        finally:
            await client.query("del_procedure('double');", scope="@t")
        with pytest.raises(ResultTypeError, match=r"^\$: expected int, got str"):
            await client.typed(int).query("'x';")
