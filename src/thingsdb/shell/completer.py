"""Completion for the shell: scopes, collection, procedure, type and enum
names, properties and variables, built-in functions."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from .builtin_names import FUNCTIONS, METHODS, METHODS_BY_TYPE

_WORD = re.compile(r"(\.?)([A-Za-z_][A-Za-z0-9_]*)$")
_DOT = re.compile(r"\.$")
#: what stands before a ``.``: a root property (``.name``, at the start of
#: an expression), a string, a name (a variable, a type), a call
_ROOT_PROPERTY = re.compile(r"(?:^|[^\w.)\]}'\"`])\s*\.([A-Za-z_]\w*)$")
_ENDS_IN_NAME = re.compile(r"([A-Za-z_]\w*)$")
_NUMBER = re.compile(r"(?<![\w.])\d+(\.\d*)?$")
_IN_STRING = re.compile(r"""(['"])([A-Za-z0-9_]*)$""")
_ASSIGNED = re.compile(r"(?<![.\w])([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)")
_CLOSURE_ARGS = re.compile(r"\|([A-Za-z0-9_,\s]*)\|")


@dataclass
class Names:
    """What the node told us last; the shell refreshes it."""

    collections: set[str] = field(default_factory=set)
    procedures: set[str] = field(default_factory=set)
    properties: set[str] = field(default_factory=set)
    #: what ``type()`` says of each root property's value
    property_types: dict[str, str] = field(default_factory=dict)
    #: whether the scope has a root (a collection's), for ``.`` at the start
    has_root: bool = False
    types: set[str] = field(default_factory=set)
    enums: set[str] = field(default_factory=set)
    functions: frozenset[str] = FUNCTIONS
    methods: frozenset[str] = METHODS

    def methods_of(self, type_name: str) -> frozenset[str] | None:
        """The methods of a value of ``type_name`` (what ``type()`` says);
        None when the name tells nothing."""
        found = METHODS_BY_TYPE.get(type_name)
        if found is not None:
            return found
        if type_name in self.types:
            return METHODS_BY_TYPE["typed thing"]
        if type_name in self.enums:
            return METHODS_BY_TYPE["enum member"]
        return None

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
                yield from self._after_dot(before[:-1], "")
            return
        dot, prefix = word.group(1), word.group(2)
        if dot:
            yield from self._after_dot(before[: word.start()], prefix)
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

    def _after_dot(self, receiver: str, prefix: str) -> Iterator[Completion]:
        """After ``receiver.``: at a collection's root its properties and
        the methods of a thing; where the kind of value shows (a literal, a
        root property) the methods it has; elsewhere every method."""
        names = self.names
        kind = _kind_of(receiver, names)
        if kind == "root":
            if names.has_root:
                yield from _matching(prefix, sorted(names.properties), "property")
                thing = METHODS_BY_TYPE["thing"]
                yield from _matching(prefix, sorted(thing), "method")
            return
        methods = names.methods if kind is None else names.methods_of(kind)
        if methods is None:
            methods = names.methods
        yield from _matching(prefix, sorted(methods), "method")


def _kind_of(receiver: str, names: Names) -> str | None:
    """What stands before a ``.``: "root" (nothing: the start of an
    expression), a type name when it shows, else None (not known)."""
    text = receiver.rstrip()
    if not text or text[-1] in "([{,;=:+-*/%<>!&|^~?":
        return "root"
    last = text[-1]
    if last in "'\"":
        return "str"
    if last == "`":
        return "str"  # a template string
    if last == "]":
        opening = _opening(text, "[", "]")
        if opening is not None and _kind_of(text[:opening], names) == "root":
            return "list"  # a list literal, not an index
        return None
    if last == "}":
        opening = _opening(text, "{", "}")
        if opening is None:
            return None
        before = text[:opening].rstrip()
        name = _ENDS_IN_NAME.search(before)
        if name is not None and name.group(1) in names.types:
            return name.group(1)  # an instance: Type{...}
        if _kind_of(before, names) == "root":
            return "thing"
        return None
    if text.endswith("root()"):
        return "thing"
    if _NUMBER.search(text):
        return "float"  # ThingsDB reads `1.` as a float, and floats have none
    prop = _ROOT_PROPERTY.search(text)
    if prop is not None and names.has_root:
        return names.property_types.get(prop.group(1))
    return None


def _opening(text: str, open_char: str, close_char: str) -> int | None:
    """Where the bracket that closes at the end of ``text`` opens (strings
    are not looked into: good enough for completion)."""
    depth = 0
    for i in range(len(text) - 1, -1, -1):
        c = text[i]
        if c == close_char:
            depth += 1
        elif c == open_char:
            depth -= 1
            if depth == 0:
                return i
    return None


def _matching(
    prefix: str, candidates: Iterable[str], meta: str
) -> Iterator[Completion]:
    for name in candidates:
        if name.startswith(prefix) and name != prefix:
            yield Completion(name, start_position=-len(prefix), display_meta=meta)
