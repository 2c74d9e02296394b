"""thingsdb.http without a node: node URLs, scope paths, request bodies
(the codec's checks, as the socket clients make them), answers read back,
the failover decisions, and the generated blocking client."""

from __future__ import annotations

import asyncio
import base64
import builtins
import datetime
import socket
from collections.abc import Callable
from typing import Any

import httpx
import msgspec
import pytest

import generate_http_client
from thingsdb import exceptions as tdx
from thingsdb.http import AsyncClient, Client
from thingsdb.http.auth import authorization, credentials
from thingsdb.http.exchange import (
    LOGIN_REFUSED,
    SHUTTING_DOWN,
    query_body,
    read_answer,
    run_body,
)
from thingsdb.http.failover import Attempts, Nodes
from thingsdb.http.nodes import check_url, scope_path
from thingsdb.protocol import query_payload, run_payload

# -- node URLs and scopes --------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "checked"),
    [
        ("http://localhost:9210", "http://localhost:9210"),
        ("http://localhost:9210/", "http://localhost:9210"),
        ("https://db.example.com", "https://db.example.com"),
        ("https://db.example.com/thingsdb/", "https://db.example.com/thingsdb"),
        ("http://[::1]:9210", "http://[::1]:9210"),
    ],
)
def test_node_urls(url: str, checked: str) -> None:
    assert check_url(url) == checked


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("localhost:9210", "not an HTTP API URL"),
        ("ws://localhost:9270", "not an HTTP API URL"),
        ("http://", "names no host"),
        ("http://localhost:99999", "not a valid node URL"),
        ("http://localhost:0", "port 0"),
        ("http://admin:pass@localhost:9210", "auth="),
        ("http://localhost:9210/?x=1", "no query"),
    ],
)
def test_bad_node_urls(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        check_url(url)
    assert "pass" not in str(info.value) or "auth=" in str(info.value)
    if "@" in url:
        assert "admin:pass" not in str(info.value)


def test_a_url_must_be_a_str() -> None:
    with pytest.raises(TypeError, match="must be a str, not bytes"):
        check_url(b"http://localhost")


@pytest.mark.parametrize(
    ("scope", "path"),
    [
        ("@thingsdb", "/thingsdb"),
        ("@t", "/thingsdb"),
        ("/t", "/thingsdb"),
        ("@node", "/node"),
        ("@n:3", "/node/3"),
        ("/node/3", "/node/3"),
        ("//stuff", "/collection/stuff"),
        ("@:stuff", "/collection/stuff"),
        ("@collection:stuff", "/collection/stuff"),
    ],
)
def test_scope_paths(scope: str, path: str) -> None:
    assert scope_path(scope) == path


@pytest.mark.parametrize("scope", ["", "stuff", "@nope", "//", "@n:64", "//a b"])
def test_bad_scopes_as_on_the_socket_clients(scope: str) -> None:
    with pytest.raises(ValueError, match="is not a ThingsDB scope") as http_error:
        scope_path(scope)
    with pytest.raises(ValueError, match="is not a ThingsDB scope") as socket_error:
        query_payload(scope, "1", {})
    assert str(http_error.value) == str(socket_error.value)


# -- bodies ----------------------------------------------------------------------


def test_query_body() -> None:
    assert msgspec.msgpack.decode(query_body("1 + 1", {})) == {
        "type": "query",
        "code": "1 + 1",
    }
    assert msgspec.msgpack.decode(query_body("x", {"x": [1, b"b"]})) == {
        "type": "query",
        "code": "x",
        "vars": {"x": [1, b"b"]},
    }


def test_run_body() -> None:
    decode = msgspec.msgpack.decode
    assert decode(run_body("p", (), {})) == {"type": "run", "name": "p"}
    assert decode(run_body("p", (1, 2), {})) == {
        "type": "run",
        "name": "p",
        "args": [1, 2],
    }
    assert decode(run_body("p", (), {"a": 1})) == {
        "type": "run",
        "name": "p",
        "args": {"a": 1},
    }


HOSTILE: list[tuple[dict[str, Any], type[Exception]]] = [
    ({"v": {1, 2}}, builtins.TypeError),
    ({"v": object()}, builtins.TypeError),
    ({"v": 2**64}, builtins.ValueError),
    ({"v": -(2**63) - 1}, builtins.ValueError),
    ({"v": [datetime.date(2024, 1, 1)]}, builtins.TypeError),
    ({"bad name": 1}, builtins.ValueError),
    ({"_ok": frozenset()}, builtins.TypeError),
]


@pytest.mark.parametrize(("variables", "cls"), HOSTILE)
def test_bad_values_refused_as_on_the_socket_clients(
    variables: dict[str, Any], cls: type[Exception]
) -> None:
    with pytest.raises(cls) as http_error:
        query_body("v", variables)
    with pytest.raises(cls) as socket_error:
        query_payload("@t", "v", variables)
    assert str(http_error.value) == str(socket_error.value)
    assert not isinstance(http_error.value, tdx.ThingsDBError)


def test_bad_run_arguments_as_on_the_socket_clients() -> None:
    for args, kwargs in (((1,), {"a": 2}), ((), {"1a": 2}), (({1},), {})):
        with pytest.raises((TypeError, ValueError)) as http_error:
            run_body("p", args, kwargs)
        with pytest.raises((TypeError, ValueError)) as socket_error:
            run_payload("@t", "p", args, kwargs)
        assert str(http_error.value) == str(socket_error.value)
    with pytest.raises(TypeError, match="procedure must be a str, not int"):
        run_body(5, (), {})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="code must be a str, not bytes"):
        query_body(b"1", {})  # type: ignore[arg-type]


