"""Code written for python-thingsdb 1.4.1, in its style, against a real node.

Each test does what code written for that package does (calls not awaited,
its private room calls, its modules and names) and checks it behaves as it
did there, or as this project's README says it deliberately differs.
"""

from __future__ import annotations

import asyncio
import inspect
import subprocess
import sys
from typing import Any

import pytest

import realnode
from thingsdb import exceptions as tdx
from thingsdb.client import Client
from thingsdb.room import Room

pytestmark = pytest.mark.node


async def connected(node: realnode.Node, **settings: Any) -> Client:
    client = Client(**settings)
    await client.connect(node.host, node.client_port)
    await client.authenticate(node.user, node.password)
    return client


# -- calls return futures, and check their arguments at the call ---------------


async def test_query_returns_its_own_future_and_makes_no_task(
    node: realnode.Node,
) -> None:
    client = await connected(node)
    try:
        before = asyncio.all_tasks()
        fut = client.query("nil")
        assert asyncio.isfuture(fut)
        assert asyncio.all_tasks() == before  # no Task, no coroutine
        assert await fut is None
        many = [client.run("new_type", "T", scope="@t") for _ in range(3)]
        assert all(asyncio.isfuture(f) for f in many)
        assert asyncio.all_tasks() == before
        for f in many:
            with pytest.raises(tdx.LookupError):
                await f
    finally:
        await client.close_and_wait()


async def test_the_future_works_with_every_asyncio_tool(client: Client) -> None:
    assert await asyncio.gather(*(client.query("1 + 1") for _ in range(5))) == [2] * 5
    assert await asyncio.wait_for(client.query("'w';"), 10) == "w"
    # python-thingsdb's calls return coroutines: code hands them to
    # create_task, which works here too
    assert await asyncio.create_task(client.query("3;")) == 3
    assert await asyncio.ensure_future(client.query("4;")) == 4
    seen: list[Any] = []
    fut = client.query("5;")
    fut.add_done_callback(lambda f: seen.append(f.result()))
    await fut
    await asyncio.sleep(0)
    assert seen == [5]
    if hasattr(asyncio, "timeout"):
        async with asyncio.timeout(10):
            assert await client.query("6;") == 6
    slow = client.query("wait(3); 'late';", timeout=30)
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow
    assert await client.query("'after';") == "after"


async def test_bad_arguments_raise_at_the_call(client: Client) -> None:
    with pytest.raises(TypeError, match="either by position or by name"):
        client.run("sub", 1, b=2)
    with pytest.raises(TypeError, match="code must be a str"):
        client.query(123)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="is not a ThingsDB scope"):
        client.query("1;", scope="stuff")
    with pytest.raises(TypeError, match="set"):
        client.query("x;", x={1, 2})
    with pytest.raises(TypeError, match="set"):
        client.run("p", [frozenset()])
    with pytest.raises(ValueError, match="64-bit"):
        client.query("x;", x=2**64)
    with pytest.raises(ValueError, match="timeout"):
        client.query("1;", timeout=0)
    with pytest.raises(ValueError, match="no addresses"):
        client.connect_pool([], "admin", "pass")
    # nothing of the above went out: the connection answers the next call
    assert await client.query("'fine';") == "fine"


# -- reconnect() and connect_pool() start at once ---------------------------------


async def test_reconnect_not_awaited_moves_the_client(node: realnode.Node) -> None:
    client = Client()
    first, second = ("127.0.0.1", node.client_port), ("localhost", node.client_port)
    await client.connect_pool([first, second], node.user, node.password)
    try:
        before = client.connection_info()
        client.reconnect()  # not awaited, as python-thingsdb allows
        for _ in range(500):
            if client.is_connected() and client.connection_info() != before:
                break
            await asyncio.sleep(0.01)
        assert client.connection_info() != before
        assert {before, client.connection_info()} == {
            f"127.0.0.1:{node.client_port}",
            f"localhost:{node.client_port}",
        }
        assert await client.query("'moved';") == "moved"
    finally:
        await client.close_and_wait()


async def test_connect_pool_not_awaited_connects(node: realnode.Node) -> None:
    client = Client()
    task = client.connect_pool([node.address], node.user, node.password)
    assert isinstance(task, asyncio.Task)
    try:
        # a query made before the pool is connected waits for it
        assert await client.query("'pooled';", timeout=10) == "pooled"
        assert task.done()
    finally:
        await client.close_and_wait()


