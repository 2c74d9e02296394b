"""thingsdb.telemetry against real nodes: the spans and measurements of a
query, a run, an error, a room (join, emit, an event, leave) and connecting,
for both clients, read back from the SDK's in-memory exporter and reader;
the trace context of a room handler, after an await and in the blocking
client's threads; and a failover (SIGTERM of the node in use) told by spans
and counters."""

from __future__ import annotations

import asyncio
import queue
import signal
import threading
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

import realnode
from loopthread import LoopThread
from otelsdk import Recorded, otel
from thingsdb import exceptions, sync
from thingsdb.client import Client
from thingsdb.room import Room, event
from thingsdb.testing import Cluster

__all__ = ["otel"]  # the fixture, imported for the tests below

pytestmark = pytest.mark.node

SCOPE = "//stuff"
#: a room's scope as the room spells it (and its spans name it)
ROOM_SCOPE = "@collection:stuff"


@pytest.fixture
def prepared(node: realnode.Node) -> int:
    """The procedure and the room the tests use; the room's id."""
    node.query(
        "has_procedure('otel_add') || new_procedure('otel_add', |a, b| a + b);",
        scope=SCOPE,
    )
    room_id: int = node.query(
        ".has('otel_room') || .otel_room = room(); .otel_room.id();", scope=SCOPE
    )
    return room_id


def parent_of(span: ReadableSpan) -> int | None:
    return None if span.parent is None else span.parent.span_id


def span_id(span: ReadableSpan | trace.Span) -> int:
    context = span.get_span_context()
    assert context is not None
    return context.span_id


def attrs(span: ReadableSpan) -> dict[str, Any]:
    assert span.attributes is not None
    return dict(span.attributes)


def check_request(
    span: ReadableSpan, node: realnode.Node, operation: str, scope: str = SCOPE
) -> None:
    a = attrs(span)
    assert span.kind == SpanKind.CLIENT
    assert a["db.system.name"] == "thingsdb"
    assert a["db.namespace"] == scope
    assert a["db.operation.name"] == operation
    assert (a["server.address"], a["server.port"]) == node.address


async def test_asyncio_query_run_error_and_connect(
    otel: Recorded, node: realnode.Node, prepared: int
) -> None:
    tracer = otel.tracer_provider.get_tracer("test")
    client = Client()
    await client.connect(*node.address)
    await client.authenticate("admin", "pass")
    try:
        with tracer.start_as_current_span("request") as outer:
            assert await client.query(".otel = 1;\n.otel;", scope=SCOPE) == 1
            assert await client.run("otel_add", 1, 2, scope=SCOPE) == 3
            with pytest.raises(exceptions.LookupError):
                await client.query(".no_such_property;", scope=SCOPE)
            # after the awaits, the caller's span is the current one still
            assert trace.get_current_span() is outer
            with tracer.start_as_current_span("after"):
                pass
    finally:
        await client.close_and_wait()

    connect = otel.span("connect")
    assert attrs(connect)["server.port"] == node.address[1]
    assert attrs(otel.span("authenticate"))["server.port"] == node.address[1]

    query = otel.span(".otel = 1; //stuff")
    check_request(query, node, ".otel = 1;")
    assert "db.query.text" not in attrs(query)  # not asked for
    assert query.status.status_code == StatusCode.UNSET

    run = otel.span("otel_add //stuff")
    check_request(run, node, "otel_add")
    assert attrs(run)["db.stored_procedure.name"] == "otel_add"

    failed = otel.span(".no_such_property; //stuff")
    check_request(failed, node, ".no_such_property;")
    assert attrs(failed)["error.type"] == "thingsdb.exceptions.LookupError"
    assert attrs(failed)["db.response.status_code"] == "-54"
    assert failed.status.status_code == StatusCode.ERROR

    request = otel.span("request")
    for span in (query, run, failed, otel.span("after")):
        assert parent_of(span) == span_id(request)

    durations = {
        p.attributes["db.operation.name"]: p
        for p in otel.points("db.client.operation.duration")
    }
    assert durations[".otel = 1;"].count == 1
    assert durations["otel_add"].count == 1
    assert durations["connect"].count == 1
    errors = [
        p
        for p in otel.points("db.client.operation.duration")
        if p.attributes.get("error.type") == "thingsdb.exceptions.LookupError"
    ]
    assert [p.attributes["db.response.status_code"] for p in errors] == ["-54"]


