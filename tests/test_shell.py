"""The interactive shell, driven as a person would through prompt_toolkit's
pipe input: typing, multi-line editing, scope switches, completion, history
across a restart, Ctrl-C. Plus its lexer, formatting and completer alone."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import stat
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import pytest

pytest.importorskip("prompt_toolkit")
pytest.importorskip("pygments")

from prompt_toolkit.application import create_app_session
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from prompt_toolkit.history import History
from prompt_toolkit.input import PipeInput, create_pipe_input
from prompt_toolkit.output import DummyOutput
from pygments.token import (  # type: ignore[import-untyped]
    Comment,
    Name,
    Number,
    String,
)

import realnode
from thingsdb.client import Client
from thingsdb.shell import (
    Names,
    Shell,
    ThingsDBCompleter,
    ThingsDBLexer,
    format_bytes,
    format_error,
    format_result,
    history_path,
    open_history,
)
from thingsdb.shell.app import SCOPE_RE, indent_for, is_complete
from thingsdb.shell.format import format_json
from thingsdb.shell.pager import pager_command, rows_needed, too_long

ENTER = "\r"
TAB = "\t"
CTRL_C = "\x03"
CTRL_D = "\x04"
UP = "\x1b[A"

#: keeps the node busy for a few seconds
SLOW = "x = 0; range(400).each(|_| range(100000).each(|i| x += i)); x"


# -- parts, no node ------------------------------------------------------------


def _tokens(code: str) -> list[tuple[object, str]]:
    return [(t, v) for t, v in ThingsDBLexer().get_tokens(code) if v.strip()]


def test_lexer_tokens() -> None:
    toks = _tokens(
        "// note\nx = now(); .keys(); foo('it''s', \"a\"\"b\", `t {x} u`, 0x1f, 1.5)"
        " /* block */"
    )
    assert (Comment.Single, "// note") in toks
    assert (Comment.Multiline, "/* block */") in toks
    assert (Name.Builtin, "now") in toks
    assert (Name.Builtin, "keys") in toks
    assert (Name.Function, "foo") in toks
    assert (String.Single, "'it''s'") in toks
    assert (String.Double, '"a""b"') in toks
    assert (String.Interpol, "{") in toks
    assert (Number.Hex, "0x1f") in toks
    assert (Number.Float, "1.5") in toks


def test_format_result_and_bytes() -> None:
    text = format_result({"a": [1, None, True], "b": b"hi", "c": {}, "d": 1.5})
    assert text == (
        '{\n  "a": [\n    1,\n    nil,\n    true\n  ],\n'
        '  "b": bytes("hi"),\n  "c": {},\n  "d": 1.5\n}'
    )
    assert format_bytes(b"\x00\xff") == "<2 bytes: 00 ff>"
    assert format_bytes(bytes(100)).endswith(" ...>")
    assert format_result("x") == '"x"'
    assert format_error(ValueError("bad")) == "ValueError: bad"


def test_complete_and_indent() -> None:
    assert is_complete("1 + 1")
    assert not is_complete("{")
    assert not is_complete("'open")
    assert is_complete("'it''s'")
    assert not is_complete("/* open")
    assert is_complete("// (")
    assert indent_for("{\n  a: [") == 8


def _complete(names: Names, text: str) -> list[str]:
    completer = ThingsDBCompleter(names)
    doc = Document(text, len(text))
    return [c.text for c in completer.get_completions(doc, CompleteEvent())]


@pytest.mark.parametrize(
    "line",
    [
        *("@thingsdb", "@t", "@node", "@n:1"),
        *("@:stuff", "@collection:stuff", "//stuff"),
        *("/t", "/n/1", "/c/stuff"),
    ],
)
def test_scope_lines(line: str) -> None:
    assert SCOPE_RE.match(line)


@pytest.mark.parametrize("line", ["// a comment", ".x", "@:a b", "x // y", "1 / 2"])
def test_code_lines(line: str) -> None:
    assert not SCOPE_RE.match(line)


def test_completer() -> None:
    names = Names(collections={"stuff", "other"}, procedures={"add_one"})
    names.properties.add("title")
    names.has_root = True  # a collection's scope
    assert _complete(names, "@:st") == ["@:stuff"]
    assert _complete(names, "//o") == ["//other"]
    assert "@thingsdb" in _complete(names, "@t")
    assert _complete(names, "collection_info('st") == ["stuff"]
    assert _complete(names, 'run("add') == ["add_one"]
    assert _complete(names, ".ti") == ["title"]
    assert "keys" in _complete(names, "x.ke")
    assert "collections_info" in _complete(names, "collections_i")
    assert "myvar" in _complete(names, "myvar = 1; my")
    assert _complete(names, "[1].map(|item| it") == ["item"]
    # procedures, types and enums are called by name, as functions are
    names.types.add("Person")
    names.enums.add("Color")
    assert _complete(names, "add_") == ["add_one"]
    assert _complete(names, "Pers") == ["Person"]
    assert _complete(names, "Col") == ["Color"]


def test_history_file_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    path = history_path()
    assert path == tmp_path / "cfg" / "thingsdb" / "history"
    open_history(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    path.chmod(0o644)
    open_history(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert history_path() == tmp_path / ".config" / "thingsdb" / "history"


# -- the shell on a real node -----------------------------------------------


@contextmanager
def _terminal() -> Iterator[PipeInput]:
    with (
        create_pipe_input() as keys,
        create_app_session(input=keys, output=DummyOutput()),
    ):
        yield keys


class Session:
    """A shell running as a task, fed keys; its output in ``text``."""

    def __init__(self, shell: Shell, keys: PipeInput, out: io.StringIO) -> None:
        self.shell = shell
        self.keys = keys
        self.out = out
        self.task = asyncio.ensure_future(shell.run())

    @property
    def text(self) -> str:
        return self.out.getvalue()

    async def until(self, check: Callable[[], bool], timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if self.task.done():
                self.task.result()
                pytest.fail(f"shell stopped early; output:\n{self.text}")
            if time.monotonic() > deadline:
                pytest.fail(f"timed out; output:\n{self.text}")
            await asyncio.sleep(0.02)

    async def type(self, keys: str, expect: str | None = None) -> None:
        """Send ``keys``; with ``expect``, wait until the output has it."""
        self.keys.send_text(keys)
        if expect is not None:
            await self.until(lambda: expect in self.text)

    async def complete(self, keys: str, expect: str) -> None:
        """Type ``keys`` and Tab; wait until completion made the line
        ``expect`` (it runs in the background, as it does for a person)."""
        self.keys.send_text(keys + TAB)
        buffer = self.shell.session.default_buffer
        await self.until(lambda: buffer.text == expect)

    async def quit(self) -> int:
        self.keys.send_text(CTRL_D)
        return await asyncio.wait_for(self.task, 20)


@asynccontextmanager
async def _shell(
    node: realnode.Node,
    scope: str = "@thingsdb",
    history: History | None = None,
    via: tuple[str, int] | None = None,
) -> AsyncIterator[Session]:
    client = Client(reconnect_delay=0.05)
    await client.connect(*(via or node.address), timeout=10)
    try:
        await client.authenticate(node.user, node.password, timeout=10)
        with _terminal() as keys:
            out = io.StringIO()
            shell = Shell(
                client, scope, where="test", history=history, out=out, color=False
            )
            session = Session(shell, keys, out)
            try:
                yield session
            finally:
                if not session.task.done():
                    session.task.cancel()
                    await asyncio.wait({session.task})
    finally:
        await client.close_and_wait()


@pytest.mark.node
async def test_typing_queries(node: realnode.Node) -> None:
    async with _shell(node) as sh:
        await sh.type("40 + 2" + ENTER, expect="42\n")
        # Ctrl-C on the prompt clears the line; the shell goes on
        await sh.type("this is not run" + CTRL_C)
        # an open bracket: Enter starts an indented line, the closing one
        # goes back
        await sh.type("{" + ENTER + "a: 1," + ENTER + "}" + ENTER, expect='"a": 1')
        await sh.type('raise(err(-100, "oops"))' + ENTER, expect="CustomError: oops")
        await sh.type("bytes('raw')" + ENTER, expect='bytes("raw")')
        # only open brackets, strings and comments continue on a new line:
        # this goes to the node, which says what is wrong
        await sh.type("1 +" + ENTER, expect="SyntaxError: ")
        await sh.type("help" + ENTER, expect="switch scope")
        assert "History is kept in memory only" in sh.text
        assert await sh.quit() == 0
    assert "not run" not in sh.text
    history = list(sh.shell.session.history.load_history_strings())
    assert "{\n    a: 1,\n}" in history


@pytest.mark.node
async def test_switch_scope(node: realnode.Node, collection: str) -> None:
    async with _shell(node) as sh:
        await sh.type(f"@:{collection}" + ENTER)
        await sh.until(lambda: sh.shell.scope == f"@:{collection}")
        await sh.type(".answer = 42" + ENTER, expect="42\n")
        await sh.type("@:no_such_collection" + ENTER, expect="LookupError: ")
        assert sh.shell.scope == f"@:{collection}"
        await sh.type("@node" + ENTER)
        await sh.until(lambda: sh.shell.scope == "@node")
        await sh.type("node_info().load().node_id" + ENTER, expect="0\n")
        assert await sh.quit() == 0
    assert node.query(".answer", scope=f"//{collection}") == 42


@pytest.mark.node
async def test_complete_names(node: realnode.Node, collection: str) -> None:
    node.query(".unusual_property_name = 7;", scope=f"//{collection}")
    node.query("new_procedure('twice_it', |x| x * 2);", scope=f"//{collection}")
    node.query("set_type('Point', {x: 'int'});", scope=f"//{collection}")
    async with _shell(node) as sh:
        # the shell fetches the names in the background when it starts
        await sh.until(lambda: collection in sh.shell.names.collections)
        # a collection name, in a scope switch
        await sh.complete(f"@:{collection[:-3]}", f"@:{collection}")
        await sh.type(ENTER)
        await sh.until(lambda: sh.shell.scope == f"@:{collection}")
        await sh.until(lambda: "twice_it" in sh.shell.names.procedures)
        # a property of the collection, a procedure, a built-in function
        await sh.complete(".unusual_prop", ".unusual_property_name")
        await sh.type(ENTER, expect="7\n")
        await sh.complete("run('twice_i", "run('twice_it")
        await sh.type("', 21)" + ENTER, expect="42\n")
        await sh.complete("procedures_inf", "procedures_info")
        await sh.type("()" + ENTER, expect='"name": "twice_it"')
        # a type of the collection, and a procedure called by its name
        await sh.until(lambda: "Point" in sh.shell.names.types)
        await sh.complete("Poi", "Poi" + "nt")
        await sh.type("{x: 5}.x" + ENTER, expect="5\n")
        await sh.complete("twice_", "twice_it")
        await sh.type("(4)" + ENTER, expect="8\n")
        assert await sh.quit() == 0


@pytest.mark.node
async def test_history_after_restart(
    node: realnode.Node, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    path = history_path()
    async with _shell(node, history=open_history(path)) as sh:
        await sh.type("1000 + 234" + ENTER, expect="1234\n")
        assert await sh.quit() == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "1000 + 234" in path.read_text()
    async with _shell(node, history=open_history(path)) as sh:
        await sh.type(UP + ENTER, expect="1234\n")
        assert await sh.quit() == 0


@pytest.mark.node
async def test_ctrl_c_cancels_a_running_query(node: realnode.Node) -> None:
    async with _shell(node) as sh:
        await sh.type(SLOW + ENTER)
        await sh.until(lambda: sh.shell.running is not None)
        await asyncio.sleep(0.2)
        os.kill(os.getpid(), signal.SIGINT)
        await sh.until(lambda: "cancelled" in sh.text)
        await sh.type("'still here'" + ENTER, expect='"still here"')
        assert await sh.quit() == 0
    assert signal.getsignal(signal.SIGINT) is not signal.SIG_DFL


# -- completion by the kind of value --------------------------------------------


def test_dot_completion_offers_what_exists_there() -> None:
    names = Names(properties={"title", "tags"})
    names.property_types.update({"title": "str", "tags": "list"})
    names.types.add("Person")
    # outside a collection there is no root: nothing after a lone dot
    assert _complete(names, ".") == []
    names.has_root = True
    at_root = _complete(names, ".")
    assert {"title", "tags", "keys", "values", "wrap"} <= set(at_root)
    assert "push" not in at_root  # a list's, not a thing's
    assert "upper" not in at_root  # a string's
    assert _complete(names, "x = .t") == ["tags", "title", "to_type"]
    # the kind of value shows: its methods only
    assert _complete(names, "'abc'.s") == ["split", "starts_with"]
    assert _complete(names, '"abc".up') == ["upper"]
    assert "push" in _complete(names, "[1, 2].")
    assert "keys" not in _complete(names, "[1, 2].")
    assert "keys" in _complete(names, "{a: 1}.")
    assert "push" not in _complete(names, "{a: 1}.")
    assert "to_thing" in _complete(names, "Person{}.")
    assert _complete(names, ".title.up") == ["upper"]
    assert "push" in _complete(names, ".tags.")
    assert "keys" in _complete(names, "root().")
    assert _complete(names, "1.") == []  # a float, which has none
    # not known (a variable, an index, a call): every method
    for code in ("x.", "x[0].", "now()."):
        offered = _complete(names, code)
        assert {"push", "upper", "keys"} <= set(offered), code
        assert "title" not in offered


# -- output helpers -----------------------------------------------------------------


def test_formats() -> None:
    value = {"b": b"x", "n": None, "f": 1.5}
    assert format_json(value) == (
        '{\n  "b": {\n    "$bytes": "eA=="\n  },\n  "n": null,\n  "f": 1.5\n}'
    )
    assert format_result(value) == '{\n  "b": bytes("x"),\n  "n": nil,\n  "f": 1.5\n}'


def test_pager_choice_and_length() -> None:
    assert pager_command({"PAGER": "less -S", "PATH": ""}) == ["less", "-S"]
    assert pager_command({"PAGER": "", "PATH": "/usr/bin:/bin"}) is None
    assert pager_command({"PAGER": "cat"}) is None
    assert pager_command({"PATH": ""}) is None  # no PAGER, no less
    assert rows_needed("a\nbb", 80) == 2
    assert rows_needed("x" * 81, 80) == 2  # wrapped
    assert rows_needed("\x1b[31m" + "x" * 80 + "\x1b[0m", 80) == 1  # colours
    text = "\n".join(map(str, range(24)))
    assert not too_long(text, 80, 25)
    assert too_long(text, 80, 24)  # a row is kept for the prompt


# -- shell commands and the connection, on a real node ---------------------------------


@pytest.mark.node
async def test_shell_commands(node: realnode.Node) -> None:
    async with _shell(node) as sh:
        await sh.until(lambda: "type help or \\? for help" in sh.text)
        assert sh.text.startswith("ThingsDB ")
        await sh.type("\\?" + ENTER, expect="\\timing [on|off]")
        assert "(now: pretty)" in sh.text
        await sh.type("\\format json" + ENTER, expect="results are shown as json")
        await sh.type("{a: nil}" + ENTER, expect='{\n  "a": null\n}')
        await sh.type("\\format" + ENTER, expect="results are shown as pretty")
        await sh.type("\\timing on" + ENTER, expect="timing is on")
        await sh.type("2 + 2" + ENTER, expect="4\nTime: ")
        await sh.type("\\timing maybe" + ENTER, expect="\\timing takes on or off")
        await sh.type("\\pager off" + ENTER, expect="pager is off")
        await sh.type("\\nope" + ENTER, expect="no command \\nope")
        sh.keys.send_text("\\q" + ENTER)
        assert await asyncio.wait_for(sh.task, 20) == 0


@pytest.mark.node
async def test_connection_lost_and_back_are_one_line_each(node: realnode.Node) -> None:
    async with (
        realnode.Proxy(node.address) as proxy,
        _shell(node, via=proxy.address) as sh,
    ):
        await sh.until(lambda: "for help" in sh.text)
        await sh.until(lambda: sh.shell.client.is_connected())
        proxy.drop()  # the connection breaks; the proxy takes a new one
        await sh.until(lambda: "again" in sh.text)
        assert sh.text.count("lost the connection to test") == 1
        assert sh.text.count("connected to 127.0.0.1") == 1
        assert "may or may not" not in sh.text
        await sh.type("1 + 1" + ENTER, expect="2\n")
        assert await sh.quit() == 0
