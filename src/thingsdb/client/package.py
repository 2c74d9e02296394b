"""``thingsdb.client.package``: where python-thingsdb code finds
``set_package_fail_file``."""

from ..engine.failfile import set_package_fail_file

__all__ = ["set_package_fail_file"]
