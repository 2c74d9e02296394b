"""Rooms: subscribe to the events ThingsDB code emits."""

from .room import Room, RoomEvent, event

__all__ = ["Room", "RoomEvent", "event"]
