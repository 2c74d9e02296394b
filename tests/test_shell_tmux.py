"""The installed ``thingsdb-cli`` in a real terminal (tmux), used as a person
would: a password typed without echo, a query, highlighting while typing,
Tab completion of a collection in a scope switch, Ctrl-C on a running query,
Ctrl-D, and the history after a restart.

Keys go in with ``tmux send-keys``, the screen comes back with
``capture-pane``. Skipped without tmux or without the installed command.
"""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

import realnode
from tmux_terminal import (
    COMMAND,
    Start,
    Terminal,
    person_env,
    skip_without_tmux,
)
from tmux_terminal import terminals as tmux_terminals

pytestmark = [pytest.mark.node, pytest.mark.timeout(120)]

#: keeps the node busy for a few seconds
SLOW = "x = 0; range(400).each(|_| range(100000).each(|i| x += i)); x"

skip_without_tmux()


@pytest.fixture
def terminals() -> Iterator[Start]:
    with tmux_terminals() as start:
        yield start


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def test_a_person_at_a_terminal(
    node: realnode.Node,
    collection: str,
    tmp_path: Path,
    terminals: Start,
) -> None:
    host, port = node.address
    env = person_env(tmp_path)
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
