"""The installed ``thingsdb-cli`` in a real terminal (tmux), against a real
node, as a person uses it: keys sent, the screen read.

One test per thing a person ran into (issue 14): Ctrl-R then Enter, Enter
inside a complete entry, tracebacks and file errors of the one-shot mode,
``host:port``, the connection going away while the shell is idle, Ctrl-C on
a query that was never sent, a starting scope that does not exist, Tab
after a ``.``; and what a database shell is expected to have: a start-up
line, a pager, timing, JSON or pretty results, help.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import realnode
from tmux_terminal import COMMAND, Start, Terminal, person_env, skip_without_tmux
from tmux_terminal import terminals as tmux_terminals

pytestmark = [pytest.mark.node, pytest.mark.timeout(180)]

skip_without_tmux()


@pytest.fixture
def terminals() -> Iterator[Start]:
    with tmux_terminals() as start:
        yield start


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return person_env(tmp_path)


def _prompt(node: realnode.Node, scope: str = "@thingsdb") -> str:
    host, port = node.address
    return f"{host}:{port} {scope}>"


def _shell(
    node: realnode.Node,
    terminals: Start,
    env: dict[str, str],
    *flags: str,
    scope: str = "@thingsdb",
    size: tuple[int, int] = (120, 40),
) -> Terminal:
    """The shell, at its first empty prompt."""
    host, port = node.address
    term = terminals([str(COMMAND), "-n", host, "-p", str(port), *flags], env, size)
    term.wait_last_line(_prompt(node, scope))
    return term


def _enter(term: Terminal, node: realnode.Node, text: str, expect: str) -> str:
    """Type ``text``, Enter, wait for ``expect`` and the prompt after it."""
    term.type(text)
    term.keys("Enter")
    screen = term.wait_for(expect)
    term.wait_last_line(_prompt(node))
    return screen


def _one_shot(
    terminals: Start, env: dict[str, str], *argv: str
) -> tuple[int, list[str]]:
    """Run the command in a terminal; its exit status and the lines it left
    on the screen (without the status line)."""
    # wide enough that a line of the command is one line on the screen
    term = terminals([str(COMMAND), *argv], env, (400, 20))
    status = term.wait_exit()
    lines = [line for line in term.lines() if not line.startswith("[exit status")]
    return status, lines


# -- bugs ------------------------------------------------------------------------


def test_ctrl_r_then_enter_runs_the_match(
    node: realnode.Node, terminals: Start, env: dict[str, str]
) -> None:
    term = _shell(node, terminals, env)
    _enter(term, node, "'needle' + 'haystack'", '"needlehaystack"')
    _enter(term, node, "40 + 2", "\n42\n")
    term.keys("C-r")
    term.type("needle")
    term.wait_for("I-search backward: needle")
    term.keys("Enter")
    # the match is taken and run, as in bash and psql; the search is over
    term.wait(lambda s: s.count('"needlehaystack"') == 2, "the match run again")
    term.wait_last_line(_prompt(node))
    assert "I-search" not in term.screen()


def test_enter_runs_a_complete_entry_wherever_the_cursor_is(
    node: realnode.Node, terminals: Start, env: dict[str, str]
) -> None:
    term = _shell(node, terminals, env)
    term.type("[1, 2]")
    term.keys("Left", "Left", "Enter")
    screen = term.wait_for("\n  2\n]")
    assert "..." not in screen  # no continuation line: it ran
    term.wait_last_line(_prompt(node))
    # a line recalled with Up and fixed in the middle
    term.keys("Up")
    term.wait_last_line(f"{_prompt(node)} [1, 2]")
    term.keys("Left", "Left")
    term.type("3, ")
    term.keys("Enter")
    term.wait_for("\n  3,\n  2\n]")
    term.wait_last_line(_prompt(node))


def _sitecustomize_without_websockets(folder: Path) -> str:
    """A folder for PYTHONPATH whose sitecustomize hides both WebSocket
    libraries, as on a machine without the websockets extra."""
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(
        "import sys\nsys.modules['picows'] = None\nsys.modules['websockets'] = None\n"
    )
    return str(folder)


def test_a_value_thingsdb_cannot_take_is_one_line_never_a_traceback(
    node: realnode.Node, collection: str, terminals: Start, env: dict[str, str]
) -> None:
    node.query("new_procedure('add_one', |x| x + 1);", scope=f"//{collection}")
    host, port = node.address
    flags = ["-n", host, "-p", str(port)]
    # an int ThingsDB cannot take (over 64 bits): nothing is sent
    status, lines = _one_shot(
        terminals,
        env,
        *flags,
        *("-s", f"//{collection}", "-r", "add_one", "[18446744073709551616]"),
    )
    assert status == 2
    assert len(lines) == 1, lines
    assert "cannot send this value to ThingsDB" in lines[0]


def test_websocket_without_the_extra_is_one_line_never_a_traceback(
    node: realnode.Node, terminals: Start, env: dict[str, str], tmp_path: Path
) -> None:
    # a ws:// node without the websockets extra: what to install
    no_ws = dict(env, PYTHONPATH=_sitecustomize_without_websockets(tmp_path / "nows"))
    status, lines = _one_shot(terminals, no_ws, "-n", node.ws_address, "1")
    assert status == 2
    assert len(lines) == 1, lines
    assert "pip install 'thingsdb-connector[websockets]'" in lines[0]


def test_file_errors_name_the_file(
    node: realnode.Node, terminals: Start, env: dict[str, str], tmp_path: Path
) -> None:
    host, port = node.address
    flags = ["-n", host, "-p", str(port)]
    missing = tmp_path / "no-such-ca.pem"
    status, lines = _one_shot(terminals, env, *flags, "--cafile", str(missing), "1")
    assert status == 2  # bad usage, as the README says: nothing was sent
    assert len(lines) == 1, lines
    assert str(missing) in lines[0]
    assert "--cafile" in lines[0]
    latin1 = tmp_path / "latin1.ti"
    latin1.write_bytes("'caf\xe9'".encode("latin-1"))
    status, lines = _one_shot(terminals, env, *flags, "-f", str(latin1))
    assert status == 2
    assert len(lines) == 1, lines
    assert str(latin1) in lines[0]
    assert "not UTF-8" in lines[0]


# -- rough edges ---------------------------------------------------------------------


def test_node_as_host_colon_port(
    node: realnode.Node, terminals: Start, env: dict[str, str]
) -> None:
    host, port = node.address
    status, lines = _one_shot(terminals, env, "-n", f"{host}:{port}", "6 * 7")
    assert (status, lines) == (0, ["42"])
    by_env = dict(env, THINGSDB_NODE=f"{host}:{port}")
    status, lines = _one_shot(terminals, by_env, "6 * 8")
    assert (status, lines) == (0, ["48"])


def test_the_node_goes_away_while_the_shell_is_idle(
    tmp_path: Path, terminals: Start, env: dict[str, str]
) -> None:
    # a node of its own: this one is stopped and started again
    own = realnode.start_node(tmp_path / "own")
    try:
        term = _shell(own, terminals, env)
        prompt = _prompt(own)
        term.type("1 +")  # half typed when the node goes
        own.kill()
        term.wait_for("lost the connection to")
        # the message went above the prompt; the line being typed is intact
        term.wait_last_line(f"{prompt} 1 +")
        # a query now waits for the connection; Ctrl-C says what is true
        term.keys("C-u")
        term.type("'never sent'")
        term.keys("Enter")
        term.wait_for("the query waits for the connection")
        term.keys("C-c")
        term.wait_for("cancelled; it was never sent (no connection)")
        term.wait_last_line(prompt)
        own.restart()
        term.wait_for("again\n", timeout=60)
        term.wait_last_line(prompt)
        screen = term.screen()
        # one line for the loss, one for the return, nothing of each retry
        assert screen.count("lost the connection") == 1, screen
        assert len(re.findall(r"connected to \S+ again", screen)) == 1, screen
        assert "cannot connect" not in screen
        assert "may or may not" not in screen
        _enter(term, own, "20 + 3", "\n23\n")
    finally:
        own.stop()


def test_a_starting_scope_that_does_not_exist(
    node: realnode.Node, terminals: Start, env: dict[str, str]
) -> None:
    host, port = node.address
    status, lines = _one_shot(
        terminals, env, "-n", host, "-p", str(port), "-s", "//no_such_collection"
    )
    assert status == 1
    assert len(lines) == 1, lines
    assert "cannot use the scope //no_such_collection" in lines[0]
    assert "LookupError" in lines[0]


def test_tab_after_a_dot_offers_what_exists_there(
    node: realnode.Node, collection: str, terminals: Start, env: dict[str, str]
) -> None:
    node.query(".unusual_prop = 'x';", scope=f"//{collection}")
    scope = f"//{collection}"
    term = _shell(node, terminals, env, "-s", scope, scope=scope)
    # at the root: its properties and a thing's methods (no thing method
    # starts with "u": the one candidate is completed at once)
    term.type(".u")
    term.keys("Tab")
    term.wait_last_line(f"{_prompt(node, f'//{collection}')} .unusual_prop")
    term.keys("C-u")
    # on a string: a string's methods only
    term.type("'abc'.s")
    term.keys("Tab")
    screen = term.wait_for("starts_with")
    assert "split" in screen
    for other in ("shift", "sort", "search", "set_name"):
        assert other not in screen
    # on a root property of a known type: that type's methods
    term.keys("Escape", "C-u")
    term.type(".unusual_prop.up")
    term.keys("Tab")
    term.wait_last_line(f"{_prompt(node, f'//{collection}')} .unusual_prop.upper")


# -- what a database shell has ---------------------------------------------------------


def test_start_up_line_and_help(
    node: realnode.Node, terminals: Start, env: dict[str, str]
) -> None:
    version = node.query("node_info().load().version", scope="@node")
    host, port = node.address
    term = _shell(node, terminals, env)
    first = term.lines()[0]
    assert f"ThingsDB {version} at {host}:{port}" in first
    assert "user admin" in first
    assert "scope @thingsdb" in first
    assert "help or \\?" in first
    term.type("\\?")
    term.keys("Enter")
    screen = term.wait_for("\\timing [on|off]")
    assert "\\pager [on|off]" in screen
    assert "\\format [pretty|json]" in screen


def test_long_results_go_through_the_pager(
    node: realnode.Node, terminals: Start, env: dict[str, str]
) -> None:
    if shutil.which("less") is None:
        pytest.skip("less is not installed")
    term = _shell(node, terminals, env, size=(100, 30))
    term.type("range(3000)")
    term.keys("Enter")
    # the first screen of it, in the pager: not 3,000 lines scrolled away
    screen = term.wait_for("  27,")
    assert "2999" not in screen
    assert "[\n  0,\n  1," in screen
    term.keys("q")
    term.wait_last_line(_prompt(node))
    # \pager off: printed straight (the end of it is on the screen)
    term.type("\\pager off")
    term.keys("Enter")
    term.wait_for("pager is off")
    _enter(term, node, "range(3000)", "  2999\n]")


def test_timing_and_formats(
    node: realnode.Node, terminals: Start, env: dict[str, str]
) -> None:
    term = _shell(node, terminals, env, "--format", "json")
    _enter(term, node, "{a: nil, b: true}", '"a": null')
    term.type("\\format pretty")
    term.keys("Enter")
    term.wait_for("results are shown as pretty")
    _enter(term, node, "{c: nil}", '"c": nil')
    term.type("\\timing")
    term.keys("Enter")
    term.wait_for("timing is on")
    screen = _enter(term, node, "1 + 1", " ms\n")
    assert re.search(r"\n2\nTime: \d+\.\d{3} ms\n", screen), screen


# -- a local node: --local ------------------------------------------------------------


def _running(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _local_shell(
    terminals: Start, env: dict[str, str], *flags: str
) -> tuple[Terminal, int, str]:
    """``thingsdb-cli --local`` in a terminal, at its first prompt; the
    terminal, the node's PID and the prompt."""
    if realnode.BIN_ENV in os.environ:
        env = dict(env, **{realnode.BIN_ENV: os.environ[realnode.BIN_ENV]})
    term = terminals([str(COMMAND), "--local", *flags], env, (200, 40))
    screen = term.wait_for("; type help or \\? for help")
    found = re.search(r"^thingsdb-cli: local node ThingsDB \S+ \(pid (\d+)\), ", screen)
    assert found is not None, screen
    at = re.search(r"^ThingsDB \S+ at (127\.0\.0\.1:\d+), user admin, ", screen, re.M)
    assert at is not None, screen
    prompt = f"{at.group(1)} @thingsdb>"
    term.wait_last_line(prompt)
    return term, int(found.group(1)), prompt