async def test_asyncio_room_join_emit_event_leave(
    otel: Recorded, node: realnode.Node, prepared: int
) -> None:
    tracer = otel.tracer_provider.get_tracer("test")
    handled: asyncio.Queue[int] = asyncio.Queue()

    class Pings(Room):
        @event("ping")
        async def on_ping(self, n: int) -> None:
            with tracer.start_as_current_span("handler"):
                await self.client.query(".otel_seen = n;", n=n, scope=SCOPE)
            handled.put_nowait(n)

    client = Client()
    await client.connect(*node.address)
    await client.authenticate("admin", "pass")
    try:
        room = Pings(prepared, scope=SCOPE)
        await room.join(client)
        await room.emit("ping", 7)
        assert await asyncio.wait_for(handled.get(), 10) == 7
        await room.leave()
    finally:
        await client.close_and_wait()

    join = otel.span("join @collection:stuff")
    check_request(join, node, "join", ROOM_SCOPE)
    assert attrs(join)["thingsdb.room.ids"] == (str(prepared),)
    emit = otel.span("emit @collection:stuff")
    check_request(emit, node, "emit", ROOM_SCOPE)
    assert attrs(emit)["thingsdb.room.event"] == "ping"
    check_request(otel.span("leave @collection:stuff"), node, "leave", ROOM_SCOPE)
    # a span started in the handler is the parent of the handler's query
    seen = otel.span(".otel_seen = n; //stuff")
    assert parent_of(seen) == span_id(otel.span("handler"))
    assert otel.total("thingsdb.client.room_events") >= 1
    (point,) = otel.points("thingsdb.client.room_events")
    assert point.attributes["db.namespace"] == ROOM_SCOPE


def test_blocking_client_spans_and_threads(
    otel: Recorded, node: realnode.Node, prepared: int
) -> None:
    tracer = otel.tracer_provider.get_tracer("test")
    handled: queue.Queue[int] = queue.Queue()

    class Pings(sync.Room):
        @sync.event("ping")
        def on_ping(self, n: int) -> None:
            with tracer.start_as_current_span("sync handler"):
                self.client.query(".otel_seen = n;", n=n, scope=SCOPE)
            handled.put(n)

    client = sync.Client()
    client.connect(*node.address)
    client.authenticate("admin", "pass")
    try:
        results: list[Any] = []

        def worker() -> None:
            # each thread's calls are children of that thread's span
            with tracer.start_as_current_span("worker"):
                results.append(client.query("1 + 1;", scope=SCOPE))
                results.append(client.idempotent.run("otel_add", 2, 2, scope=SCOPE))

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == [2, 2, 4, 4]
        with pytest.raises(exceptions.LookupError):
            client.query(".no_such_property;", scope=SCOPE)

        room = Pings(prepared, scope=SCOPE)
        with tracer.start_as_current_span("joiner"):
            room.join(client)
        room.emit("ping", 9)
        assert handled.get(timeout=10) == 9
        room.leave()
    finally:
        client.close()

    workers = {span_id(s) for s in otel.spans() if s.name == "worker"}
    queries = [s for s in otel.spans() if s.name == "1 + 1; //stuff"]
    runs = [s for s in otel.spans() if s.name == "otel_add //stuff"]
    assert len(queries) == len(runs) == 2
    for span in queries + runs:
        check_request(span, node, attrs(span)["db.operation.name"])
        assert parent_of(span) in workers
    failed = otel.span(".no_such_property; //stuff")
    assert attrs(failed)["db.response.status_code"] == "-54"
    check_request(otel.span("join @collection:stuff"), node, "join", ROOM_SCOPE)
    check_request(otel.span("emit @collection:stuff"), node, "emit", ROOM_SCOPE)
    check_request(otel.span("leave @collection:stuff"), node, "leave", ROOM_SCOPE)
    # the room's thread carries the joiner's context; the handler's own
    # span is the parent of its query
    handler = otel.span("sync handler")
    assert parent_of(handler) == span_id(otel.span("joiner"))
    assert parent_of(otel.span(".otel_seen = n; //stuff")) == span_id(handler)
    assert otel.total("thingsdb.client.room_events") >= 1


#: a query that runs for a while (long enough to cut its connection)
HEAVY = "x = 0; range(10000).each(|i| range(1000).each(|j| x += j)); x;"
HEAVY_RESULT = 4995000000


async def test_asyncio_idempotent_resend_after_a_lost_connection(
    otel: Recorded, node: realnode.Node
) -> None:
    async with realnode.Proxy(node.address) as proxy:
        client = Client(reconnect_delay=0.05)
        try:
            await client.connect(*proxy.address)
            await client.authenticate("admin", "pass")
            task = asyncio.ensure_future(
                client.idempotent.query(HEAVY, scope=SCOPE, timeout=60)
            )
            await asyncio.sleep(0.2)  # written, the node is running it
            proxy.drop()
            assert await task == HEAVY_RESULT
        finally:
            await client.close_and_wait()
    span = otel.span(
        "x = 0; range(10000).each(|i| range(1000).each(|j| x += j)); x; //stuff"
    )
    assert [e.name for e in span.events] == [
        "thingsdb.idempotent_resend",
        "thingsdb.waited_for_connection",
    ]
    assert span.status.status_code == StatusCode.UNSET
    assert otel.total("thingsdb.client.idempotent_resends") == 1
    assert otel.total("thingsdb.client.reconnects") == 1
    assert otel.total("thingsdb.client.node_moves") == 0


