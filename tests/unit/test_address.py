"""parse_address, parse_pool_entry and str(Address)."""

from __future__ import annotations

from typing import Any

import pytest

from thingsdb.transport.address import (
    DEFAULT_PORT,
    Address,
    parse_address,
    parse_pool_entry,
)


def test_default_port() -> None:
    assert DEFAULT_PORT == 9200


def test_host_only() -> None:
    addr = parse_address("localhost")
    assert addr == Address("tcp", host="localhost", port=9200)
    assert str(addr) == "localhost:9200"


def test_host_and_port() -> None:
    addr = parse_address("db.example.org", 9300)
    assert addr.kind == "tcp"
    assert addr.host == "db.example.org"
    assert addr.port == 9300
    assert str(addr) == "db.example.org:9300"


@pytest.mark.parametrize("host", ["[::1]", "::1"])
def test_ipv6(host: str) -> None:
    addr = parse_address(host, 9201)
    assert addr == Address("tcp", host="::1", port=9201)
    assert str(addr) == "[::1]:9201"


def test_ipv4() -> None:
    assert str(parse_address("127.0.0.1", 1)) == "127.0.0.1:1"


@pytest.mark.parametrize("host", ["unix:/tmp/x.sock", "unix:///tmp/x.sock"])
def test_unix(host: str) -> None:
    addr = parse_address(host)
    assert addr.kind == "unix"
    assert addr.path == "/tmp/x.sock"
    assert addr.host == ""
    assert str(addr) == "unix:/tmp/x.sock"


def test_unix_ignores_port() -> None:
    assert parse_address("unix:/tmp/y.sock", 1234).path == "/tmp/y.sock"


@pytest.mark.parametrize("host", ["unix:", "unix://"])
def test_unix_without_path(host: str) -> None:
    with pytest.raises(ValueError, match="socket path"):
        parse_address(host)


@pytest.mark.parametrize(
    ("uri", "host", "port"),
    [
        ("ws://h:9270", "h", 9270),
        ("wss://h:9270", "h", 9270),
        ("ws://127.0.0.1:1/path", "127.0.0.1", 1),
        ("wss://[::1]:443", "::1", 443),
        ("WS://Node.Example:9270", "node.example", 9270),
    ],
)
def test_websocket(uri: str, host: str, port: int) -> None:
    addr = parse_address(uri)
    assert addr.kind == "ws"
    assert addr.host == host
    assert addr.port == port
    assert addr.uri == uri
    assert str(addr) == uri


@pytest.mark.parametrize("uri", ["ws://h", "wss://h", "ws://h/path"])
def test_websocket_without_port(uri: str) -> None:
    with pytest.raises(ValueError, match="no port"):
        parse_address(uri)


@pytest.mark.parametrize(
    "uri", ["ws://:9270", "ws://h:70000", "ws://h:abc", "ws://h:-1"]
)
def test_websocket_bad_host_or_port(uri: str) -> None:
    with pytest.raises(ValueError, match="WebSocket URI"):
        parse_address(uri)


@pytest.mark.parametrize("uri", ["ws://h:0", "wss://h:0"])
def test_websocket_port_zero_is_refused(uri: str) -> None:
    # the TCP form refuses port 0 ("between 1 and 65535"); so must ws://
    with pytest.raises(ValueError, match=r"(?i)port"):
        parse_address(uri)


@pytest.mark.parametrize(
    "host", ["http://h:80", "tcp://h:9200", "https://h", "unixx://p"]
)
def test_unknown_scheme(host: str) -> None:
    with pytest.raises(ValueError, match="unknown scheme"):
        parse_address(host)


@pytest.mark.parametrize("port", [0, 70000, 65536, -1])
def test_port_out_of_range(port: int) -> None:
    with pytest.raises(ValueError, match="between 1 and 65535"):
        parse_address("h", port)


@pytest.mark.parametrize("port", [1, 65535])
def test_port_bounds(port: int) -> None:
    assert parse_address("h", port).port == port


@pytest.mark.parametrize("port", ["9200", True, False, 9200.0, None])
def test_port_wrong_type(port: Any) -> None:
    with pytest.raises(TypeError, match="port must be an int"):
        parse_address("h", port)


@pytest.mark.parametrize("host", [None, 5, b"localhost", ("h", 1)])
def test_host_not_str(host: Any) -> None:
    with pytest.raises(TypeError, match="host must be a str"):
        parse_address(host)


def test_empty_host() -> None:
    with pytest.raises(ValueError, match="empty"):
        parse_address("")


def test_address_is_frozen_and_hashable() -> None:
    a = parse_address("h", 1)
    assert a == parse_address("h", 1)
    assert hash(a) == hash(parse_address("h", 1))
    assert a != parse_address("h", 2)
    with pytest.raises(AttributeError):
        a.port = 5  # type: ignore[misc]


# --- pool entries -----------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("localhost", Address("tcp", host="localhost", port=9200)),
        (("localhost", 9300), Address("tcp", host="localhost", port=9300)),
        (["localhost", 9300], Address("tcp", host="localhost", port=9300)),
        (("[::1]", 9300), Address("tcp", host="::1", port=9300)),
        ("unix:/tmp/ti.sock", Address("unix", path="/tmp/ti.sock")),
        (
            "ws://h:9270",
            Address("ws", host="h", port=9270, uri="ws://h:9270"),
        ),
    ],
)
def test_pool_entry(entry: object, expected: Address) -> None:
    assert parse_pool_entry(entry) == expected


@pytest.mark.parametrize(
    "entry", [5, None, ("h",), ("h", 1, 2), (), {"h": 1}, b"localhost"]
)
def test_pool_entry_wrong_shape(entry: object) -> None:
    with pytest.raises(TypeError):
        parse_pool_entry(entry)


@pytest.mark.parametrize(
    ("entry", "error"),
    [
        (("h", "9200"), TypeError),
        (("h", 0), ValueError),
        ((5, 9200), TypeError),
        ("ws://h", ValueError),
        ("", ValueError),
    ],
)
def test_pool_entry_bad_values(entry: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_pool_entry(entry)


# --- a port inside the host string ----------------------------------------------


@pytest.mark.parametrize(
    ("host", "hint"),
    [
        ("localhost:9300", "connect('localhost', 9300)"),
        ("127.0.0.1:9200", "connect('127.0.0.1', 9200)"),
        ("[::1]:9300", "connect('[::1]', 9300)"),
    ],
)
def test_host_with_port_says_to_pass_the_port(host: str, hint: str) -> None:
    # python-thingsdb's API takes the port apart; "host:port" is refused
    # with a hint rather than taken, so it can never disagree with the port
    # argument unnoticed
    with pytest.raises(ValueError, match="pass the port as the second argument") as e:
        parse_address(host, 9400)
    assert hint in str(e.value)


@pytest.mark.parametrize("host", ["localhost:", "local:host", "[::1]x", "[::1]:x"])
def test_host_with_a_stray_colon(host: str) -> None:
    with pytest.raises(ValueError, match="not a host name"):
        parse_address(host)


@pytest.mark.parametrize("host", ["[::1", "[]"])
def test_bad_brackets(host: str) -> None:
    with pytest.raises(ValueError, match="IPv6"):
        parse_address(host)


def test_pool_entry_with_port_in_the_host() -> None:
    with pytest.raises(ValueError, match=r"in a pool: \('h', 9300\)"):
        parse_pool_entry("h:9300")


@pytest.mark.parametrize("host", ["::1", "fe80::1", "2001:db8::1"])
def test_bare_ipv6_still_works(host: str) -> None:
    assert parse_address(host, 1).host == host
