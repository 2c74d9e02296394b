"""The URL form (thingsdb.url): what it reads, and each refusal."""

from __future__ import annotations

import re

import pytest

from thingsdb.transport import Address
from thingsdb.url import check_url_tls, is_url, parse_url


@pytest.mark.parametrize(
    ("url", "address", "auth", "scope"),
    [
        (
            "thingsdb://admin:pass@localhost:9300/stuff",
            Address("tcp", host="localhost", port=9300),
            ("admin", "pass"),
            "//stuff",
        ),
        ("thingsdb://db1", Address("tcp", host="db1", port=9200), None, None),
        ("THINGSDB://db1/", Address("tcp", host="db1", port=9200), None, None),
        (
            "thingsdbs://db1/@thingsdb",
            Address("tcp", host="db1", port=9200, tls=True),
            None,
            "@thingsdb",
        ),
        (
            "thingsdb://[::1]:9201/@:stuff?token=Fa7+/x%3D",
            Address("tcp", host="::1", port=9201),
            ("Fa7+/x=",),  # a + stays a +
            "@:stuff",
        ),
        (
            "thingsdb://u%40corp:p%40ss%3Aw%2Fd@h/@n",
            Address("tcp", host="h", port=9200),
            ("u@corp", "p@ss:w/d"),
            "@n",
        ),
        (
            "ws://admin:pass@127.0.0.1:9270/stuff",
            Address("ws", host="127.0.0.1", port=9270, uri="ws://127.0.0.1:9270"),
            ("admin", "pass"),
            "//stuff",
        ),
        (
            "wss://[::1]:9270",
            Address("ws", host="::1", port=9270, uri="wss://[::1]:9270"),
            None,
            None,
        ),
    ],
)
def test_what_a_url_says(
    url: str,
    address: Address,
    auth: tuple[str, ...] | None,
    scope: str | None,
) -> None:
    got = parse_url(url)
    assert got.address == address
    assert got.auth == auth
    assert got.scope == scope
    assert got.tls == url.lower().startswith(("thingsdbs:", "wss:"))
    assert is_url(url)


def test_the_node_as_the_cli_takes_it() -> None:
    assert parse_url("thingsdb://db1").node == "db1"  # its port left to -p
    assert parse_url("thingsdb://db1:9300").node == "db1:9300"
    assert parse_url("thingsdb://[::1]").node == "[::1]"
    assert parse_url("thingsdb://[::1]:9300").node == "[::1]:9300"
    assert parse_url("ws://h:9270/stuff").node == "ws://h:9270"


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("localhost:9200", "is not a ThingsDB URL"),
        ("http://h", "is not a ThingsDB URL"),
        ("unix:///tmp/ti.sock", "is not a ThingsDB URL"),
        ("thingsdb://", "names no host"),
        ("thingsdb:///stuff", "names no host"),
        ("thingsdb://h:0", "the port must be a number from 1 to 65535"),
        ("thingsdb://h:70000", "the port must be a number from 1 to 65535"),
        ("thingsdb://h:port", "the port must be a number from 1 to 65535"),
        ("ws://h/stuff", "a WebSocket URL needs the port"),
        ("thingsdb://admin@h", "needs both the user and the password"),
        ("thingsdb://:s3cret@h", "needs both the user and the password"),
        ("thingsdb://u:s3cret@h?token=t0ken", "not both"),
        ("thingsdb://h?token=", "the token is empty"),
        ("thingsdb://h?token=a&token=b", "the token is given twice"),
        ("thingsdb://h?timeout=5", "unknown parameter 'timeout'"),
        ("thingsdb://h?token", "the query must be ?token=TOKEN"),
        ("thingsdb://h#top", "no #fragment"),
        ("thingsdb://h/a/b", "the path is one scope"),
        ("thingsdb://h/9lives", "the path is one scope"),
        ("thingsdb://h/@nope", "the path is one scope"),
    ],
)
def test_a_bad_url_says_what_is_wrong(url: str, needle: str) -> None:
    with pytest.raises(ValueError, match=re.escape(needle)):
        parse_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "thingsdb://u:s3cret@h/a/b",
        "thingsdb://u:s3cret@h?token=t0ken",
        "thingsdb://h?token=t0ken&x=1",
        "thingsdb://h/a/b?token=t0ken",
        "thingsdb://u:s3cret@h:0",
    ],
)
def test_secrets_never_show(url: str) -> None:
    with pytest.raises(ValueError, match=r"^'thingsdb://") as info:
        parse_url(url)
    assert "s3cret" not in str(info.value)
    assert "t0ken" not in str(info.value)
    good = parse_url("thingsdb://u:s3cret@h")
    assert "s3cret" not in repr(good)
    assert "t0ken" not in repr(parse_url("thingsdb://h?token=t0ken"))


def test_not_a_str() -> None:
    with pytest.raises(TypeError, match="the URL must be a str"):
        parse_url(b"thingsdb://h")


def test_tls_and_the_clients_ssl() -> None:
    check_url_tls(parse_url("thingsdbs://h"), client_tls=False)  # a default context
    check_url_tls(parse_url("thingsdbs://h"), client_tls=True)
    check_url_tls(parse_url("thingsdb://h"), client_tls=False)
    check_url_tls(parse_url("wss://h:1"), client_tls=False)
    with pytest.raises(ValueError, match="write thingsdbs://"):
        check_url_tls(parse_url("thingsdb://h"), client_tls=True)
