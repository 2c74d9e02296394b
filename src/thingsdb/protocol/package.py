"""Package framing: the 8-byte header and the package types.

A package is ``uint32 size, uint16 pid, uint8 type, uint8 check`` (little
endian, ``check == type ^ 0xFF``) followed by ``size`` bytes of MessagePack.
"""

from __future__ import annotations

import enum
import struct
from typing import Any, NamedTuple

HEADER = struct.Struct("<IHBB")
HEADER_SIZE = HEADER.size

#: Pushed events always carry this pid; it is never used for a request.
EVENT_PID = 0xFFFF
#: Request ids are 0 .. MAX_REQUEST_PID.
MAX_REQUEST_PID = 0xFFFE

#: The node refuses packages above 1 GiB; by default we apply the same cap.
DEFAULT_MAX_PACKAGE_SIZE = 1 << 30


class PackageType(enum.IntEnum):
    # events (node -> client, pid 0xFFFF)
    NODE_STATUS = 0x00
    WARN = 0x05
    ROOM_JOIN = 0x06
    ROOM_LEAVE = 0x07
    ROOM_EMIT = 0x08
    ROOM_DELETE = 0x09
    # responses
    PONG = 0x10
    OK = 0x11
    DATA = 0x12
    ERROR = 0x13
    # requests
    PING = 0x20
    AUTH = 0x21
    QUERY = 0x22
    RUN = 0x25
    JOIN = 0x26
    LEAVE = 0x27
    EMIT = 0x28
    EMIT_PEER = 0x29


EVENT_TYPES = frozenset(
    {
        PackageType.NODE_STATUS,
        PackageType.WARN,
        PackageType.ROOM_JOIN,
        PackageType.ROOM_LEAVE,
        PackageType.ROOM_EMIT,
        PackageType.ROOM_DELETE,
    }
)
RESPONSE_TYPES = frozenset(
    {PackageType.PONG, PackageType.OK, PackageType.DATA, PackageType.ERROR}
)


class Package(NamedTuple):
    """One decoded package: its id, type and MessagePack value (or None).

    A named tuple (immutable, compared by value) rather than a frozen
    dataclass: it is built once per received package, and a named tuple is
    built about three times faster.
    """

    pid: int
    type: int
    data: Any


def frame(pid: int, tp: int, payload: bytes = b"") -> bytes:
    """Return header and payload as one bytes object, ready to write."""
    return HEADER.pack(len(payload), pid, tp, tp ^ 0xFF) + payload
