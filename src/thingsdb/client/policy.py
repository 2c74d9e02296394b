"""The rules both clients (asyncio and blocking) follow, free of I/O: which
settings they take, which NODE_ERROR answers allow another try and how long
to wait before it, how a failed connection attempt of a reconnect round is
told, and what a lost login says. Each client does the waiting its own way.
"""

from __future__ import annotations

import contextlib
import logging
import random
import re
import ssl as _ssl
from collections.abc import Iterator

from ..exceptions import (
    CertificateError,
    ConnectionLostError,
    NodeError,
    NotConnectedError,
)
from ..transport import Address
from .connection import NotSent

_log = logging.getLogger("thingsdb.client")

# NODE_ERROR answers given before anything ran: the node is not ready, has
# no ready node to forward to, or lacks the quorum to create a change.
_NOT_READY = re.compile(
    r"is not ready to handle|cannot find a node for handling|"
    r"does not have the required quorum"
)

# Of those, the answers of a node that cannot take the request itself (it is
# starting, synchronizing or shutting down); the others speak for the whole
# cluster (no ready node to forward to, no quorum).
_NODE_NOT_READY = re.compile(r"is not ready to handle")

#: The pause before trying a not-ready request again starts here and
#: doubles up to the cap: a node's away mode or synchronization takes
#: seconds, and a try costs the node next to nothing.
_NOT_READY_PAUSE = 0.1
_NOT_READY_MAX_PAUSE = 2.0


def ran_nothing(exc: NodeError) -> bool:
    """Whether the node's answer says the request did not run (not ready,
    no node to forward to, no quorum): it may go again."""
    return _NOT_READY.search(exc.error_msg) is not None


def node_cannot_take(exc: NodeError) -> bool:
    """Whether the answer speaks for the node in use only (another node of
    the pool may take the request)."""
    return _NODE_NOT_READY.search(exc.error_msg) is not None


def not_ready_pause(count: int) -> float:
    """The pause before the ``count``-th try again: doubling up to the cap,
    with jitter."""
    pause = min(_NOT_READY_PAUSE * 2 ** min(count - 1, 8), _NOT_READY_MAX_PAUSE)
    return random.uniform(pause / 2, pause)


def round_pause(delay: float) -> float:
    """The pause after a round over the pool's nodes failed (``delay`` with
    jitter), told in the log."""
    pause = random.uniform(delay / 2, delay)
    _log.info("next connection attempt in %.1f seconds", pause)
    return pause


def attempt_error(address: object, exc: BaseException) -> str:
    """What one failed attempt on ``address`` says, naming the node once:
    a ``ConnectError`` already reads "cannot connect to <address>: ...",
    anything else gets that prefix."""
    text = str(exc) or type(exc).__name__
    prefix = f"cannot connect to {address}"
    return text if text.startswith(prefix) else f"{prefix}: {text}"


def tell_failed_attempt(
    last_error: str, exc: Exception, first: bool, told_certificate: bool
) -> bool:
    """Log one failed attempt of a reconnect round (``last_error``: where
    and why). A certificate that did not verify is raised on the first
    round (no retry can fix it) and told once after; returns whether it was
    told."""
    if not isinstance(exc, CertificateError):
        _log.warning("%s", last_error)
        return told_certificate
    if first:
        _log.error("%s; not connecting", exc)
        raise exc
    # every attempt would say the same: once is enough
    _log.log(
        logging.DEBUG if told_certificate else logging.ERROR,
        "%s; still trying the nodes of the pool",
        exc,
    )
    return True


@contextlib.contextmanager
def login_errors(address: Address) -> Iterator[None]:
    """Around the client's own login request: a connection that ended
    before it is said as such, never as "the request may or may not have
    run" (it was no request of the caller's)."""
    try:
        yield
    except NotSent:
        raise NotConnectedError(
            f"connection to {address} closed before authenticating"
        ) from None
    except ConnectionLostError as exc:
        cause = exc.__cause__
        why = f" ({cause})" if cause is not None and str(cause) else ""
        raise ConnectionLostError(
            f"connection to {address} closed before the login was answered{why}"
        ) from cause


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
