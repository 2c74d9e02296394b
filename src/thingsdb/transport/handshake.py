"""What both WebSocket drivers say in their handshake, and how its failure
reads (transport.connect turns it into a ConnectError)."""

from __future__ import annotations

#: The subprotocol ThingsDB nodes speak over WebSocket.
SUBPROTOCOL = "thingsdb-protocol"


def handshake_error(exc: BaseException | None) -> ConnectionError:
    return ConnectionError(f"WebSocket handshake failed: {exc}")
