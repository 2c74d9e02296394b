"""thingsdb.telemetry for the HTTP clients, against real nodes with their
HTTP API on: the spans and durations of a query, a run and an error, the
node that answered when the first URL is dead, and an idempotent request
sent again after its node was killed (an event on its span, the resend
counter); both the blocking and the asyncio client."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.trace import SpanKind, StatusCode

import realnode
from otelsdk import Recorded, otel
from test_http_failover import SLOW, dead_url, kill_soon, pair
from test_http_node import close, http_node, make
from thingsdb import exceptions as tdx

__all__ = ["http_node", "otel", "pair"]  # the fixtures, imported for the tests below

pytestmark = [pytest.mark.node, pytest.mark.timeout(120)]

KINDS = ["async", "blocking"]


@pytest.fixture
def with_procedure(http_node: realnode.Node) -> realnode.Node:
    """test_http_node's node, with the procedure the tests run."""
    http_node.query(
        "has_procedure('otel_add') || new_procedure('otel_add', |a, b| a + b);",
        "//stuff",
    )
    return http_node


def attrs(otel: Recorded, name: str) -> dict[str, Any]:
    span = otel.span(name)
    assert span.kind == SpanKind.CLIENT
    assert span.attributes is not None
    return dict(span.attributes)


def http_port(node: realnode.Node) -> int:
    return node.http_api_port


@pytest.mark.parametrize("kind", KINDS)
async def test_query_run_and_error_spans(
    otel: Recorded, with_procedure: realnode.Node, kind: str
) -> None:
    http_node = with_procedure
    # the first URL is dead: the span names the node that answered
    client = make(kind, dead_url(), http_node.http_url, auth=("admin", "pass"))
    try:
        assert await client.query(".otel = 1;\n.otel;", scope="//stuff") == 1
        assert await client.run("otel_add", 1, 2, scope="//stuff") == 3
        with pytest.raises(tdx.LookupError):
            await client.query(".no_such_property;", scope="//stuff")
    finally:
        await close(client)

    query = attrs(otel, ".otel = 1; //stuff")
    assert query["db.system.name"] == "thingsdb"
    assert query["db.namespace"] == "//stuff"
    assert query["db.operation.name"] == ".otel = 1;"
    assert (query["server.address"], query["server.port"]) == (
        "127.0.0.1",
        http_port(http_node),
    )
    assert "db.query.text" not in query  # not asked for

    run = attrs(otel, "otel_add //stuff")
    assert run["db.stored_procedure.name"] == "otel_add"
    assert run["server.port"] == http_port(http_node)

    failed = otel.span(".no_such_property; //stuff")
    assert failed.attributes is not None
    assert failed.attributes["error.type"] == "thingsdb.exceptions.LookupError"
    assert failed.attributes["db.response.status_code"] == "-54"
    assert failed.status.status_code == StatusCode.ERROR

    durations = otel.points("db.client.operation.duration")
    assert sum(p.count for p in durations) == 3
    assert {p.attributes["db.operation.name"] for p in durations} == {
        ".otel = 1;",
        "otel_add",
        ".no_such_property;",
    }


@pytest.mark.parametrize("kind", KINDS)
async def test_an_idempotent_resend_is_told(
    otel: Recorded, pair: tuple[realnode.Node, realnode.Node], kind: str
) -> None:
    a, b = pair
    for node, who in ((a, "a"), (b, "b")):  # a may have lost it to a SIGKILL
        node.query(".who = w; .calls = 0;", "//stuff", w=who)
    client = make(kind, a.http_url, b.http_url, auth=("admin", "pass"), scope="//stuff")
    try:
        assert await client.query(".who;") == "a"
        timer = kill_soon(a)
        assert await client.idempotent.query(SLOW, timeout=60) == "b"
        timer.join()
    finally:
        await close(client)
        a.restart()

    (span,) = [s for s in otel.spans() if s.name.startswith(".calls += 1;")]
    assert span.attributes is not None
    # sent to a, which died; sent again to b, which answered
    assert span.attributes["server.port"] == b.http_api_port
    resends = [e for e in span.events if e.name == "thingsdb.idempotent_resend"]
    assert len(resends) == 1
    assert resends[0].attributes is not None
    assert resends[0].attributes["server.port"] == a.http_api_port
    assert otel.total("thingsdb.client.idempotent_resends") == 1
    assert span.status.status_code == StatusCode.UNSET
