"""Completion for the shell: scopes, collection, procedure, type and enum
names, properties and variables, built-in functions."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from .builtin_names import FUNCTIONS, METHODS

_WORD = re.compile(r"(\.?)([A-Za-z_][A-Za-z0-9_]*)$")
_DOT = re.compile(r"\.$")
_IN_STRING = re.compile(r"""(['"])([A-Za-z0-9_]*)$""")
_ASSIGNED = re.compile(r"(?<![.\w])([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)")
_CLOSURE_ARGS = re.compile(r"\|([A-Za-z0-9_,\s]*)\|")


@dataclass
class Names:
    """What the node told us last; the shell refreshes it."""

    collections: set[str] = field(default_factory=set)
    procedures: set[str] = field(default_factory=set)
    properties: set[str] = field(default_factory=set)
    types: set[str] = field(default_factory=set)
    enums: set[str] = field(default_factory=set)
    functions: frozenset[str] = FUNCTIONS
    methods: frozenset[str] = METHODS

    def scopes(self) -> list[str]:
        out = ["@thingsdb", "@node"]
        for name in sorted(self.collections):
            out += [f"@:{name}", f"//{name}", f"@collection:{name}"]
        return out


def _variables(text: str) -> set[str]:
    """Names given a value in the code typed so far, and closure arguments."""
    found = {m.group(1) for m in _ASSIGNED.finditer(text)}
    for m in _CLOSURE_ARGS.finditer(text):
        found.update(a.strip() for a in m.group(1).split(",") if a.strip())
    return found


def _inside_string(text: str, quote: str) -> bool:
    """Whether the last ``quote`` in ``text`` opens a string (roughly: an odd
    number of them; a doubled quote counts twice, so it works out)."""
    return text.count(quote) % 2 == 1


class ThingsDBCompleter(Completer):
    """Completes from a :class:`Names` the shell keeps up to date."""

    def __init__(self, names: Names) -> None:
        self.names = names

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterator[Completion]:
        before = document.text_before_cursor
        stripped = before.lstrip()
        # a scope switch: the whole input is one word starting with @ or /
        if stripped[:1] in ("@", "/") and not any(c.isspace() for c in stripped):
            yield from _matching(stripped, self.names.scopes(), "scope")
            return
        quoted = _IN_STRING.search(before)
        if quoted and _inside_string(before, quoted.group(1)):
            prefix = quoted.group(2)
            yield from _matching(prefix, sorted(self.names.collections), "collection")
            yield from _matching(prefix, sorted(self.names.procedures), "procedure")
            return
        word = _WORD.search(before)
        if word is None:
            if _DOT.search(before):
                yield from _matching("", sorted(self.names.properties), "property")
                yield from _matching("", sorted(self.names.methods), "method")
            return
        dot, prefix = word.group(1), word.group(2)
        if dot:
            yield from _matching(prefix, sorted(self.names.properties), "property")
            yield from _matching(prefix, sorted(self.names.methods), "method")
            return
        text = document.text[: document.cursor_position - len(prefix)]
        text += document.text[document.cursor_position :]
        names = self.names
        yield from _matching(prefix, sorted(_variables(text)), "variable")
        # procedures, types and enums are called by name, like functions
        yield from _matching(prefix, sorted(names.procedures), "procedure")
        yield from _matching(prefix, sorted(names.types), "type")
        yield from _matching(prefix, sorted(names.enums), "enum")
        yield from _matching(prefix, sorted(names.functions), "function")


def _matching(
    prefix: str, candidates: Iterable[str], meta: str
) -> Iterator[Completion]:
    for name in candidates:
        if name.startswith(prefix) and name != prefix:
            yield Completion(name, start_position=-len(prefix), display_meta=meta)
