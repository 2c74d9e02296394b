"""Every error this package raises.

Two families:

* Errors the node answered with (``ThingsDBError`` and its subclasses, one per
  error code). Each has ``error_code`` and ``error_msg``. Classes named after
  a Python built-in also derive from it, so ``except LookupError`` catches
  :class:`thingsdb.exceptions.LookupError`.
* :class:`ResultTypeError` (a ``ValueError``): a result asked for as a
  type (``client.typed(T)``) that does not fit it.
* Errors of the client and the connection: :class:`ConnectError` (with
  :class:`CertificateError`), :class:`NotConnectedError`,
  :class:`ConnectionLostError` and :class:`ProtocolError` derive from the
  built-in ``ConnectionError``; :class:`TimeoutError` derives from the
  built-in ``TimeoutError`` and ``asyncio.TimeoutError``.

None of them is an ``asyncio.CancelledError``: cancelling a task is reserved
for the task's owner.
"""

# This module deliberately shadows built-in names (TypeError, LookupError...)
# so that `from thingsdb.exceptions import LookupError` keeps working.
# ruff: noqa: A001

from __future__ import annotations

import asyncio
import builtins
import ssl
import sys
from typing import Any, TypedDict

# defined with the protocol core, which raises them; this module's too
from .protocol.errors import ProtocolError, ResultTypeError


class ErrData(TypedDict):
    error_code: int
    error_msg: str


class ThingsDBError(Exception):
    """An error answered by the node; ``error_code`` is the node's code.

    A subclass names the code it stands for in its class statement
    (``class LookupError(ThingsDBError, builtins.LookupError, code=-54)``);
    :func:`error_from_data` picks the class by that code.
    """

    #: The code this class stands for (``None`` for the base and CustomError).
    code: int | None = None

    def __init_subclass__(cls, code: int | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if code is not None:
            cls.code = code

    def __init__(self, *args: Any, errdata: ErrData | None = None) -> None:
        if errdata is not None:
            args = (errdata["error_msg"],)
            self.error_code: int = errdata["error_code"]
        else:
            self.error_code = self.code if self.code is not None else 0
        self.error_msg: str = str(args[0]) if args else ""
        super().__init__(*args)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.error_code, self.error_msg))


def _rebuild(cls: type[ThingsDBError], code: int, msg: str) -> ThingsDBError:
    return cls(errdata={"error_code": code, "error_msg": msg})


class CustomError(ThingsDBError):
    """A code the client has no class for (user code may raise -127..-50)."""


# The node's codes, one class each: the table error_from_data reads.
class CancelledError(ThingsDBError, code=-64):
    """The node cancelled the query (-64). Not an ``asyncio.CancelledError``."""


class OperationError(ThingsDBError, code=-63): ...


class NumArgumentsError(ThingsDBError, code=-62): ...


class TypeError(ThingsDBError, builtins.TypeError, code=-61): ...


class ValueError(ThingsDBError, builtins.ValueError, code=-60): ...


class OverflowError(ThingsDBError, builtins.OverflowError, code=-59): ...


class ZeroDivisionError(ThingsDBError, builtins.ZeroDivisionError, code=-58): ...


class MaxQuotaError(ThingsDBError, code=-57): ...


class AuthError(ThingsDBError, code=-56): ...


class ForbiddenError(ThingsDBError, code=-55): ...


class LookupError(ThingsDBError, builtins.LookupError, code=-54): ...


class BadDataError(ThingsDBError, code=-53): ...


class SyntaxError(ThingsDBError, builtins.SyntaxError, code=-52):
    def __str__(self) -> str:
        # builtins.SyntaxError formats file and line; the node gives neither
        return self.error_msg


class NodeError(ThingsDBError, code=-51):
    """The node cannot take the request now (e.g. not ready, shutting down)."""


class AssertionError(ThingsDBError, builtins.AssertionError, code=-50): ...


class ResultTooLargeError(ThingsDBError, code=-6): ...


class RequestTimeoutError(ThingsDBError, code=-5):
    """The node gave up on the request (-5); see TimeoutError for the client."""


class RequestCancelError(ThingsDBError, code=-4): ...


