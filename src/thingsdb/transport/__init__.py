"""Drivers that move bytes between a socket and the protocol core."""

from .address import DEFAULT_PORT, Address, parse_address, parse_pool_entry
from .base import Driver, Receiver
from .connect import open_driver
from .stream import StreamDriver, open_stream
from .websocket import WebSocketLibrary, check_library, open_websocket

__all__ = [
    "DEFAULT_PORT",
    "Address",
    "Driver",
    "Receiver",
    "StreamDriver",
    "WebSocketLibrary",
    "check_library",
    "open_driver",
    "open_stream",
    "open_websocket",
    "parse_address",
    "parse_pool_entry",
]
