"""The blocking client, for code without an event loop.

``thingsdb.sync.Client`` has the methods of ``thingsdb.client.Client``
(without ``await``). A call writes its request and reads its answer on the
calling thread, over a blocking socket, on the same protocol core as the
async client; threads that share a client take turns at reading. Between
calls, threads of the client's own read room events, keep the connection
alive and reconnect. ``thingsdb.sync.Room`` is the room for it: its
handlers are plain functions, run in the room's own thread, and
``room.events()`` is a blocking iterator over the events without a handler.
"""

import thingsdb._installation  # noqa: F401 - first: python-thingsdb beside it is an ImportError

from ._typed import TypedRequests
from .client import Client
from .room import Room, RoomEvent, RoomEvents, event

__all__ = ["Client", "Room", "RoomEvent", "RoomEvents", "TypedRequests", "event"]
