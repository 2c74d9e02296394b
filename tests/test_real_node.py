"""The connector against a real ThingsDB node (the unix socket: test_real_unix).

Skipped, with one reason, when no ``thingsdb`` binary is found; see conftest.
"""

from __future__ import annotations

import asyncio
import builtins
import errno
import inspect
import math
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import realnode
from thingsdb import exceptions as tdx
from thingsdb.client import Client

pytestmark = [pytest.mark.node, pytest.mark.timeout(60)]

#: Takes the node about half a second (single threaded: it answers nothing
#: else meanwhile); its answer is 4995000000.
HEAVY = "x = 0; range(10000).each(|i| range(1000).each(|j| x += j)); x;"
HEAVY_RESULT = 4995000000


async def connected(node: realnode.Node, **kwargs: Any) -> Client:
    c = Client(**kwargs)
    await c.connect(*node.address, timeout=10)
    try:
        await c.authenticate(node.user, node.password, timeout=10)
    except BaseException:
        await c.close_and_wait()
        raise
    return c


async def wait_for_state(
    pred: Callable[[], bool], what: str, timeout: float = 5.0
) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        await asyncio.sleep(0.01)


# -- authentication --------------------------------------------------------------


async def test_authenticate_user_and_password_as_two_args(
    node: realnode.Node,
) -> None:
    async with Client() as c:
        await c.connect(*node.address)
        await c.authenticate("admin", "pass")
        assert await c.query("user_info().load().name;") == "admin"


async def test_authenticate_with_a_tuple(node: realnode.Node) -> None:
    async with Client() as c:
        await c.connect(*node.address)
        await c.authenticate(("admin", "pass"))
        assert await c.query("user_info().load().name;") == "admin"


async def test_authenticate_with_a_token(node: realnode.Node, client: Client) -> None:
    token = await client.query("new_token('admin');")
    assert isinstance(token, str)
    assert len(token) == 22
    try:
        async with Client() as c:
            await c.connect(*node.address)
            await c.authenticate(token)
            assert await c.query("user_info().load().name;") == "admin"
    finally:
        await client.query("del_token(t);", t=token)


async def test_wrong_token_is_an_auth_error(node: realnode.Node) -> None:
    async with Client() as c:
        await c.connect(*node.address)
        with pytest.raises(tdx.AuthError) as info:
            await c.authenticate("x" * 22)
        assert info.value.error_code == -56


async def test_wrong_password_is_an_auth_error(node: realnode.Node) -> None:
    async with Client() as c:
        await c.connect(*node.address)
        with pytest.raises(tdx.AuthError) as info:
            await c.authenticate("admin", "wrong")
        assert type(info.value) is tdx.AuthError
        assert info.value.error_code == -56
        assert info.value.error_msg == "invalid username or password"
        # the node keeps the connection open: a second try works on it
        assert c.is_connected()
        await c.authenticate("admin", "pass")
        assert await c.query("1 + 1;") == 2


async def test_query_before_authenticate_is_an_auth_error(
    node: realnode.Node,
) -> None:
    async with Client() as c:
        await c.connect(*node.address)
        with pytest.raises(tdx.AuthError) as info:
            await c.query("1 + 1;")
        assert info.value.error_code == -56
        assert "not authenticated" in info.value.error_msg


# -- scopes and queries ---------------------------------------------------------


async def test_default_scope_is_thingsdb(client: Client) -> None:
    assert client.get_default_scope() == "@t"
    names = [c["name"] for c in await client.query("collections_info();")]
    assert "stuff" in names
    # a @node function is not there in the default scope
    with pytest.raises(tdx.LookupError) as info:
        await client.query("nodes_info();")
    assert "`@thingsdb`" in info.value.error_msg


@pytest.mark.parametrize("scope", ["@n", "@node", "/n", "@node:0"])
async def test_node_scopes(client: Client, scope: str) -> None:
    info = await client.query("nodes_info();", scope=scope)
    assert [n["status"] for n in info] == ["READY"]


@pytest.mark.parametrize("scope", ["@:stuff", "//stuff", "@collection:stuff"])
async def test_collection_scopes(client: Client, scope: str) -> None:
    info = await client.query("collection_info('stuff');", scope="@thingsdb")
    assert info["name"] == "stuff"
    # the root of a collection has the collection's id
    assert await client.query(".id();", scope=scope) == info["collection_id"]


