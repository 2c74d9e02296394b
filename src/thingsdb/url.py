"""Where to connect, in one string: the URL form that the asyncio client
(``Client.connect_url()``), the blocking client (the same) and
``thingsdb-cli`` (``--url``, ``THINGSDB_URL``) all take, read here once.

::

    thingsdb://[USER:PASSWORD@]HOST[:PORT][/SCOPE][?token=TOKEN]
    thingsdbs://...     the same over TLS (the certificate is verified)
    ws://[USER:PASSWORD@]HOST:PORT[/SCOPE][?token=TOKEN]     WebSocket
    wss://...           WebSocket over TLS

* ``HOST``: a name, an IPv4 address or ``[IPv6]``; ``PORT``: 9200 by
  default for ``thingsdb://`` and ``thingsdbs://``; a WebSocket URL needs
  its port (the node's ``ws_port``, which has no default).
* ``USER:PASSWORD`` or ``?token=TOKEN`` (not both) log in; without either,
  the connection is not logged in. Characters such as ``@``, ``:`` or ``/``
  in them are percent-encoded (``p%40ss`` for ``p@ss``); a ``+`` in a token
  is a ``+``.
* ``/SCOPE``, the default scope: a collection's name (``/stuff``) or a scope
  in its ``@`` form (``/@thingsdb``, ``/@node``, ``/@:stuff``); without it,
  the client's default (``@thingsdb``). The path of a WebSocket URL is its
  scope too: the WebSocket itself is opened on ``/``.
* Anything else (another scheme, a query parameter other than ``token``, a
  fragment, a path of more than one scope) is a ``ValueError`` that says
  what is wrong; nothing is connected then.

A unix socket has no URL form: ``connect("unix:/path")``, ``-n unix:/path``.
Passwords and tokens never appear in ``repr()`` or in error messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from .protocol.grammar import check_scope
from .transport.address import DEFAULT_PORT, Address

#: scheme: (TLS, WebSocket)
SCHEMES: dict[str, tuple[bool, bool]] = {
    "thingsdb": (False, False),
    "thingsdbs": (True, False),
    "ws": (False, True),
    "wss": (True, True),
}

_FORM = "thingsdb://USER:PASSWORD@HOST:PORT/SCOPE (or thingsdbs://, ws://, wss://)"


@dataclass(frozen=True)
class ConnectionURL:
    """A URL read by :func:`parse_url`."""

    #: The node: TCP (``tls`` set for ``thingsdbs://``) or a WebSocket URI.
    address: Address
    #: TLS: ``thingsdbs://`` or ``wss://``.
    tls: bool
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    #: The default scope, if the URL names one.
    scope: str | None = None
    #: Whether the URL gives the port (else: 9200).
    port_given: bool = True

    @property
    def auth(self) -> tuple[str] | tuple[str, str] | None:
        """What ``authenticate()`` takes, or None when the URL has no login."""
        if self.token is not None:
            return (self.token,)
        if self.user is not None and self.password is not None:
            return (self.user, self.password)
        return None

    @property
    def node(self) -> str:
        """The node as ``thingsdb-cli -n`` takes it: ``host:port``,
        ``[IPv6]:port`` (``host``, ``[IPv6]`` when the URL gives no port)
        or the WebSocket URI."""
        if self.address.kind == "ws":
            return self.address.uri
        if self.port_given:
            return str(self.address)
        host = self.address.host
        return f"[{host}]" if ":" in host else host


def check_url_tls(url: ConnectionURL, client_tls: bool) -> None:
    """A plain ``thingsdb://`` URL on a client made with ``ssl``: the two
    disagree (a ValueError). ``thingsdbs://`` on a client without ``ssl``
    is TLS with a default context that verifies, as ``wss://`` is."""
    if client_tls and not url.tls and url.address.kind == "tcp":
        raise ValueError(
            "the URL says thingsdb:// (no TLS) but this client has ssl; write "
            "thingsdbs:// for TLS, or make the client without ssl"
        )


def is_url(text: str) -> bool:
    """Whether ``text`` starts with one of the URL form's schemes."""
    scheme, sep, _ = text.partition("://")
    return bool(sep) and scheme.lower() in SCHEMES


