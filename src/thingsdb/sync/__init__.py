"""The blocking client, for code without an event loop.

``thingsdb.sync.Client`` has the methods of ``thingsdb.client.Client``
(without ``await``) and runs that very client on an event loop in a
background thread, so reconnects, failover and the keepalive go on between
calls. ``thingsdb.sync.Room`` is the room for it: its handlers are plain
functions, run in the room's own thread, and ``room.events()`` is a blocking
iterator over the events without a handler.
"""

from .client import Client
from .room import Room, RoomEvent, RoomEvents, event

__all__ = ["Client", "Room", "RoomEvent", "RoomEvents", "event"]