async def test_unknown_collection_scope_comes_from_the_node(client: Client) -> None:
    with pytest.raises(tdx.LookupError) as info:
        await client.query("1;", scope="@:no_such_collection")
    assert info.value.error_msg == "collection `no_such_collection` not found"


async def test_set_default_scope(client: Client) -> None:
    stuff_id = (await client.query("collection_info('stuff');"))["collection_id"]
    client.set_default_scope("//stuff")
    assert client.get_default_scope() == "//stuff"
    assert await client.query(".id();") == stuff_id
    # an explicit scope still wins
    assert len(await client.query("nodes_info();", scope="@n")) == 1

    with pytest.raises(ValueError, match="bad"):
        client.set_default_scope("bad")
    assert client.get_default_scope() == "//stuff"

    client.set_default_scope("@n")
    assert len(await client.query("nodes_info();")) == 1


async def test_variables_by_keyword(client: Client) -> None:
    assert await client.query("a + b;", a=40, b=2) == 42
    # len() counts UTF-8 bytes: the str arrived as UTF-8 text
    assert await client.query("s.len();", s="héllo ✓") == len("héllo ✓".encode())
    assert await client.query("s;", s="héllo ✓") == "héllo ✓"
    assert await client.query("[x, y];", x=None, y=[1, "2"]) == [None, [1, "2"]]
    bad_name: dict[str, Any] = {"1bad": 1}
    with pytest.raises(ValueError, match="1bad"):
        await client.query("1;", **bad_name)
    assert await client.query("'still fine';") == "still fine"


async def test_skip_strip_code_keeps_line_numbers(client: Client) -> None:
    code = "\n\n\n  x = 1;\n  1 + ;\n"
    with pytest.raises(tdx.SyntaxError) as kept:
        await client.query(code, skip_strip_code=True)
    assert kept.value.error_code == -52
    assert "line 5" in kept.value.error_msg
    assert str(kept.value) == kept.value.error_msg
    assert isinstance(kept.value, builtins.SyntaxError)

    # by default the leading blank lines are stripped: the line moves up
    with pytest.raises(tdx.SyntaxError) as stripped:
        await client.query(code)
    assert "line 2" in stripped.value.error_msg


async def test_concurrent_queries_get_their_own_answers(client: Client) -> None:
    results = await asyncio.gather(
        *(client.query("i * 2;", i=i, timeout=10) for i in range(200))
    )
    assert results == [i * 2 for i in range(200)]


# -- procedures -----------------------------------------------------------------


async def test_run_procedure(client: Client, collection: str) -> None:
    scope = f"//{collection}"
    await client.query(
        ".calls = 0; new_procedure('add', |a, b| {.calls += 1; a + b;});",
        scope=scope,
    )
    assert await client.run("add", 1, 2, scope=scope) == 3
    assert await client.run("add", b=2, a=40, scope=scope) == 42

    client.set_default_scope(scope)
    assert await client.run("add", 20, 3) == 23

    with pytest.raises(TypeError, match="not both"):
        await client.run("add", 1, b=2)
    # refused before sending: the procedure did not run a fourth time
    assert await client.query(".calls;") == 3

    with pytest.raises(tdx.LookupError, match="procedure `nope` not found"):
        await client.run("nope", 1)


# -- errors ---------------------------------------------------------------------

BUILT_IN_ERRORS: list[tuple[str, type[tdx.ThingsDBError], int, str]] = [
    ("cancelled_err()", tdx.CancelledError, -64, "cancelled before completion"),
    ("operation_err()", tdx.OperationError, -63, "not valid in the current"),
    ("num_arguments_err()", tdx.NumArgumentsError, -62, "wrong number of arguments"),
    ("type_err()", tdx.TypeError, -61, "inappropriate type"),
    ("value_err()", tdx.ValueError, -60, "inappropriate value"),
    ("overflow_err()", tdx.OverflowError, -59, "integer overflow"),
    ("zero_div_err()", tdx.ZeroDivisionError, -58, "division or modulo by zero"),
    ("max_quota_err()", tdx.MaxQuotaError, -57, "max quota is reached"),
    ("auth_err()", tdx.AuthError, -56, "authentication error"),
    ("forbidden_err()", tdx.ForbiddenError, -55, "forbidden (access denied)"),
    ("lookup_err('x')", tdx.LookupError, -54, "x"),
    ("bad_data_err()", tdx.BadDataError, -53, "invalid data"),
    ("syntax_err()", tdx.SyntaxError, -52, "syntax error in query"),
    ("node_err()", tdx.NodeError, -51, "temporary unable to handle"),
    ("assert_err()", tdx.AssertionError, -50, "assertion statement has failed"),
]

