"""Line editing in the shell: when Enter runs the code, when it starts a new
line, and how far that line is indented.

Enter runs an entry that is complete (no bracket, string or comment left
open) wherever the cursor is, as mongosh and IPython do; while something is
open it starts a new, indented line. In a history search (Ctrl-R) Enter
takes the match and acts on it the same way, as in bash and psql.
"""

from __future__ import annotations

from prompt_toolkit import search
from prompt_toolkit.buffer import Buffer
from prompt_toolkit.filters import is_searching
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

INDENT = 4

_OPEN = "([{"
_CLOSE = ")]}"


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


def _new_line(buf: Buffer) -> None:
    buf.insert_text("\n" + " " * indent_for(buf.document.text_before_cursor))


def _enter(buf: Buffer) -> None:
    """Run a complete entry, wherever the cursor is; else a new line."""
    state = buf.complete_state
    if state is not None and state.current_completion is not None:
        buf.apply_completion(state.current_completion)
        return
    if is_complete(buf.document.text):
        buf.validate_and_handle()
    else:
        _new_line(buf)


def key_bindings() -> KeyBindings:
    kb = KeyBindings()

    @kb.add("enter", filter=~is_searching)
    def _enter_key(event: KeyPressEvent) -> None:
        _enter(event.current_buffer)

    @kb.add("enter", filter=is_searching)
    def _take_the_match(event: KeyPressEvent) -> None:
        # the search field has the focus: give it back to the line, with
        # the match in it, then Enter as on that line
        search.accept_search()
        buf = event.app.current_buffer
        if is_complete(buf.document.text):
            buf.validate_and_handle()
        else:
            buf.cursor_position = len(buf.text)

    @kb.add("escape", "enter")
    def _run_now(event: KeyPressEvent) -> None:
        if event.app.layout.is_searching:
            search.accept_search()
        event.app.current_buffer.validate_and_handle()

    @kb.add("c-o")
    def _open_line(event: KeyPressEvent) -> None:
        # a new line inside a complete entry, without running it
        _new_line(event.current_buffer)

    for closing in _CLOSE:

        @kb.add(closing)
        def _dedent(event: KeyPressEvent) -> None:
            buf = event.current_buffer
            line = buf.document.current_line_before_cursor
            if line and not line.strip():
                buf.delete_before_cursor(min(INDENT, len(line)))
            buf.insert_text(event.data)

    return kb
