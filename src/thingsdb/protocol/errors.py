"""The protocol core's one error: the peer broke the protocol.

It is :class:`thingsdb.exceptions.ProtocolError` (that module takes it from
here, so the core imports nothing above it).
"""

from __future__ import annotations

import builtins

from .package import Package


class ProtocolError(builtins.ConnectionError):
    """The node sent something that breaks the protocol (bad header, package
    over the size cap, undecodable payload). The connection is closed."""

    def __init__(self, message: str, *, payload: bytes | None = None) -> None:
        super().__init__(message)
        #: The undecodable payload, when there was one.
        self.payload = payload
        #: Good packages decoded from the same read, before the bad one.
        self.packages: list[Package] = []
