"""The asyncio client."""

from .client import Client
from .failfile import set_package_fail_file
from .request_methods import TypedRequests

__all__ = ["Client", "TypedRequests", "set_package_fail_file"]
