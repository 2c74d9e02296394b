"""The asyncio client."""

from ..engine.failfile import set_package_fail_file
from .client import Client

__all__ = ["Client", "set_package_fail_file"]
