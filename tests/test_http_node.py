"""thingsdb.http against a real node with its HTTP API on: every value of
the socket clients' tests both ways, every error class, procedures, scopes,
token and basic auth, timeouts, and bad arguments refused at the call; each
with the blocking and the asyncio client."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import realnode
from test_real_node import BUILT_IN_ERRORS, BUILTIN_BASES, HEAVY, VALUES
from thingsdb import exceptions as tdx
from thingsdb.http import LOGIN_REFUSED, AsyncClient, Client

pytestmark = [pytest.mark.node, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def http_node() -> Iterator[realnode.Node]:
    """A node of this module's own, with its HTTP API on."""
    binary, reason = realnode.find_binary()
    if binary is None:
        pytest.skip(reason)
    with realnode.Node(binary, http_api=True) as node:
        yield node


class Blocking:
    """The blocking client behind the asyncio client's face, so that one
    test body checks both."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.idempotent = _BlockingView(client)

    async def query(self, *args: Any, **kwargs: Any) -> Any:
        return self.client.query(*args, **kwargs)

    async def run(self, *args: Any, **kwargs: Any) -> Any:
        return self.client.run(*args, **kwargs)

    def set_default_scope(self, scope: str) -> None:
        self.client.set_default_scope(scope)


class _BlockingView:
    def __init__(self, client: Client) -> None:
        self.client = client

    async def query(self, *args: Any, **kwargs: Any) -> Any:
        return self.client.idempotent.query(*args, **kwargs)


def make(kind: str, *urls: str, **kwargs: Any) -> Any:
    if kind == "blocking":
        return Blocking(Client(*urls, **kwargs))
    return AsyncClient(*urls, **kwargs)


async def close(client: Any) -> None:
    if isinstance(client, Blocking):
        client.client.close()
    else:
        await client.close_and_wait()


@pytest.fixture(params=["async", "blocking"])
async def http(
    http_node: realnode.Node, request: pytest.FixtureRequest
) -> AsyncIterator[Any]:
    """A client of the node's HTTP API, logged in as admin (basic auth)."""
    client = make(request.param, http_node.http_url, auth=("admin", "pass"))
    try:
        yield client
    finally:
        await close(client)


@pytest.fixture
def stuff(http_node: realnode.Node) -> Iterator[str]:
    """A new collection, removed afterwards."""
    name = f"http_{id(object())}"
    http_node.query(f"new_collection('{name}');")
    try:
        yield name
    finally:
        http_node.query(f"del_collection('{name}');")


# -- values -----------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), VALUES, ids=repr)
async def test_value_round_trip(http: Any, value: Any, expected: Any) -> None:
    result = await http.query("v;", v=value)
    assert result == expected
    assert type(result) is type(expected)


async def test_nan_round_trip(http: Any) -> None:
    result = await http.query("v;", v=float("nan"))
    assert isinstance(result, float)
    assert math.isnan(result)


async def test_one_mib_bytes_and_a_large_result(http: Any) -> None:
    blob = bytes(range(256)) * 4096
    result = await http.query("blob;", blob=blob, timeout=30)
    assert type(result) is bytes
    assert result == blob
    assert await http.query("range(100000);", timeout=30) == list(range(100000))


async def test_dict_becomes_a_thing(http: Any, stuff: str) -> None:
    value = {"name": "Iris", "tags": ["a", "b"], "inner": {"n": 1}}
    result = await http.query(".v = v; return .v, 2;", scope=f"//{stuff}", v=value)
    assert next(iter(result)) == "#"
    assert result["name"] == "Iris"
    assert result["inner"]["n"] == 1
    assert await http.query("thing(i).name;", scope=f"//{stuff}", i=result["#"]) == (
        "Iris"
    )


async def test_uint64_above_int64_is_refused_by_the_node(http: Any) -> None:
    with pytest.raises(tdx.OverflowError) as info:
        await http.query("v;", v=2**63)
    assert info.value.error_code == -59


# -- errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("err", "cls", "code", "msg"),
    BUILT_IN_ERRORS,
    ids=[e[0].split("(")[0] for e in BUILT_IN_ERRORS],
)
async def test_built_in_error_codes(
    http: Any, err: str, cls: type[tdx.ThingsDBError], code: int, msg: str
) -> None:
    with pytest.raises(tdx.ThingsDBError) as info:
        await http.query(f"raise({err});")
    exc = info.value
    assert type(exc) is cls
    assert exc.error_code == code
    assert msg in exc.error_msg
    base = BUILTIN_BASES.get(cls)
    if base is not None:
        assert isinstance(exc, base)
    assert await http.query("'ok';") == "ok"


async def test_errors_of_the_node_itself(http: Any) -> None:
    with pytest.raises(tdx.SyntaxError, match="error at line 1") as syntax:
        await http.query("1 +;")
    assert syntax.value.error_code == -52
    with pytest.raises(tdx.LookupError, match="collection `nope` not found"):
        await http.query("1;", scope="//nope")
    with pytest.raises(tdx.LookupError, match="`node:5` does not exist"):
        await http.query("1;", scope="@node:5")


async def test_a_custom_error_code_closes_the_connection(http: Any) -> None:
    # ThingsDB's HTTP API has no status for codes of its users (-127..-65,
    # -100...): the node closes the connection without an answer, so the
    # client cannot tell this from a lost connection (see the README)
    with pytest.raises(tdx.ConnectionLostError, match="custom code"):
        await http.query("raise(err(-100, 'mine'));")
    assert await http.query("'still fine';") == "still fine"


# -- procedures and scopes ------------------------------------------------------------


