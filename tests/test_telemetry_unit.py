"""thingsdb.telemetry without a node: names and attributes, the switch,
spans and measurements read back from the SDK's in-memory exporter and
reader, and the context a span is started in."""

from __future__ import annotations

import asyncio
import threading

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from otelsdk import Recorded, otel
from thingsdb import exceptions, telemetry
from thingsdb.telemetry import _switch, names
from thingsdb.transport import parse_address

__all__ = ["otel"]  # the fixture, imported for the tests below

NODE = parse_address("127.0.0.1", 9200)


def test_operation_name_is_the_first_line_of_the_code() -> None:
    assert names.query_operation("\n  .x = 1;\n.y = 2") == ".x = 1;"
    assert names.query_operation("   ") == "query"
    assert names.query_operation(b"bytes") == "query"
    long = "a" * 200
    assert names.query_operation(long) == "a" * 77 + "..."
    assert names.span_name("nil", "@:stuff") == "nil @:stuff"
    assert names.span_name("connect", None) == "connect"


def test_server_and_error_attributes() -> None:
    assert names.server_attributes(NODE) == {
        "server.address": "127.0.0.1",
        "server.port": 9200,
    }
    assert names.server_attributes(parse_address("unix:/tmp/ti.sock")) == {
        "server.address": "/tmp/ti.sock",
        "network.transport": "unix",
    }
    assert names.server_attributes(None) == {}
    err = exceptions.LookupError(errdata={"error_code": -54, "error_msg": "no"})
    assert names.error_attributes(err) == {
        "error.type": "thingsdb.exceptions.LookupError",
        "db.response.status_code": "-54",
    }
    assert names.error_attributes(ConnectionResetError()) == {
        "error.type": "ConnectionResetError"
    }


def test_off_by_default_and_after_uninstrument(otel: Recorded) -> None:
    assert telemetry.is_instrumented()
    telemetry.uninstrument()
    assert not telemetry.is_instrumented()
    assert _switch.SWITCH.on is None
    # the hooks of the engine do nothing while off
    _switch.in_use(NODE, reconnect=True, moved=True)
    _switch.resent(NODE)
    with _switch.connection("connect", NODE):
        pass
    assert otel.spans() == []
    assert otel.points("thingsdb.client.reconnects") == []


def test_a_query_span_and_its_duration(otel: Recorded) -> None:
    hooks = _switch.SWITCH.on
    assert hooks is not None
    with hooks.query(".x = 1;\n.y = 2;", "@:stuff", NODE):
        pass
    span = otel.span(".x = 1; @:stuff")
    assert span.kind == SpanKind.CLIENT
    assert span.attributes == {
        "db.system.name": "thingsdb",
        "db.namespace": "@:stuff",
        "db.operation.name": ".x = 1;",
        "server.address": "127.0.0.1",
        "server.port": 9200,
    }
    (point,) = otel.points("db.client.operation.duration")
    assert point.count == 1
    assert 0 <= point.sum < 1
    assert point.attributes["db.operation.name"] == ".x = 1;"


def test_query_text_only_when_asked(otel: Recorded) -> None:
    telemetry.instrument(tracer_provider=otel.tracer_provider, query_text=True)
    hooks = _switch.SWITCH.on
    assert hooks is not None
    with hooks.query("nil;", "@:stuff", NODE):
        pass
    attributes = otel.span("nil; @:stuff").attributes
    assert attributes is not None
    assert attributes["db.query.text"] == "nil;"


def test_a_failed_run(otel: Recorded) -> None:
    hooks = _switch.SWITCH.on
    assert hooks is not None
    err = exceptions.LookupError(errdata={"error_code": -54, "error_msg": "gone"})
    with pytest.raises(exceptions.LookupError), hooks.run("add", "@:stuff", NODE):
        raise err
    span = otel.span("add @:stuff")
    assert span.attributes is not None
    assert span.attributes["db.stored_procedure.name"] == "add"
    assert span.attributes["error.type"] == "thingsdb.exceptions.LookupError"
    assert span.attributes["db.response.status_code"] == "-54"
    assert span.status.status_code == StatusCode.ERROR
    assert [e.name for e in span.events] == ["exception"]
    (point,) = otel.points("db.client.operation.duration")
    assert point.attributes["error.type"] == "thingsdb.exceptions.LookupError"


async def test_a_future_ends_its_span_and_keeps_the_callers_context(
    otel: Recorded,
) -> None:
    hooks = _switch.SWITCH.on
    assert hooks is not None
    tracer = otel.tracer_provider.get_tracer("app")
    loop = asyncio.get_running_loop()
    with tracer.start_as_current_span("handler") as parent:
        fut: asyncio.Future[int] = loop.create_future()

        def submit() -> asyncio.Future[int]:
            # what is sent meanwhile sees the operation (for its events)
            op = _switch.CURRENT.get()
            assert op is not None
            _switch.waited_for_connection(NODE)
            return fut

        got = _switch.follow(hooks.query("nil", "@:stuff", NODE), submit)
        assert _switch.CURRENT.get() is None
        # the caller's span is still the current one, not the request's
        assert trace.get_current_span() is parent
        loop.call_soon(fut.set_result, 1)
        assert await got == 1
        with tracer.start_as_current_span("after the await"):
            pass
    spans = {s.name: s for s in otel.spans()}
    request = spans["nil @:stuff"]
    assert request.parent is not None
    assert request.parent.span_id == parent.get_span_context().span_id
    after = spans["after the await"]
    assert after.parent is not None
    assert after.parent.span_id == parent.get_span_context().span_id
    assert [e.name for e in request.events] == ["thingsdb.waited_for_connection"]


async def test_a_cancelled_request(otel: Recorded) -> None:
    hooks = _switch.SWITCH.on
    assert hooks is not None
    fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    _switch.follow(hooks.query("nil", "@:stuff", NODE), lambda: fut)
    fut.cancel()
    await asyncio.sleep(0)
    span = otel.span("nil @:stuff")
    assert span.attributes is not None
    assert span.attributes["error.type"] == "asyncio.exceptions.CancelledError"


def test_counters_and_span_events(otel: Recorded) -> None:
    hooks = _switch.SWITCH.on
    assert hooks is not None
    other = parse_address("127.0.0.1", 9201)
    with hooks.query("nil", "@:stuff", NODE):
        _switch.not_ready_retry(NODE)
        _switch.resent(NODE)
        _switch.waited_for_connection(other)
    _switch.in_use(other, reconnect=True, moved=True)
    _switch.in_use(other, reconnect=True, moved=False)
    _switch.room_event("@:stuff")
    span = otel.span("nil @:stuff")
    assert [e.name for e in span.events] == [
        "thingsdb.not_ready_retry",
        "thingsdb.idempotent_resend",
        "thingsdb.waited_for_connection",
    ]
    assert span.attributes is not None
    assert span.attributes["server.port"] == 9201  # where it went in the end
    assert otel.total("thingsdb.client.reconnects") == 2
    assert otel.total("thingsdb.client.node_moves") == 1
    assert otel.total("thingsdb.client.not_ready_retries") == 1
    assert otel.total("thingsdb.client.idempotent_resends") == 1
    assert otel.total("thingsdb.client.room_events") == 1


def test_carry_context_into_a_thread(otel: Recorded) -> None:
    tracer = otel.tracer_provider.get_tracer("app")
    seen: list[trace.Span] = []

    def work() -> None:
        seen.append(trace.get_current_span())

    with tracer.start_as_current_span("caller") as caller:
        carried = telemetry.carry_context(work)
    threads = [threading.Thread(target=carried) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == [caller, caller]
