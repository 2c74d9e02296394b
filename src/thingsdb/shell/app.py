"""The interactive shell: a prompt_toolkit session on a connected client."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

from prompt_toolkit import PromptSession, print_formatted_text
from prompt_toolkit.formatted_text import FormattedText, PygmentsTokens
from prompt_toolkit.history import FileHistory, History
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.lexers import PygmentsLexer

from ..client import Client
from ..exceptions import ThingsDBError
from .completer import Names, ThingsDBCompleter
from .format import format_error, format_result
from .lexer import ThingsDBLexer

INDENT = 4

#: a whole input line that switches the scope: @thingsdb, @node:1, @:stuff,
#: @collection:stuff, /t, /n/1, //stuff, /c/stuff
SCOPE_RE = re.compile(r"^(@[A-Za-z]*(:\w*)?|/[A-Za-z]*(/\w*)?)$")

_COLLECTION_SCOPE = re.compile(r"^(//|@:|@c[a-z]*:|/c[a-z]*/)")

_OPEN = "([{"
_CLOSE = ")]}"

SHELL_HELP = """\
Type ThingsDB code and press Enter to run it in the current scope; while
brackets or a string are still open, Enter starts a new (indented) line.
Esc then Enter (or Alt-Enter) runs the code as it is.
  @thingsdb, @node, @:NAME, //NAME   switch scope (also @t, @n, @n:ID,
                                     @collection:NAME, /t, /n, /c/NAME)
  Tab                                complete names (scopes, collections,
                                     procedures, types, enums, properties,
                                     variables, functions)
  Ctrl-C                             clear the line, or cancel a running query
  Ctrl-D, exit, quit                 leave the shell
  help                               this text
