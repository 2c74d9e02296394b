"""The grammar of names and scopes, as the node reads them (its
``ti_name_is_valid_strn`` and ``ti_scope_init``), in one place.

A name (of a variable, procedure argument, collection, room...) is a letter
or ``_`` followed by up to 254 letters, digits or ``_``.

A scope starts with ``@`` (parts separated by ``:``) or ``/`` (parts
separated by ``/``), then names its kind by any start of the word:

- ``thingsdb``: ``@thingsdb``, ``@t``, ``/t``;
- ``node``, optionally with a node id (0..63): ``@node``, ``@n``, ``@n:2``,
  ``/node/2``;
- ``collection`` and a collection name: ``@collection:stuff``,
  ``@c:stuff``, ``/collection/stuff``; or, without the word,
  ``@:stuff`` and ``//stuff``.
"""

from __future__ import annotations

import re
from typing import Literal, NamedTuple

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")

_KINDS = ("thingsdb", "node", "collection")
_NODE_IDS = 64
_SCOPES_HELP = (
    "expected @thingsdb (or @t), @node, @node:<id>, @collection:<name>, "
    "@:<name> or //<name>"
)

#: Scopes found valid, so that a query's scope is read once, not per call
#: (bounded: an application names a handful of scopes).
_valid: set[str] = set()
_VALID_KEPT = 1024


class Scope(NamedTuple):
    """A scope as the node reads it."""

    kind: Literal["thingsdb", "node", "collection"]
    #: the collection name, or the node id as a str ('' for the node in use)
    target: str


def is_name(name: object) -> bool:
    """Whether ``name`` is a valid ThingsDB name."""
    return isinstance(name, str) and NAME.fullmatch(name) is not None


def check_name(kind: str, name: object) -> str:
    """Return ``name`` if it is a valid ThingsDB name; TypeError/ValueError
    saying what is wrong otherwise (``kind`` says what it names)."""
    if not isinstance(name, str):
        raise TypeError(f"{kind} must be a str, not {type(name).__name__}")
    if NAME.fullmatch(name) is None:
        raise ValueError(
            f"{kind} {name!r} is not a valid ThingsDB name: it must match "
            "[A-Za-z_][A-Za-z0-9_]* and be at most 255 characters"
        )
    return name


def parse_scope(scope: object) -> Scope:
    """Read ``scope`` as the node would; TypeError/ValueError otherwise."""
    if not isinstance(scope, str):
        raise TypeError(f"scope must be a str, not {type(scope).__name__}")
    if len(scope) >= 2 and scope[0] in "@/":
        sep = ":" if scope[0] == "@" else "/"
        word, found, target = scope[1:].partition(sep)
        if word == "" and found:  # @:name, //name
            if NAME.fullmatch(target):
                return Scope("collection", target)
        else:
            for kind in _KINDS:
                if kind.startswith(word) and word:
                    parsed = _scope_of(kind, found != "", target)
                    if parsed is not None:
                        return parsed
                    break
    raise ValueError(f"{scope!r} is not a ThingsDB scope: {_SCOPES_HELP}")


def _scope_of(kind: str, has_target: bool, target: str) -> Scope | None:
    if kind == "thingsdb":
        return None if has_target else Scope("thingsdb", "")
    if kind == "node":
        if not target:
            return Scope("node", "")
        if target.isdigit() and target.isascii() and int(target) < _NODE_IDS:
            return Scope("node", str(int(target)))
        return None
    return Scope("collection", target) if NAME.fullmatch(target) else None


def check_scope(scope: object) -> str:
    """Return ``scope`` if the node would read it; TypeError/ValueError
    otherwise. Scopes seen before are not read again."""
    if type(scope) is str and scope in _valid:
        return scope
    parse_scope(scope)
    assert isinstance(scope, str)
    if len(_valid) < _VALID_KEPT:
        _valid.add(scope)
    return scope


def collection_name(scope: str) -> str:
    """The collection a collection scope names (``'//stuff'``,
    ``'@:stuff'``, ``'@collection:stuff'``... give ``'stuff'``); ValueError
    for any other scope."""
    try:
        parsed = parse_scope(scope)
    except ValueError:
        parsed = Scope("thingsdb", "")  # reported as below
    if parsed.kind != "collection":
        raise ValueError(
            f"{scope!r} is not a collection scope; expected '//name', "
            "'@:name' or '@collection:name' with a valid collection name"
        )
    return parsed.target


def canonical_scope(scope: str) -> str:
    """A collection scope in the form the node's events name it
    (``@collection:<name>``); any other scope as it is."""
    parsed = parse_scope(scope)
    if parsed.kind == "collection":
        return f"@collection:{parsed.target}"
    return scope
