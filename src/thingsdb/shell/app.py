"""The interactive shell: a prompt_toolkit session on a connected client."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

from prompt_toolkit import PromptSession, print_formatted_text
from prompt_toolkit.application import run_in_terminal
from prompt_toolkit.formatted_text import FormattedText, PygmentsTokens
from prompt_toolkit.history import FileHistory, History
from prompt_toolkit.lexers import PygmentsLexer
from pygments import format as pygments_format  # type: ignore[import-untyped]
from pygments.formatters import TerminalFormatter  # type: ignore[import-untyped]
from pygments.lexers.data import JsonLexer  # type: ignore[import-untyped]

from ..client import Client
from ..exceptions import ThingsDBError
from .completer import Names, ThingsDBCompleter
from .editing import indent_for, is_complete, key_bindings
from .format import FORMATS, format_error
from .lexer import ThingsDBLexer
from .pager import page, pager_command, too_long
from .status import ConnectionStatus

__all__ = [
    "SCOPE_RE",
    "Shell",
    "history_path",
    "indent_for",
    "is_complete",
    "open_history",
]

#: a whole input line that switches the scope: @thingsdb, @node:1, @:stuff,
#: @collection:stuff, /t, /n/1, //stuff, /c/stuff
SCOPE_RE = re.compile(r"^(@[A-Za-z]*(:\w*)?|/[A-Za-z]*(/\w*)?)$")

_COLLECTION_SCOPE = re.compile(r"^(//|@:|@c[a-z]*:|/c[a-z]*/)")

#: a shell command: a backslash, a name, perhaps one word after it
_COMMAND = re.compile(r"^\\(\S+)(?:\s+(\S+))?\s*$")

#: while a query waits for a connection, how often to look whether one came
_WAITING_POLL = 0.02

SHELL_HELP = """\
Type ThingsDB code and press Enter to run it in the current scope. While a
bracket, string or comment is open, Enter starts a new, indented line;
Esc Enter (or Alt-Enter) runs the code as it is; Ctrl-O adds a line
without running.
  @thingsdb, @node, @:NAME, //NAME   switch scope (also @t, @n, @n:ID,
                                     @collection:NAME, /t, /n, /c/NAME)
  \\format [pretty|json]              how results are shown (now: {format})
  \\pager [on|off]                    results longer than the screen
                                     through $PAGER or less (now: {pager})
  \\timing [on|off]                   the time each query took (now: {timing})
  help, \\?                           this text
  exit, quit, \\q, Ctrl-D             leave the shell
  Tab      complete names (scopes, collections, procedures, types, enums,
           properties, variables, functions, methods)
  Up/Down  move between lines, then through the history
  Ctrl-R   search the history; Enter takes the match
  Ctrl-C   clear the line, or cancel a running query
History is kept in {history}."""

#: the colour of each kind of message
_STYLES = {
    "status": "ansibrightblack",
    "warning": "ansiyellow",
    "error": "ansired",
}


def history_path() -> Path:
    """``$XDG_CONFIG_HOME/thingsdb/history``, else ``~/.config/thingsdb/history``."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(
        os.path.expanduser("~"), ".config"
    )
    return Path(base) / "thingsdb" / "history"


