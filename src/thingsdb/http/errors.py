"""The one boundary where httpx's errors become the package's own, sorted
by what they mean for the request: was it sent or not?

* ``NOT_SENT``: no connection could be made (refused, unreachable, no such
  host, TLS failed): a :class:`~thingsdb.exceptions.ConnectError`; the next
  node may take the request.
* ``LOST``: the request was (or may have been) written and no answer came
  (the connection closed or broke): the node may or may not have run it, a
  :class:`~thingsdb.exceptions.ConnectionLostError`.
* ``TIMED_OUT``: the caller's time is up (connecting, writing, waiting for
  the answer, or for a free connection of the pool).
* ``FINAL``: nothing another try could change (a certificate that did not
  verify, an answer that is no HTTP).
"""

from __future__ import annotations

import enum
import ssl

import httpx

from ..exceptions import (
    ConnectError,
    ConnectionLostError,
    ProtocolError,
)
from ..exceptions import TimeoutError as ClientTimeoutError
from ..transport.connect import connect_error


class Outcome(enum.Enum):
    NOT_SENT = "not sent"
    LOST = "lost"
    TIMED_OUT = "timed out"
    FINAL = "final"


def _os_error(exc: BaseException) -> OSError | None:
    """The OSError under ``exc`` that says most: the first with an error
    number, else the first (httpx wraps httpcore's error, which wraps the
    socket's; anyio's "All connection attempts failed" wraps the refusal)."""
    seen: set[int] = set()
    first: OSError | None = None
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, OSError):
            if cause.errno is not None or isinstance(cause, ssl.SSLError):
                return cause
            if first is None:
                first = cause
        cause = cause.__cause__ or cause.__context__
    return first


def translate(exc: httpx.HTTPError, url: str) -> tuple[Outcome, Exception]:
    """What ``exc``, met on a request to ``url``, means, and the error to
    raise for it (``raise err from exc``)."""
    if isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout)):
        what = "connecting" if isinstance(exc, httpx.ConnectTimeout) else "waiting"
        return Outcome.NOT_SENT, _timeout_connect_error(url, what)
    if isinstance(exc, httpx.TimeoutException):  # read, write
        return Outcome.TIMED_OUT, ClientTimeoutError(
            f"no answer from {url} within the timeout"
        )
    if isinstance(exc, httpx.ConnectError):
        cause = _os_error(exc)
        if cause is None:
            return Outcome.NOT_SENT, ConnectError(f"cannot connect to {url}: {exc}")
        err = connect_error(url, cause)
        if isinstance(cause, ssl.SSLCertVerificationError):
            return Outcome.FINAL, err
        return Outcome.NOT_SENT, err
    if isinstance(exc, httpx.TransportError) and not isinstance(
        exc, (httpx.ProtocolError, httpx.UnsupportedProtocol, httpx.ProxyError)
    ):
        return Outcome.LOST, _lost(url, exc)
    if isinstance(exc, httpx.RemoteProtocolError):
        # the node also closes the connection without an answer when the
        # code raised an error of a custom code: it has no HTTP status for it
        lost = _lost(url, exc)
        lost.args = (
            f"{lost} (a ThingsDB node's HTTP API also closes the connection "
            "like this when the code raises an error with a custom code, "
            "such as err(-100, 'msg'))",
        )
        return Outcome.LOST, lost
    return Outcome.FINAL, ProtocolError(f"HTTP request to {url} failed: {exc}")


def _timeout_connect_error(url: str, what: str) -> ConnectError:
    err = ConnectError(f"cannot connect to {url}: no answer while {what}")
    return err


def _lost(url: str, exc: httpx.HTTPError) -> ConnectionLostError:
    why = str(exc) or type(exc).__name__
    return ConnectionLostError(
        f"connection to {url} closed before the answer ({why}); the request "
        "may or may not have run"
    )