def parse_url(url: object) -> ConnectionURL:
    """Read a URL of the form above; TypeError/ValueError when it is not one
    (the messages never repeat a password or token)."""
    if not isinstance(url, str):
        raise TypeError(f"the URL must be a str, not {type(url).__name__}")
    scheme, sep, _ = url.partition("://")
    if not sep or scheme.lower() not in SCHEMES:
        raise ValueError(f"{_safe(url)!r} is not a ThingsDB URL; write {_FORM}")
    tls, websocket = SCHEMES[scheme.lower()]
    parts = urlsplit(url)
    shown = _safe(url)
    if parts.fragment:
        raise ValueError(f"{shown!r}: a ThingsDB URL has no #fragment")
    host = parts.hostname
    if not host:
        raise ValueError(f"{shown!r} names no host; write {_FORM}")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(
            f"{shown!r}: the port must be a number from 1 to 65535"
        ) from None
    if port == 0:
        raise ValueError(f"{shown!r}: the port must be a number from 1 to 65535")
    token = _token(parts.query, shown)
    user = None if parts.username is None else unquote(parts.username)
    password = None if parts.password is None else unquote(parts.password)
    if token is not None and (user is not None or password is not None):
        raise ValueError(
            f"{shown!r}: log in with USER:PASSWORD@ or with ?token=, not both"
        )
    if user is not None and (password is None or not user):
        raise ValueError(
            f"{shown!r}: a login needs both the user and the password "
            "(USER:PASSWORD@HOST), or a token (?token=TOKEN)"
        )
    scope = _scope(parts.path, shown)
    netloc_host = f"[{host}]" if ":" in host else host
    if websocket:
        if port is None:
            raise ValueError(
                f"{shown!r}: a WebSocket URL needs the port (the node's ws_port), "
                f"for example {scheme}://{netloc_host}:9270"
            )
        uri = f"{scheme.lower()}://{netloc_host}:{port}"
        address = Address("ws", host=host, port=port, uri=uri)
    else:
        address = Address("tcp", host=host, port=port or DEFAULT_PORT, tls=tls)
    return ConnectionURL(
        address, tls, user, password, token, scope, port_given=port is not None
    )


def _token(query: str, shown: str) -> str | None:
    """The token of ``?token=``: percent-decoded, a ``+`` kept as it is (a
    token may hold one; it never holds a space)."""
    token: str | None = None
    for pair in query.split("&") if query else ():
        name, equals, value = pair.partition("=")
        if not equals:
            raise ValueError(f"{shown!r}: the query must be ?token=TOKEN")
        name, value = unquote(name), unquote(value)
        if name != "token":
            raise ValueError(
                f"{shown!r}: unknown parameter {name!r}; the only one is ?token="
            )
        if token is not None:
            raise ValueError(f"{shown!r}: the token is given twice")
        if not value.strip():
            raise ValueError(f"{shown!r}: the token is empty")
        token = value
    return token


def _scope(path: str, shown: str) -> str | None:
    text = unquote(path)
    if text in ("", "/"):
        return None
    name = text[1:]
    scope = name if name.startswith("@") else f"//{name}"
    try:
        return check_scope(scope)
    except ValueError:
        raise ValueError(
            f"{shown!r}: the path is one scope: a collection's name (/stuff) "
            "or a scope in its @ form (/@thingsdb, /@node, /@:stuff), "
            f"not {text!r}"
        ) from None


def _safe(url: str) -> str:
    """``url`` with its password and token hidden, for messages."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    netloc, slash, tail = rest.partition("/")
    if "?" in netloc:  # ?token= straight after the host
        netloc, question, query = netloc.partition("?")
        tail, slash = f"?{query}" + (f"/{tail}" if slash else ""), ""
    userinfo, at, hostport = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.split(':', 1)[0]}:***@{hostport}"
    shown = f"{scheme}{sep}{netloc}{slash}{tail}"
    head, question, query = shown.partition("?")
    if question:
        hidden = "&".join(
            f"{pair.split('=', 1)[0]}=***" if pair.startswith("token=") else pair
            for pair in query.split("&")
        )
        shown = f"{head}?{hidden}"
    return shown


__all__ = ["SCHEMES", "ConnectionURL", "check_url_tls", "is_url", "parse_url"]
