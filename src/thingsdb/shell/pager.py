"""Results longer than the screen go through a pager, as in psql and git.

The pager is ``$PAGER`` (split as a shell would), else ``less``; an empty
``PAGER`` (or ``cat``) means none. ``less`` gets ``LESS=-FRS`` unless the
user has ``LESS`` set: quit at once if the text fits after all (F), colours
(R), long lines cut instead of wrapped, scrolled sideways (S).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import re
import shlex
import shutil
import signal
import tempfile
from collections.abc import Iterator, Mapping

_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

DEFAULT_LESS = "-FRS"


def pager_command(env: Mapping[str, str] | None = None) -> list[str] | None:
    """The pager to run, or None when there is none (or it is turned off
    with an empty ``PAGER``)."""
    env = os.environ if env is None else env
    value = env.get("PAGER")
    if value is not None:
        try:
            argv = shlex.split(value)
        except ValueError:
            argv = value.split()
        if not argv or argv == ["cat"]:
            return None
        return argv
    found = shutil.which("less", path=env.get("PATH"))
    return [found] if found else None


def rows_needed(text: str, columns: int) -> int:
    """Screen rows ``text`` takes when wrapped at ``columns``."""
    columns = max(columns, 1)
    plain = _ESCAPES.sub("", text)
    return sum(max(1, math.ceil(len(line) / columns)) for line in plain.split("\n"))


def too_long(text: str, columns: int, rows: int) -> bool:
    """Whether ``text`` is longer than a screen of ``rows`` (one row kept for
    the prompt that follows)."""
    return rows_needed(text, columns) > max(rows - 1, 1)


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ctrl-C is the pager's while it runs (less uses it to stop a search);
    the shell must not take it for an interrupt."""
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGINT, lambda: None)
    except (NotImplementedError, RuntimeError, ValueError):
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


async def page(text: str, command: list[str]) -> None:
    """Show ``text`` (which may hold colour escapes) in the pager; returns
    when the person leaves it. OSError when the pager cannot be started."""
    env = dict(os.environ)
    env.setdefault("LESS", DEFAULT_LESS)
    # The pager reads the text from a temporary file given as its stdin, not
    # from a pipe: nothing to drain, and nothing breaks when the person quits
    # before the end (a pipe's broken writer surfaced as an exception in the
    # event loop on some Pythons).
    with tempfile.TemporaryFile() as source:
        source.write(text.encode("utf-8", "replace"))
        if not text.endswith("\n"):
            source.write(b"\n")
        source.seek(0)
        with _sigint_ignored():
            proc = await asyncio.create_subprocess_exec(*command, stdin=source, env=env)
            await proc.wait()
