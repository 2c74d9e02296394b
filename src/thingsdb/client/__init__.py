"""The asyncio client."""

from .client import Client
from .failfile import set_package_fail_file

__all__ = ["Client", "set_package_fail_file"]