def open_history(path: Path) -> FileHistory:
    """A :class:`FileHistory` at ``path``; the file is readable by its owner
    only (mode 0600), its folder made if missing (mode 0700)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)
    return FileHistory(str(path))


@contextlib.contextmanager
def _sigint_cancels(task: asyncio.Future[Any]) -> Iterator[None]:
    """While running a query, Ctrl-C (SIGINT) cancels it instead of
    interrupting the shell."""
    loop = asyncio.get_running_loop()
    previous = signal.getsignal(signal.SIGINT)
    try:
        loop.add_signal_handler(signal.SIGINT, task.cancel)
    except (NotImplementedError, RuntimeError, ValueError):
        yield  # not the main thread, or no signals here: Ctrl-C as usual
        return
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        if previous is not None:  # None: set outside Python, left as it is
            signal.signal(signal.SIGINT, previous)


def _on_off(value: bool) -> str:
    return "on" if value else "off"


class Shell:
    """Reads code, runs it on ``client`` in the current scope, prints the
    result. ``await shell.run()`` returns when the user leaves.

    ``output_format``: "pretty" or "json" (``\\format`` changes it);
    ``pager``: results longer than the screen go through the pager (None:
    when ``out`` is a terminal); ``timing``: print how long each query
    took; ``user``: who logged in, for the start-up line when the node does
    not say; ``verbose``: show the client's own log.
    """

    def __init__(
        self,
        client: Client,
        scope: str,
        *,
        where: str,
        history: History | None = None,
        history_file: Path | None = None,
        out: TextIO | None = None,
        color: bool | None = None,
        timeout: float | None = None,
        output_format: str = "pretty",
        pager: bool | None = None,
        timing: bool = False,
        user: str | None = None,
        verbose: bool = False,
    ) -> None:
        self.client = client
        self.scope = scope
        self.where = where
        self.out = out if out is not None else sys.stdout
        if color is None:
            color = self.out.isatty() and not os.environ.get("NO_COLOR")
        self.color = color
        self.timeout = timeout
        if output_format not in FORMATS:
            raise ValueError(f"output_format must be one of {', '.join(FORMATS)}")
        self.output_format = output_format
        self.pager = self.out.isatty() if pager is None else pager
        self.timing = timing
        self.user = user
        self.names = Names()
        self.history_file = history_file
        self.status = ConnectionStatus(client, where, self.say, verbose=verbose)
        #: the query being run, for Ctrl-C (and tests)
        self.running: asyncio.Task[Any] | None = None
        self._refreshing: asyncio.Task[None] | None = None
        #: messages held back while the pager has the screen
        self._held: list[tuple[str, str]] | None = None
        self._printing: set[asyncio.Future[None]] = set()
        self._lexer = ThingsDBLexer()
        self.session: PromptSession[str] = PromptSession(
            message=self._prompt,
            multiline=True,
            key_bindings=key_bindings(),
            lexer=PygmentsLexer(ThingsDBLexer),
            completer=ThingsDBCompleter(self.names),
            complete_while_typing=False,
            history=history,
            prompt_continuation=self._continuation,
            include_default_pygments_style=True,
        )

    # -- output ---------------------------------------------------------------

    def _prompt(self) -> FormattedText:
        return FormattedText(
            [
                ("ansigreen", self.where),
                ("", " "),
                ("ansicyan bold", self.scope),
                ("", "> "),
            ]
        )

    def _continuation(self, width: int, line_number: int, wrap_count: int) -> str:
        return " " * max(width - 4, 0) + "... "

    def _print(
        self,
        text: str,
        *,
        code: bool = False,
        error: bool = False,
        kind: str | None = None,
    ) -> None:
        if not self.color:
            self.out.write(text + "\n")
            self.out.flush()
            return
        if error:
            kind = "error"
        if kind is not None:
            print_formatted_text(FormattedText([(_STYLES[kind], text)]), file=self.out)
        elif code:
            print_formatted_text(PygmentsTokens(self._tokens(text)), file=self.out)
        else:
            print_formatted_text(text, file=self.out)

    def _tokens(self, text: str) -> list[tuple[Any, str]]:
        lexer = JsonLexer() if self.output_format == "json" else self._lexer
        tokens = list(lexer.get_tokens(text))
        # the lexers end with a newline of their own: print adds one
        if tokens and tokens[-1][1] == "\n":
            tokens.pop()
        return tokens

    def say(self, text: str, kind: str = "status") -> None:
        """A message above the prompt, without breaking the line being typed
        (held back while the pager has the screen)."""
        if self._held is not None:
            self._held.append((text, kind))
            return
        done = run_in_terminal(lambda: self._print(text, kind=kind))
        future = asyncio.ensure_future(done)
        self._printing.add(future)
        future.add_done_callback(self._printing.discard)

    async def show(self, result: Any) -> None:
        """A result in the session's format; through the pager when it is
        longer than the screen."""
        text = FORMATS[self.output_format](result)
        command = pager_command() if self.pager else None
        if command is None or not self._too_long(text):
            self._print(text, code=True)
            return
        shown = text
        if self.color:
            shown = pygments_format(self._tokens(text), TerminalFormatter())
        self._held = []
        try:
            await page(shown, command)
        except OSError as exc:
            self._print(text, code=True)
            self._print(
                f"the pager {command[0]!r} did not start ({exc}); set PAGER, or "
                "turn paging off with \\pager off",
                kind="warning",
            )
        finally:
            held, self._held = self._held, None
            for line, kind in held:
                self.say(line, kind)

    def _too_long(self, text: str) -> bool:
        try:
            size = os.get_terminal_size(self.out.fileno())
        except (OSError, ValueError, AttributeError):
            return False  # no terminal: nothing to page for
        return too_long(text, size.columns, size.lines)

    # -- the loop -------------------------------------------------------------

    async def run(self) -> int:
        self.status.start()
        try:
            await self._greet()
            self._refresh_soon()
            # the first names before the first prompt (a few small queries),
            # so that Tab completes from the first key; a slow node delays
            # the prompt by at most this, and the names come in later
            assert self._refreshing is not None
            await asyncio.wait({self._refreshing}, timeout=_FIRST_NAMES_WAIT)
            while True:
                try:
                    text = await self.session.prompt_async()
                except KeyboardInterrupt:
                    continue
                except EOFError:
                    break
                if not await self.handle(text):
                    break
        finally:
            if self._refreshing is not None:
                self._refreshing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._refreshing
            await self.status.stop()
            if self._printing:
                await asyncio.wait(self._printing)
        return 0

    async def handle(self, text: str) -> bool:
        """Act on one entry; False when it says to leave."""
        text = text.strip()
        if not text:
            return True
        if text in ("exit", "quit"):
            return False
        if text == "help":
            self._help()
            return True
        command = _COMMAND.match(text)
        if command is not None:
            return self.command(command.group(1), command.group(2))
        if SCOPE_RE.match(text):
            await self.switch_scope(text)
            return True
        await self.execute(text)
        return True

    def command(self, name: str, value: str | None) -> bool:
        """A backslash command (``\\timing on``); False for ``\\q``."""
        if name in ("q", "quit"):
            return False
        if name in ("?", "h", "help"):
            self._help()
        elif name == "format":
            if value is None:
                formats = list(FORMATS)
                value = formats[(formats.index(self.output_format) + 1) % 2]
            if value not in FORMATS:
                self._print("\\format takes pretty or json", error=True)
                return True
            self.output_format = value
            self._print(f"results are shown as {value}", kind="status")
        elif name in ("timing", "pager"):
            now: bool = getattr(self, name)
            if value is None:
                now = not now
            elif value in ("on", "off"):
                now = value == "on"
            else:
                self._print(f"\\{name} takes on or off", error=True)
                return True
            setattr(self, name, now)
            self._print(f"{name} is {_on_off(now)}", kind="status")
        else:
            self._print(f"no command \\{name}; \\? lists the commands", error=True)
        return True

    def _help(self) -> None:
        where = self.history_file or "memory only"
        self._print(
            SHELL_HELP.format(
                history=where,
                format=self.output_format,
                pager=_on_off(self.pager),
                timing=_on_off(self.timing),
            )
        )

    async def _greet(self) -> None:
        """The start-up line: the node, its version, the user, the scope,
        and how to get help."""
        version = await _ask(self.client, "node_info().load().version", "@node")
        user = await _ask(self.client, "user_info().load().name", "@thingsdb")
        if not isinstance(user, str):
            user = self.user
        node = f"ThingsDB {version}" if isinstance(version, str) else "ThingsDB"
        who = f", user {user}" if user else ""
        self._print(
            f"{node} at {self.where}{who}, scope {self.scope}; "
            "type help or \\? for help",
            kind="status",
        )

    async def switch_scope(self, scope: str) -> bool:
        """Check that ``scope`` exists (by running ``nil`` there), then use it."""
        ok, _ = await self._run_cancellable(
            lambda: self.client.query("nil", scope=scope, timeout=self.timeout)
        )
        if ok:
            self.scope = scope
            self._refresh_soon()
        return ok

    async def execute(self, code: str) -> None:
        """Run ``code``; print its result or its error. Ctrl-C cancels it."""
        started = time.perf_counter()
        ok, result = await self._run_cancellable(
            lambda: self.client.query(code, scope=self.scope, timeout=self.timeout)
        )
        elapsed = time.perf_counter() - started
        if ok:
            await self.show(result)
            self._refresh_soon()
        if self.timing:
            self._print(f"Time: {elapsed * 1000:.3f} ms", kind="status")

    async def _run_cancellable(
        self, request: Callable[[], Awaitable[Any]]
    ) -> tuple[bool, Any]:
        """Await ``request()`` with Ctrl-C cancelling it; ``(True, result)``,
        or ``(False, None)`` after printing why it failed."""
        self.status.check()
        connected = self.status.connected
        if not connected:
            self._print(
                f"not connected to {self.status.where}; the query waits for the "
                "connection (Ctrl-C cancels it)",
                kind="warning",
            )
        connects = self.status.connects
        task = asyncio.ensure_future(_awaited(request()))  # a Task: wait() takes it
        self.running = task
        try:
            with _sigint_cancels(task):
                while not task.done():
                    # without a connection, look often: when one comes, the
                    # query goes out on it
                    await asyncio.wait(
                        {task}, timeout=None if connected else _WAITING_POLL
                    )
                    if not connected:
                        self.status.check()
        finally:
            self.running = None
            if not task.done():  # the shell itself is being cancelled
                task.cancel()
        if task.cancelled():
            self.status.check()
            if not connected and self.status.connects == connects:
                self._print(
                    "\ncancelled; it was never sent (no connection)", error=True
                )
            else:
                self._print(
                    "\ncancelled (the node may still finish the query)", error=True
                )
            return False, None
        exc = task.exception()
        if exc is not None:
            if not isinstance(exc, Exception):
                raise exc
            self._print(format_error(exc), error=True)
            return False, None
        return True, task.result()

    # -- names for completion -------------------------------------------------

    def _refresh_soon(self) -> None:
        """Fetch the names again, in the background (a refresh still running,
        perhaps for another scope, is dropped)."""
        if self._refreshing is not None:
            self._refreshing.cancel()
        self._refreshing = asyncio.ensure_future(self.refresh())

    async def refresh(self) -> None:
        """Fetch collection, procedure, type, enum and property names for
        completion (none of a kind the user may not see, or the scope does
        not have)."""
        names = self.names
        await _fetch(
            self._query("collections_info()", "@thingsdb"),
            lambda infos: _set(names.collections, _names(infos)),
        )
        await _fetch(
            self._query("procedures_info()", self.scope),
            lambda infos: _set(names.procedures, _names(infos)),
        )
        names.has_root = bool(_COLLECTION_SCOPE.match(self.scope))
        if not names.has_root:
            for kind in (names.properties, names.types, names.enums):
                kind.clear()
            names.property_types.clear()
            return
        await _fetch(
            self._query(_COLLECTION_NAMES, self.scope),
            lambda found: _set_collection_names(names, found),
        )

    async def _query(self, code: str, scope: str) -> Any:
        return await self.client.query(code, scope=scope, timeout=10)


#: how long the first prompt waits for the completion names (seconds)
_FIRST_NAMES_WAIT = 2.0


async def _ask(client: Client, code: str, scope: str) -> Any:
    """A small question for the start-up line; None when it is not answered
    (not allowed, no connection) within a few seconds."""
    try:
        return await client.query(code, scope=scope, timeout=5)
    except (ThingsDBError, OSError, ValueError):
        return None


#: what a collection has for completion: its root's properties with the type
#: of each value, types, enums (the *_info() functions give each as mpdata,
#: which only the client unpacks)
_COLLECTION_NAMES = "[.map(|k, v| [k, type(v)]), types_info(), enums_info()]"


def _set_collection_names(names: Names, found: Any) -> None:
    if not (isinstance(found, list) and len(found) == 3):
        found = [[], [], []]
    pairs = found[0] if isinstance(found[0], list) else []
    types = {
        p[0]: p[1]
        for p in pairs
        if isinstance(p, list) and len(p) == 2 and isinstance(p[0], str)
    }
    _set(names.properties, list(types))
    names.property_types.clear()
    names.property_types.update({k: v for k, v in types.items() if isinstance(v, str)})
    _set(names.types, _names(found[1]))
    _set(names.enums, _names(found[2]))


def _names(infos: Any) -> list[str]:
    """The ``name`` of each info in a list."""
    if not isinstance(infos, list):
        return []
    return [i["name"] for i in infos if isinstance(i, dict) and "name" in i]


def _set(target: set[str], values: Any) -> None:
    target.clear()
    if isinstance(values, list):
        target.update(v for v in values if isinstance(v, str))


async def _fetch(request: Awaitable[Any], use: Callable[[Any], None]) -> None:
    try:
        value = await request
    except (ThingsDBError, OSError, ValueError):
        value = []  # not allowed, not in this scope, no connection: nothing
    use(value)


async def _awaited(aw: Awaitable[Any]) -> Any:
    """``aw``'s result, from a coroutine of our own: ``asyncio.wait()``
    takes no coroutines, and a client's request future counts as one."""
    return await aw
