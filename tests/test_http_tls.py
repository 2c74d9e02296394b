"""thingsdb.http over TLS (``https://``) against a real node.

ThingsDB's HTTP API speaks no TLS itself (it is meant to sit behind a
reverse proxy), so the package's TLS proxy terminates TLS with a
certificate of a throw-away trustme CA and forwards the bytes to the
node's HTTP API port. The proxy runs on a loop in a thread of its own, so
the blocking client can be tested as well.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator

import pytest
import trustme

import realnode
from loopthread import LoopThread
from thingsdb import exceptions as tdx
from thingsdb.http import AsyncClient, Client

pytestmark = [pytest.mark.node, pytest.mark.timeout(60)]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def http_node() -> Iterator[realnode.Node]:
    binary, reason = realnode.find_binary()
    if binary is None:
        pytest.skip(reason)
    with realnode.Node(binary, http_api=True) as node:
        yield node


@pytest.fixture
def https_port(
    http_node: realnode.Node, ca: trustme.CA, loop: LoopThread
) -> Iterator[int]:
    """A local TLS endpoint in front of the node's HTTP API."""
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(server_ctx)
    proxy = realnode.Proxy(
        (http_node.host, http_node.http_api_port), ssl_context=server_ctx
    )
    loop.run(proxy.start())
    try:
        yield proxy.port
    finally:
        loop.run(proxy.close())


def trusting(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    return ctx


def test_blocking_client_over_tls(https_port: int, ca: trustme.CA) -> None:
    url = f"https://localhost:{https_port}"
    with Client(url, auth=("admin", "pass"), ssl=trusting(ca)) as client:
        assert client.query("[1 + 1, 'two'];") == [2, "two"]
        blob = bytes(range(256)) * 2048
        assert client.query("b;", b=blob, timeout=30) == blob
        with pytest.raises(tdx.LookupError):
            client.query("raise(lookup_err('over tls'));")
        client.query("new_procedure('tls_add', |a, b| a + b);")
        assert client.run("tls_add", 40, 2) == 42
        client.query("del_procedure('tls_add');")


def test_async_client_over_tls_by_address(https_port: int, ca: trustme.CA) -> None:
    async def body() -> None:
        url = f"https://127.0.0.1:{https_port}"
        async with AsyncClient(url, auth=("admin", "pass"), ssl=trusting(ca)) as c:
            results = await asyncio.gather(*(c.query("n;", n=n) for n in range(20)))
            assert results == list(range(20))

    asyncio.run(body())


@pytest.mark.parametrize("kind", ["async", "blocking"])
def test_an_untrusted_certificate_is_a_certificate_error(
    https_port: int, kind: str
) -> None:
    url = f"https://localhost:{https_port}"
    # the system's CAs (the default) do not trust the throw-away CA
    if kind == "blocking":
        with (
            Client(url, auth=("admin", "pass")) as client,
            pytest.raises(tdx.CertificateError) as info,
        ):
            client.query("1;")
    else:

        async def body() -> None:
            async with AsyncClient(url, auth=("admin", "pass")) as client:
                await client.query("1;")

        with pytest.raises(tdx.CertificateError) as info:
            asyncio.run(body())
    assert isinstance(info.value, ssl.SSLCertVerificationError)
    assert isinstance(info.value, tdx.ConnectError)
    assert "did not verify" in str(info.value)
    assert url in str(info.value)


def test_a_certificate_error_is_not_left_for_the_next_node(
    https_port: int, http_node: realnode.Node
) -> None:
    # no other node can fix a certificate the client does not trust
    with (
        Client(
            f"https://localhost:{https_port}",
            http_node.http_url,
            auth=("admin", "pass"),
        ) as client,
        pytest.raises(tdx.CertificateError),
    ):
        client.query("1;")


def test_tls_to_a_node_that_speaks_none_is_a_connect_error(
    http_node: realnode.Node,
) -> None:
    url = f"https://127.0.0.1:{http_node.http_api_port}"
    with (
        Client(url, auth=("admin", "pass"), connect_timeout=5) as client,
        pytest.raises(tdx.ConnectError, match="TLS"),
    ):
        client.query("1;")