# -- answers ----------------------------------------------------------------------


def test_a_value() -> None:
    body = msgspec.msgpack.encode({"#": 5, "a": [1, b"x"]})
    assert read_answer(200, "application/msgpack", body) == {"#": 5, "a": [1, b"x"]}


@pytest.mark.parametrize(
    ("status", "body", "cls", "code", "msg"),
    [
        (404, b"x (-54)\r\n", tdx.LookupError, -54, "x"),
        (
            400,
            b"error at line 1 (x) (-52)\r\n",
            tdx.SyntaxError,
            -52,
            "error at line 1 (x)",
        ),
        (422, b"two\nlines (-61)\r\n", tdx.TypeError, -61, "two\nlines"),
        (500, b"max result (-6)\r\n", tdx.ResultTooLargeError, -6, "max result"),
        (422, b"mine (-100)\r\n", tdx.CustomError, -100, "mine"),
        (401, b"UNAUTHORIZED\r\n", tdx.AuthError, -56, LOGIN_REFUSED),
        (503, b"SERVICE UNAVAILABLE\r\n", tdx.NodeError, -51, SHUTTING_DOWN),
        (400, b"BAD REQUEST\r\n", tdx.BadDataError, -53, "could not read"),
    ],
)
def test_errors(
    status: int, body: bytes, cls: type[tdx.ThingsDBError], code: int, msg: str
) -> None:
    with pytest.raises(tdx.ThingsDBError) as info:
        read_answer(status, "text/plain", body)
    assert type(info.value) is cls
    assert info.value.error_code == code
    assert msg in info.value.error_msg


@pytest.mark.parametrize(
    ("status", "ctype", "body", "message"),
    [
        (200, "text/html", b"<html>", "not application/msgpack"),
        (200, "application/msgpack", b"\xc1", "undecodable"),
        (502, "text/html", b"<h1>Bad Gateway</h1>", "HTTP 502"),
        (415, "text/plain", b"UNSUPPORTED MEDIA TYPE\r\n", "HTTP 415"),
        (404, None, b"", "no body"),
    ],
)
def test_answers_no_node_gives(
    status: int, ctype: str | None, body: bytes, message: str
) -> None:
    with pytest.raises(tdx.ProtocolError, match=message):
        read_answer(status, ctype, body)


