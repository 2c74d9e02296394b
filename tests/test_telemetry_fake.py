"""thingsdb.telemetry against the fake node, for what a real node cannot be
made to do on cue: a node that is not ready itself, left for the next one
of the pool, as the spans and counters of both clients tell it."""

from __future__ import annotations

import pytest

from bothclients import MakeClient
from fakenode import FakeNode, not_ready_for
from otelsdk import Recorded, otel
from thingsdb.protocol import PackageType

__all__ = ["otel"]  # the fixture, imported for the tests below

STARTING = "node `0` is not ready to handle client requests"


async def test_a_node_not_ready_is_left_and_the_span_says_so(
    otel: Recorded, monkeypatch: pytest.MonkeyPatch, make_client: MakeClient
) -> None:
    # the pool's first pick: the node that is starting
    monkeypatch.setattr("thingsdb.engine.failover.random.randrange", lambda n: 0)
    async with FakeNode(not_ready_for(1000, STARTING)) as sick, FakeNode() as well:
        client = make_client(reconnect_delay=0.01)
        await client.connect_pool(
            [("127.0.0.1", sick.port), ("127.0.0.1", well.port)],
            "admin",
            "pass",
            timeout=5,
        )
        try:
            assert await client.query("answered", scope="@t", timeout=5) == "answered"
            assert len(sick.requests(PackageType.QUERY)) == 1
        finally:
            await client.close_and_wait()

    connect = otel.span("connect")
    assert connect.attributes is not None
    assert connect.attributes["server.port"] == sick.port
    span = otel.span("answered @t")
    assert span.attributes is not None
    assert [e.name for e in span.events] == [
        "thingsdb.not_ready_retry",
        "thingsdb.waited_for_connection",
    ]
    # where the request was answered in the end
    assert span.attributes["server.port"] == well.port
    assert "error.type" not in span.attributes
    assert otel.total("thingsdb.client.not_ready_retries") == 1
    assert otel.total("thingsdb.client.reconnects") == 1
    assert otel.total("thingsdb.client.node_moves") == 1
    (retry,) = otel.points("thingsdb.client.not_ready_retries")
    assert retry.attributes["server.port"] == sick.port
    (move,) = otel.points("thingsdb.client.node_moves")
    assert move.attributes["server.port"] == well.port
