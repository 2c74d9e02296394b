"""Rooms: subscribe to the events ThingsDB code emits."""

# ``event`` comes through its own module (as in python-thingsdb), so that
# importing ``thingsdb.room.event`` later cannot rebind the name to the module
from .event import event
from .room import Room, RoomEvent

__all__ = ["Room", "RoomEvent", "event"]
