"""What goes over HTTP and how the answer reads, without I/O.

A request is ``POST <node URL><scope path>`` with a MessagePack body
``{"type": "query", "code": ..., "vars": {...}}`` or ``{"type": "run",
"name": ..., "args": [...] or {...}}`` (the node's ``src/ti/api.c``). The
body is checked and encoded by the project's codec, so the same values are
refused at the call, with the same messages, as on the socket clients.

The node answers 200 with the MessagePack value, or an error status with a
text body ``"<message> (<code>)"``, read back as the exception class of that
code (as an ERROR package is). A few answers carry no code (the node's
default bodies: ``UNAUTHORIZED`` and the like); they map to the code of
the same meaning, and anything else is a :class:`ProtocolError`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .. import exceptions as tdx
from ..exceptions import (
    AuthError,
    BadDataError,
    InternalError,
    NodeError,
    ProtocolError,
    ThingsDBError,
    error_from_data,
)
from ..protocol.codec import DecodeError, check_str, decode, encode
from ..protocol.grammar import check_name
from ..protocol.typed import ResultDecoder

MSGPACK = "application/msgpack"

#: The message of the error for a 401 without a code: the credentials
#: (token, or user name and password) were refused.
LOGIN_REFUSED = "the node refused the credentials (HTTP 401 Unauthorized)"
#: The message of the NodeError for a 503 without a code: the node is
#: shutting down and ran nothing; the next node may take the request.
SHUTTING_DOWN = (
    "the node is shutting down and did not take the request "
    "(HTTP 503 Service Unavailable)"
)

# "<message> (<code>)" with the node's CRLF; a message may span lines
_ERROR_BODY = re.compile(r"(?s)(.*) \((-?\d+)\)\r?\n?")

#: The node's bodies without a code, by status: the error they stand for.
_DEFAULT_BODIES: dict[int, tuple[type[ThingsDBError], str]] = {
    400: (BadDataError, "the node could not read the request (HTTP 400)"),
    401: (AuthError, LOGIN_REFUSED),
    404: (tdx.LookupError, "the node knows no such scope (HTTP 404)"),
    500: (InternalError, "internal error of the node (HTTP 500)"),
    503: (NodeError, SHUTTING_DOWN),
}


def query_body(code: str, variables: Mapping[str, Any]) -> bytes:
    """The body of a query; TypeError/ValueError (before anything is sent)
    for a value or name the socket clients refuse too."""
    if not isinstance(code, str):
        check_str("code", code)
    if not variables:
        return encode({"type": "query", "code": code})
    for name in variables:
        check_name("variable name", name)
    return encode({"type": "query", "code": code, "vars": variables})


def run_body(procedure: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> bytes:
    """The body of a procedure call, arguments by position or by name (not
    both); checked as :func:`query_body`."""
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
        return encode({"type": "run", "name": procedure, "args": kwargs})
    if not args:
        return encode({"type": "run", "name": procedure})
    return encode({"type": "run", "name": procedure, "args": list(args)})


def read_answer(
    status: int,
    content_type: str | None,
    content: bytes,
    decoder: ResultDecoder[Any] | None = None,
) -> Any:
    """The value of a 200 answer (read as ``decoder``'s type when there is
    one: a :class:`ResultTypeError` when it does not fit); the error an
    other answer stands for is raised (a :class:`ThingsDBError`, or
    :class:`ProtocolError` for what no ThingsDB node answers)."""
    media = (content_type or "").partition(";")[0].strip().lower()
    if status == 200:
        if media != MSGPACK:
            raise ProtocolError(
                f"HTTP 200 with Content-Type {content_type!r}, not {MSGPACK}: "
                "is this a ThingsDB node's HTTP API?"
            )
        try:
            return decode(content) if decoder is None else decoder.decode(content)
        except DecodeError as exc:
            raise ProtocolError(f"undecodable MessagePack answer: {exc}") from None
    raise answer_error(status, media, content)


def answer_error(status: int, media: str, content: bytes) -> Exception:
    """The exception for an answer other than 200."""
    text = content.decode("utf-8", "replace")
    if media == "text/plain":
        match = _ERROR_BODY.fullmatch(text)
        if match is not None:
            return error_from_data({"error_code": int(match[2]), "error_msg": match[1]})
        default = _DEFAULT_BODIES.get(status)
        if default is not None:
            cls, message = default
            return cls(message)
    excerpt = text[:200].strip() or "(no body)"
    return ProtocolError(
        f"HTTP {status} that no ThingsDB node answers: {excerpt!r} "
        "(a proxy in between, or not a ThingsDB HTTP API?)"
    )