BUILTIN_BASES: dict[type[tdx.ThingsDBError], type[Exception]] = {
    tdx.TypeError: builtins.TypeError,
    tdx.ValueError: builtins.ValueError,
    tdx.OverflowError: builtins.OverflowError,
    tdx.ZeroDivisionError: builtins.ZeroDivisionError,
    tdx.LookupError: builtins.LookupError,
    tdx.SyntaxError: builtins.SyntaxError,
    tdx.AssertionError: builtins.AssertionError,
}


@pytest.mark.parametrize(
    ("err", "cls", "code", "msg"),
    BUILT_IN_ERRORS,
    ids=[e[0].split("(")[0] for e in BUILT_IN_ERRORS],
)
async def test_built_in_error_codes(
    client: Client, err: str, cls: type[tdx.ThingsDBError], code: int, msg: str
) -> None:
    with pytest.raises(tdx.ThingsDBError) as info:
        await client.query(f"raise({err});")
    exc = info.value
    assert type(exc) is cls
    assert exc.error_code == code
    assert msg in exc.error_msg
    assert msg in str(exc)
    base = BUILTIN_BASES.get(cls)
    if base is not None:
        assert isinstance(exc, base)
    # the connection is fine after an error
    assert await client.query("'ok';") == "ok"


@pytest.mark.parametrize(
    ("code", "msg"), [(-100, "custom"), (-127, "lowest"), (-65, "just below")]
)
async def test_custom_error_code(client: Client, code: int, msg: str) -> None:
    with pytest.raises(tdx.CustomError) as info:
        await client.query("raise(err(c, m));", c=code, m=msg)
    assert info.value.error_code == code
    assert info.value.error_msg == msg
    assert str(info.value) == msg


async def test_builtin_lookup_error_catches_the_lookup_one(client: Client) -> None:
    caught: BaseException | None = None
    try:
        await client.query("raise(lookup_err('gone'));")
    except LookupError as exc:  # the built-in
        caught = exc
    assert isinstance(caught, tdx.LookupError)
    assert caught.error_msg == "gone"


async def test_cancelled_error_is_not_asyncio_cancelled(client: Client) -> None:
    # were it an asyncio.CancelledError (a BaseException), it would fly past
    # pytest.raises and end the test as cancelled
    with pytest.raises(tdx.CancelledError) as info:
        await client.query("raise(cancelled_err());")
    assert info.value.error_code == -64
    assert not isinstance(info.value, asyncio.CancelledError)
    task = asyncio.current_task()
    assert task is not None
    if sys.version_info >= (3, 11):
        assert task.cancelling() == 0
    await asyncio.sleep(0)  # no cancellation pending either
    assert await client.query("'alive';") == "alive"


# -- timeouts -------------------------------------------------------------------


async def test_query_timeout_and_the_next_answer(client: Client) -> None:
    start = time.monotonic()
    with pytest.raises(tdx.TimeoutError) as info:
        await client.query(HEAVY, timeout=0.05)
    assert time.monotonic() - start < 0.4, "the timeout did not end the wait"
    assert isinstance(info.value, builtins.TimeoutError)
    assert not isinstance(info.value, tdx.ThingsDBError)

    # the node answers the heavy query late; that answer must not be taken
    # for the next one
    assert await client.query("'next';", timeout=10) == "next"
    # sanity: the node really was busy for longer than the timeout
    assert time.monotonic() - start > 0.05
    assert await client.query("n;", n=7, timeout=10) == 7
    assert client.is_connected()