def test_blocking_idempotent_resend_after_a_lost_connection(
    otel: Recorded, node: realnode.Node
) -> None:
    proxy_loop = LoopThread()  # the test proxy is asyncio code
    proxy = realnode.Proxy(node.address)
    proxy_loop.run(proxy.start())
    client = sync.Client(reconnect_delay=0.05)
    try:
        client.connect(*proxy.address)
        client.authenticate("admin", "pass")
        timer = threading.Timer(0.2, proxy_loop.call_soon, (proxy.drop,))
        timer.start()
        answer = client.idempotent.query(HEAVY, scope=SCOPE, timeout=60)
        assert answer == HEAVY_RESULT
        timer.join()
    finally:
        client.close()
        proxy_loop.run(proxy.close())
        proxy_loop.stop(10)
    span = otel.span(
        "x = 0; range(10000).each(|i| range(1000).each(|j| x += j)); x; //stuff"
    )
    assert "thingsdb.idempotent_resend" in [e.name for e in span.events]
    assert span.status.status_code == StatusCode.UNSET
    assert otel.total("thingsdb.client.idempotent_resends") == 1
    assert otel.total("thingsdb.client.reconnects") == 1


@pytest.mark.timeout(300)
async def test_failover_told_by_spans_and_counters(
    otel: Recorded, tmp_path: Any
) -> None:
    """SIGTERM of the node in use, with 20 tasks reading: the client moves
    to another node; requests made meanwhile wait for it, which their spans
    say (and where they went), and the counters count one reconnect and
    one move; no request fails."""
    async with Cluster(
        3, workdir=tmp_path, extra_config={"shutdown_period": 3}
    ) as cluster:
        client = Client(reconnect_delay=0.05, reconnect_max_delay=0.5)
        await client.connect_pool(cluster.addresses, "admin", "pass", timeout=20)
        in_use = client.connection_info()
        (victim,) = [n for n in cluster if f"{n.host}:{n.client_port}" == in_use]
        failed: list[BaseException] = []
        running = True

        async def reader() -> None:
            while running:
                try:
                    await client.query("nil;", scope="@t", timeout=20)
                except Exception as exc:  # noqa: BLE001 - recorded and checked
                    failed.append(exc)
                await asyncio.sleep(0)

        tasks = [asyncio.create_task(reader()) for _ in range(20)]
        try:
            await asyncio.sleep(0.5)
            victim.kill(signal.SIGTERM)
            for _ in range(200):
                await asyncio.sleep(0.05)
                if client.connection_info() != in_use:
                    break
            await asyncio.sleep(1.0)
            now = client.connection_info()
        finally:
            running = False
            await asyncio.gather(*tasks)
            await client.close_and_wait()
        assert failed == []

    assert now != in_use
    connect = otel.span("connect")
    assert (
        f"{attrs(connect)['server.address']}:{attrs(connect)['server.port']}" == in_use
    )
    assert otel.total("thingsdb.client.reconnects") == 1
    assert otel.total("thingsdb.client.node_moves") == 1
    (moved,) = otel.points("thingsdb.client.node_moves")
    assert moved.attributes["server.port"] == int(now.rsplit(":", 1)[1])

    spans = [s for s in otel.spans() if s.name == "nil; @t"]
    waited = [
        s
        for s in spans
        if any(e.name == "thingsdb.waited_for_connection" for e in s.events)
    ]
    before = [
        s
        for s in spans
        if f"{attrs(s)['server.address']}:{attrs(s)['server.port']}" == in_use
    ]
    after = [
        s
        for s in spans
        if f"{attrs(s)['server.address']}:{attrs(s)['server.port']}" == now
    ]
    assert before
    assert after
    assert waited
    # each request that waited says so, and where it went
    for span in waited:
        assert attrs(span)["server.port"] == int(now.rsplit(":", 1)[1])
    assert all(s.status.status_code == StatusCode.UNSET for s in spans)


async def test_typed_requests_have_spans_too(
    otel: Recorded, node: realnode.Node, prepared: int
) -> None:
    """client.typed(T) (both clients): the same spans as query() and run()."""
    client = Client()
    await client.connect(*node.address)
    await client.authenticate("admin", "pass")
    try:
        assert await client.typed(int).query("40 + 2;", scope=SCOPE) == 42
        assert await client.typed(int).run("otel_add", 1, 2, scope=SCOPE) == 3
    finally:
        await client.close_and_wait()
    check_request(otel.span("40 + 2; //stuff"), node, "40 + 2;")
    check_request(otel.span("otel_add //stuff"), node, "otel_add")

    with sync.Client() as blocking:
        blocking.connect(*node.address)
        blocking.authenticate("admin", "pass")
        assert blocking.typed(int).query("6 * 7;", scope=SCOPE) == 42
        assert blocking.idempotent.typed(int).run("otel_add", 2, 3, scope=SCOPE) == 5
    check_request(otel.span("6 * 7; //stuff"), node, "6 * 7;")
    assert len([s for s in otel.spans() if s.name == "otel_add //stuff"]) == 2
