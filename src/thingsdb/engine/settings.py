"""The settings both clients take, checked the same way: the TLS context
of ``ssl=``, the ranges of the delays and sizes, and the largest WebSocket
message a connection takes (``thingsdb.client.wsprotocol.WEBSOCKET_MAX_SIZE``
is stored here, so that both clients read the one value)."""

from __future__ import annotations

import ssl as _ssl
from collections.abc import Callable
from dataclasses import dataclass

from ..protocol.package import DEFAULT_MAX_PACKAGE_SIZE, HEADER_SIZE
from ..transport import WebSocketLibrary, check_library

#: See ``thingsdb.client.wsprotocol`` (python-thingsdb's name for it, which
#: reads and writes this value).
WEBSOCKET_MAX_SIZE: int | None = DEFAULT_MAX_PACKAGE_SIZE + HEADER_SIZE


def message_limit(max_package_size: int) -> int:
    """The largest WebSocket message a client with ``max_package_size``
    takes: one package, and no more than ``WEBSOCKET_MAX_SIZE`` (read now;
    ``None``, which older code may set, leaves only the package bound)."""
    limit = max_package_size + HEADER_SIZE
    extra = WEBSOCKET_MAX_SIZE
    return limit if extra is None else min(limit, extra)


def make_ssl_context(ssl: bool | _ssl.SSLContext | None) -> _ssl.SSLContext | None:
    """The TLS context of ``Client(ssl=...)``: None, a default one that
    verifies the certificate and the host name (True), or the one given."""
    if ssl is None or ssl is False:
        return None
    if ssl is True:
        # to skip verification, pass an SSLContext that says so
        return _ssl.create_default_context()
    if isinstance(ssl, _ssl.SSLContext):
        return ssl
    raise TypeError(f"ssl must be a bool, an ssl.SSLContext or None, not {ssl!r}")


class Defaults:
    """Where the reconnect figures not given to a client are read, at every
    use: both client classes are Defaults (python-thingsdb's names, so
    setting them on the class or on a client works)."""

    #: The longest pause between reconnect rounds (seconds), for clients
    #: made without ``reconnect_max_delay``.
    MAX_RECONNECT_WAIT_TIME: float = 30.0
    #: The limit of each connect-and-authenticate attempt of a reconnect,
    #: for clients made without ``connect_timeout``.
    MAX_RECONNECT_TIMEOUT: float = 5.0


@dataclass(frozen=True, slots=True)
class Settings:
    """A client's settings, checked (:func:`client_settings`)."""

    auto_reconnect: bool
    #: the TLS context of ``ssl=`` (None: no TLS)
    ssl: _ssl.SSLContext | None
    max_package_size: int
    reconnect_delay: float
    ping_interval: float | None
    ping_timeout: float
    retry_not_ready: int
    websocket_library: WebSocketLibrary
    #: the longest pause between reconnect rounds, and the limit of each
    #: connect-and-authenticate attempt: read at every use
    reconnect_max_delay: Callable[[], float]
    connect_timeout: Callable[[], float]

    @property
    def tls(self) -> bool:
        """Whether the client was made with ``ssl`` (see thingsdb.url)."""
        return self.ssl is not None


def client_settings(
    defaults: Defaults | type[Defaults],
    *,
    auto_reconnect: bool,
    ssl: bool | _ssl.SSLContext | None,
    max_package_size: int,
    reconnect_delay: float,
    reconnect_max_delay: float | None,
    connect_timeout: float | None,
    ping_interval: float | None,
    ping_timeout: float,
    retry_not_ready: int,
    websocket_library: WebSocketLibrary,
) -> Settings:
    """The arguments of either client's constructor, checked; the delays
    not given are read from ``defaults`` at every use."""

    def max_delay() -> float:
        given = reconnect_max_delay
        return defaults.MAX_RECONNECT_WAIT_TIME if given is None else given

    def attempt_timeout() -> float:
        given = connect_timeout
        return defaults.MAX_RECONNECT_TIMEOUT if given is None else given

    context = make_ssl_context(ssl)
    check_settings(  # the delays as they apply (class defaults included)
        max_package_size,
        ping_interval,
        reconnect_delay,
        max_delay(),
        attempt_timeout(),
        ping_timeout,
        retry_not_ready,
    )
    return Settings(
        auto_reconnect=bool(auto_reconnect),
        ssl=context,
        max_package_size=max_package_size,
        reconnect_delay=reconnect_delay,
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        retry_not_ready=retry_not_ready,
        websocket_library=check_library(websocket_library),
        reconnect_max_delay=max_delay,
        connect_timeout=attempt_timeout,
    )


def check_settings(
    max_package_size: int,
    ping_interval: float | None,
    reconnect_delay: float,
    reconnect_max_delay: float,
    connect_timeout: float,
    ping_timeout: float,
    retry_not_ready: int,
    /,
) -> None:
    """ValueError for a client setting out of range (the delays as they
    apply: a class default where none was given)."""
    if max_package_size < 1:
        raise ValueError("max_package_size must be at least 1 byte")
    if ping_interval is not None and not ping_interval > 0:
        raise ValueError("ping_interval must be above 0 seconds, or None")
    for name, value in (
        ("reconnect_delay", reconnect_delay),
        ("reconnect_max_delay", reconnect_max_delay),
        ("connect_timeout", connect_timeout),
        ("ping_timeout", ping_timeout),
    ):
        if not value > 0:
            raise ValueError(f"{name} must be above 0 seconds, not {value}")
    if retry_not_ready < 0:
        raise ValueError("retry_not_ready must be 0 or more")
