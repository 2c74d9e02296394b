"""The asyncio client."""

from ..engine.failfile import set_package_fail_file
from .client import Client
from .request_methods import TypedRequests

__all__ = ["Client", "TypedRequests", "set_package_fail_file"]
