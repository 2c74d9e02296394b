"""The installed ``thingsdb-cli`` in a real terminal (tmux), used as a person
would: a password typed without echo, a query, highlighting while typing,
Tab completion of a collection in a scope switch, Ctrl-C on a running query,
Ctrl-D, and the history after a restart.

Keys go in with ``tmux send-keys``, the screen comes back with
``capture-pane``. Skipped without tmux or without the installed command.
"""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import realnode

pytestmark = [pytest.mark.node, pytest.mark.timeout(120)]

TMUX = shutil.which("tmux")
COMMAND = Path(sys.executable).with_name("thingsdb-cli")

#: keeps the node busy for a few seconds
SLOW = "x = 0; range(400).each(|_| range(100000).each(|i| x += i)); x"

if TMUX is None:
    pytest.skip("tmux is not installed", allow_module_level=True)
if not COMMAND.is_file():
    pytest.skip(f"no installed thingsdb-cli at {COMMAND}", allow_module_level=True)


class Terminal:
    """One tmux server (its own socket) running one command in a pane."""

    def __init__(self, socket: Path, argv: list[str], env: dict[str, str]) -> None:
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
        self.run(
            "new-session", "-d", "-s", "t", "-x", "120", "-y", "40",
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

    def wait_exit(self) -> int:
        text = self.wait_for("[exit status ")
        return int(text.split("[exit status ", 1)[1].split("]", 1)[0])

    def kill(self) -> None:
        subprocess.run([*self._tmux, "kill-server"], capture_output=True, timeout=30)


@pytest.fixture
def terminals() -> Iterator[Callable[[list[str], dict[str, str]], Terminal]]:
    # a short folder: the socket path must fit in sockaddr_un
    folder = Path(tempfile.mkdtemp(prefix="tdbtmux", dir="/tmp"))
    started: list[Terminal] = []

    def start(argv: list[str], env: dict[str, str]) -> Terminal:
        term = Terminal(folder / f"s{len(started)}", argv, env)
        started.append(term)
        return term

    try:
        yield start
    finally:
        for term in started:
            term.kill()
        shutil.rmtree(folder, ignore_errors=True)


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def test_a_person_at_a_terminal(
    node: realnode.Node,
    collection: str,
    tmp_path: Path,
    terminals: Callable[[list[str], dict[str, str]], Terminal],
) -> None:
    host, port = node.address
    env = {
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "TERM": "screen",
        "LANG": "C.UTF-8",
    }
    argv = [str(COMMAND), "-n", host, "-p", str(port)]

    def at_prompt(term: Terminal, scope: str = "@thingsdb") -> None:
        """Wait for an empty prompt, as a person does before typing (keys
        sent earlier reach the terminal while no prompt reads them)."""
        prompt = f"{host}:{port} {scope}>"  # the screen has no trailing blanks
        term.wait(lambda t: _last_line(t) == prompt, f"the prompt {prompt!r}")

    term = terminals([*argv, "-W"], env)
    # the password is asked for, and not shown while typed
    term.wait_for("password for admin:")
    term.type(node.password)
    term.keys("Enter")
    at_prompt(term)
    assert node.password not in term.screen().replace("password", "")

    term.type("1 + 41")
    term.keys("Enter")
    term.wait_for("\n42\n")
    at_prompt(term)

    # ThingsDB code is highlighted while typed: a built-in function in colour
    term.type("now()")
    term.wait(lambda t: _last_line(t).endswith("now()"), "the typed code")
    assert "mnow\x1b[" in term.screen(escapes=True)
    term.keys("C-u")  # clear the line again
    at_prompt(term)

    # Tab completes a collection name in a scope switch; Enter switches
    term.type(f"@:{collection[:-4]}")
    term.keys("Tab")
    term.wait(lambda t: _last_line(t).endswith(f"@:{collection}"), "the completion")
    term.keys("Enter")
    at_prompt(term, f"@:{collection}")

    # Ctrl-C cancels a running query; the shell stays
    term.type(SLOW)
    term.keys("Enter")
    for _ in range(10):
        # a Ctrl-C that comes before the query runs goes to the prompt
        # instead (and clears its line): send it until the query is cancelled
        term.keys("C-c")
        try:
            term.wait_for("cancelled", timeout=2)
            break
        except pytest.fail.Exception:
            assert "1999980000000" not in term.screen(), "the query was not cancelled"
    at_prompt(term, f"@:{collection}")
    term.type("'still here'")
    term.keys("Enter")
    term.wait_for('"still here"')
    at_prompt(term, f"@:{collection}")

    # Ctrl-D leaves, with status 0
    term.keys("C-d")
    assert term.wait_exit() == 0

    history = tmp_path / "config" / "thingsdb" / "history"
    assert stat.S_IMODE(history.stat().st_mode) == 0o600
    assert stat.S_IMODE(history.parent.stat().st_mode) == 0o700
    assert "1 + 41" in history.read_text()

    # a new shell has the history: Up brings back the last code
    term = terminals(argv, env)
    at_prompt(term)
    term.keys("Up")
    term.wait(lambda t: _last_line(t).endswith("'still here'"), "the last code")
    term.keys("Enter")
    term.wait_for('"still here"')
    at_prompt(term)
    term.type("exit")
    term.keys("Enter")
    assert term.wait_exit() == 0
