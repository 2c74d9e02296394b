"""``thingsdb.client.wsprotocol``: the one WebSocket setting python-thingsdb
code changes.

``WEBSOCKET_MAX_SIZE`` (bytes) bounds each incoming WebSocket message; a
larger one ends the connection with a ``ProtocolError`` (so the request it
answered fails) on either WebSocket library. It is read when a connection
is made, by both clients. It is an integer, as in python-thingsdb, so code
can compute with it: by default the largest package a node sends (1 GiB)
plus the 8-byte header, which is no cap below the node's own; a client's
smaller ``max_package_size`` bounds it further. Set it lower to bound the
messages of every client of the process.

The value is kept in :mod:`thingsdb.engine.settings`, which both clients
read: this module reads and writes it there.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING

from ..engine import settings as _settings

__all__ = ["WEBSOCKET_MAX_SIZE"]


class _Module(types.ModuleType):
    """This module, with ``WEBSOCKET_MAX_SIZE`` read from and written to
    the engine's settings."""

    @property
    def WEBSOCKET_MAX_SIZE(self) -> int | None:
        return _settings.WEBSOCKET_MAX_SIZE

    @WEBSOCKET_MAX_SIZE.setter
    def WEBSOCKET_MAX_SIZE(self, value: int | None) -> None:
        _settings.WEBSOCKET_MAX_SIZE = value


if TYPE_CHECKING:
    WEBSOCKET_MAX_SIZE: int
else:
    sys.modules[__name__].__class__ = _Module
