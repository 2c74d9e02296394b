"""``thingsdb.client.wsprotocol``: the one WebSocket setting python-thingsdb
code changes.

Set ``WEBSOCKET_MAX_SIZE`` (bytes) to bound each incoming WebSocket
message; a larger one ends the connection with a ``ProtocolError`` (so the
request it answered fails) on either WebSocket library. It is read when a
connection is made. ``None`` (the default) leaves the bound at the client's
``max_package_size`` plus the 8-byte header.
"""

from __future__ import annotations

WEBSOCKET_MAX_SIZE: int | None = None

__all__ = ["WEBSOCKET_MAX_SIZE"]
