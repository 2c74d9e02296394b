"""What the async room and the blocking room share, free of I/O: which room
it is (an id, a name or code giving the id, in which collection), the
client it is bound to, its ``@event`` handlers, and how an event finds its
handler. Each room class adds how it waits (await or block) on top.
"""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar

from ..exceptions import NodeVersionError, ThingsDBError
from ..features import ROOM_NAMES, missing_feature, too_old
from ..protocol import PackageType, check_scope, collection_name, is_name
from .event import event_handlers

#: The client type of the room class (each room declares what it needs of
#: its client as a Protocol)
C = TypeVar("C")


class RoomIdentity(Generic[C]):
    """The base of both room classes: the room argument, the scope, the
    client and the handler table."""

    #: event name -> attribute name of its handler (looked up per call, so a
    #: subclass may override a handler method without marking it again)
    _event_handlers: ClassVar[dict[str, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._event_handlers = event_handlers(cls)

    def __init__(self, room: int | str, scope: str | None = None) -> None:
        if isinstance(room, bool) or not isinstance(room, (int, str)):
            raise TypeError(
                f"room must be a room id (int), a name or code (str), not "
                f"{type(room).__name__}"
            )
        self._room = room
        self._id: int | None = room if isinstance(room, int) else None
        self._scope = None if scope is None else room_scope(scope)
        self._client: C | None = None
        self._initialized = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} id={self._id} scope={self._scope!r}>"

    @property
    def id(self) -> int | None:
        """The room id; None until join() or no_join() resolved it."""
        return self._id

    @property
    def scope(self) -> str | None:
        """The room's collection as ``'@collection:<name>'`` (the form the
        node's events use), whatever form it was given in; None until
        join() or no_join() when no scope was given."""
        return self._scope

    @property
    def client(self) -> C:
        """The client given to join() or no_join()."""
        if self._client is None:
            raise RuntimeError("call join() or no_join() first: the room has no client")
        return self._client

    # -- for the room classes ----------------------------------------------------

    def _bind(self, client: C) -> None:
        if self._client is not None and self._client is not client:
            raise RuntimeError(f"{self!r} belongs to another client")
        self._client = client

    def _scope_or_default(self, default_scope: str) -> str:
        if self._scope is None:
            self._scope = room_scope(default_scope)
        return self._scope

    def _need_client(self, action: str) -> C:
        if self._client is None or self._id is None:
            raise RuntimeError(f"call join() or no_join() before {action}()")
        return self._client

    def _id_query(self) -> int | tuple[str, dict[str, Any]]:
        """The code (and its variables) that gives this room's id, or the id
        when it was given."""
        room = self._room
        if isinstance(room, int):
            return room
        if is_name(room):
            return "room(name).id();", {"name": room}
        return room, {}

    def _emit_call(self, data: Any) -> Any:
        """Call the handler of a ROOM_EMIT (the ``@event`` method for its
        name, else ``on_emit``); what it returns (a coroutine, for an
        ``async def`` handler) is the caller's."""
        name = data.get("event")
        args = data.get("args") or []
        attr = self._event_handlers.get(name)
        if attr is None:
            return self.on_emit(name, *args)
        return getattr(self, attr)(*args)

    def on_emit(self, event: str, *args: Any) -> Any:
        """Called for an event without a handler (each room class says
        what it does with it)."""
        raise NotImplementedError


def lacks_room_names(exc: BaseException) -> bool:
    """``exc`` is an older node's answer to a room looked up by name."""
    return isinstance(exc, ThingsDBError) and missing_feature(exc) is ROOM_NAMES


def room_names_error(version: Any) -> NodeVersionError:
    """A room by name on a node before 1.7.0 (``version``: what
    ``node_info()`` gave, or None)."""
    return too_old(ROOM_NAMES, version if isinstance(version, str) else None, None)


def checked_id(code: str, room_id: Any) -> int:
    """The answer to ``code`` (see ``RoomIdentity._id_query``) as a room id;
    TypeError when the code gave anything else."""
    if isinstance(room_id, bool) or not isinstance(room_id, int):
        raise TypeError(
            f"the code {code!r} must return a room id (int), but returned "
            f"{type(room_id).__name__}: {room_id!r}"
        )
    return room_id


def room_scope(scope: str) -> str:
    """Rooms live in collections: the collection scope in its full form
    (the form the node's events name it)."""
    try:
        return f"@collection:{collection_name(scope)}"
    except ValueError:
        check_scope(scope)  # TypeError, or ValueError for a malformed scope
        raise ValueError(
            f"rooms live in collections, and {scope!r} names none; give a "
            "collection scope such as '//stuff' or '@:stuff'"
        ) from None


def describe(tp: int, data: Any) -> str:
    """An event as a log line names it."""
    if tp == PackageType.ROOM_EMIT and isinstance(data, dict):
        return f"event {data.get('event')!r}"
    try:
        return PackageType(tp).name
    except ValueError:
        return f"package type {tp:#04x}"