class WriteUVError(ThingsDBError, code=-3): ...


class MemoryError(ThingsDBError, builtins.MemoryError, code=-2): ...


class InternalError(ThingsDBError, code=-1): ...


# every class above with a code (user subclasses made later do not count)
_BY_CODE: dict[int, type[ThingsDBError]] = {
    cls.code: cls for cls in ThingsDBError.__subclasses__() if cls.code is not None
}


def error_from_data(data: object) -> ThingsDBError:
    """Build the exception for an ERROR package's payload."""
    if (
        isinstance(data, dict)
        and isinstance(data.get("error_code"), int)
        and isinstance(data.get("error_msg"), str)
    ):
        errdata = ErrData(error_code=data["error_code"], error_msg=data["error_msg"])
        return _BY_CODE.get(errdata["error_code"], CustomError)(errdata=errdata)
    return CustomError(
        errdata={"error_code": 0, "error_msg": f"malformed error package: {data!r}"}
    )


def error_from_answer(data: object) -> Exception:
    """The exception of an ERROR package as the package decoder gives it:
    the node's error (:func:`error_from_data`), or, for a typed request
    whose result did not fit its type, the :class:`ResultTypeError` (or the
    error the type's own code raised) the decoder put there."""
    if isinstance(data, Exception):
        return data
    return error_from_data(data)


# --- client-side errors -----------------------------------------------------


class NotConnectedError(builtins.ConnectionError):
    """There is no connection to send the request on; nothing was sent."""


class ConnectError(builtins.ConnectionError):
    """No connection could be made to a node: refused, unreachable, a host
    name that does not resolve, a TLS or WebSocket handshake that failed.
    Nothing was sent. ``errno`` is the system's error number where there is
    one; the error of the library underneath is the ``__cause__``."""


class CertificateError(ConnectError, ssl.SSLCertVerificationError):
    """The node's TLS certificate did not verify (it is also an
    ``ssl.SSLCertVerificationError``, with its ``verify_code`` and
    ``verify_message``). No retry can fix it: pass an ``ssl.SSLContext``
    that trusts the certificate."""


class ConnectionLostError(builtins.ConnectionError):
    """The connection closed after the request was written and before its
    answer arrived: the node may or may not have run it."""


class NodeVersionError(builtins.RuntimeError):
    """The node is too old for what was asked; nothing was sent (or, for
    ThingsDB code the connector sends, the node refused it unchanged).
    ``feature`` names it, ``needs`` is the first release that has it and
    ``version`` the node's (None when it could not be read)."""

    def __init__(
        self, message: str, *, feature: str, needs: str, version: str | None
    ) -> None:
        super().__init__(message)
        self.feature = feature
        self.needs = needs
        self.version = version


if sys.version_info >= (3, 11):
    # asyncio.TimeoutError is builtins.TimeoutError from 3.11 on
    _TimeoutBases: tuple[type[Exception], ...] = (builtins.TimeoutError,)
else:
    _TimeoutBases = (builtins.TimeoutError, asyncio.TimeoutError)


class TimeoutError(*_TimeoutBases):  # type: ignore[misc]
    """No answer within the caller's timeout (connect, authenticate, query...).

    For a request that was written, its id stays reserved until the node
    answers, so a late answer can never reach another caller.
    """


__all__ = [
    "AssertionError",
    "AuthError",
    "BadDataError",
    "CancelledError",
    "CertificateError",
    "ConnectError",
    "ConnectionLostError",
    "CustomError",
    "ErrData",
    "ForbiddenError",
    "InternalError",
    "LookupError",
    "MaxQuotaError",
    "MemoryError",
    "NodeError",
    "NodeVersionError",
    "NotConnectedError",
    "NumArgumentsError",
    "OperationError",
    "OverflowError",
    "ProtocolError",
    "RequestCancelError",
    "RequestTimeoutError",
    "ResultTooLargeError",
    "ResultTypeError",
    "SyntaxError",
    "ThingsDBError",
    "TimeoutError",
    "TypeError",
    "ValueError",
    "WriteUVError",
    "ZeroDivisionError",
    "error_from_answer",
    "error_from_data",
]
