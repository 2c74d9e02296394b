"""Where a node listens: TCP (plain or TLS), a unix socket, or a WebSocket URI.

Accepted forms, for ``connect()`` and pool entries:

* ``"host"`` / ``("host", port)``: TCP, TLS when the client has ``ssl``;
  the port always apart: ``"host:9300"`` is refused with a ValueError that
  says so (a port in the name could silently disagree with the argument);
* ``"unix:/path/to/socket"`` (or ``"unix:///path"``): a unix domain socket,
  the node's ``pipe_client_name``;
* ``"ws://host:port"`` / ``"wss://host:port"``: WebSocket.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

DEFAULT_PORT = 9200

Kind = Literal["tcp", "unix", "ws"]


@dataclass(frozen=True, slots=True)
class Address:
    kind: Kind
    host: str = ""
    port: int = 0
    path: str = ""
    #: For WebSockets, the URI as given.
    uri: str = ""
    #: TCP that is TLS whatever the client's ``ssl`` says (a ``thingsdbs://``
    #: URL, see thingsdb.url): the client's context, else a default one
    #: that verifies.
    tls: bool = False

    def __str__(self) -> str:
        if self.kind == "unix":
            return f"unix:{self.path}"
        if self.kind == "ws":
            return self.uri
        if ":" in self.host:  # IPv6 literal
            return f"[{self.host}]:{self.port}"
        return f"{self.host}:{self.port}"


def parse_address(host: object, port: object = DEFAULT_PORT) -> Address:
    """Validate and classify one node address; TypeError/ValueError if bad."""
    if not isinstance(host, str):
        raise TypeError(f"host must be a str, not {type(host).__name__}")
    if not host:
        raise ValueError("host must not be empty")
    if host.startswith("unix:"):
        path = host[5:]
        if path.startswith("//"):
            path = path[2:]
        if not path:
            raise ValueError(f"{host!r} names no socket path (use 'unix:/path')")
        return Address("unix", path=path)
    lowered = host.lower()
    if lowered.startswith(("ws://", "wss://")):
        parts = urlsplit(host)
        if not parts.hostname:
            raise ValueError(f"WebSocket URI {host!r} has no host")
        try:
            ws_port = parts.port
        except ValueError as exc:
            raise ValueError(f"WebSocket URI {host!r}: {exc}") from None
        if ws_port == 0:
            raise ValueError(f"WebSocket URI {host!r}: port must be 1 to 65535")
        if ws_port is None:
            raise ValueError(
                f"WebSocket URI {host!r} has no port; give it in the URI, "
                "for example 'ws://localhost:9270'"
            )
        return Address("ws", host=parts.hostname, port=ws_port, uri=host)
    if "://" in host:
        raise ValueError(
            f"unknown scheme in {host!r}; use a host name, 'unix:/path', "
            "'ws://host:port' or 'wss://host:port'"
        )
    if isinstance(port, bool) or not isinstance(port, int):
        raise TypeError(f"port must be an int, not {type(port).__name__}")
    if not 0 < port < 65536:
        raise ValueError(f"port must be between 1 and 65535, not {port}")
    return Address("tcp", host=_tcp_host(host), port=port)


def _tcp_host(host: str) -> str:
    """The host of a TCP address: a name, an IPv4 or an IPv6 address (in
    brackets or not). A ``host:port`` form is refused: the port goes apart."""
    if host.startswith("["):
        inner, bracket, rest = host[1:].partition("]")
        if not bracket or not inner:
            raise ValueError(f"{host!r}: an IPv6 address goes as '[::1]' or '::1'")
        if rest:
            _refuse_port_in_host(host, f"[{inner}]", rest)
        return inner
    if host.count(":") == 1:  # IPv6 addresses have two or more
        name, _, rest = host.partition(":")
        _refuse_port_in_host(host, name, f":{rest}")
    return host


def _refuse_port_in_host(host: str, name: str, rest: str) -> None:
    if rest[:1] == ":" and rest[1:].isdigit():
        raise ValueError(
            f"{host!r} has the port in the host; pass the port as the second "
            f"argument: connect({name!r}, {int(rest[1:])}) (in a pool: "
            f"({name!r}, {int(rest[1:])}))"
        )
    raise ValueError(
        f"{host!r} is not a host name or address; a ':' belongs only in an "
        "IPv6 address, 'unix:/path' or a ws:// URI"
    )


def parse_pool_entry(entry: object) -> Address:
    """A pool entry: an address string, or a ``(host, port)`` pair."""
    if isinstance(entry, str):
        return parse_address(entry)
    if isinstance(entry, (tuple, list)) and len(entry) == 2:
        return parse_address(entry[0], entry[1])
    raise TypeError(
        f"a pool entry must be an address string or a (host, port) pair, not {entry!r}"
    )
