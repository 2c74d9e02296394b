"""MessagePack encoding of request payloads, with the checks that keep bad
input off the wire.

msgspec is the codec: it is the fastest MessagePack library for Python, it
decodes straight from a memoryview (no copy of a payload out of the read
buffer). Before encoding, values are checked against what ThingsDB takes
(msgspec would also send sets, dataclasses and more), and every refusal is
a TypeError or ValueError raised before anything is sent.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from .grammar import check_name, check_scope

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder()


decode = _decoder.decode
DecodeError = msgspec.DecodeError


def encode(value: Any) -> bytes:
    """Encode one value; TypeError/ValueError say why not (before anything
    is sent)."""
    return _encode(value, value)


def _encode(payload: Any, values: Any) -> bytes:
    """Encode ``payload``, of which ``values`` is the part that came from
    the caller (the rest is checked already)."""
    try:
        check_value(values)
        return _encoder.encode(payload)
    except TypeError as exc:
        raise TypeError(f"cannot send this value to ThingsDB: {exc}") from None
    except OverflowError:
        raise ValueError(
            "cannot send this value to ThingsDB: an integer is out of range "
            "(ThingsDB integers are 64-bit: -2**63 .. 2**63-1)"
        ) from None
    except RecursionError:
        raise ValueError(
            "cannot send this value to ThingsDB: nested too deeply"
        ) from None


#: Values sent as they are. Anything else but lists, tuples and dicts of
#: these (and subclasses of int, float and str, such as IntEnum members) is
#: refused: msgspec would send a set as an array, a dataclass as a map and
#: so on, where python-thingsdb (and this project's README) refuse them.
#: An Ext of type 0 holding MessagePack is the node's ``mpdata``. Datetimes
#: are refused too (see _MOMENTS).
_LEAVES = frozenset(
    {
        str,
        int,
        float,
        bool,
        type(None),
        bytes,
        bytearray,
        memoryview,
        msgspec.msgpack.Ext,
    }
)

#: ThingsDB takes no date or time value from a client (msgspec would send a
#: datetime as a MessagePack timestamp, which the node refuses, or as a
#: string): every one is refused at the call, with the way to send it.
_MOMENTS = (datetime.date, datetime.time, datetime.timedelta)
_MOMENT_HOW = (
    "ThingsDB takes no date or time value from a client; send a point in time "
    "as a number, dt.timestamp() (seconds since the epoch; a naive datetime is "
    "taken as local time), and make it a datetime in the code with "
    "datetime(x); send a duration as seconds (td.total_seconds())"
)


def check_value(value: Any) -> None:
    """Raise TypeError if ``value`` holds anything ThingsDB cannot take (a
    set, an object...): the one check msgspec does not make for us.

    A container's items are looked at one by one, or, when there are many,
    their types are collected in one pass in C; only containers among them
    are visited. Too deep a value raises RecursionError, as msgspec would.
    """
    tp = type(value)
    if tp is dict:
        items: Any = value.values()
    elif tp is list or tp is tuple:
        items = value
    elif tp in _LEAVES or isinstance(value, (int, float, str)):
        return  # an IntEnum member and the like: msgspec has the last word
    elif tp is set or tp is frozenset:
        raise TypeError(
            f"a {tp.__name__} has no ThingsDB counterpart among the values a "
            "client sends; send a list (list(value)) instead"
        )
    elif isinstance(value, _MOMENTS):
        raise TypeError(f"a {tp.__module__}.{tp.__qualname__}: {_MOMENT_HOW}")
    else:
        raise TypeError(
            f"a {tp.__module__}.{tp.__qualname__} is not a value ThingsDB "
            "takes (None, bool, int, float, str, bytes, list, tuple, dict, "
            "msgspec.msgpack.Ext)"
        )
    if len(items) > 16 and set(map(type, items)) <= _LEAVES:
        return
    for item in items:
        if type(item) not in _LEAVES:
            check_value(item)


def check_str(kind: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{kind} must be a str, not {type(value).__name__}")
    return value


def query_payload(scope: str, code: str, variables: Mapping[str, Any]) -> bytes:
    check_scope(scope)
    if not isinstance(code, str):
        check_str("code", code)
    if not variables:
        return _encoder.encode((scope, code))  # two str: always encodable
    for name in variables:
        check_name("variable name", name)
    return _encode((scope, code, variables), variables)


def run_payload(
    scope: str,
    procedure: str,
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
) -> bytes:
    check_scope(scope)
    if not isinstance(procedure, str):
        check_str("procedure", procedure)
    if kwargs:
        if args:
            raise TypeError(
                "run() takes the procedure's arguments either by position or "
                "by name, not both"
            )
        for name in kwargs:
            check_name("argument name", name)
        return _encode((scope, procedure, kwargs), kwargs)
    if not args:
        return _encoder.encode((scope, procedure))  # two str: always encodable
    return _encode((scope, procedure, args), args)


def auth_payload(credentials: str | tuple[str, str]) -> bytes:
    if isinstance(credentials, str):
        return encode(credentials)
    return encode(list(credentials))
