"""Names python-thingsdb code imports from ``thingsdb.client.baseprotocol``:
the package types as ``Proto`` and the node's error codes as ``Err``.

Both are views of this project's own definitions (``PackageType`` and the
``code`` of each class in :mod:`thingsdb.exceptions`), under the member
names python-thingsdb gives them, so that ``exc.error_code ==
Err.EX_TYPE_ERROR`` holds for the errors this client raises.
"""

from __future__ import annotations

import enum

from .. import exceptions as _exc
from ..protocol import PackageType as _Tp


class Proto(enum.IntEnum):
    """The package types, named as python-thingsdb names them."""

    # events
    ON_NODE_STATUS = _Tp.NODE_STATUS
    ON_WARN = _Tp.WARN
    ON_ROOM_JOIN = _Tp.ROOM_JOIN
    ON_ROOM_LEAVE = _Tp.ROOM_LEAVE
    ON_ROOM_EMIT = _Tp.ROOM_EMIT
    ON_ROOM_DELETE = _Tp.ROOM_DELETE
    # responses
    RES_PING = _Tp.PONG
    RES_OK = _Tp.OK
    RES_DATA = _Tp.DATA
    RES_ERROR = _Tp.ERROR
    # requests
    REQ_PING = _Tp.PING
    REQ_AUTH = _Tp.AUTH
    REQ_QUERY = _Tp.QUERY
    REQ_RUN = _Tp.RUN
    REQ_JOIN = _Tp.JOIN
    REQ_LEAVE = _Tp.LEAVE
    REQ_EMIT = _Tp.EMIT
    REQ_EMIT_PEER = _Tp.EMIT_PEER


def _code(cls: type[_exc.ThingsDBError]) -> int:
    assert cls.code is not None
    return cls.code


class Err(enum.IntEnum):
    """The node's error codes; each is the ``error_code`` of the exception
    class of the same meaning."""

    # errors of the code that ran
    EX_CANCELLED = _code(_exc.CancelledError)
    EX_OPERATION_ERROR = _code(_exc.OperationError)
    EX_NUM_ARGUMENTS = _code(_exc.NumArgumentsError)
    EX_TYPE_ERROR = _code(_exc.TypeError)
    EX_VALUE_ERROR = _code(_exc.ValueError)
    EX_OVERFLOW = _code(_exc.OverflowError)
    EX_ZERO_DIV = _code(_exc.ZeroDivisionError)
    EX_MAX_QUOTA = _code(_exc.MaxQuotaError)
    EX_AUTH_ERROR = _code(_exc.AuthError)
    EX_FORBIDDEN = _code(_exc.ForbiddenError)
    EX_LOOKUP_ERROR = _code(_exc.LookupError)
    EX_BAD_DATA = _code(_exc.BadDataError)
    EX_SYNTAX_ERROR = _code(_exc.SyntaxError)
    EX_NODE_ERROR = _code(_exc.NodeError)
    EX_ASSERT_ERROR = _code(_exc.AssertionError)
    # errors of the node itself
    EX_TOO_LARGE_X = _code(_exc.ResultTooLargeError)
    EX_REQUEST_TIMEOUT = _code(_exc.RequestTimeoutError)
    EX_REQUEST_CANCEL = _code(_exc.RequestCancelError)
    EX_WRITE_UV = _code(_exc.WriteUVError)
    EX_MEMORY = _code(_exc.MemoryError)
    EX_INTERNAL = _code(_exc.InternalError)


__all__ = ["Err", "Proto"]
