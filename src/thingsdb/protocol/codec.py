"""MessagePack encoding of request payloads, with the checks that keep bad
input off the wire.

msgspec is the codec: it is the fastest MessagePack library for Python, it
decodes straight from a memoryview (no copy of a payload out of the read
buffer), and it refuses values it cannot represent with a TypeError or an
OverflowError, which is what callers should see.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder()

#: Variable names the node accepts (also the rule for named procedure args).
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")

decode = _decoder.decode
DecodeError = msgspec.DecodeError


def encode(value: Any) -> bytes:
    """Encode one value; TypeError/OverflowError/ValueError say why not."""
    try:
        return _encoder.encode(value)
    except (TypeError, OverflowError) as exc:
        raise type(exc)(f"cannot send this value to ThingsDB: {exc}") from None
    except RecursionError:
        raise ValueError(
            "cannot send this value to ThingsDB: nested too deeply"
        ) from None


_SCOPE_STARTS = ("@", "/")


def check_scope(scope: object) -> str:
    if not isinstance(scope, str):
        raise TypeError(f"scope must be a str, not {type(scope).__name__}")
    if not scope.startswith(("@", "/")):
        raise ValueError(
            f"scope {scope!r} must start with '@' or '/' "
            "(for example '@thingsdb', '@:stuff' or '//stuff')"
        )
    return scope


def check_name(kind: str, name: object) -> str:
    """Check a variable, procedure or argument name as the node would."""
    if not isinstance(name, str):
        raise TypeError(f"{kind} must be a str, not {type(name).__name__}")
    if _NAME_RE.fullmatch(name) is None:
        raise ValueError(
            f"{kind} {name!r} is not a valid ThingsDB name: it must match "
            "[A-Za-z_][A-Za-z0-9_]* and be at most 255 characters"
        )
    return name


def check_str(kind: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{kind} must be a str, not {type(value).__name__}")
    return value


def query_payload(scope: str, code: str, variables: Mapping[str, Any]) -> bytes:
    # the checks inlined for the common case (this runs once per query);
    # check_scope and check_str say what is wrong otherwise
    if not (isinstance(scope, str) and scope[:1] in _SCOPE_STARTS):
        check_scope(scope)
    if not isinstance(code, str):
        check_str("code", code)
    if not variables:
        return _encoder.encode((scope, code))  # two str: always encodable
    for name in variables:
        check_name("variable name", name)
    return encode((scope, code, variables))


def run_payload(
    scope: str,
    procedure: str,
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
) -> bytes:
    # the checks inlined for the common case, as in query_payload
    if not (isinstance(scope, str) and scope[:1] in _SCOPE_STARTS):
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
        return encode((scope, procedure, kwargs))
    if not args:
        return _encoder.encode((scope, procedure))  # two str: always encodable
    try:  # encode(), inlined for the common case
        return _encoder.encode((scope, procedure, args))
    except (TypeError, OverflowError, RecursionError):
        return encode((scope, procedure, args))  # raises, saying why


def auth_payload(credentials: str | tuple[str, str]) -> bytes:
    if isinstance(credentials, str):
        return encode(credentials)
    return encode(list(credentials))
