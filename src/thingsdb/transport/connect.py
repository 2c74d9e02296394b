"""Opening a driver, and the one place where the errors of the libraries
underneath (sockets, ssl, picows, websockets) become this library's own:
:class:`~thingsdb.exceptions.ConnectError`, and
:class:`~thingsdb.exceptions.CertificateError` for a certificate that did
not verify. Both stay ``OSError``/``ConnectionError`` (and the latter an
``ssl.SSLCertVerificationError``), so existing ``except`` clauses still
catch them; the original error is the ``__cause__``.
"""

from __future__ import annotations

import os
import socket
import ssl as _ssl

from ..exceptions import CertificateError, ConnectError
from .address import Address
from .base import Driver, Receiver
from .stream import open_stream
from .websocket import WebSocketLibrary, open_websocket


async def open_driver(
    address: Address,
    receiver: Receiver,
    ssl: _ssl.SSLContext | None,
    max_message_size: int,
    library: WebSocketLibrary,
    remaining: float | None,
) -> Driver:
    """Connect to ``address`` (TCP, TLS, unix socket or WebSocket) and hand
    what is read to ``receiver``; the caller keeps the deadline
    (``remaining``: its time left, for the WebSocket handshake)."""
    if address.tls and ssl is None:
        ssl = _ssl.create_default_context()
    try:
        if address.kind == "ws":
            driver: Driver = await open_websocket(
                address, receiver, ssl, max_message_size, library, remaining
            )
        else:
            driver = await open_stream(address, receiver, ssl)
    except ConnectError:
        raise
    except OSError as exc:  # refused, unreachable, unresolved, TLS, handshake
        raise connect_error(address, exc) from exc
    if driver.is_closing():
        # closed during the handshake (picows reports no error when a peer
        # that is no WebSocket server hangs up, a node's client port say)
        raise ConnectError(
            f"cannot connect to {address}: it closed the connection at once"
        )
    return driver


def connect_error(address: Address | str, exc: OSError) -> ConnectError:
    """``exc``, met while connecting to ``address``, as the library's own
    error (the caller raises it ``from exc``; a ConnectError from below goes
    up as it is and never comes here). Also the blocking client's boundary,
    and the HTTP clients' (``address``: a node URL)."""
    if isinstance(exc, _ssl.SSLCertVerificationError):
        return certificate_error(address, exc)
    err = _connect_error_like(exc)(f"cannot connect to {address}: {describe(exc)}")
    err.errno = exc.errno  # set apart: str(err) stays the message
    return err


#: ConnectError subclasses that are also the class of the error they stand
#: for, made once per class met
_like: dict[type[OSError], type[ConnectError]] = {}


def _connect_error_like(exc: OSError) -> type[ConnectError]:
    """A ConnectError that is also an instance of ``exc``'s class, so that
    ``except ConnectionRefusedError`` (or ``socket.gaierror``, or
    ``ssl.SSLError``...) still catches what it caught before."""
    cls = type(exc)
    if cls is OSError:
        return ConnectError
    made = _like.get(cls)
    if made is None:
        made = _like[cls] = type(
            "ConnectError",
            (ConnectError, cls),
            {"__module__": ConnectError.__module__, "__doc__": ConnectError.__doc__},
        )
    return made


def certificate_error(
    address: Address | str, exc: _ssl.SSLCertVerificationError
) -> CertificateError:
    """``exc`` as a CertificateError that names the node and the way out."""
    reason = exc.verify_message or exc.reason or str(exc)
    err = CertificateError(
        f"the TLS certificate of {address} did not verify ({reason}); to "
        "trust it, pass Client(ssl=context) with an ssl.SSLContext that does, "
        "such as ssl.create_default_context(cafile='ca.pem') for the "
        "certificate (or the CA) that signed it",
    )
    err.errno = exc.errno
    err.verify_code = exc.verify_code
    err.verify_message = exc.verify_message
    return err


def describe(exc: OSError) -> str:
    """What went wrong, in the system's words where it has some."""
    if isinstance(exc, _ssl.SSLError) and exc.reason:
        return "TLS: " + str(exc.reason).replace("_", " ").lower()
    if isinstance(exc, socket.gaierror) and exc.strerror:
        return exc.strerror.lower()  # "name or service not known"
    if exc.errno and exc.errno > 0:
        return os.strerror(exc.errno).lower()  # not asyncio's "Connect call failed"
    return exc.strerror or str(exc) or type(exc).__name__
