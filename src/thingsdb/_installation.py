"""Whether this package's files are its own: python-thingsdb, installed in
the same environment, owns the same ``thingsdb`` import package.

pip lets both be installed and ``pip check`` sees nothing wrong, but each
overwrites the other's files (installing one after the other), and
uninstalling python-thingsdb deletes the files both ship, leaving this
package without them. Both leave imports failing far from the cause
(``cannot import name 'Client' ... (unknown location)``). Importing this
module checks for either state and raises an ``ImportError`` that names
both packages and the way out. It imports nothing of the package (it runs
first, where the package's own modules may be python-thingsdb's), and
costs a directory listing per ``sys.path`` entry and a few ``stat`` calls.
"""

from __future__ import annotations

import os
import sys

#: The files python-thingsdb 1.4.1 ships: every one is a file of this
#: package too, overwritten by its install and deleted by its uninstall.
SHARED_FILES = (
    "__init__.py",
    "exceptions.py",
    "version.py",
    "client/__init__.py",
    "client/baseprotocol.py",
    "client/buildin.py",
    "client/client.py",
    "client/package.py",
    "client/protocol.py",
    "client/wsprotocol.py",
    "misc/__init__.py",
    "misc/lock.py",
    "room/__init__.py",
    "room/event.py",
    "room/room.py",
    "room/roombase.py",
    "util/__init__.py",
    "util/access.py",
    "util/cleancode.py",
    "util/cnscope.py",
    "util/fcscope.py",
    "util/id.py",
    "util/is_name.py",
)

_REINSTALL = "pip install --force-reinstall --no-deps thingsdb-connector"
_WAY_OUT = (
    "the way out: pip uninstall -y python-thingsdb thingsdb-connector && "
    "pip install thingsdb-connector (code written for python-thingsdb runs "
    "on thingsdb-connector unchanged, also in a package that requires "
    "python-thingsdb, though pip check then reports that requirement missing)"
)


def python_thingsdb_metadata() -> str | None:
    """Where python-thingsdb's installation record is, if it is installed
    on ``sys.path``."""
    for entry in sys.path:
        if not entry or not os.path.isdir(entry):
            continue  # the working folder (""), a zip file
        try:
            names = os.listdir(entry)
        except OSError:
            continue
        for name in names:
            lowered = name.lower()
            if lowered.startswith(("python_thingsdb-", "python-thingsdb-")) and (
                lowered.endswith((".dist-info", ".egg-info"))
            ):
                return os.path.join(entry, name)
    return None


def missing_files(package_dir: str) -> list[str]:
    """The shared files that are not in ``package_dir`` (the ``thingsdb``
    folder this module is in)."""
    return [
        name
        for name in SHARED_FILES
        if not os.path.isfile(os.path.join(package_dir, *name.split("/")))
    ]


def check(package_dir: str) -> None:
    """Raise ImportError when python-thingsdb is installed too, or when
    the files the two share are gone from ``package_dir``."""
    record = python_thingsdb_metadata()
    if record is not None:
        raise ImportError(
            "thingsdb-connector and python-thingsdb are both installed "
            f"(python-thingsdb's record: {record}); they share the `thingsdb` "
            "package, and whichever was installed last has overwritten the "
            "other's files, so neither works as it should. thingsdb-connector "
            f"replaces python-thingsdb; {_WAY_OUT}"
        )
    missing = missing_files(package_dir)
    if missing:
        shown = ", ".join(f"thingsdb/{name}" for name in missing[:3])
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise ImportError(
            f"files of thingsdb-connector are missing ({shown}{more}): "
            "uninstalling python-thingsdb deletes the files the two packages "
            "share (both own the `thingsdb` package); thingsdb-connector "
            f"replaces python-thingsdb. The way out: {_REINSTALL}"
        )


check(os.path.dirname(os.path.abspath(__file__)))