# -- credentials -------------------------------------------------------------------


def test_authorization_headers() -> None:
    assert authorization(credentials("abc")) == "Bearer abc"
    basic = authorization(credentials(("admin", "p:ss wörd")))
    assert basic.startswith("Basic ")
    assert base64.b64decode(basic[6:]).decode() == "admin:p:ss wörd"
    with pytest.raises(ValueError, match="empty"):
        credentials("")
    with pytest.raises(TypeError):
        credentials(5)
    with pytest.raises(TypeError):
        credentials(("a", "b", "c"))
    with pytest.raises(ValueError, match="token"):
        authorization(credentials(("a:b", "c")))


def test_client_arguments() -> None:
    with pytest.raises(TypeError, match="at least one node URL"):
        Client(auth="t")
    with pytest.raises(ValueError, match="not an HTTP API URL"):
        Client("localhost:9200", auth="t")
    with pytest.raises(ValueError, match="ssl= goes with https://"):
        Client("http://localhost:9210", auth="t", ssl=True)
    with pytest.raises(ValueError, match="above 0"):
        Client("http://localhost:9210", auth="t", connect_timeout=0)
    with pytest.raises(ValueError, match="not a ThingsDB scope"):
        AsyncClient("http://localhost:9210", auth="t", scope="nope")
    c = Client("http://localhost:9210", auth=("admin", "secret"))
    assert "secret" not in repr(c)
    assert "secret" not in repr(c._settings)
    with pytest.raises(ValueError, match="timeout must be above 0"):
        c.query("1", timeout=0)
    with pytest.raises(TypeError, match="timeout must be a number"):
        c.query("1", timeout="1")  # type: ignore[arg-type]
    c.close()


# -- the failover decisions, without I/O --------------------------------------------

URLS = ("http://a:1", "http://b:1", "http://c:1")
REQUEST = httpx.Request("POST", "http://a:1/thingsdb")


def refused_connect() -> httpx.ConnectError:
    try:
        raise ConnectionRefusedError(111, "Connection refused")
    except ConnectionRefusedError as cause:
        try:
            raise httpx.ConnectError("refused", request=REQUEST) from cause
        except httpx.ConnectError as exc:
            return exc


def drive(
    attempts: Attempts, error: Callable[[], httpx.HTTPError]
) -> tuple[list[int], BaseException]:
    """Every try of ``attempts`` failing with ``error()``: the nodes tried,
    and what the caller gets."""
    tried: list[int] = []
    try:
        for index in attempts:
            tried.append(index)
            attempts.failed(index, error())
    except Exception as exc:  # noqa: BLE001 - returned to the test
        return tried, exc
    raise AssertionError("the attempts ended without an error")


def test_connect_failures_go_to_the_next_node_once_each() -> None:
    tried, exc = drive(Attempts(Nodes(URLS), None, 5.0, 0), refused_connect)
    assert tried == [0, 1, 2]
    assert isinstance(exc, tdx.ConnectError)
    assert "no node of the list" in str(exc)
    assert "http://a:1" in str(exc)
    assert "http://c:1" in str(exc)


def test_one_node_refused_is_its_connect_error() -> None:
    _, exc = drive(Attempts(Nodes(URLS[:1]), None, 5.0, 0), refused_connect)
    assert isinstance(exc, tdx.ConnectError)
    assert "http://a:1: connection refused" in str(exc)
    assert isinstance(exc, ConnectionRefusedError)


def test_the_next_call_starts_at_the_node_that_answered() -> None:
    nodes = Nodes(URLS)
    attempts = Attempts(nodes, None, 5.0, 0)
    for index in attempts:
        if index == 0:
            attempts.failed(index, refused_connect())
            continue
        attempts.answered(index)
        break
    assert nodes.current == 1
    assert list(Attempts(nodes, None, 5.0, 0))[:1] == [1]