async def test_reconnect_after_close_connects_again(node: realnode.Node) -> None:
    client = await connected(node, auto_reconnect=True)
    client.close()
    await client.wait_closed()
    assert not client.is_connected()
    task = client.reconnect()
    assert task is not None
    await asyncio.wait_for(task, 10)
    assert client.is_connected()
    assert await client.query("'again';") == "again"
    await client.close_and_wait()


# -- rooms ----------------------------------------------------------------------------


class Chat(Room):
    def on_init(self) -> None:
        self.got: asyncio.Queue[str] = asyncio.Queue()

    @Room.event("msg")
    def on_msg(self, text: str) -> None:
        self.got.put_nowait(text)


async def test_room_event_decorator_and_canonical_scope(
    node: realnode.Node, collection: str
) -> None:
    assert Room(1, scope=f"//{collection}").scope == f"@collection:{collection}"
    assert Room(1, scope=f"@:{collection}").scope == f"@collection:{collection}"
    with pytest.raises(ValueError, match="rooms live in collections"):
        Room(1, scope="@thingsdb")
    client = await connected(node)
    try:
        client.set_default_scope(f"//{collection}")
        chat = Chat(".has('chat') || .chat = room(); .chat.id();")
        await chat.join(client)
        assert chat.scope == f"@collection:{collection}"
        await chat.emit("msg", "hello")
        assert await asyncio.wait_for(chat.got.get(), 10) == "hello"
    finally:
        await client.close_and_wait()


async def test_private_room_calls(node: realnode.Node, collection: str) -> None:
    """_join, _leave and _emit, as code without a Room class uses them."""
    client = await connected(node)
    listener = await connected(node)
    try:
        client.set_default_scope(f"//{collection}")
        ids = await client.query(".r1 = room(); .r2 = room(); [.r1.id(), .r2.id()];")
        missing = max(ids) + 1000
        chat = Chat(ids[0], scope=f"//{collection}")
        await chat.join(listener)
        # ids found are answered as they are, one not found as None
        assert await client._join(*ids, missing) == [*ids, None]
        assert await client._leave(ids[1], missing) == [ids[1], None]
        await client._emit(ids[0], "msg", "by id")
        assert await asyncio.wait_for(chat.got.get(), 10) == "by id"
        # peers only: not to the emitter, still to the others
        await client._emit(ids[0], "msg", "to peers", peers_only=True)
        assert await asyncio.wait_for(chat.got.get(), 10) == "to peers"
        with pytest.raises(TypeError, match="room id"):
            client._join(1.5)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="event name"):
            client._emit(ids[0], 1)  # type: ignore[arg-type]
    finally:
        await client.close_and_wait()
        await listener.close_and_wait()


# -- modules and names ----------------------------------------------------------


def test_the_modules_python_thingsdb_code_imports() -> None:
    from thingsdb import __version__
    from thingsdb.client import set_package_fail_file
    from thingsdb.client.baseprotocol import Err, Proto
    from thingsdb.client.buildin import Buildin
    from thingsdb.client.package import set_package_fail_file as from_package
    from thingsdb.client.protocol import Proto as Proto2
    from thingsdb.client.wsprotocol import WEBSOCKET_MAX_SIZE
    from thingsdb.room.event import event
    from thingsdb.room.roombase import RoomBase
    from thingsdb.util import Access, cnscope, strip_code
    from thingsdb.util.cleancode import strip_code as strip_code2
    from thingsdb.util.cnscope import cnscope as cnscope2
    from thingsdb.util.fcscope import fcscope
    from thingsdb.util.is_name import is_name
    from thingsdb.version import __version__ as version

    assert version == __version__
    assert Proto is Proto2
    assert int(Proto.REQ_QUERY) == 0x22
    assert int(Proto.ON_ROOM_EMIT) == 0x08
    assert int(Err.EX_TYPE_ERROR) == -61
    assert Buildin is not None
    assert set_package_fail_file is from_package
    set_package_fail_file(None)  # python-thingsdb's way to turn it off
    # an integer, as python-thingsdb's, for code that computes with it: no
    # cap below the node's (a 1 GiB package and its 8-byte header)
    assert type(WEBSOCKET_MAX_SIZE) is int
    assert WEBSOCKET_MAX_SIZE == (1 << 30) + 8
    assert WEBSOCKET_MAX_SIZE // 2 > 0
    assert event is Room.event
    assert RoomBase is Room
    assert int(Access.FULL) == 0x1F
    assert cnscope is cnscope2
    assert cnscope("//stuff") == "stuff"
    assert fcscope("//stuff") == "@collection:stuff"
    assert is_name("stuff")
    assert not is_name("9")
    assert strip_code is strip_code2
    assert Client.MAX_RECONNECT_WAIT_TIME > 0
    assert Client.MAX_RECONNECT_TIMEOUT > 0


