"""Access flags and collection names from scopes."""

from __future__ import annotations

import pytest

import thingsdb.util
from thingsdb.util import Access, cnscope, collection_name, strip_code


def test_flags_are_the_nodes() -> None:
    # TI_AUTH_* in the node's inc/ti/auth.h
    assert int(Access.NO_ACCESS) == 0
    assert int(Access.QUERY) == 1
    assert int(Access.CHANGE) == 2
    assert int(Access.GRANT) == 4
    assert int(Access.JOIN) == 8
    assert int(Access.RUN) == 16
    assert int(Access.USER) == 27  # TI_AUTH_MASK_USER
    assert int(Access.FULL) == 31  # TI_AUTH_MASK_FULL


def test_flags_combine() -> None:
    mask = Access.QUERY | Access.RUN
    assert mask == 17
    assert Access.QUERY in mask
    assert Access.CHANGE not in mask
    assert Access.USER | Access.GRANT == Access.FULL
    assert isinstance(Access.FULL, int)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("FULL", Access.FULL),
        ("USER", Access.USER),
        ("USER|GRANT", Access.FULL),
        ("QUERY|RUN", Access.QUERY | Access.RUN),
        ("query | join", Access.QUERY | Access.JOIN),
        ("NO_ACCESS", Access.NO_ACCESS),
    ],
)
def test_parse(text: str, expected: Access) -> None:
    assert Access.parse(text) == expected


def test_parse_refuses_unknown_names() -> None:
    with pytest.raises(ValueError, match="SUPER"):
        Access.parse("QUERY|SUPER")
    with pytest.raises(TypeError):
        Access.parse(3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("scope", "name"),
    [
        ("//stuff", "stuff"),
        ("@:stuff", "stuff"),
        ("@collection:stuff", "stuff"),
        ("@c:stuff", "stuff"),
        ("@coll:Stuff_2", "Stuff_2"),
        ("/collection/stuff", "stuff"),
        ("/c/_x", "_x"),
        ("@:" + "a" * 255, "a" * 255),
    ],
)
def test_collection_name(scope: str, name: str) -> None:
    assert collection_name(scope) == name
    assert cnscope(scope) == name


@pytest.mark.parametrize(
    "scope",
    [
        "@thingsdb",
        "@t",
        "/t",
        "@node",
        "@n",
        "@node:1",
        "/node/1",
        "stuff",
        "",
        "@",
        "@:",
        "//",
        "@:1stuff",
        "@:my-stuff",
        "@:a:b",
        "//a/b",
        "@collections:stuff",
        "@x:stuff",
        "/c:stuff",
        "@c/stuff",
        "@:" + "a" * 256,
    ],
)
def test_not_a_collection_scope(scope: str) -> None:
    with pytest.raises(ValueError, match="not a collection scope"):
        collection_name(scope)


def test_collection_name_wants_a_str() -> None:
    with pytest.raises(TypeError):
        collection_name(None)  # type: ignore[arg-type]


def test_exports() -> None:
    assert set(thingsdb.util.__all__) >= {
        "Access",
        "cnscope",
        "collection_name",
        "strip_code",
    }
    assert strip_code("  // x\n 1;") == "1;"
