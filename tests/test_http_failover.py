"""thingsdb.http over several node URLs, against real nodes: a URL where
nothing listens and a stopped node are left for the next URL; a node killed
while it runs a request is a lost request (never sent again), unless the
caller marked it idempotent: then the next node answers it.

The two nodes are separate single nodes (not a cluster): each keeps in
``//stuff`` which one it is, so a test can tell who answered.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

import realnode
from test_http_node import close, make
from thingsdb import exceptions as tdx

pytestmark = [pytest.mark.node, pytest.mark.timeout(120)]

KINDS = ["async", "blocking"]
#: a request that keeps a node busy for a second or more, counted in
#: ``//stuff`` first (a lost change is not counted: the node died)
SLOW = ".calls += 1; x = 0; range(40000).each(|i| range(1000).each(|j| x += j)); .who;"


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[realnode.Node, realnode.Node]]:
    binary, reason = realnode.find_binary()
    if binary is None:
        pytest.skip(reason)
    with (
        realnode.Node(binary, name="a", http_api=True) as a,
        realnode.Node(binary, name="b", http_api=True) as b,
    ):
        for node, who in ((a, "a"), (b, "b")):
            node.query(".who = w; .calls = 0;", "//stuff", w=who)
        yield a, b


def dead_url() -> str:
    (port,) = realnode.free_ports(1)
    return f"http://127.0.0.1:{port}"


def calls(node: realnode.Node) -> int:
    count: int = node.query(".calls;", "//stuff")
    return count


@pytest.mark.parametrize("kind", KINDS)
async def test_a_url_where_nothing_listens_is_left_for_the_next(
    pair: tuple[realnode.Node, realnode.Node], kind: str
) -> None:
    a, _ = pair
    dead = dead_url()
    client = make(kind, dead, a.http_url, auth=("admin", "pass"), scope="//stuff")
    inner = client.client if kind == "blocking" else client
    try:
        assert inner.url == dead
        assert await client.query(".who;") == "a"
        # the next calls start at the node that answered
        assert inner.url == a.http_url
        assert await client.query(".who;") == "a"
    finally:
        await close(client)


@pytest.mark.parametrize("kind", KINDS)
async def test_no_node_answers_is_a_connect_error(kind: str) -> None:
    one, two = dead_url(), dead_url()
    client = make(kind, one, two, auth=("admin", "pass"))
    try:
        with pytest.raises(tdx.ConnectError, match="no node of the list") as info:
            await client.query("1;")
        assert one in str(info.value)
        assert two in str(info.value)
    finally:
        await close(client)
    client = make(kind, one, auth=("admin", "pass"))
    try:
        with pytest.raises(
            tdx.ConnectError, match=f"{one}: connection refused"
        ) as refused:
            await client.query("1;")
        assert isinstance(refused.value, ConnectionRefusedError)
    finally:
        await close(client)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_stopped_node_is_left_for_the_next(
    pair: tuple[realnode.Node, realnode.Node], kind: str
) -> None:
    a, b = pair
    client = make(kind, a.http_url, b.http_url, auth=("admin", "pass"), scope="//stuff")
    try:
        assert await client.query(".who;") == "a"  # a connection kept open
        a.stop()
        assert await client.query(".who;", timeout=20) == "b"
        a.restart()
        assert await client.query(".who;") == "b"  # stays with the one that answered
    finally:
        await close(client)
        if not a.is_alive():
            a.restart()


def kill_soon(node: realnode.Node) -> threading.Timer:
    """SIGKILL ``node`` in half a second (while it runs SLOW)."""
    timer = threading.Timer(0.5, node.kill)
    timer.start()
    return timer


@pytest.mark.parametrize("kind", KINDS)
async def test_a_node_killed_during_a_request_is_a_lost_request(
    pair: tuple[realnode.Node, realnode.Node], kind: str
) -> None:
    a, b = pair
    before = calls(b)
    client = make(kind, a.http_url, b.http_url, auth=("admin", "pass"), scope="//stuff")
    try:
        assert await client.query(".who;") == "a"
        timer = kill_soon(a)
        with pytest.raises(tdx.ConnectionLostError, match="may or may not have run"):
            await client.query(SLOW, timeout=60)
        timer.join()
        # never sent to the next node: b did not run it
        assert calls(b) == before
        # the next request goes to the next node
        assert await client.query(".who;") == "b"
    finally:
        await close(client)
        a.restart()


@pytest.mark.parametrize("kind", KINDS)
async def test_an_idempotent_request_goes_to_the_next_node(
    pair: tuple[realnode.Node, realnode.Node], kind: str
) -> None:
    a, b = pair
    before = calls(b)
    client: Any = make(
        kind, a.http_url, b.http_url, auth=("admin", "pass"), scope="//stuff"
    )
    try:
        assert await client.query(".who;") == "a"
        timer = kill_soon(a)
        assert await client.idempotent.query(SLOW, timeout=60) == "b"
        timer.join()
        assert calls(b) == before + 1
    finally:
        await close(client)
        a.restart()
