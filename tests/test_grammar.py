"""The grammar of names and scopes (thingsdb.protocol.grammar): checked
against a table, and against the node itself, which must accept exactly the
scopes the client accepts (the client refuses the others before sending)."""

from __future__ import annotations

import pytest

import realnode
from thingsdb.protocol import (
    Scope,
    canonical_scope,
    check_scope,
    collection_name,
    is_name,
    parse_scope,
)
from thingsdb.util import cnscope, fcscope

GOOD = {
    "@thingsdb": Scope("thingsdb", ""),
    "@t": Scope("thingsdb", ""),
    "@things": Scope("thingsdb", ""),
    "/t": Scope("thingsdb", ""),
    "/thingsdb": Scope("thingsdb", ""),
    "@node": Scope("node", ""),
    "@n": Scope("node", ""),
    "@n:": Scope("node", ""),
    "@n:0": Scope("node", "0"),
    "@node:63": Scope("node", "63"),
    "/n/2": Scope("node", "2"),
    "/node": Scope("node", ""),
    "@collection:stuff": Scope("collection", "stuff"),
    "@c:stuff": Scope("collection", "stuff"),
    "@coll:_x9": Scope("collection", "_x9"),
    "@:stuff": Scope("collection", "stuff"),
    "//stuff": Scope("collection", "stuff"),
    "/collection/stuff": Scope("collection", "stuff"),
    "/c/stuff": Scope("collection", "stuff"),
}

BAD = [
    "",
    "@",
    "/",
    "thingsdb",
    " @t",
    "@t:x",
    "@thingsdbx",
    "@x",
    "@/stuff",
    "/:stuff",
    "@node:64",
    "@n:x",
    "@n:-1",
    "@n/2",
    "@collection:",
    "@c:",
    "@:",
    "//",
    "@:9x",
    "//a-b",
    "@collections:x",
    "@:" + "x" * 256,
]


@pytest.mark.parametrize(("scope", "parsed"), GOOD.items())
def test_good_scopes(scope: str, parsed: Scope) -> None:
    assert parse_scope(scope) == parsed
    assert check_scope(scope) == scope


@pytest.mark.parametrize("scope", BAD)
def test_bad_scopes(scope: str) -> None:
    with pytest.raises(ValueError, match="is not a ThingsDB scope"):
        parse_scope(scope)
    with pytest.raises(ValueError, match="is not a ThingsDB scope"):
        check_scope(scope)


@pytest.mark.parametrize("scope", [None, 1, b"@t", ["@t"]])
def test_scope_of_another_type(scope: object) -> None:
    with pytest.raises(TypeError, match="scope must be a str"):
        check_scope(scope)


def test_collection_scopes_have_one_canonical_form() -> None:
    for scope, parsed in GOOD.items():
        if parsed.kind == "collection":
            assert canonical_scope(scope) == f"@collection:{parsed.target}"
            assert collection_name(scope) == parsed.target
            assert cnscope(scope) == parsed.target
            assert fcscope(scope) == f"@collection:{parsed.target}"
        else:
            assert canonical_scope(scope) == scope
            with pytest.raises(ValueError, match="not a collection scope"):
                collection_name(scope)


def test_names() -> None:
    for good in ("a", "_", "A_9", "x" * 255):
        assert is_name(good)
    for bad in ("", "9a", "a-b", "x" * 256, "é", None, 1):
        assert not is_name(bad)


@pytest.mark.node
def test_the_node_reads_scopes_as_the_client_does(node: realnode.Node) -> None:
    """Every scope of the table, sent by a raw socket past the client's
    check: the node reads the good ones (and runs the code, or finds no such
    node) and refuses the bad ones as invalid."""
    node.query("has_collection('stuff') || new_collection('stuff');")
    for scope in GOOD:
        assert _answer(node, scope) in (1, "does not exist", "not found"), scope
    for scope in BAD:
        assert _answer(node, scope) == "invalid scope", scope


def _answer(node: realnode.Node, scope: str) -> object:
    """The node's answer to ``1;`` in ``scope``, or the kind of its error."""
    try:
        return node.query("1;", scope)
    except realnode.NodeQueryError as exc:
        for kind in ("invalid scope", "does not exist", "not found"):
            if kind in exc.msg:
                return kind
        return exc.msg