async def test_run_timeout(client: Client, collection: str) -> None:
    scope = f"//{collection}"
    await client.query(f"new_procedure('heavy', || {{ {HEAVY} }});", scope=scope)
    with pytest.raises(tdx.TimeoutError):
        await client.run("heavy", scope=scope, timeout=0.05)
    assert await client.query("'after';", timeout=10) == "after"


# -- values ---------------------------------------------------------------------


async def test_one_mib_bytes_round_trip(client: Client) -> None:
    blob = bytes(range(256)) * 4096
    assert len(blob) == 1 << 20
    result = await client.query("blob;", blob=blob, timeout=30)
    assert type(result) is bytes
    assert result == blob


async def test_large_result(client: Client) -> None:
    result = await client.query("range(100000);", timeout=30)
    assert result == list(range(100000))


VALUES: list[tuple[Any, Any]] = [
    (0, 0),
    (-(2**63), -(2**63)),
    (2**63 - 1, 2**63 - 1),
    (1.5, 1.5),
    (-2.25e300, -2.25e300),
    (5e-324, 5e-324),
    (float("inf"), float("inf")),
    ("", ""),
    ("héllo wörld ✓ 𝄞 中文", "héllo wörld ✓ 𝄞 中文"),
    (b"", b""),
    (b"\x00\xff\x80 bytes", b"\x00\xff\x80 bytes"),
    (True, True),
    (False, False),
    (None, None),
    ([1, "a", [2.5, None, [b"x"]]], [1, "a", [2.5, None, [b"x"]]]),
    ((1, "two", (3,)), [1, "two", [3]]),
    ([], []),
]


@pytest.mark.parametrize(("value", "expected"), VALUES, ids=repr)
async def test_value_round_trip(client: Client, value: Any, expected: Any) -> None:
    result = await client.query("v;", v=value)
    assert result == expected
    assert type(result) is type(expected)


async def test_nan_round_trip(client: Client) -> None:
    result = await client.query("v;", v=float("nan"))
    assert isinstance(result, float)
    assert math.isnan(result)


async def test_dict_becomes_a_thing(client: Client, collection: str) -> None:
    value = {"name": "Iris", "tags": ["a", "b"], "inner": {"n": 1, "s": "x"}}
    result = await client.query(
        ".v = v; return .v, 2;", scope=f"//{collection}", v=value
    )
    assert next(iter(result)) == "#"
    assert isinstance(result["#"], int)
    assert result["#"] > 0
    assert result["name"] == "Iris"
    assert result["tags"] == ["a", "b"]
    inner = result["inner"]
    assert next(iter(inner)) == "#"
    assert inner["#"] not in (0, result["#"])
    assert {k: v for k, v in inner.items() if k != "#"} == {"n": 1, "s": "x"}
    # stored: the same thing comes back by id
    assert await client.query(
        "thing(i).name;", scope=f"//{collection}", i=result["#"]
    ) == ("Iris")


async def test_dict_in_the_thingsdb_scope(client: Client) -> None:
    value = {"a": 1, "b": {"c": [1, 2]}}
    # not stored: no id, so no "#" key; nested things need a deeper return
    assert await client.query("return v, 2;", v=value) == value


async def test_uint64_above_int64_is_refused_by_the_node(client: Client) -> None:
    # msgpack can carry it (uint64), the node refuses it
    with pytest.raises(tdx.OverflowError) as info:
        await client.query("v;", v=2**63)
    assert info.value.error_code == -59
    assert "integer overflow" in info.value.error_msg
    assert isinstance(info.value, builtins.OverflowError)
    assert await client.query("1;") == 1


@pytest.mark.parametrize("value", [2**64, -(2**63) - 1])
async def test_ints_msgpack_cannot_carry_are_refused_by_the_client(
    client: Client, value: int
) -> None:
    # at the call, before anything is awaited or sent
    with pytest.raises(builtins.ValueError, match="64-bit") as info:
        client.query("v;", v=value)
    assert not isinstance(info.value, (tdx.ThingsDBError, builtins.OverflowError))
    assert await client.query("1;") == 1


# -- transports -----------------------------------------------------------------

SMALL = "[1 + 1, 'two', nodes_info().len()];"
SMALL_RESULT = [2, "two", 1]


