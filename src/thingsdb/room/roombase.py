"""``thingsdb.room.roombase``: python-thingsdb's base class of rooms. Here
one class does it all, so ``RoomBase`` is :class:`thingsdb.room.Room`."""

from .room import Room as RoomBase

__all__ = ["RoomBase"]