def test_local_shell_opens_and_exits_cleanly(
    terminals: Start, env: dict[str, str], tmp_path: Path
) -> None:
    term, pid, prompt = _local_shell(terminals, env)
    assert _running(pid)
    assert ", throwaway: its data goes at exit\n" in term.screen()
    term.type("node_info().load().status")
    term.keys("Enter")
    term.wait_for("you might want to query a `@node` scope")
    term.type("@node")
    term.keys("Enter")
    term.wait_last_line(prompt.replace("@thingsdb", "@node"))
    term.type("node_info().load().status")
    term.keys("Enter")
    term.wait_for('"READY"')
    term.keys("C-d")
    assert term.wait_exit() == 0
    assert not _running(pid)
    assert "Traceback" not in term.screen()
    # with --data: the data stays for the next shell
    data = str(tmp_path / "devdb")
    term, pid, prompt = _local_shell(terminals, env, "--data", data)
    assert f"its data in {data}" in term.screen()
    term.type("new_collection('kept')")
    term.keys("Enter")
    term.wait_for('"kept"')
    term.type("\\q")
    term.keys("Enter")
    assert term.wait_exit() == 0
    assert not _running(pid)
    term, again, prompt = _local_shell(terminals, env, "--data", data)
    assert again != pid
    term.type("has_collection('kept')")
    term.keys("Enter")
    term.wait_for("\ntrue\n")
    term.type("exit")
    term.keys("Enter")
    assert term.wait_exit() == 0
    assert not _running(again)


def test_local_shell_closed_terminal_stops_the_node(
    terminals: Start, env: dict[str, str]
) -> None:
    term, pid, _prompt_line = _local_shell(terminals, env)
    term.kill()  # the terminal goes: SIGHUP for the command
    for _ in range(1200):  # until it is gone, or a minute has passed
        if not _running(pid):
            break
        time.sleep(0.05)
    assert not _running(pid)
