"""``thingsdb.client.wsprotocol``: the one WebSocket setting python-thingsdb
code changes.

``WEBSOCKET_MAX_SIZE`` (bytes) bounds each incoming WebSocket message; a
larger one ends the connection with a ``ProtocolError`` (so the request it
answered fails) on either WebSocket library. It is read when a connection
is made. It is an integer, as in python-thingsdb, so code can compute with
it: by default the largest package a node sends (1 GiB) plus the 8-byte
header, which is no cap below the node's own; a client's smaller
``max_package_size`` bounds it further. Set it lower to bound the messages
of every client of the process.
"""

from __future__ import annotations

from ..protocol.package import DEFAULT_MAX_PACKAGE_SIZE, HEADER_SIZE

WEBSOCKET_MAX_SIZE: int = DEFAULT_MAX_PACKAGE_SIZE + HEADER_SIZE


def message_limit(max_package_size: int) -> int:
    """The largest WebSocket message a client with ``max_package_size``
    takes: one package, and no more than ``WEBSOCKET_MAX_SIZE`` (read now;
    ``None``, which older code may set, leaves only the package bound)."""
    limit = max_package_size + HEADER_SIZE
    extra: int | None = WEBSOCKET_MAX_SIZE
    return limit if extra is None else min(limit, extra)


__all__ = ["WEBSOCKET_MAX_SIZE"]
