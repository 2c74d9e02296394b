"""What a span and a measurement are called and carry, without OpenTelemetry:
the operation's name from its code or procedure, and the attributes of the
database-client semantic conventions (``db.*``, ``server.*``,
``error.type``). Plain functions of strings, tested without the SDK."""

from __future__ import annotations

from typing import Any

from ..exceptions import ThingsDBError

#: ``db.system.name`` of every span and measurement
SYSTEM = "thingsdb"

#: The longest operation name taken from a query's first line; longer ones
#: are cut (with "..."): the name goes into the span's name and the
#: duration metric's attributes, where it must stay short.
MAX_OPERATION = 80

# attribute keys (the semantic conventions' names, written once)
DB_SYSTEM = "db.system.name"
DB_NAMESPACE = "db.namespace"
DB_OPERATION = "db.operation.name"
DB_QUERY_TEXT = "db.query.text"
DB_PROCEDURE = "db.stored_procedure.name"
DB_STATUS = "db.response.status_code"
ERROR_TYPE = "error.type"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
NETWORK_TRANSPORT = "network.transport"
#: ThingsDB's own: the room of a join, leave or emit, and an emit's event
ROOM_IDS = "thingsdb.room.ids"
ROOM_EVENT = "thingsdb.room.event"

#: Kinds of operation named by the kind itself (no code or procedure)
JOIN = "join"
LEAVE = "leave"
EMIT = "emit"
CONNECT = "connect"
AUTHENTICATE = "authenticate"


def query_operation(code: object) -> str:
    """A query's ``db.operation.name``: its first non-blank line, stripped,
    cut to :data:`MAX_OPERATION` characters (a query is often one line; a
    longer one usually starts with what it is about)."""
    if not isinstance(code, str):
        return "query"
    start = 0
    while True:  # line by line from the top: code may be long
        end = code.find("\n", start)
        line = (code[start:] if end < 0 else code[start:end]).strip()
        if line:
            if len(line) > MAX_OPERATION:
                return line[: MAX_OPERATION - 3] + "..."
            return line
        if end < 0:
            return "query"
        start = end + 1


def span_name(operation: str, scope: str | None) -> str:
    """The span's name as the conventions build it: the operation, then
    its target (the scope) when there is one."""
    return operation if not scope else f"{operation} {scope}"


def server_attributes(address: object) -> dict[str, Any]:
    """``server.address`` and ``server.port`` (``network.transport`` for a
    unix socket) of a node address (:class:`thingsdb.transport.Address`,
    read by duck typing; None while there is no connection)."""
    kind = getattr(address, "kind", None)
    if kind is None:
        return {}
    if kind == "unix":
        return {SERVER_ADDRESS: getattr(address, "path", ""), NETWORK_TRANSPORT: "unix"}
    return {
        SERVER_ADDRESS: getattr(address, "host", ""),
        SERVER_PORT: getattr(address, "port", 0),
    }


def error_attributes(exc: BaseException) -> dict[str, Any]:
    """``error.type`` (the error's class, fully qualified) and, for an error
    the node answered, ``db.response.status_code`` (its error code, e.g.
    ``"-54"``, as a string as the conventions ask)."""
    cls = type(exc)
    module = cls.__module__
    name = cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"
    attrs: dict[str, Any] = {ERROR_TYPE: name}
    if isinstance(exc, ThingsDBError):
        attrs[DB_STATUS] = str(exc.error_code)
    return attrs
