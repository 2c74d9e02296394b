"""Finding the ``thingsdb`` node binary, and making sure it is one.

The lookup order is: an explicit argument (``binary=...``, or
``--thingsdb-bin`` under pytest), then ``THINGSDB_BIN``, then ``thingsdb``
on ``PATH``. A setting that names something unusable is an error, never a
reason to fall back to the next source: testing another binary than the one
asked for would be worse than testing none.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from .errors import BinaryError

BIN_ENV = "THINGSDB_BIN"
#: several binaries (see :func:`list_binaries`): the pytest plugin then runs
#: every test that needs a node once per binary
BINS_ENV = "THINGSDB_BINS"

#: where a binary comes from, for people who have none yet
HOW_TO_GET_ONE = (
    "to get one, build ThingsDB from source: "
    "https://docs.thingsdb.io/v1/getting-started/build-from-source/"
)

#: `thingsdb --version` answers at once; this only stops a program that hangs
_VERSION_TIMEOUT = 15.0
_VERSION = re.compile(r"ThingsDB Node (\S+)")

#: (real path, mtime, size) -> version, so each binary runs --version once
_checked: dict[tuple[str, int, int], str] = {}


def node_environment() -> dict[str, str]:
    """This process's environment without ``THINGSDB_*`` variables, which
    would override a node's configuration file."""
    return {k: v for k, v in os.environ.items() if not k.startswith("THINGSDB_")}


def which_binary(
    binary: str | os.PathLike[str] | None = None, *, given_as: str = "binary="
) -> tuple[str | None, str]:
    """Return ``(path, "")``, or ``(None, reason)`` when none is configured.

    ``given_as`` names how ``binary`` was given, for messages. A binary that
    was configured (``binary`` or ``THINGSDB_BIN``) but is missing or not
    executable raises :class:`BinaryError`.
    """
    if binary is not None:
        return _usable(str(binary), f"{given_as}{binary}"), ""
    configured = os.environ.get(BIN_ENV)
    if configured:
        return _usable(configured, f"{BIN_ENV}={configured}"), ""
    found = shutil.which("thingsdb")
    if found is not None:
        return found, ""
    return None, (
        f"no ThingsDB node binary: give one ({given_as}PATH), set {BIN_ENV}, "
        f"or put `thingsdb` on PATH; {HOW_TO_GET_ONE}"
    )


def find_binary(
    binary: str | os.PathLike[str] | None = None, *, given_as: str = "binary="
) -> str:
    """Like :func:`which_binary`, but no binary at all raises
    :class:`BinaryError` too."""
    path, reason = which_binary(binary, given_as=given_as)
    if path is None:
        raise BinaryError(reason)
    return path


def check_binary(path: str) -> str:
    """Run ``path --version`` and return the ThingsDB version it reports.

    Raises :class:`BinaryError` when the program is not a ThingsDB node (it
    fails, prints something else, or does not answer). Checked once per
    binary file and process.
    """
    try:
        st = os.stat(path)
    except OSError as exc:
        raise BinaryError(f"{path} is not usable as a ThingsDB node: {exc}") from exc
    key = (os.path.realpath(path), st.st_mtime_ns, st.st_size)
    if key in _checked:
        return _checked[key]
    what = f"{path} is not a ThingsDB node binary"
    try:
        done = subprocess.run(
            [path, "--version"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=_VERSION_TIMEOUT,
            env=node_environment(),
            check=False,
        )
    except subprocess.TimeoutExpired as exc:  # run() has killed it by now
        raise BinaryError(
            f"{what}: `{path} --version` did not finish within {_VERSION_TIMEOUT} s"
        ) from exc
    except OSError as exc:
        raise BinaryError(f"{what}: it cannot be run ({exc})") from exc
    output = (done.stdout + done.stderr).decode(errors="replace")
    match = _VERSION.search(output)
    if done.returncode != 0 or match is None:
        shown = output.strip()[-400:] or "nothing"
        raise BinaryError(
            f"{what}: `{path} --version` exited with {done.returncode} and "
            f"printed {shown!r}, without 'ThingsDB Node <version>'"
        )
    _checked[key] = match.group(1)
    return match.group(1)


def list_binaries(
    spec: str | None = None, *, given_as: str = BINS_ENV
) -> list[tuple[str, str]]:
    """The binaries ``spec`` names (else ``THINGSDB_BINS``), as
    ``(version, path)`` sorted by version, each version once.

    ``spec`` lists entries separated by ``os.pathsep`` (``:``); an entry is
    a binary (a bare name is looked up on PATH) or a folder holding
    ``thingsdb`` or ``*/thingsdb`` (one folder per release, say). Nothing
    configured gives ``[]``; an entry that gives no usable binary raises
    :class:`BinaryError`.
    """
    if spec is None:
        spec = os.environ.get(BINS_ENV, "")
    found: dict[str, str] = {}
    for entry in filter(None, (part.strip() for part in spec.split(os.pathsep))):
        source = f"{given_as}: {entry}"
        folder = Path(entry)
        if folder.is_dir():
            paths = [str(p) for p in (folder / "thingsdb", *folder.glob("*/thingsdb"))]
            paths = [p for p in paths if os.path.isfile(p) and os.access(p, os.X_OK)]
            if not paths:
                raise BinaryError(
                    f"no ThingsDB node binary: {source} holds no thingsdb or */thingsdb"
                )
        else:
            paths = [_usable(entry, source)]
        for path in paths:
            found.setdefault(check_binary(path), path)
    return sorted(found.items(), key=lambda item: _version_key(item[0]))


def _version_key(version: str) -> tuple[tuple[int, ...], str]:
    numbers = re.match(r"\d+(?:\.\d+)*", version)
    parts = tuple(int(n) for n in numbers.group().split(".")) if numbers else ()
    return parts, version


def _usable(value: str, source: str) -> str:
    """``value`` as an executable path (a bare name is looked up on PATH)."""
    if os.sep not in value:
        found = shutil.which(value)
        if found is None:
            raise BinaryError(f"no ThingsDB node binary: {source} is not on PATH")
        return found
    path = Path(value)
    if not path.exists():
        raise BinaryError(f"no ThingsDB node binary: {source}: no such file")
    if not path.is_file() or not os.access(path, os.X_OK):
        raise BinaryError(
            f"no ThingsDB node binary: {source} is not an executable file"
        )
    return str(path)
