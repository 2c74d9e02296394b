"""The blocking client without a node: the generated helper wrappers, the
checks before anything is sent, the handler threads."""

from __future__ import annotations

import asyncio
import functools
import inspect
import re
import threading
from typing import Any

import pytest

import generate_sync_builtins as _generate  # tools/, on pytest's pythonpath
from thingsdb.client import Client as AsyncClient
from thingsdb.client.builtins import Builtins
from thingsdb.exceptions import ConnectError, NotConnectedError
from thingsdb.sync import Client, Room, event
from thingsdb.sync._runner import HandlerThread
from thingsdb.testing import free_ports


def test_generated_wrappers_are_up_to_date() -> None:
    assert _generate.TARGET.read_text() == _generate.render(), (
        "src/thingsdb/sync/_builtins.py is stale: run "
        "`python tools/generate_sync_builtins.py`"
    )


def _public_methods() -> list[str]:
    return sorted(
        name
        for name, fn in inspect.getmembers(AsyncClient)
        if not name.startswith("_") and callable(fn)
    )


def test_every_async_method_has_a_blocking_twin() -> None:
    missing = [n for n in _public_methods() if not hasattr(Client, n)]
    assert missing == []


@pytest.mark.parametrize("name", _public_methods())
def test_method_signature_matches(name: str) -> None:
    """Same parameters, same defaults, same return type, no coroutine; the
    planned differences: reconnect(), which can wait, and the calls whose
    async twin returns a future or task (the blocking one returns what that
    future holds)."""
    asynchronous = inspect.signature(getattr(AsyncClient, name))
    blocking = inspect.signature(getattr(Client, name))
    assert not inspect.iscoroutinefunction(getattr(Client, name))
    if name == "reconnect":
        assert str(asynchronous) == "(self) -> 'asyncio.Task[None] | None'"
        assert str(blocking) == (
            "(self, wait: 'bool' = True, timeout: 'float | None' = None) -> 'None'"
        )
        return
    held = {
        "RequestFuture[Any]": "Any",
        "asyncio.Task[None]": "None",
    }.get(str(asynchronous.return_annotation))
    if held is not None:
        assert str(blocking.return_annotation) == held
        asynchronous = asynchronous.replace(return_annotation=held)
    assert str(blocking) == str(asynchronous)


def test_constructor_takes_the_async_settings_but_loop() -> None:
    asynchronous = inspect.signature(AsyncClient.__init__).parameters
    blocking = inspect.signature(Client.__init__).parameters
    assert list(blocking) == [p for p in asynchronous if p != "loop"]
    for name, param in blocking.items():
        assert param == asynchronous[name]


