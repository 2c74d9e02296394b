"""Talking to a node without the connector under test.

Set-up code and readiness checks use these, so that a broken client can
never make a fixture lie: a few hand-written protocol packages over a
blocking socket (AUTH and QUERY, nothing else), and one HTTP request to the
node's status port.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

import msgspec

from .errors import NodeQueryError

_HEADER = struct.Struct("<IHBB")
PROTO_OK = 0x11
PROTO_DATA = 0x12
PROTO_ERROR = 0x13
REQ_AUTH = 0x21
REQ_QUERY = 0x22
_EVENT_PID = 0xFFFF

#: a status answer is a few short lines; more means it is no status port
_MAX_STATUS_ANSWER = 4096


class RawConnection:
    """Just enough protocol for AUTH and QUERY, over a blocking socket."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self._sock = socket.create_connection((host, port), timeout=timeout)
        self._pid = 0

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> RawConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, tp: int, payload: Any, expect: int) -> Any:
        """Send one request and return the decoded answer to it."""
        self._pid = (self._pid + 1) % _EVENT_PID
        data = msgspec.msgpack.encode(payload)
        self._sock.sendall(_HEADER.pack(len(data), self._pid, tp, tp ^ 0xFF) + data)
        while True:
            size, pid, rtp, check = _HEADER.unpack(self._recv(_HEADER.size))
            if check != rtp ^ 0xFF:
                raise ConnectionError(f"bad check byte in a package of type {rtp}")
            body = self._recv(size)
            if pid != self._pid:
                continue  # an event (NODE_STATUS...) or a stale answer
            value: Any = msgspec.msgpack.decode(body) if size else None
            if rtp == PROTO_ERROR:
                raise NodeQueryError(int(value["error_code"]), str(value["error_msg"]))
            if rtp != expect:
                raise ConnectionError(f"expected package type {expect}, got {rtp}")
            return value

    def _recv(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self._sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("the node closed the connection")
            buf += chunk
        return bytes(buf)


def query(
    host: str,
    port: int,
    user: str,
    password: str,
    code: str,
    scope: str,
    variables: dict[str, Any],
    timeout: float,
) -> Any:
    """Authenticate, run one query, return its value (one connection)."""
    with RawConnection(host, port, timeout) as conn:
        conn.request(REQ_AUTH, [user, password], PROTO_OK)
        payload: list[Any] = [scope, code]
        if variables:
            payload.append(variables)
        return conn.request(REQ_QUERY, payload, PROTO_DATA)


def status(host: str, port: int, path: str, timeout: float) -> tuple[int, str]:
    """``GET path`` on a node's status port: ``(HTTP status, body)``.

    The node answers ``/ready`` with 200 when it takes queries (``READY``,
    ``AWAY``, ``AWAY_SOON``), ``/healthy`` with 200 while the process runs
    (a node waiting to join a cluster too), and ``/status`` with its status.
    """
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n"
    answer = bytearray()
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(request.encode())
        while len(answer) < _MAX_STATUS_ANSWER:
            chunk = sock.recv(_MAX_STATUS_ANSWER)
            if not chunk:
                break
            answer += chunk
            if _complete(answer):
                break
    head, _, body = bytes(answer).partition(b"\r\n\r\n")
    parts = head.split(b"\r\n", 1)[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        raise ConnectionError(f"no HTTP answer on the status port: {bytes(answer)!r}")
    return int(parts[1]), body.decode(errors="replace").strip()


def _complete(answer: bytearray) -> bool:
    head, sep, body = bytes(answer).partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            return len(body) >= int(value)
    return False  # no length given: read until the node closes