def lost() -> httpx.RemoteProtocolError:
    return httpx.RemoteProtocolError("Server disconnected", request=REQUEST)


def test_never_sent_again_once_written() -> None:
    nodes = Nodes(URLS)
    tried, exc = drive(Attempts(nodes, None, 5.0, 0), lost)
    assert tried == [0]
    assert nodes.current == 1  # the next call starts at the next node
    assert isinstance(exc, tdx.ConnectionLostError)
    assert "may or may not have run" in str(exc)


def test_idempotent_requests_go_again_up_to_the_resends() -> None:
    tried, exc = drive(Attempts(Nodes(URLS[:1]), None, 5.0, 3), lost)
    assert tried == [0, 0, 0, 0]
    assert isinstance(exc, tdx.ConnectionLostError)


def test_a_read_timeout_is_a_timeout_error() -> None:
    def slow() -> httpx.HTTPError:
        return httpx.ReadTimeout("slow", request=REQUEST)

    tried, exc = drive(Attempts(Nodes(URLS), 1.0, 5.0, 3), slow)
    assert tried == [0]
    assert isinstance(exc, tdx.TimeoutError)
    assert isinstance(exc, TimeoutError)


def test_a_node_shutting_down_leaves_it_to_the_next() -> None:
    nodes = Nodes(URLS)
    attempts = Attempts(nodes, None, 5.0, 0)
    tried = []
    for index in attempts:
        tried.append(index)
        try:
            read_answer(503, "text/plain", b"SERVICE UNAVAILABLE\r\n")
        except tdx.NodeError as exc:
            if index == 2:
                with pytest.raises(tdx.NodeError):
                    attempts.refused(index, exc)
                break
            attempts.refused(index, exc)
    assert tried == [0, 1, 2]


def test_other_node_errors_are_raised_at_once() -> None:
    attempts = Attempts(Nodes(URLS), None, 5.0, 3)
    for index in attempts:
        with pytest.raises(tdx.NodeError):
            attempts.refused(index, tdx.NodeError("node is temporary unable"))
        break


def test_connect_timeout_within_the_caller_timeout() -> None:
    attempts = Attempts(Nodes(URLS), 2.0, 5.0, 0)
    timeout = attempts.httpx_timeout()
    assert timeout.connect is not None
    assert timeout.connect <= 2.0
    assert timeout.read is not None
    assert timeout.read <= 2.0
    unlimited = Attempts(Nodes(URLS), None, 5.0, 0).httpx_timeout()
    assert unlimited.connect == 5.0
    assert unlimited.read is None


# -- the generated blocking client ---------------------------------------------------


def test_the_blocking_client_is_generated_from_the_async_one() -> None:
    assert generate_http_client.TARGET.read_text() == generate_http_client.render(), (
        "src/thingsdb/http/client.py differs from aclient.py: run "
        "python tools/generate_http_client.py"
    )


def test_an_async_client_belongs_to_one_event_loop() -> None:
    with socket.socket() as sock:  # a port where nothing listens
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    client = AsyncClient(url, auth="t")
    with pytest.raises(tdx.ConnectError):
        asyncio.run(client.query("1;"))
    with pytest.raises(RuntimeError, match="belongs to another event loop"):
        asyncio.run(client.query("1;"))


def test_a_closed_client_sends_nothing() -> None:
    client = Client("http://127.0.0.1:9", auth="t")
    client.close()
    with pytest.raises(tdx.NotConnectedError, match="is closed; nothing was sent"):
        client.query("1;")

    async def closed_async() -> None:
        aclient = AsyncClient("http://127.0.0.1:9", auth="t")
        await aclient.close_and_wait()
        await aclient.query("1;")

    with pytest.raises(tdx.NotConnectedError, match="is closed"):
        asyncio.run(closed_async())
