"""Faults on the wire between the client and a real node.

A :class:`FaultProxy` sits between them and delays, stalls, cuts (now, in the
middle of a package, between two packages) or corrupts (header, payload) the
stream while a batch of queries is in flight. Each query returns its own
token (``query('x', x=token)``), so an answer that reached the wrong caller
would show.

What must hold, for every fault:

* every request ends within its timeout (plus scheduling slack) with its own
  answer or a clear error (``TimeoutError``, ``ConnectionLostError``,
  ``ProtocolError``); nothing hangs;
* no caller ever gets another caller's token;
* once the fault stops, the same client answers again by itself
  (reconnecting when the fault cost it the connection), and its
  pending-request table empties.

A note on payload corruption: TCP has a checksum, so on a real network a
flipped payload byte is not expected; and a flipped byte that still decodes
(``'o'`` -> ``'O'`` in a string) gives a valid but wrong value *for the right
request*, which no client can tell apart from a real answer. The case-flip
scenario checks exactly that: at most the one hit answer differs from its
token, and never equals another request's token. Corruption the decoder can
see (a ``0xc1`` type byte, which MessagePack never uses; a byte that breaks
UTF-8; a bad check byte; a size over ``max_package_size``) must give
``ProtocolError``. A corrupted *pid* would be a valid header for another
request, which no framing without a checksum can detect: not tested.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from bothclients import Blocking
from thingsdb.client import Client
from thingsdb.exceptions import ConnectionLostError, ProtocolError
from thingsdb.exceptions import TimeoutError as ClientTimeoutError
from thingsdb.protocol import PackageType

from . import tally
from .conftest import NodeLike
from .faultproxy import FaultProxy
from .helpers import Outcome, ask, new_token, pending, settled, until

pytestmark = [pytest.mark.adversity, pytest.mark.node]

DATA = frozenset({PackageType.DATA})
#: how late (beyond its own timeout) a request may end: a busy 2-core box
SLACK = 1.5
ALLOWED = (ClientTimeoutError, ConnectionLostError, ProtocolError)


@dataclass
class Scenario:
    name: str
    #: arms the fault on the proxy (before the batch starts)
    arm: Callable[[FaultProxy], None]
    #: the error that must be seen at least once (None: none required)
    expect: type[Exception] | None
    timeout: float = 3.0
    #: seconds after the batch starts to call ``during`` (None: not at all)
    during_after: float | None = None
    during: Callable[[FaultProxy], None] = field(default=lambda p: None)
    #: a one-shot fault: it must have hit a package
    one_shot: bool = True
    #: the hit answer may decode to a wrong value (for the right request)
    wrong_value_ok: bool = False
    #: requests per batch
    count: int = 100
    #: some requests get this tiny timeout instead
    tiny_timeout: float | None = None


def _set_delay(seconds: float) -> Callable[[FaultProxy], None]:
    def arm(p: FaultProxy) -> None:
        p.delay = seconds

    return arm


def _cut_mid(keep: int) -> Callable[[FaultProxy], None]:
    return lambda p: p.cut_mid_package(keep, DATA)


def _corrupt(
    offset: int, *, xor: int | None = None, value: int | None = None
) -> Callable[[FaultProxy], None]:
    return lambda p: p.corrupt(offset, xor=xor, value=value, types=DATA)


SCENARIOS = [
    Scenario(
        "delay",
        _set_delay(0.05),
        ClientTimeoutError,
        one_shot=False,
        tiny_timeout=0.02,
        count=60,
    ),
    Scenario(
        "stall",
        lambda p: p.stall(),
        ClientTimeoutError,
        timeout=0.4,
        one_shot=False,
        count=60,
    ),
    Scenario(
        "cut-now",
        _set_delay(0.03),
        ConnectionLostError,
        during_after=0.045,
        during=lambda p: p.cut(),
        one_shot=False,
    ),
    Scenario("cut-mid-header", _cut_mid(5), ConnectionLostError),
    Scenario("cut-mid-payload", _cut_mid(12), ConnectionLostError),
    Scenario(
        "cut-between-packages", lambda p: p.cut_after_package(DATA), ConnectionLostError
    ),
    Scenario("corrupt-check-byte", _corrupt(7, xor=0x01), ProtocolError),
    Scenario("corrupt-type-byte", _corrupt(6, xor=0x40), ProtocolError),
    Scenario("corrupt-size-over-cap", _corrupt(3, value=0xFF), ProtocolError),
    Scenario("corrupt-payload-c1", _corrupt(8, value=0xC1), ProtocolError),
    Scenario("corrupt-payload-utf8", _corrupt(10, xor=0x80), ProtocolError),
    Scenario(
        "corrupt-payload-decodable", _corrupt(10, xor=0x20), None, wrong_value_ok=True
    ),
]


def _flipped(token: str, value: object) -> bool:
    """``value`` is ``token`` with the case of one letter flipped."""
    if not isinstance(value, str) or len(value) != len(token):
        return False
    diffs = [(a, b) for a, b in zip(token, value, strict=True) if a != b]
    return len(diffs) == 1 and diffs[0][0].swapcase() == diffs[0][1]


async def _batch(
    client: Client | Blocking, proxy: FaultProxy, sc: Scenario, round_no: int
) -> list[Outcome]:
    timeouts = [
        sc.tiny_timeout if sc.tiny_timeout is not None and i % 2 else sc.timeout
        for i in range(sc.count)
    ]
    tokens = [new_token(f"{sc.name[:4]}{round_no}", i) for i in range(sc.count)]
    tasks = [
        asyncio.ensure_future(ask(client, tok, t, SLACK))
        for tok, t in zip(tokens, timeouts, strict=True)
    ]
    if sc.during_after is not None:
        await asyncio.sleep(sc.during_after)
        sc.during(proxy)
    return list(await asyncio.gather(*tasks))


def _check(sc: Scenario, outcomes: list[Outcome]) -> None:
    tokens = {o.token for o in outcomes}
    hung = [o for o in outcomes if o.hung]
    assert tally.check("no request hangs", not hung), (
        f"{sc.name}: {len(hung)} requests hung"
    )
    late = [o for o in outcomes if o.elapsed > o.timeout + SLACK]
    assert tally.check("every request ends within its timeout", not late), (
        f"{sc.name}: ended late: {[(o.timeout, o.elapsed) for o in late[:5]]}"
    )
    unclear = [
        o for o in outcomes if o.error is not None and not isinstance(o.error, ALLOWED)
    ]
    assert tally.check("errors are clear", not unclear), (
        f"{sc.name}: unexpected errors: {[repr(o.error) for o in unclear[:5]]}"
    )
    stolen = [o for o in outcomes if o.ok and o.value != o.token and o.value in tokens]
    assert tally.check("no answer to the wrong caller", not stolen), (
        f"{sc.name}: {len(stolen)} callers got another caller's token"
    )
    wrong = [o for o in outcomes if o.ok and o.value != o.token]
    if sc.wrong_value_ok:
        # exactly the one hit answer: valid, wrong, and for the right caller
        assert len(wrong) == 1, f"{sc.name}: {len(wrong)} wrong values"
        assert all(_flipped(o.token, o.value) for o in wrong), (
            f"{sc.name}: {[(o.token, o.value) for o in wrong]}"
        )
    else:
        assert tally.check("every answer is the caller's own", not wrong), (
            f"{sc.name}: wrong values: {[(o.token, o.value) for o in wrong[:5]]}"
        )
    if sc.expect is not None:
        seen = sum(isinstance(o.error, sc.expect) for o in outcomes)
        assert tally.check(f"{sc.name} gives {sc.expect.__name__}", seen > 0), (
            f"{sc.name}: no {sc.expect.__name__} among "
            f"{sorted({type(o.error).__name__ for o in outcomes})}"
        )


@pytest.mark.parametrize("sc", SCENARIOS, ids=[s.name for s in SCENARIOS])
async def test_fault(
    proxied_any: Client | Blocking, proxy: FaultProxy, sc: Scenario
) -> None:
    client = proxied_any
    for round_no in range(2):  # fault, heal, recover; and once more
        applied = proxy.faults_applied
        sc.arm(proxy)
        outcomes = await _batch(client, proxy, sc, round_no)
        tally.tried["faults"] += 1
        tally.tried["requests"] += len(outcomes)
        if sc.one_shot:
            assert proxy.faults_applied == applied + 1, "the fault never hit"
        proxy.heal()
        _check(sc, outcomes)

        # the client recovers by itself: the same client answers again
        tok = new_token("heal", round_no)
        assert await client.query("x", x=tok, timeout=10) == tok
        tally.check("the client recovers when the fault stops", True)
        # late answers of timed-out requests are dropped and release their ids
        await settled(client, 5.0)
        tally.check("the pending table empties", pending(client) == 0)


async def test_stalled_link_found_by_keepalive(
    node: NodeLike, proxy: FaultProxy
) -> None:
    """A link that stops delivering for good (half-open): the keepalive
    gives up on it, requests end with clear errors, and once the link works
    again the client is back by itself."""
    client = Client(
        reconnect_delay=0.01,
        reconnect_max_delay=0.2,
        connect_timeout=1.0,
        ping_interval=0.2,
        ping_timeout=0.3,
    )
    await client.connect(*proxy.address, timeout=10)
    try:
        await client.authenticate(node.user, node.password, timeout=10)
        first = client._pool.conn
        proxy.stall()
        tally.tried["faults"] += 1
        outcomes = await asyncio.gather(
            *(ask(client, new_token("ka", i), 3.0, SLACK) for i in range(20))
        )
        # the keepalive closed the silent connection
        await until(lambda: first is not None and first.closed.done(), 5.0, "keepalive")
        assert all(isinstance(o.error, ALLOWED) for o in outcomes), [
            repr(o.error) for o in outcomes
        ]
        assert not any(o.hung for o in outcomes)
        tally.check("the keepalive drops a silent connection", True)
        proxy.heal()
        tok = new_token("kah", 0)
        assert await client.query("x", x=tok, timeout=10) == tok
        assert client._pool.conn is not first
        tally.check("the client recovers when the fault stops", True)
        await settled(client)
    finally:
        await client.close_and_wait()


async def test_corrupt_answer_to_reconnect_auth(
    proxied: Client, proxy: FaultProxy
) -> None:
    """The AUTH answer of a reconnect arrives corrupted: that attempt fails
    with a ProtocolError, the next one succeeds, and waiting requests go out
    on it."""
    client = proxied
    first = client._pool.conn
    proxy.corrupt(7, xor=0x01, types=frozenset({PackageType.OK}))
    proxy.cut()
    tally.tried["faults"] += 2
    assert first is not None
    await until(first.closed.done, 5.0, "the cut is noticed")
    tok = new_token("auth", 0)
    assert await client.query("x", x=tok, timeout=10) == tok
    assert proxy.faults_applied == 1, "the fault never hit"
    assert client._pool.conn is not first
    tally.check("the client recovers when the fault stops", True)
    await settled(client)