async def test_tcp(node: realnode.Node) -> None:
    async with Client() as c:
        await c.connect(*node.address)
        await c.authenticate("admin", "pass")
        assert c.connection_info() == f"127.0.0.1:{node.client_port}"
        assert not c.is_websocket()
        assert await c.query(SMALL, scope="@n") == SMALL_RESULT


# -- the client's API -----------------------------------------------------------


async def test_connection_state(node: realnode.Node) -> None:
    c = Client()
    assert not c.is_connected()
    assert not c.is_websocket()
    assert c.connection_info() == "disconnected"
    await c.connect(*node.address)
    try:
        assert c.is_connected()
        assert c.connection_info() == f"127.0.0.1:{node.client_port}"
        assert c.get_event_loop() is asyncio.get_running_loop()
    finally:
        c.close()
    assert not c.is_connected()
    assert c.connection_info() == "disconnected"
    await c.wait_closed()
    assert not c.is_connected()


async def test_async_with(node: realnode.Node) -> None:
    async with Client() as c:
        await c.connect(*node.address)
        await c.authenticate("admin", "pass")
        assert await c.query("'inside';") == "inside"
    assert not c.is_connected()
    assert c.connection_info() == "disconnected"
    with pytest.raises(tdx.NotConnectedError):
        await c.query("1;")


async def test_close_and_wait(node: realnode.Node) -> None:
    c = await connected(node)
    assert c.is_connected()
    await c.close_and_wait()
    assert not c.is_connected()
    with pytest.raises(tdx.NotConnectedError):
        await c.query("1;")
    # closing again is harmless
    await c.close_and_wait()


async def test_close_fails_the_pending_requests(node: realnode.Node) -> None:
    c = await connected(node)
    task = asyncio.ensure_future(c.query(HEAVY))
    await asyncio.sleep(0.05)  # written, not answered yet
    assert not task.done()
    await c.close_and_wait()
    with pytest.raises(tdx.ConnectionLostError):
        await task


async def test_connect_when_connected_is_a_runtime_error(client: Client) -> None:
    with pytest.raises(RuntimeError, match="already connected"):
        await client.connect("127.0.0.1", 1)
    assert await client.query("'still';") == "still"


async def test_reconnect(node: realnode.Node, client: Client) -> None:
    fut = client.reconnect()
    assert fut is not None
    assert inspect.isawaitable(fut)
    assert isinstance(fut, asyncio.Future)
    # a reconnect is already under way
    assert client.reconnect() is None
    await fut
    assert client.is_connected()
    expected = (
        node.ws_address if client.is_websocket() else f"127.0.0.1:{node.client_port}"
    )
    assert client.connection_info() == expected
    # the new connection is authenticated
    assert await client.query("user_info().load().name;") == "admin"
    # done: the next reconnect starts a new one
    again = client.reconnect()
    assert again is not None
    await again
    assert await client.query("'again';") == "again"


async def test_reconnect_keeps_answers_in_flight(client: Client) -> None:
    task = asyncio.ensure_future(client.query(HEAVY, timeout=30))
    await asyncio.sleep(0.05)  # written on the old connection
    fut = client.reconnect()
    assert fut is not None
    await asyncio.wait_for(fut, 30)
    assert await task == HEAVY_RESULT
    assert await client.query("'new';") == "new"


async def test_auto_reconnect_off_after_close(node: realnode.Node) -> None:
    c = await connected(node, auto_reconnect=False)
    assert await c.query("1;") == 1
    await c.close_and_wait()
    with pytest.raises(tdx.NotConnectedError) as info:
        await c.query("1;")
    assert isinstance(info.value, ConnectionError)