async def test_procedures(http: Any, stuff: str) -> None:
    scope = f"//{stuff}"
    await http.query("new_procedure('add', |a, b| a + b);", scope=scope)
    assert await http.run("add", 40, 2, scope=scope) == 42
    assert await http.run("add", a=1, b=2, scope=scope) == 3
    with pytest.raises(tdx.LookupError, match="procedure `nope` not found"):
        await http.run("nope", 1, scope=scope)
    http.set_default_scope(scope)
    assert await http.run("add", 1, 1) == 2
    await http.query("new_procedure('none', || 'no arguments');")
    assert await http.run("none") == "no arguments"


async def test_scopes(http: Any, stuff: str) -> None:
    await http.query(".x = 7;", scope=f"//{stuff}")
    for scope in (f"//{stuff}", f"@:{stuff}", f"@collection:{stuff}", f"/c/{stuff}"):
        assert await http.query(".x;", scope=scope) == 7
    for scope in ("@thingsdb", "@t", "/thingsdb"):
        assert await http.query("collections_info().len() > 0;", scope=scope) is True
    for scope in ("@node", "@n", "@node:0"):
        assert await http.query("node_info().load().node_id;", scope=scope) == 0


async def test_strip_code(http: Any) -> None:
    assert await http.query("\n    // a comment\n    1 + 1;  ") == 2
    assert await http.query(" 2 ", skip_strip_code=True) == 2


# -- bad arguments: refused at the call, nothing sent ---------------------------------


@pytest.mark.parametrize(
    ("call", "cls", "match"),
    [
        (lambda c: c.query("v;", v={1, 2}), TypeError, "set has no ThingsDB"),
        (lambda c: c.query("v;", v=2**64), ValueError, "64-bit"),
        (lambda c: c.query(5), TypeError, "code must be a str"),
        (lambda c: c.query("1;", scope="nope"), ValueError, "not a ThingsDB scope"),
        (lambda c: c.query("1;", timeout=-1), ValueError, "timeout must be above 0"),
        (lambda c: c.run("p", 1, a=2), TypeError, "not both"),
        (lambda c: c.run(b"p"), TypeError, "procedure must be a str"),
    ],
)
def test_bad_arguments_raise_at_the_call(
    http_node: realnode.Node, call: Any, cls: type[Exception], match: str
) -> None:
    blocking = Client(http_node.http_url, auth="never-used-token")
    aclient = AsyncClient(http_node.http_url, auth="never-used-token")
    with pytest.raises(cls, match=match) as info:
        call(blocking)  # no answer needed: nothing is sent
    assert not isinstance(info.value, tdx.ThingsDBError)
    with pytest.raises(cls, match=match):
        call(aclient)  # at the call, not when awaited
    blocking.close()


# -- credentials ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["async", "blocking"])
async def test_token_and_basic_auth(http_node: realnode.Node, kind: str) -> None:
    token = http_node.query("new_token('admin');")
    by_token = make(kind, http_node.http_url, auth=token)
    by_password = make(kind, http_node.http_url, auth=("admin", "pass"))
    try:
        assert await by_token.query("'token';") == "token"
        assert await by_password.query("'basic';") == "basic"
    finally:
        await close(by_token)
        await close(by_password)
        http_node.query("del_token(t);", t=token)


@pytest.mark.parametrize("kind", ["async", "blocking"])
@pytest.mark.parametrize(
    "auth", [("admin", "wrong"), ("nobody", "pass"), "AAAAAAAAAAAAAAAAAAAAAA"]
)
async def test_refused_credentials_are_an_auth_error(
    http_node: realnode.Node, kind: str, auth: Any
) -> None:
    client = make(kind, http_node.http_url, auth=auth)
    try:
        with pytest.raises(tdx.AuthError) as info:
            await client.query("1;")
        assert info.value.error_code == -56
        assert info.value.error_msg == LOGIN_REFUSED
    finally:
        await close(client)


async def test_a_user_without_the_right_is_forbidden(http_node: realnode.Node) -> None:
    http_node.query("new_user('reader'); set_password('reader', 'pw:with:colons');")
    try:
        async with AsyncClient(
            http_node.http_url, auth=("reader", "pw:with:colons")
        ) as c:
            with pytest.raises(
                tdx.ForbiddenError, match="missing the required privileges"
            ):
                await c.query("1;")
        http_node.query("grant('@t', 'reader', QUERY);")
        with Client(http_node.http_url, auth=("reader", "pw:with:colons")) as b:
            assert b.query("1 + 1;") == 2
    finally:
        http_node.query("del_user('reader');")


# -- timeouts and the idempotent view ------------------------------------------


async def test_timeout(http: Any) -> None:
    with pytest.raises(tdx.TimeoutError) as info:
        await http.query(HEAVY, timeout=0.05)
    assert isinstance(info.value, TimeoutError)
    assert await http.query("'after';", timeout=10) == "after"


async def test_idempotent_view_answers_as_the_client(http: Any) -> None:
    assert await http.idempotent.query("n * 2;", n=21) == 42


async def test_result_too_large_arrives_as_its_class() -> None:
    # an internal code (-6), answered with HTTP 500: a node with a tiny
    # result_size_limit gives it for a list of things
    binary, reason = realnode.find_binary()
    if binary is None:
        pytest.skip(reason)
    with realnode.Node(
        binary, http_api=True, extra_config={"result_size_limit": 1000}
    ) as node:
        code = ".t = range(2000).map(|i| {n: i}); .t;"
        for kind in ("async", "blocking"):
            client = make(kind, node.http_url, auth=("admin", "pass"))
            try:
                with pytest.raises(tdx.ResultTooLargeError) as info:
                    await client.query(code, scope="//stuff")
                assert info.value.error_code == -6
                assert "too much data to return" in info.value.error_msg
                assert await client.query("1;") == 1
            finally:
                await close(client)
