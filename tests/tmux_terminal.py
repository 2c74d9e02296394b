"""A real terminal for tests: tmux runs a command in a pane, keys go in with
``send-keys``, the screen comes back with ``capture-pane``. What the tests
of the installed ``thingsdb-cli`` use to act as a person would.

Import it after checking ``TMUX`` and ``COMMAND`` (the test modules skip
themselves, with one reason, when either is missing).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

TMUX = shutil.which("tmux")
#: the installed command, next to this Python
COMMAND = Path(sys.executable).with_name("thingsdb-cli")


def skip_without_tmux() -> None:
    """Skip the calling test module when tmux or the command is missing."""
    if TMUX is None:
        pytest.skip("tmux is not installed", allow_module_level=True)
    if not COMMAND.is_file():
        pytest.skip(f"no installed thingsdb-cli at {COMMAND}", allow_module_level=True)


def person_env(home: Path, **extra: str) -> dict[str, str]:
    """A clean environment, as a person's login has it: no THINGSDB_*."""
    env = {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "TERM": "screen",
        "LANG": "C.UTF-8",
    }
    env.update(extra)
    return env


class Terminal:
    """One tmux server (its own socket) running one command in a pane."""

    def __init__(
        self,
        socket: Path,
        argv: list[str],
        env: dict[str, str],
        size: tuple[int, int] = (120, 40),
    ) -> None:
        self.socket = socket
        assert TMUX is not None
        self._tmux = [TMUX, "-S", str(socket), "-f", os.devnull]
        # sh shows the exit status on the screen (tmux may be slow to reap
        # a pane's process), then waits to be ended with the server; its
        # trap keeps it alive through Ctrl-C (the command's own handling of
        # SIGINT is untouched: a trap, unlike an ignored signal, is not
        # inherited)
        script = 'trap : INT; "$@"; echo "[exit status $?]"; exec sleep 600'
        command = ["env", "-i", *(f"{k}={v}" for k, v in env.items())]
        command += ["sh", "-c", script, "sh", *argv]
        columns, rows = size
        self.run(
            "new-session", "-d", "-s", "t", "-x", str(columns), "-y", str(rows),
            shlex.join(command),
        )  # fmt: skip

    def run(self, *args: str) -> str:
        done = subprocess.run(
            [*self._tmux, *args], capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def keys(self, *keys: str) -> None:
        """Key names, as tmux knows them (Enter, Tab, C-c, Up...)."""
        self.run("send-keys", "-t", "t", *keys)

    def type(self, text: str) -> None:
        """Text, typed as it is."""
        self.run("send-keys", "-t", "t", "-l", text)

    def screen(self, escapes: bool = False) -> str:
        return self.run("capture-pane", "-p", *(["-e"] if escapes else []), "-t", "t")

    def lines(self) -> list[str]:
        """The screen's lines that are not blank."""
        return [line for line in self.screen().splitlines() if line.strip()]

    def last_line(self) -> str:
        lines = self.lines()
        return lines[-1] if lines else ""

    def wait(self, check: Callable[[str], bool], what: str, timeout: float = 30) -> str:
        """Wait until ``check(screen)``; fail with the screen after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if check(text):
                return text
            if time.monotonic() > deadline:
                pytest.fail(f"waited for {what}; the screen:\n{text}")
            time.sleep(0.05)

    def wait_for(self, needle: str, timeout: float = 30) -> str:
        return self.wait(lambda text: needle in text, repr(needle), timeout)

    def wait_last_line(self, line: str, timeout: float = 30) -> None:
        """Wait until the last line that is not blank is ``line`` (a prompt
        has no trailing blanks on the screen)."""
        self.wait(
            lambda t: ([x for x in t.splitlines() if x.strip()] or [""])[-1] == line,
            f"the last line {line!r}",
            timeout,
        )

    def wait_exit(self, timeout: float = 60) -> int:
        text = self.wait_for("[exit status ", timeout)
        return int(text.split("[exit status ", 1)[1].split("]", 1)[0])

    def kill(self) -> None:
        subprocess.run([*self._tmux, "kill-server"], capture_output=True, timeout=30)


Start = Callable[..., Terminal]


@contextmanager
def terminals() -> Iterator[Start]:
    """``start(argv, env, size=...)`` opens a terminal; all are closed at
    the end."""
    # a short folder: the socket path must fit in sockaddr_un
    folder = Path(tempfile.mkdtemp(prefix="tdbtmux", dir="/tmp"))
    started: list[Terminal] = []

    def start(
        argv: list[str], env: dict[str, str], size: tuple[int, int] = (120, 40)
    ) -> Terminal:
        term = Terminal(folder / f"s{len(started)}", argv, env, size)
        started.append(term)
        return term

    try:
        yield start
    finally:
        for term in started:
            term.kill()
        shutil.rmtree(folder, ignore_errors=True)
