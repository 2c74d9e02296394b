"""WebSocket against a real node: large messages, many frames, wss with a
test certificate, on each of the two WebSocket libraries. (The whole query
and room suite also runs over ws, on both, through the parametrised
``client`` fixture.)"""

from __future__ import annotations

import asyncio
import ssl
import sys
from collections.abc import Iterator

import pytest
import trustme

import realnode
import tlsnode
from thingsdb.client import Client

pytestmark = pytest.mark.node

MIB = 1 << 20


@pytest.fixture(params=["picows", "websockets"])
def library(request: pytest.FixtureRequest) -> str:
    """The WebSocket library under test."""
    name: str = request.param
    pytest.importorskip(name, reason=f"{name} is not installed here")
    return name


async def ws_client(node: realnode.Node, library: str, **kwargs: object) -> Client:
    client = Client(websocket_library=library, **kwargs)  # type: ignore[arg-type]
    await client.connect(node.ws_address, timeout=10)
    await client.authenticate("admin", "pass", timeout=10)
    return client


async def test_is_websocket(node: realnode.Node, library: str) -> None:
    client = await ws_client(node, library)
    try:
        assert client.is_websocket()
        assert client.connection_info() == node.ws_address
        assert await client.query("1 + 1") == 2
    finally:
        await client.close_and_wait()
    assert not client.is_websocket()


async def test_twenty_mib_argument_and_eighteen_mib_result(
    node: realnode.Node, library: str
) -> None:
    client = await ws_client(node, library)
    try:
        blob = bytes(range(256)) * (20 * MIB // 256)
        # the node answers with the length only: the 20 MiB went up in one
        # message
        assert await client.query("blob.len();", blob=blob, timeout=60) == len(blob)
        # and 18 MiB comes back, in the node's many ~1.5 KB frames
        result = await client.query("blob;", blob=blob[: 18 * MIB], timeout=60)
        assert result == blob[: 18 * MIB]
        assert await client.query("'still in step';") == "still in step"
    finally:
        await client.close_and_wait()


# The node sends a message in frames of about 1.4 KB: a cap of 100 bytes
# refuses the first frame, one of 3,000 the sum of the frames.
@pytest.mark.parametrize("cap", [100, 3000])
async def test_message_over_the_cap_is_a_protocol_error(
    node: realnode.Node, library: str, cap: int
) -> None:
    from thingsdb.exceptions import ProtocolError

    client = await ws_client(node, library, max_package_size=cap, auto_reconnect=False)
    try:
        with pytest.raises(ProtocolError, match="WebSocket message refused"):
            await client.query("blob;", blob=b"x" * 4096, timeout=10)
        assert not client.is_connected()
    finally:
        await client.close_and_wait()


async def _connect(node: realnode.Node, **kwargs: object) -> None:
    client = Client(**kwargs)  # type: ignore[arg-type]
    try:
        await client.connect(node.ws_address)
        await client.authenticate(node.user, node.password)
        assert await client.query("'connected';") == "connected"
    finally:
        await client.close_and_wait()


def test_without_either_library_the_error_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch, node: realnode.Node
) -> None:
    # None in sys.modules makes an import fail, as when not installed
    monkeypatch.setitem(sys.modules, "picows", None)
    monkeypatch.setitem(sys.modules, "websockets", None)
    with pytest.raises(
        ImportError, match=r"pip install 'thingsdb-connector\[websockets\]'"
    ):
        asyncio.run(_connect(node))


def test_auto_falls_back_to_websockets_without_picows(
    monkeypatch: pytest.MonkeyPatch, node: realnode.Node
) -> None:
    from thingsdb.transport import websocket

    monkeypatch.setitem(sys.modules, "picows", None)
    assert websocket.choose_library("auto") == "websockets"
    asyncio.run(_connect(node))


def test_auto_prefers_picows() -> None:
    from thingsdb.transport import websocket

    pytest.importorskip("picows", reason="picows is not installed here")

    assert websocket.choose_library("auto") == "picows"


@pytest.mark.parametrize("missing", ["picows", "websockets"])
def test_a_chosen_library_that_is_missing_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch, node: realnode.Node, missing: str
) -> None:
    monkeypatch.setitem(sys.modules, missing, None)
    with pytest.raises(ImportError, match=f"pip install {missing}$"):
        asyncio.run(_connect(node, websocket_library=missing))


def test_an_unknown_library_is_refused() -> None:
    with pytest.raises(ValueError, match="websocket_library must be one of"):
        Client(websocket_library="wsproto")  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def wss_node(
    tmp_path_factory: pytest.TempPathFactory, ca: trustme.CA
) -> Iterator[realnode.Node]:
    node = tlsnode.start_wss_node(tmp_path_factory.mktemp("wss"), ca)
    try:
        yield node
    finally:
        node.stop()


async def test_wss_with_a_trusted_certificate(
    wss_node: realnode.Node, ca: trustme.CA, library: str
) -> None:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    client = Client(ssl=context, websocket_library=library)  # type: ignore[arg-type]
    uri = f"wss://localhost:{wss_node.ws_port}"
    try:
        await client.connect(uri, timeout=10)
        await client.authenticate("admin", "pass")
        assert client.is_websocket()
        assert client.connection_info() == uri
        assert await client.query("'over wss';") == "over wss"
    finally:
        await client.close_and_wait()


@pytest.mark.parametrize("ssl_arg", [None, True])
async def test_wss_refuses_an_unverified_certificate_by_default(
    wss_node: realnode.Node, ssl_arg: bool | None, library: str
) -> None:
    client = Client(ssl=ssl_arg, websocket_library=library)  # type: ignore[arg-type]
    try:
        with pytest.raises(ssl.SSLCertVerificationError):
            await client.connect(f"wss://localhost:{wss_node.ws_port}", timeout=10)
        assert not client.is_connected()
    finally:
        await client.close_and_wait()


class _Silent(asyncio.Protocol):
    """Accepts a connection and never answers (a stalled handshake)."""

    def __init__(self, closed: asyncio.Event) -> None:
        self.closed = closed

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()


@pytest.mark.parametrize("how", ["timeout", "cancel"])
async def test_a_stalled_handshake_leaves_no_socket_behind(
    library: str, how: str
) -> None:
    loop = asyncio.get_running_loop()
    closed = asyncio.Event()
    server = await loop.create_server(lambda: _Silent(closed), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = Client(websocket_library=library, auto_reconnect=False)  # type: ignore[arg-type]
    try:
        connecting = asyncio.ensure_future(
            client.connect(f"ws://127.0.0.1:{port}", timeout=1.0)
        )
        if how == "cancel":
            await asyncio.sleep(0.2)
            connecting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await connecting
        else:
            from thingsdb.exceptions import TimeoutError as ClientTimeoutError

            with pytest.raises(ClientTimeoutError):
                await connecting
        # closed by the end of the connect timeout (plus picows' grace)
        await asyncio.wait_for(closed.wait(), 3.0)
        assert not client.is_connected()
    finally:
        await client.close_and_wait()
        server.close()
        await server.wait_closed()