def test_signatures_python_thingsdb_code_calls() -> None:
    assert "name" in inspect.signature(Client.new_node).parameters
    restore = inspect.signature(Client.restore).parameters
    assert list(restore)[1:3] == ["filename", "options"]
    from thingsdb.misc import lock

    assert "collection" in inspect.signature(lock.setup).parameters


async def test_err_codes_are_the_errors_error_codes(client: Client) -> None:
    from thingsdb.client.baseprotocol import Err

    for code, cls in [
        (Err.EX_TYPE_ERROR, tdx.TypeError),
        (Err.EX_VALUE_ERROR, tdx.ValueError),
        (Err.EX_LOOKUP_ERROR, tdx.LookupError),
        (Err.EX_ZERO_DIV, tdx.ZeroDivisionError),
        (Err.EX_OPERATION_ERROR, tdx.OperationError),
        (Err.EX_FORBIDDEN, tdx.ForbiddenError),
    ]:
        with pytest.raises(cls) as info:
            await client.query("raise(err(c));", c=int(code))
        assert info.value.error_code == code
    with pytest.raises(tdx.SyntaxError) as syntax:
        await client.query("1 +")
    assert syntax.value.error_code == Err.EX_SYNTAX_ERROR


@pytest.mark.parametrize("library", ["picows", "websockets"])
async def test_websocket_max_size_bounds_a_websocket_message(
    node: realnode.Node, library: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip(library)
    from thingsdb.client import wsprotocol

    monkeypatch.setattr(wsprotocol, "WEBSOCKET_MAX_SIZE", 4096)
    client = Client(websocket_library=library)  # type: ignore[arg-type]
    await client.connect(node.ws_address)
    try:
        await client.authenticate(node.user, node.password)
        assert await client.query("range(100).map(||'x').join('');") == "x" * 100
        with pytest.raises(tdx.ProtocolError, match=r"4096|too big|exceeds"):
            await client.query("range(10000).map(||'x').join('');", timeout=10)
    finally:
        await client.close_and_wait()
    # read at every connect: back at its default, the same result arrives
    monkeypatch.setattr(wsprotocol, "WEBSOCKET_MAX_SIZE", (1 << 30) + 8)
    client = Client(websocket_library=library)  # type: ignore[arg-type]
    await client.connect(node.ws_address)
    try:
        await client.authenticate(node.user, node.password)
        assert len(await client.query("range(10000).map(||'x').join('');")) == 10000
    finally:
        await client.close_and_wait()


async def test_restore_takes_python_thingsdb_options(client: Client) -> None:
    # no such file: the node reads the options thing, then refuses the file
    with pytest.raises(tdx.ThingsDBError, match=r"file|restore|collection"):
        await client.restore("/nonexistent/backup.tar.gz", {"take_access": True})


async def test_lock_setup_with_a_collection_name(
    node: realnode.Node, collection: str
) -> None:
    from thingsdb.misc import lock

    client = await connected(node)
    try:
        await lock.setup(client, collection=collection)
        async with lock.lock(client, "job", scope=collection, timeout=5) as ticket:
            assert isinstance(ticket, int)
            assert await lock.locked(client, "job", scope=collection)
    finally:
        await client.close_and_wait()


async def test_max_reconnect_settings_are_read_at_use(node: realnode.Node) -> None:
    client = Client()
    assert client._connect_timeout == Client.MAX_RECONNECT_TIMEOUT
    client.MAX_RECONNECT_TIMEOUT = 1.5
    client.MAX_RECONNECT_WAIT_TIME = 2.5
    assert client._connect_timeout == 1.5
    assert client._reconnect_max_delay == 2.5
    given = Client(connect_timeout=3, reconnect_max_delay=4)
    given.MAX_RECONNECT_TIMEOUT = 1
    assert given._connect_timeout == 3
    assert given._reconnect_max_delay == 4


def test_importing_a_module_does_not_hide_the_function_of_its_name() -> None:
    """``thingsdb.room.event`` and ``thingsdb.util.is_name`` (...) are both
    modules and functions: importing the module, in a fresh interpreter,
    leaves the package's name the function."""
    code = (
        "import thingsdb.room.event, thingsdb.util.is_name, thingsdb.util.cnscope\n"
        "import thingsdb.util.fcscope, thingsdb.util.strip_code\n"
        "from thingsdb.room import event\n"
        "from thingsdb.util import is_name, cnscope, fcscope, strip_code\n"
        "for f in (event, is_name, cnscope, fcscope, strip_code):\n"
        "    assert callable(f), f\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
