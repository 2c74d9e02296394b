"""TLS against a real node.

ThingsDB's client port speaks no TLS, so a local proxy terminates TLS (with
a certificate from a throw-away trustme CA) and forwards the bytes to the
node's TCP port.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator

import pytest
import trustme

import realnode
from thingsdb import exceptions as tdx
from thingsdb.client import Client

pytestmark = [pytest.mark.node, pytest.mark.timeout(60)]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def tls_proxy(
    node: realnode.Node, ca: trustme.CA
) -> AsyncIterator[realnode.Proxy]:
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(server_ctx)
    async with realnode.Proxy(node.address, ssl_context=server_ctx) as proxy:
        yield proxy


def trusting_context(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    return ctx


async def test_tls_with_a_context_that_trusts_the_ca(
    tls_proxy: realnode.Proxy, ca: trustme.CA
) -> None:
    async with Client(ssl=trusting_context(ca)) as c:
        await c.connect(*tls_proxy.address, timeout=10)
        await c.authenticate("admin", "pass")
        assert c.is_connected()
        assert not c.is_websocket()
        assert c.connection_info() == f"127.0.0.1:{tls_proxy.port}"
        assert await c.query("[1 + 1, 'two'];") == [2, "two"]
        blob = bytes(range(256)) * 2048
        assert await c.query("b;", b=blob, timeout=30) == blob
        with pytest.raises(tdx.LookupError):
            await c.query("raise(lookup_err('over tls'));")
        # procedures, scopes and a reconnect (a new TLS handshake) as well
        c.set_default_scope("@thingsdb")
        await c.query(
            "has_procedure('tls_add') || new_procedure('tls_add', |a, b| a + b);"
        )
        assert await c.run("tls_add", 40, 2) == 42
        assert await c.run("tls_add", a=1, b=2) == 3
        fut = c.reconnect()
        assert fut is not None
        await asyncio.wait_for(fut, 10)
        assert await c.query("'again';") == "again"
        await c.query("del_procedure('tls_add');")
    assert c.connection_info() == "disconnected"
    assert tls_proxy.accepted == 2


async def test_tls_by_host_name(tls_proxy: realnode.Proxy, ca: trustme.CA) -> None:
    async with Client(ssl=trusting_context(ca)) as c:
        await c.connect("localhost", tls_proxy.port, timeout=10)
        await c.authenticate("admin", "pass")
        assert await c.query("'by name';") == "by name"


async def test_tls_default_context_refuses_an_unknown_ca(
    tls_proxy: realnode.Proxy,
) -> None:
    c = Client(ssl=True)
    try:
        with pytest.raises(ssl.SSLError) as info:
            await c.connect(*tls_proxy.address, timeout=10)
        assert isinstance(info.value, ssl.SSLCertVerificationError)
        assert not c.is_connected()
        assert c.connection_info() == "disconnected"
    finally:
        await c.close_and_wait()
    # the proxy never saw a finished handshake
    assert tls_proxy.accepted == 0


async def test_tls_host_name_must_match(node: realnode.Node, ca: trustme.CA) -> None:
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("other.example").configure_cert(server_ctx)
    async with realnode.Proxy(node.address, ssl_context=server_ctx) as proxy:
        c = Client(ssl=trusting_context(ca))
        try:
            with pytest.raises(ssl.SSLCertVerificationError):
                await c.connect(*proxy.address, timeout=10)
        finally:
            await c.close_and_wait()


async def test_tls_client_against_plain_tcp_fails_cleanly(
    node: realnode.Node, ca: trustme.CA
) -> None:
    # the node's own port has no TLS: the handshake must fail, not hang
    c = Client(ssl=trusting_context(ca))
    try:
        with pytest.raises((ssl.SSLError, ConnectionError, tdx.TimeoutError)):
            await c.connect(*node.address, timeout=3)
        assert not c.is_connected()
    finally:
        await c.close_and_wait()
    # and the node shrugged it off
    assert node.query("1 + 1;") == 2