@pytest.mark.parametrize("name", _generate.helper_names())
def test_helper_forwards_every_argument(name: str) -> None:
    """Each wrapper calls the async helper of the same name, with each of
    its arguments in the right place."""
    calls: list[tuple[object, tuple[object, ...], dict[str, object]]] = []

    class Recording(Client):
        def _call(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
            calls.append((fn, args, kwargs))

    params = list(inspect.signature(getattr(Client, name)).parameters)[1:]
    values = {p: object() for p in params}
    getattr(Recording(), name)(**values)
    [(fn, args, kwargs)] = calls
    assert fn is getattr(Builtins, name)
    bound = inspect.signature(fn).bind(None, *args, **kwargs)  # self: any
    assert {k: v for k, v in bound.arguments.items() if k != "self"} == values


@pytest.mark.parametrize("name", _generate.helper_names())
def test_helper_signature_matches(name: str) -> None:
    asynchronous = inspect.signature(getattr(Builtins, name))
    blocking = inspect.signature(getattr(Client, name))
    assert str(blocking).replace('"', "'") == str(asynchronous).replace('"', "'")
    assert not inspect.iscoroutinefunction(getattr(Client, name))
    assert inspect.getdoc(getattr(Client, name)) == inspect.getdoc(
        getattr(Builtins, name)
    )


def test_bad_settings_raise_at_once() -> None:
    with pytest.raises(ValueError, match="ping_interval"):
        Client(ping_interval=0)


def test_calls_before_connect_and_after_close() -> None:
    client = Client()
    with pytest.raises(NotConnectedError, match="call connect"):
        client.query("1;")
    with pytest.raises(NotConnectedError, match="call connect"):
        client.node_info()
    assert not client.is_connected()
    assert client.connection_info() == "disconnected"
    client.close()
    client.close()  # twice is fine
    with pytest.raises(NotConnectedError, match="closed"):
        client.query("1;")


def test_refused_connect_then_close_leaves_no_thread() -> None:
    before = set(threading.enumerate())
    client = Client()
    with pytest.raises(OSError):  # noqa: PT011 - refused, whatever the errno
        client.connect("127.0.0.1", 1, timeout=5)
    client.close()
    assert set(threading.enumerate()) <= before


def test_default_scope() -> None:
    client = Client()
    assert client.get_default_scope() == "@t"
    client.set_default_scope("//stuff")
    assert client.get_default_scope() == "//stuff"
    with pytest.raises(ValueError, match="scope"):
        client.set_default_scope("stuff")


async def test_a_call_inside_a_running_loop_is_made_as_anywhere() -> None:
    # no refusal for the loop: the call goes ahead (here: not connected)
    client = Client()
    with pytest.raises(NotConnectedError):
        client.query("1;")
    with pytest.raises(NotConnectedError):
        client.new_user("x")
    with pytest.raises(ConnectError):
        client.connect("127.0.0.1", free_ports(1)[0], timeout=5)
    client.close()


def test_sync_room_refuses_coroutine_handlers() -> None:
    with pytest.raises(TypeError, match="plain functions"):

        class Bad(Room):
            @event("x")
            async def on_x(self) -> None:
                pass

    with pytest.raises(TypeError, match="on_join"):

        class BadHook(Room):
            async def on_join(self) -> None:  # type: ignore[override]
                pass


def test_room_events_timeout_ends_iteration() -> None:
    room = Room("chat", scope="//stuff")
    assert list(room.events(timeout=0.05)) == []
    with pytest.raises(ValueError, match="timeout"):
        room.events(timeout=0)
    with pytest.raises(RuntimeError, match="join"):
        room.emit("x")
    with pytest.raises(TypeError, match=r"thingsdb\.sync\.Client"):
        room.join(AsyncClient())  # type: ignore[arg-type]


def test_handler_thread_keeps_order_and_survives_errors() -> None:
    worker = HandlerThread("test-handlers")
    seen: list[int] = []

    def boom() -> None:
        raise ValueError("boom")

    futures = [worker.submit(functools.partial(seen.append, i)) for i in range(50)]
    failed = worker.submit(boom)
    after = worker.submit(lambda: seen.append(50))
    after.result(5)
    assert [f.result(5) for f in futures] == [None] * 50
    assert isinstance(failed.exception(5), ValueError)
    assert seen == list(range(51))
    thread = worker.thread
    ended: list[str] = []
    threads = worker.stop(lambda: ended.append("final"))
    assert thread is not None
    assert threads == [thread]
    thread.join(5)
    assert not thread.is_alive()
    assert ended == ["final"]  # run in the handler thread, after the queue
    assert isinstance(worker.submit(lambda: None).exception(), NotConnectedError)
    assert worker.stop(lambda: ended.append("again")) == []


def test_handler_thread_parks_and_starts_again() -> None:
    worker = HandlerThread("test-park")
    seen: list[int] = []
    gate = threading.Event()
    worker.submit(gate.wait)
    first = worker.thread
    assert first is not None
    worker.park()
    late = worker.submit(lambda: seen.append(1))  # came after the park: same thread
    gate.set()
    late.result(5)
    assert worker.thread is first
    worker.park()
    first.join(5)
    assert not first.is_alive()  # a parked, idle handler holds no thread
    assert worker.thread is None
    worker.submit(lambda: seen.append(2)).result(5)
    second = worker.thread
    assert second is not None
    assert second is not first
    assert seen == [1, 2]
    for thread in worker.stop(lambda: None):
        thread.join(5)
    assert not second.is_alive()


def test_stop_without_a_thread_runs_final_here() -> None:
    worker = HandlerThread("test-no-thread")
    where: list[threading.Thread] = []
    assert worker.stop(lambda: where.append(threading.current_thread())) == []
    assert where == [threading.current_thread()]
    assert worker.thread is None


def test_helpers_run_the_async_helpers_over_the_blocking_query() -> None:
    """A helper is the async client's own, its coroutine driven here: each
    query it awaits is a blocking query() of this client."""
    asked: list[tuple[str, dict[str, Any]]] = []

    class Answering(Client):
        def query(
            self,
            code: str,
            scope: str | None = None,
            timeout: float | None = None,
            skip_strip_code: bool = False,
            **kwargs: Any,
        ) -> Any:
            asked.append((code, {"scope": scope, "timeout": timeout, **kwargs}))
            return "carol"

    client = Answering()
    assert client.new_user("carol", timeout=3) == "carol"
    assert asked == [
        ("new_user(name);", {"scope": "@t", "timeout": 3, "name": "carol"})
    ]
    asked.clear()
    client.whitelist_add("carol", "rooms", re.compile("^chat", re.IGNORECASE))
    [(code, variables)] = asked
    assert "regex(pattern, flags)" in code
    assert variables["pattern"] == "^chat"
    assert variables["flags"] == "i"


def test_a_helper_that_awaits_something_else_is_refused() -> None:
    async def odd(builtins: Builtins) -> None:
        await asyncio.sleep(0)

    with pytest.raises(RuntimeError, match="awaited something other than a query"):
        Client()._call(odd)
