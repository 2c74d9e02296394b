"""Hostile arguments against a real node: deeply nested values, huge
strings, invalid UTF-8, keys the node refuses, integers out of range, NaN,
bad names, scopes and timeouts.

Each call must end in one of three ways, within its timeout:

* a ``TypeError``, ``ValueError`` or ``OverflowError`` raised by the client
  *before anything is sent* (the proxy in between saw no new byte);
* a ``ThingsDBError`` answered by the node;
* an answer;

and afterwards the SAME client, on the SAME connection, still answers
``query('1+1')``. Never a crash, a hang or a broken connection.
"""

from __future__ import annotations

import asyncio
import datetime
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from bothclients import Blocking
from thingsdb.client import Client
from thingsdb.exceptions import ThingsDBError
from thingsdb.exceptions import TimeoutError as ClientTimeoutError

from . import tally
from .faultproxy import FaultProxy
from .helpers import connection

pytestmark = [pytest.mark.adversity, pytest.mark.node]

MiB = 1 << 20
TIMEOUT = 20.0

Call = Callable[[Any], Awaitable[Any]]


def nested_list(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def nested_dict(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


@dataclass
class Case:
    name: str
    call: Call
    #: "local": refused before sending; "node": a node error; "any": either,
    #: or an answer
    expect: str = "any"
    check: Callable[[Any], bool] | None = None


def q(code: str, **kwargs: Any) -> Call:
    return lambda c: c.query(code, timeout=TIMEOUT, **kwargs)


def is_nan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


CASES = [
    # nesting
    Case("list nested 100,000 deep", q("1", x=nested_list(100_000)), "local"),
    Case("dict nested 100,000 deep", q("1", x=nested_dict(100_000)), "local"),
    Case("list nested 1,000 deep", q("x", x=nested_list(1_000))),
    Case("dict nested 1,000 deep", q("x", x=nested_dict(1_000))),
    Case("list nested 100 deep", q("x", x=nested_list(100))),
    # size
    Case(
        "16 MiB string", q("x.len();", x="a" * 16 * MiB), check=lambda v: v == 16 * MiB
    ),
    Case(
        "30 MiB result", q("x;", x="b" * 30 * MiB), check=lambda v: v == "b" * 30 * MiB
    ),
    Case(
        "1,000,000 ints",
        q("x.len();", x=list(range(1_000_000))),
        check=lambda v: v == 1_000_000,
    ),
    # (the node parses code slowly: megabytes of statements keep it busy for
    # minutes, which says nothing about the client)
    Case("128 KiB of code", q("1;" * 65536), check=lambda v: v == 1),
    Case("255-char variable", q("1", **{"v" * 255: 1}), check=lambda v: v == 1),
    # text
    Case("lone surrogate in a value", q("x", x="a\udc80b"), "local"),
    Case("lone surrogate in the code", q("'\ud800';"), "local"),
    Case("lone surrogate in a key", q("x", x={"\udfff": 1}), "local"),
    Case(
        "lone surrogate in the scope",
        lambda c: c.query("1", scope="@\udc80", timeout=TIMEOUT),
        "local",
    ),
    Case(
        "invalid UTF-8 as bytes",
        q("x", x=b"\xff\xfe\xc1"),
        check=lambda v: v == b"\xff\xfe\xc1",
    ),
    Case("NUL in the code", q("'a\x00b';")),
    Case("NUL in a value", q("x", x="a\x00b")),
    Case("empty code", q("")),
    # keys
    Case("key '#'", q("x", x={"#": 1}), "node"),
    Case("empty key", q("x", x={"": 1})),
    Case("key with a space", q("x", x={"a b": 1})),
    Case("key starting with a digit", q("x", x={"1a": 1})),
    Case("key of 300 characters", q("x", x={"k" * 300: 1})),
    Case("int key", q("x", x={1: 2}), "node"),
    Case("None key", q("x", x={None: 2}), "node"),
    Case("bytes key", q("x", x={b"k": 2}), "node"),
    # integers
    Case("2**63", q("x", x=2**63), "node"),
    Case("2**64 - 1", q("x", x=2**64 - 1), "node"),
    Case("2**64", q("x", x=2**64), "local"),
    Case("-2**63 - 1", q("x", x=-(2**63) - 1), "local"),
    Case("10**100", q("x", x=10**100), "local"),
    Case("-2**63", q("x", x=-(2**63)), check=lambda v: v == -(2**63)),
    # floats
    Case("NaN", q("x", x=math.nan), check=lambda v: is_nan(v)),
    Case("inf", q("x", x=math.inf), check=lambda v: v == math.inf),
    Case("-inf", q("x", x=-math.inf), check=lambda v: v == -math.inf),
    Case("NaN arithmetic", q("x + 1", x=math.nan), check=lambda v: is_nan(v)),
    # types the client cannot send
    Case("object()", q("x", x=object()), "local"),
    Case("a set", q("x", x={1, 2}), "any"),
    Case("complex", q("x", x=1j), "local"),
    Case(
        "aware datetime",
        q("x", x=datetime.datetime.now(datetime.timezone.utc)),
        "local",
    ),
    Case("naive datetime", q("x", x=datetime.datetime(2030, 1, 31)), "local"),
    Case("date", q("x", x=datetime.date(2030, 1, 31)), "local"),
    # names, scopes, procedures, timeouts
    Case("variable '1abc'", q("1", **{"1abc": 1}), "local"),
    Case("variable ''", q("1", **{"": 1}), "local"),
    Case("256-char variable", q("1", **{"v" * 256: 1}), "local"),
    Case("variable 'é'", q("1", **{"é": 1}), "local"),
    Case("scope 'x'", lambda c: c.query("1", scope="x", timeout=TIMEOUT), "local"),
    Case(
        "scope of no collection",
        lambda c: c.query("1", scope="//no_such_coll", timeout=TIMEOUT),
        "node",
    ),
    Case("code not a str", lambda c: c.query(b"1", timeout=TIMEOUT), "local"),
    Case(
        "unknown procedure", lambda c: c.run("no_such_proc", 1, timeout=TIMEOUT), "node"
    ),
    Case("procedure not a str", lambda c: c.run(42, timeout=TIMEOUT), "local"),
    Case(
        "run with args and kwargs",
        lambda c: c.run("p", 1, a=2, timeout=TIMEOUT),
        "local",
    ),
    Case("timeout -1", lambda c: c.query("1", timeout=-1), "local"),
    Case("timeout NaN", lambda c: c.query("1", timeout=math.nan), "local"),
    Case("timeout 'soon'", lambda c: c.query("1", timeout="soon"), "local"),
    Case(
        "timeout inf",
        lambda c: c.query("1 + 1", timeout=math.inf),
        check=lambda v: v == 2,
    ),
    Case("raise a custom error", q("raise(err(-100, 'boo'));"), "node"),
    Case("huge error message", q("raise(x);", x="e" * 20_000), "node"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_hostile(
    proxied_any: Client | Blocking, proxy: FaultProxy, case: Case
) -> None:
    client = proxied_any
    conn = connection(client)
    sent_before = proxy.bytes_up
    outcome = "answer"
    value: Any = None
    refused: BaseException | None = None
    try:
        value = await asyncio.wait_for(case.call(client), TIMEOUT + 10)
    except ThingsDBError:
        outcome = "node"
    except ClientTimeoutError:
        pytest.fail(f"{case.name}: no answer within the request's {TIMEOUT} s")
    except (TypeError, ValueError, OverflowError) as exc:
        outcome = "local"
        refused = exc
    except asyncio.TimeoutError:
        tally.check("a hostile argument never hangs", False)
        pytest.fail(f"{case.name}: no end within {TIMEOUT + 10} s")
    if refused is not None:
        await asyncio.sleep(0.05)  # anything written would reach the proxy
        assert tally.check(
            "a refused argument is never sent", proxy.bytes_up == sent_before
        ), f"{case.name}: refused with {refused!r}, but bytes went out"
        assert str(refused), f"{case.name}: {type(refused).__name__} without a message"
    tally.tried["hostile arguments"] += 1
    tally.check("a hostile argument never hangs", True)
    if case.expect != "any":
        assert outcome == case.expect, (
            f"{case.name}: expected a {case.expect} error, got {outcome} "
            f"({value!r:.80})"
        )
    if outcome == "answer" and case.check is not None:
        assert case.check(value), f"{case.name}: answered {value!r:.80}"
    # never a broken connection: the same one answers
    assert await client.query("1 + 1", timeout=10) == 2
    assert tally.check(
        "the connection survives a hostile argument", connection(client) is conn
    ), f"{case.name}: the connection was replaced"
