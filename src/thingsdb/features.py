"""What each ThingsDB release can do, and the error for a node too old.

Free of I/O, shared by both clients. What the clients learn of a node
they learn once per connection, and only when a call needs it (see
:class:`PerConnection`): nothing on the path of an ordinary request.

Two kinds of feature:

* Protocol features: a peers-only emit is a package type an older node
  does not know, and never answers. The first one on a connection goes out
  with a PING right behind it: a node answers the packages of a connection
  in order, and an emit at once, so a PONG that comes first says the node
  did not take it (see the clients' ``emit_peer`` paths). No version and no
  privilege is needed for that; the version is read (when the user may)
  only to name it in the error.
* Features of ThingsDB code the connector sends (commit history,
  whitelists, rooms by name): the request goes out as it is, and an older
  node's answer ("function `set_history` is undefined") is turned into a
  :class:`~thingsdb.exceptions.NodeVersionError` naming both versions
  (see :func:`translate`). No version is read unless that happens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .exceptions import NodeVersionError, ThingsDBError

T = TypeVar("T")


@dataclass(frozen=True)
class Feature:
    #: what the user asked for, as the error names it
    name: str
    #: the first release that has it
    since: str


PEERS_ONLY_EMIT = Feature("emit(peers_only=True)", "1.8.0")
ROOM_NAMES = Feature("rooms by name", "1.7.0")
WHITELISTS = Feature("whitelists", "1.7.0")
COMMIT_HISTORY = Feature("commit history", "1.8.0")
#: not a call: events that name their collection (see the README's "Node
#: versions"); before it, rooms are told apart by id alone
SCOPED_ROOM_EVENTS = Feature("room events that name their collection", "1.8.6")

#: ThingsDB functions the connector's helpers and migrations call, by the
#: feature they belong to
_FUNCTIONS: dict[str, Feature] = {
    "set_history": COMMIT_HISTORY,
    "history": COMMIT_HISTORY,
    "del_history": COMMIT_HISTORY,
    "commit": COMMIT_HISTORY,
    "whitelist_add": WHITELISTS,
    "whitelist_del": WHITELISTS,
    "set_name": ROOM_NAMES,
}

#: how nodes before these features answer code that uses them
_UNDEFINED = re.compile(r"(?:function|type `room` has no function) `(\w+)`")
_NO_ROOM_NAMES = "cannot convert type `str` to `room`"

#: the code that reads a node's version (needs QUERY on @node)
VERSION_CODE = "node_info().load().version"
VERSION_SCOPE = "@node"


def too_old(
    feature: Feature, version: str | None, node: str | None
) -> NodeVersionError:
    """The error for ``feature`` on the node at ``node`` (its address, when
    known)."""
    if version is None:
        runs = "is older (reading its version needs QUERY on @node)"
    else:
        runs = f"runs ThingsDB {version}"
    return NodeVersionError(
        f"{feature.name} needs ThingsDB {feature.since} or newer; "
        f"the node{'' if node is None else f' at {node}'} {runs}",
        feature=feature.name,
        needs=feature.since,
        version=version,
    )


def missing_feature(exc: BaseException) -> Feature | None:
    """The feature an older node's error says it lacks, or None when
    ``exc`` is no such error."""
    if not isinstance(exc, ThingsDBError):
        return None
    if exc.error_code == -54:
        found = _UNDEFINED.match(exc.error_msg)
        return None if found is None else _FUNCTIONS.get(found.group(1))
    if exc.error_code == -61 and exc.error_msg.startswith(_NO_ROOM_NAMES):
        return ROOM_NAMES
    return None


class PerConnection(Generic[T]):
    """Something learned of the node behind a connection, once per
    connection (a move to another node learns it again). Only the newest
    connection is remembered: a client uses one at a time."""

    __slots__ = ("_conn", "_value")

    def __init__(self) -> None:
        self._conn: object = None
        self._value: T | None = None

    def get(self, conn: object) -> tuple[bool, T | None]:
        """``(known, value)`` for ``conn``."""
        if conn is None or conn is not self._conn:
            return False, None
        return True, self._value

    def put(self, conn: object, value: T) -> T:
        if conn is not None:
            self._conn, self._value = conn, value
        return value


def version_from(answer: Any) -> str | None:
    """What ``VERSION_CODE`` answered, as a version (None: not a string)."""
    return answer if isinstance(answer, str) else None