History is kept in {history}."""


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


def _scan(text: str) -> tuple[list[str], bool]:
    """The brackets still open at the end of ``text``, and whether it ends
    inside a string or a comment."""
    stack: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "'\"`":
            end = i + 1
            while True:
                end = text.find(c, end)
                if end == -1:
                    return stack, True
                if text.startswith(c, end + 1):  # doubled quote: an escape
                    end += 2
                    continue
                break
            i = end + 1
            continue
        if text.startswith("//", i):
            nl = text.find("\n", i)
            if nl == -1:
                return stack, False
            i = nl + 1
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end == -1:
                return stack, True
            i = end + 2
            continue
        if c in _OPEN:
            stack.append(c)
        elif c in _CLOSE and stack:
            stack.pop()
        i += 1
    return stack, False


def is_complete(text: str) -> bool:
    """Whether Enter should run ``text``: no bracket, string or comment open."""
    stack, open_literal = _scan(text)
    return not stack and not open_literal


def indent_for(text: str) -> int:
    """Spaces at the start of the next line: ``INDENT`` per open bracket."""
    stack, _ = _scan(text)
    return INDENT * len(stack)


def _key_bindings() -> KeyBindings:
    kb = KeyBindings()

    @kb.add("enter")
    def _enter(event: KeyPressEvent) -> None:
        buf = event.current_buffer
        state = buf.complete_state
        if state is not None and state.current_completion is not None:
            buf.apply_completion(state.current_completion)
            return
        doc = buf.document
        if doc.is_cursor_at_the_end and is_complete(doc.text):
            buf.validate_and_handle()
        else:
            buf.insert_text("\n" + " " * indent_for(doc.text_before_cursor))

    @kb.add("escape", "enter")
    def _run_now(event: KeyPressEvent) -> None:
        event.current_buffer.validate_and_handle()

    for closing in _CLOSE:

        @kb.add(closing)
        def _dedent(event: KeyPressEvent) -> None:
            buf = event.current_buffer
            line = buf.document.current_line_before_cursor
            if line and not line.strip():
                buf.delete_before_cursor(min(INDENT, len(line)))
            buf.insert_text(event.data)

    return kb


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


class Shell:
    """Reads code, runs it on ``client`` in the current scope, prints the
    result. ``await shell.run()`` returns when the user leaves."""

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
    ) -> None:
        self.client = client
        self.scope = scope
        self.where = where
        self.out = out if out is not None else sys.stdout
        if color is None:
            color = self.out.isatty() and not os.environ.get("NO_COLOR")
        self.color = color
        self.timeout = timeout
        self.names = Names()
        self.history_file = history_file
        #: the query being run, for Ctrl-C (and tests)
        self.running: asyncio.Task[Any] | None = None
        self._refreshing: asyncio.Task[None] | None = None
        self._lexer = ThingsDBLexer()
        self.session: PromptSession[str] = PromptSession(
            message=self._prompt,
            multiline=True,
            key_bindings=_key_bindings(),
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

    def _print(self, text: str, *, code: bool = False, error: bool = False) -> None:
        if not self.color:
            self.out.write(text + "\n")
            self.out.flush()
            return
        if error:
            print_formatted_text(FormattedText([("ansired", text)]), file=self.out)
        elif code:
            tokens = list(self._lexer.get_tokens(text))
            print_formatted_text(PygmentsTokens(tokens), end="", file=self.out)
        else:
            print_formatted_text(text, file=self.out)

    # -- the loop -------------------------------------------------------------

    async def run(self) -> int:
        self._refresh_soon()
        try:
            while True:
                try:
                    text = await self.session.prompt_async()
                except KeyboardInterrupt:
                    continue
                except EOFError:
                    break
                text = text.strip()
                if not text:
                    continue
                if text in ("exit", "quit"):
                    break
                if text == "help":
                    where = self.history_file or "memory only"
                    self._print(SHELL_HELP.format(history=where))
                    continue
                if SCOPE_RE.match(text):
                    await self.switch_scope(text)
                    continue
                await self.execute(text)
        finally:
            if self._refreshing is not None:
                self._refreshing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._refreshing
        return 0

    async def switch_scope(self, scope: str) -> bool:
        """Check that ``scope`` exists (by running ``nil`` there), then use it."""
        ok, _ = await self._run_cancellable(
            self.client.query("nil", scope=scope, timeout=self.timeout)
        )
        if ok:
            self.scope = scope
            self._refresh_soon()
        return ok

    async def execute(self, code: str) -> None:
        """Run ``code``; print its result or its error. Ctrl-C cancels it."""
        ok, result = await self._run_cancellable(
            self.client.query(code, scope=self.scope, timeout=self.timeout)
        )
        if ok:
            self._print(format_result(result), code=True)
            self._refresh_soon()

    async def _run_cancellable(self, request: Awaitable[Any]) -> tuple[bool, Any]:
        """Await ``request`` with Ctrl-C cancelling it; ``(True, result)``, or
        ``(False, None)`` after printing why it failed."""
        task = asyncio.ensure_future(_awaited(request))  # a Task: wait() takes it
        self.running = task
        try:
            with _sigint_cancels(task):
                await asyncio.wait({task})
        finally:
            self.running = None
            if not task.done():  # the shell itself is being cancelled
                task.cancel()
        if task.cancelled():
            self._print("\ncancelled (the node may still finish the query)", error=True)
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
        if not _COLLECTION_SCOPE.match(self.scope):
            for kind in (names.properties, names.types, names.enums):
                kind.clear()
            return
        await _fetch(
            self._query(_COLLECTION_NAMES, self.scope),
            lambda found: _set_collection_names(names, found),
        )

    async def _query(self, code: str, scope: str) -> Any:
        return await self.client.query(code, scope=scope, timeout=10)


#: what a collection has for completion: root properties, types, enums (the
#: *_info() functions give each as mpdata, which only the client unpacks)
_COLLECTION_NAMES = "[.keys(), types_info(), enums_info()]"


def _set_collection_names(names: Names, found: Any) -> None:
    if not (isinstance(found, list) and len(found) == 3):
        found = [[], [], []]
    _set(names.properties, found[0])
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