@pytest.fixture(params=["tcp", "ws", "ws-websockets"])
def transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Connection-loss tests run over TCP and over WebSocket, on each
    WebSocket library (without picows, the default choice is websockets)."""
    param: str = request.param
    if param == "ws-websockets":
        monkeypatch.setitem(sys.modules, "picows", None)
    return param


def proxy_target(node: realnode.Node, transport: str) -> tuple[str, int]:
    return node.address if transport == "tcp" else (node.host, node.ws_port)


async def connect_through(c: Client, proxy: realnode.Proxy, transport: str) -> None:
    if transport == "tcp":
        await c.connect(*proxy.address)
    else:
        await c.connect(f"ws://{proxy.address[0]}:{proxy.port}")


async def test_auto_reconnect_off_after_a_lost_connection(
    node: realnode.Node, transport: str
) -> None:
    async with realnode.Proxy(proxy_target(node, transport)) as proxy:
        c = Client(auto_reconnect=False)
        try:
            await connect_through(c, proxy, transport)
            await c.authenticate("admin", "pass")
            assert await c.query("1;") == 1
            proxy.drop()
            await wait_for_state(lambda: not c.is_connected(), "the loss is seen")
            with pytest.raises(tdx.NotConnectedError):
                await c.query("1;", timeout=5)
            assert proxy.accepted == 1
            # an explicit reconnect() brings it back
            fut = c.reconnect()
            assert fut is not None
            await asyncio.wait_for(fut, 10)
            assert await c.query("2;", timeout=5) == 2
            assert proxy.accepted == 2
        finally:
            await c.close_and_wait()


async def test_auto_reconnect_on_after_a_lost_connection(
    node: realnode.Node, transport: str
) -> None:
    async with realnode.Proxy(proxy_target(node, transport)) as proxy:
        c = Client(reconnect_delay=0.05)
        try:
            await connect_through(c, proxy, transport)
            await c.authenticate("admin", "pass")
            proxy.drop()
            await wait_for_state(lambda: proxy.accepted == 2, "the client is back")
            # authenticated again by itself
            assert await c.query("user_info().load().name;", timeout=10) == "admin"
        finally:
            await c.close_and_wait()


async def test_lost_connection_fails_the_request_in_flight(
    node: realnode.Node, transport: str
) -> None:
    async with realnode.Proxy(proxy_target(node, transport)) as proxy:
        c = Client(auto_reconnect=False)
        try:
            await connect_through(c, proxy, transport)
            await c.authenticate("admin", "pass")
            task = asyncio.ensure_future(c.query(HEAVY, timeout=30))
            await asyncio.sleep(0.05)
            proxy.drop()
            with pytest.raises(tdx.ConnectionLostError):
                await task
        finally:
            await c.close_and_wait()


# -- a node of its own: restart -------------------------------------------------


@pytest.fixture
def own_node(tmp_path: Path) -> Iterator[realnode.Node]:
    with realnode.start_node(tmp_path) as n:
        yield n


async def test_clients_across_a_node_restart(own_node: realnode.Node) -> None:
    auto = await connected(own_node, reconnect_delay=0.05, reconnect_max_delay=0.2)
    manual = await connected(own_node, auto_reconnect=False)
    try:
        await auto.query("new_collection('keep');")
        await auto.query(".x = 42;", scope="//keep")

        await asyncio.to_thread(own_node.restart)
        # the manual client lost its connection and stays without one
        await wait_for_state(lambda: not manual.is_connected(), "the loss is seen")
        with pytest.raises(tdx.NotConnectedError):
            await manual.query("1;")

        # the other one found the node again, authenticated, and the data
        # survived the restart
        assert await auto.query(".x;", scope="//keep", timeout=20) == 42
        assert auto.connection_info() == f"127.0.0.1:{own_node.client_port}"

        fut = manual.reconnect()
        assert fut is not None
        await asyncio.wait_for(fut, 20)
        assert await manual.query(".x;", scope="//keep", timeout=5) == 42
    finally:
        await auto.close_and_wait()
        await manual.close_and_wait()


def test_runs_on_uvloop(node: realnode.Node) -> None:
    """uvloop's transports are not asyncio.Transport subclasses; queries,
    WebSockets and rooms work on its loop all the same."""
    uvloop = pytest.importorskip("uvloop", reason="uvloop does not run here")

    async def main() -> None:
        assert type(asyncio.get_running_loop()).__module__.startswith("uvloop")
        for address in (node.address, (node.ws_address,)):
            async with Client() as c:
                await c.connect(*address)
                await c.authenticate(node.user, node.password)
                assert await c.query("1 + 1;") == 2
                blob = b"\x02" * 300_000  # several reads into the buffer
                assert await c.query("b;", b=blob) == blob
                assert await asyncio.gather(
                    *(c.query("i;", i=i) for i in range(500))
                ) == list(range(500))

    loop = uvloop.new_event_loop()
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()


def _socket_of(client: Client) -> socket.socket:
    """The connection's socket (through the driver's internals: the OS
    settings are what this test is about)."""
    conn = client._pool.conn
    assert conn is not None
    driver: Any = conn._driver
    ws = getattr(driver, "_ws", None)
    transport = (
        ws.underlying_transport
        if ws is not None and hasattr(ws, "underlying_transport")
        else driver._transport
    )
    sock = transport.get_extra_info("socket")
    assert sock is not None
    return sock  # type: ignore[no-any-return]


async def test_tcp_keepalive_follows_the_ping_settings(
    node: realnode.Node, transport: str
) -> None:
    c = Client(ping_interval=7, ping_timeout=6)
    try:
        if transport == "tcp":
            await c.connect(*node.address)
        else:
            await c.connect(node.ws_address)
        sock = _socket_of(c)
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        if hasattr(socket, "TCP_KEEPIDLE"):
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 7
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == 2
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == 3
    finally:
        await c.close_and_wait()


async def test_idempotent_query_and_run_answer_as_the_plain_ones(
    client: Client, collection: str
) -> None:
    scope = f"//{collection}"
    await client.query("new_procedure('add', |a, b| a + b);", scope=scope)
    assert await client.idempotent.query("a * b;", a=6, b=7) == 42
    assert await client.idempotent.run("add", 1, 2, scope=scope) == 3
    assert await client.idempotent.run("add", a=5, b=6, scope=scope) == 11
    with pytest.raises(tdx.ZeroDivisionError):
        await client.idempotent.query("1 / 0;")
    with pytest.raises(tdx.TimeoutError):
        await client.idempotent.query(HEAVY, timeout=0.01)


@pytest.mark.parametrize("idempotent", [True, False])
async def test_a_lost_connection_resends_only_idempotent_requests(
    node: realnode.Node, transport: str, idempotent: bool
) -> None:
    async with realnode.Proxy(proxy_target(node, transport)) as proxy:
        c = Client(reconnect_delay=0.05)
        try:
            await connect_through(c, proxy, transport)
            await c.authenticate("admin", "pass")
            sender = c.idempotent if idempotent else c
            task = asyncio.create_task(sender.query(HEAVY, timeout=60))
            await asyncio.sleep(0.2)  # written, the node is running it
            proxy.drop()
            if idempotent:
                assert await task == HEAVY_RESULT
                assert proxy.accepted == 2  # answered on the next connection
            else:
                with pytest.raises(tdx.ConnectionLostError, match="may or may not"):
                    await task
        finally:
            await c.close_and_wait()


# -- errors of the libraries underneath, as the library's own ---------------------


async def test_a_refused_connection_is_a_connect_error(node: realnode.Node) -> None:
    from thingsdb.exceptions import ConnectError
    from thingsdb.testing import free_ports

    (port,) = free_ports(1)
    client = Client()
    with pytest.raises(ConnectError, match=f"127.0.0.1:{port}.*refused") as info:
        await client.connect("127.0.0.1", port, timeout=5)
    # the except clauses written for the error underneath still catch it
    assert isinstance(info.value, ConnectionRefusedError)
    assert info.value.errno == errno.ECONNREFUSED
    assert isinstance(info.value.__cause__, OSError)
    assert not isinstance(info.value.__cause__, ConnectError)


async def test_an_unknown_host_is_a_connect_error() -> None:
    from thingsdb.exceptions import ConnectError

    client = Client()
    with pytest.raises(ConnectError, match=r"no-such-host\.invalid") as info:
        await client.connect("no-such-host.invalid", 9200, timeout=10)
    assert isinstance(info.value.__cause__, socket.gaierror)
    assert isinstance(info.value, socket.gaierror)


@pytest.mark.parametrize("library", ["picows", "websockets"])
async def test_a_failed_websocket_handshake_is_a_connect_error(
    node: realnode.Node, library: str
) -> None:
    from thingsdb.exceptions import ConnectError

    pytest.importorskip(library)
    # the client port speaks ThingsDB's own protocol, not WebSocket
    client = Client(websocket_library=library)  # type: ignore[arg-type]
    with pytest.raises(ConnectError, match=r"handshake|closed the connection"):
        await client.connect(f"ws://127.0.0.1:{node.client_port}", timeout=10)
    assert not client.is_connected()
