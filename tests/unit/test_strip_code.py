"""strip_code: leading comments and white space, trailing white space."""

from __future__ import annotations

import pytest

from thingsdb.util import strip_code


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("1 + 1;", "1 + 1;"),
        ("   \n\t 1;", "1;"),
        ("1;  \n\t ", "1;"),
        ("// comment\n1;", "1;"),
        ("  // one\n  // two\n  x;", "x;"),
        ("/* block */ x;", "x;"),
        ("/* multi\n line\n */\n  x;", "x;"),
        ("/* a */ // b\n /* c */\n x;", "x;"),
        ("// only a comment", ""),
        ("/* only */", ""),
        ("", ""),
        ("   ", ""),
        ('\n    // say hello\n    "Hello";  ', '"Hello";'),
    ],
)
def test_strip(code: str, expected: str) -> None:
    assert strip_code(code) == expected


@pytest.mark.parametrize(
    "code",
    [
        "'http://example.org';",
        '"a // b";',
        "x = 'a /* b */ c';",
        "a = 1; // trailing comment",
        "a /* inner */ + b;",
    ],
)
def test_keeps_everything_after_the_first_token(code: str) -> None:
    assert strip_code(code) == code
    assert strip_code("  // lead\n" + code + "  \n") == code


def test_comment_markers_inside_strings_are_kept() -> None:
    code = "// fetch\nx = 'http://host/*not a comment*/';\n"
    assert strip_code(code) == "x = 'http://host/*not a comment*/';"


def test_trailing_whitespace_only_at_the_end() -> None:
    assert strip_code("a;   \n  b;  \n\n") == "a;   \n  b;"


def test_unterminated_block_comment_is_left_alone() -> None:
    assert strip_code("  /* not closed\nx;") == "/* not closed\nx;"


def test_does_not_strip_inside_the_code() -> None:
    code = "x = 1;\n// comment\ny = 2;"
    assert strip_code("\n\n" + code) == code


def test_long_input_is_fast_enough() -> None:
    # many leading comment lines must not cause catastrophic backtracking
    code = "// c\n  " * 20_000 + "x;" + " " * 10_000
    assert strip_code(code) == "x;"
    assert strip_code(" " * 50_000 + "/* unterminated") == "/* unterminated"


def test_the_white_space_set_is_complete() -> None:
    from thingsdb.util.strip_code import SPACE

    everywhere = {c for c in map(chr, range(0x110000)) if c.isspace()}
    assert everywhere == SPACE


@pytest.mark.parametrize("space", ["\u3000", "\xa0", "\u2029", "\x1c", "\x85"])
def test_unicode_white_space_is_stripped_at_both_ends(space: str) -> None:
    assert strip_code(f"{space}x;{space}") == "x;"
