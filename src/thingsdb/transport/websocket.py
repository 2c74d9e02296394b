"""WebSocket connections (ws://, wss://): one package per binary message.

Two libraries can carry them, each behind a driver of its own with the same
behaviour (writes synchronous and in order, no task per connection, the
message size cap ours, not the library's):

- ``picows`` (``ws_picows``): compiled; a request over WebSocket costs about
  what it costs over TCP. Chosen when it is installed.
- ``websockets`` (``ws_websockets``): pure Python, so it runs wherever
  Python does; its framing roughly doubles the client's CPU per small
  request. The fallback.

``Client(websocket_library=...)`` picks one by name; the default, ``"auto"``,
takes the first of the two that imports.
"""

from __future__ import annotations

import importlib.util
import ssl as _ssl
import sys
from typing import Literal, TypeAlias

from .address import Address
from .base import Driver, Receiver

WebSocketLibrary: TypeAlias = Literal["auto", "picows", "websockets"]

LIBRARIES: tuple[WebSocketLibrary, ...] = ("auto", "picows", "websockets")

_INSTALL_HINT = (
    "WebSocket connections need the optional 'picows' or 'websockets' "
    "package: pip install 'thingsdb-connector[websockets]' (or pip install "
    "websockets)"
)


def check_library(library: object) -> WebSocketLibrary:
    for name in LIBRARIES:
        if library == name:
            return name
    raise ValueError(
        f"websocket_library must be one of {', '.join(map(repr, LIBRARIES))}, "
        f"not {library!r}"
    )


def _installed(name: str) -> bool:
    if name in sys.modules:  # imported already (or blocked: None)
        return sys.modules[name] is not None
    return importlib.util.find_spec(name) is not None


def choose_library(library: WebSocketLibrary) -> Literal["picows", "websockets"]:
    """The library a connection will use; ImportError (saying what to
    install) when it is missing."""
    if library == "auto":
        for name in ("picows", "websockets"):
            if _installed(name):
                return name
        raise ImportError(_INSTALL_HINT)
    if not _installed(library):
        raise ImportError(
            f"websocket_library={library!r} needs the {library!r} package: "
            f"pip install {library}"
        )
    return library


async def open_websocket(
    address: Address,
    receiver: Receiver,
    ssl: _ssl.SSLContext | None,
    max_message_size: int,
    library: WebSocketLibrary = "auto",
    remaining: float | None = None,
) -> Driver:
    """Connect and complete the WebSocket handshake (the timeout is the
    caller's; ``remaining``: how long it has left, None without a deadline).

    ``wss://`` uses the client's SSLContext, or a verifying default one.
    """
    chosen = choose_library(library)
    secure = address.uri.lower().startswith("wss:")
    context = (ssl or _ssl.create_default_context()) if secure else None
    if chosen == "picows":
        from .ws_picows import open_picows

        return await open_picows(
            address, receiver, context, max_message_size, remaining
        )
    from .ws_websockets import open_websockets

    return await open_websockets(address, receiver, context, max_message_size)
