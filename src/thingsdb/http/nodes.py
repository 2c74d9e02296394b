"""Where the HTTP API listens: node URLs, checked when the client is made,
and the URL path of each scope.

A node URL is ``http://host[:port]`` or ``https://host[:port]``, with an
optional path prefix for a reverse proxy that strips it (the node itself
reads only the scope from the path). ThingsDB's HTTP API port is whatever
the node's ``http_api_port`` says (9210 in its docs); a URL without a port
uses HTTP's own (80, 443), as a reverse proxy in front would.
"""

from __future__ import annotations

import urllib.parse

from ..protocol.grammar import parse_scope
from ..transport.address import Address

_SCHEMES = ("http", "https")


def check_url(url: object) -> str:
    """``url`` without a trailing ``/``, if it names an HTTP API; TypeError
    or ValueError saying what is wrong otherwise."""
    if not isinstance(url, str):
        raise TypeError(f"a node URL must be a str, not {type(url).__name__}")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port  # ValueError for a port that is no number or too big
    except ValueError as exc:
        raise ValueError(f"{url!r} is not a valid node URL: {exc}") from None
    if parts.scheme not in _SCHEMES:
        raise ValueError(
            f"{url!r} is not an HTTP API URL: expected http://host:port or "
            "https://host:port (the socket clients in thingsdb.client and "
            "thingsdb.sync take host and port, unix: and ws:// addresses)"
        )
    if not parts.hostname:
        raise ValueError(f"{url!r} names no host")
    if port == 0:
        raise ValueError(f"{url!r}: port 0 is no port to connect to")
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            f"{url.split('@')[-1]!r}: give the credentials with auth=, not in the URL"
        )
    if parts.query or parts.fragment:
        raise ValueError(f"{url!r}: a node URL has no query (?) or fragment (#)")
    return urllib.parse.urlunsplit(
        (parts.scheme, parts.netloc, parts.path.rstrip("/"), "", "")
    )


#: Scope paths found so far (an application names a handful of scopes).
_paths: dict[str, str] = {}
_PATHS_KEPT = 1024


def scope_path(scope: str) -> str:
    """The URL path of ``scope`` (checked as the socket clients check it:
    TypeError/ValueError): ``/thingsdb``, ``/node``, ``/node/<id>`` or
    ``/collection/<name>``. The long forms, because proxies may fold the
    ``//`` of ``//<name>``."""
    path = _paths.get(scope) if type(scope) is str else None
    if path is not None:
        return path
    kind, target = parse_scope(scope)
    path = f"/{kind}/{target}" if target else f"/{kind}"
    if len(_paths) < _PATHS_KEPT:
        _paths[scope] = path
    return path


def url_address(url: str) -> Address:
    """The host and port of a node URL (checked by :func:`check_url`), as
    telemetry names the node (``server.address``, ``server.port``)."""
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return Address("tcp", parts.hostname or "", port)


def is_https(url: str) -> bool:
    return url.startswith("https:")
