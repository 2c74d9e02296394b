"""``thingsdb.client.package``: where python-thingsdb code finds
``set_package_fail_file``."""

from .failfile import set_package_fail_file

__all__ = ["set_package_fail_file"]
