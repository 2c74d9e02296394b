"""The URL form against a real node (issue 23, point 11): the asyncio
client's and the blocking client's ``connect_url()`` and ``thingsdb-cli
--url`` / ``THINGSDB_URL``, over TCP, a token, WebSocket and TLS (a local
TLS endpoint in front of the node, as ThingsDB's client port has none)."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

import realnode
from loopthread import LoopThread
from thingsdb import cli
from thingsdb import exceptions as tdx
from thingsdb.client import Client
from thingsdb.sync import Client as SyncClient

pytestmark = pytest.mark.node

#: (default scope, result) of a query run after connecting through the URL;
#: the CLI has no default scope to show (None)
Outcome = tuple["str | None", Any]
Way = Callable[..., Outcome]


def via_async(url: str, code: str, **settings: Any) -> Outcome:
    async def go() -> Outcome:
        client = Client(**settings)
        try:
            await client.connect_url(url, timeout=10)
            return client.get_default_scope(), await client.query(code, timeout=10)
        finally:
            await client.close_and_wait()

    return asyncio.run(go())


def via_sync(url: str, code: str, **settings: Any) -> Outcome:
    with SyncClient(**settings) as client:
        client.connect_url(url, timeout=10)
        return client.get_default_scope(), client.query(code, timeout=10)


def via_cli(url: str, code: str, *flags: str) -> Outcome:
    status = cli.main(["--url", url, *flags, code])
    assert status == cli.OK
    return None, None  # the output is read by the test (capsys)


WAYS = {"async": via_async, "sync": via_sync}


@pytest.fixture(autouse=True)
def no_thingsdb_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("URL", "NODE", "PORT", "USER", "PASSWORD", "TOKEN", "SCOPE", "SSL"):
        monkeypatch.delenv(f"THINGSDB_{name}", raising=False)


def cli_result(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, (json.loads(out) if out else None), err


# -- TCP: user, password, scope -------------------------------------------------------


@pytest.mark.parametrize("way", WAYS)
def test_user_password_and_a_collection(
    way: str, node: realnode.Node, collection: str
) -> None:
    node.query(".greeting = 'hello';", f"//{collection}")
    host, port = node.address
    url = f"thingsdb://{node.user}:{node.password}@{host}:{port}/{collection}"
    assert WAYS[way](url, ".greeting;") == (f"//{collection}", "hello")
    # a scope in its @ form, and a percent-encoded password
    at_form = f"thingsdb://{node.user}:{node.password}@{host}:{port}/@:{collection}"
    assert WAYS[way](at_form, ".greeting;") == (f"@:{collection}", "hello")


def test_the_cli_takes_the_url_from_the_flag_and_the_variable(
    node: realnode.Node,
    collection: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    node.query(".greeting = 'hello';", f"//{collection}")
    host, port = node.address
    url = f"thingsdb://{node.user}:{node.password}@{host}:{port}/{collection}"
    assert cli_result(capsys, "--url", url, ".greeting") == (0, "hello", "")
    monkeypatch.setenv("THINGSDB_URL", url)
    assert cli_result(capsys, ".greeting") == (0, "hello", "")
    # a flag beats the URL's part: here the scope
    status, result, _ = cli_result(capsys, "-s", "@n", "node_info().load().status")
    assert (status, result) == (0, "READY")
    # the URL's parts beat the variables of each part
    monkeypatch.setenv("THINGSDB_SCOPE", "@n")
    monkeypatch.setenv("THINGSDB_PORT", "1")
    assert cli_result(capsys, ".greeting") == (0, "hello", "")


def test_migrate_takes_the_url_too(
    node: realnode.Node,
    collection: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "0001_x.ti").write_text(".x = 1;\n")
    host, port = node.address
    url = f"thingsdb://{node.user}:{node.password}@{host}:{port}/{collection}"
    before = cli.main(["--url", url, "migrate", "up", "--dir", str(folder)])
    out, err = capsys.readouterr()
    assert (before, err) == (0, ""), out
    assert out.splitlines()[-1] == f"//{collection}: at 0001; applied 1"


# -- a token -------------------------------------------------------------------------


@pytest.mark.parametrize("way", WAYS)
def test_a_token(way: str, node: realnode.Node, collection: str) -> None:
    token = node.query("new_token('admin');")
    host, port = node.address
    url = f"thingsdb://{host}:{port}/{collection}?token={token}"
    assert WAYS[way](url, "40 + 2;") == (f"//{collection}", 42)


def test_a_token_from_the_cli(
    node: realnode.Node, collection: str, capsys: pytest.CaptureFixture[str]
) -> None:
    token = node.query("new_token('admin');")
    host, port = node.address
    url = f"thingsdb://{host}:{port}/{collection}?token={token}"
    assert cli_result(capsys, "--url", url, "40 + 2") == (0, 42, "")


# -- WebSocket -------------------------------------------------------------------------


@pytest.mark.parametrize("way", WAYS)
def test_websocket(way: str, node: realnode.Node) -> None:
    url = f"ws://{node.user}:{node.password}@127.0.0.1:{node.ws_port}/@node"
    assert WAYS[way](url, "node_info().load().status;") == ("@node", "READY")


def test_websocket_from_the_cli(
    node: realnode.Node, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"ws://{node.user}:{node.password}@127.0.0.1:{node.ws_port}/@node"
    status, result, _ = cli_result(capsys, "--url", url, "node_info().load().status")
    assert (status, result) == (0, "READY")


# -- TLS -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_proxy(
    node: realnode.Node, ca: trustme.CA, loop: LoopThread
) -> Iterator[realnode.Proxy]:
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(server)
    proxy = realnode.Proxy(node.address, ssl_context=server)
    loop.run(proxy.start())
    try:
        yield proxy
    finally:
        loop.run(proxy.close())


def trusting(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.mark.parametrize("way", WAYS)
def test_thingsdbs_is_tls(
    way: str, node: realnode.Node, tls_proxy: realnode.Proxy, ca: trustme.CA
) -> None:
    url = f"thingsdbs://{node.user}:{node.password}@localhost:{tls_proxy.port}/@t"
    # the client's own context (one that trusts this CA) is used
    assert WAYS[way](url, "'over tls';", ssl=trusting(ca)) == ("@t", "over tls")
    assert tls_proxy.accepted == 1
    # without one, a default context that verifies: this CA is not trusted
    with pytest.raises(tdx.CertificateError):
        WAYS[way](url, "1;")
    # a plain thingsdb:// URL on a client with ssl: the two disagree
    plain = f"thingsdb://localhost:{tls_proxy.port}"
    with pytest.raises(
        ValueError, match="says thingsdb:// \\(no TLS\\) but this client"
    ):
        WAYS[way](plain, "1;", ssl=trusting(ca))


def test_thingsdbs_from_the_cli(
    node: realnode.Node,
    tls_proxy: realnode.Proxy,
    ca: trustme.CA,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    url = f"thingsdbs://{node.user}:{node.password}@localhost:{tls_proxy.port}"
    status, result, err = cli_result(
        capsys, "--url", url, "--cafile", str(pem), "'tls'"
    )
    assert (status, result, err) == (0, "tls", "")
    status, _, err = cli_result(capsys, "--url", url, "1")
    assert status == cli.NO_CONNECTION
    assert "is not trusted" in err


# -- what goes wrong ------------------------------------------------------------


@pytest.mark.parametrize("way", WAYS)
def test_a_refused_login_leaves_nothing_connected(
    way: str, node: realnode.Node
) -> None:
    host, port = node.address
    url = f"thingsdb://{node.user}:wrong@{host}:{port}"
    if way == "async":

        async def go() -> None:
            client = Client()
            with pytest.raises(tdx.AuthError):
                await client.connect_url(url, timeout=10)
            assert not client.is_connected()
            await client.close_and_wait()

        asyncio.run(go())
    else:
        client = SyncClient()
        with pytest.raises(tdx.AuthError):
            client.connect_url(url, timeout=10)
        assert not client.is_connected()
        client.close()


def test_the_cli_says_what_is_wrong(
    node: realnode.Node, capsys: pytest.CaptureFixture[str]
) -> None:
    host, port = node.address
    status, _, err = cli_result(
        capsys, "--url", f"thingsdb://{node.user}:wrong@{host}:{port}", "1"
    )
    assert status == cli.NO_LOGIN
    assert "wrong" not in err
    status, _, err = cli_result(capsys, "--url", "thingsdb://admin:s3cret@h/a b", "1")
    assert status == cli.BAD_USAGE
    assert err.startswith("thingsdb-cli: --url: 'thingsdb://admin:***@h/a b': the path")
    assert "s3cret" not in err
    status, _, err = cli_result(capsys, "--url", "redis://h", "1")
    assert status == cli.BAD_USAGE
    assert "is not a ThingsDB URL" in err
    status, _, err = cli_result(capsys, "--local", "--url", "thingsdb://h", "1")
    assert status == cli.BAD_USAGE
    assert "--url does not go with it" in err
