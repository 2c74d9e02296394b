"""A Pygments lexer for ThingsDB code (the shell's syntax highlighting)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from pygments.lexer import (  # type: ignore[import-untyped]
    RegexLexer,
    bygroups,
    include,
)
from pygments.token import (  # type: ignore[import-untyped]
    Comment,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Text,
    Whitespace,
)

from .builtin_names import FUNCTIONS, METHODS

_BUILTINS = FUNCTIONS | METHODS

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"


class ThingsDBLexer(RegexLexer):  # type: ignore[misc]
    """ThingsDB code: comments ``//`` and ``/* */``, strings ``'..'`` and
    ``".."`` (a doubled quote escapes it), template strings with ``{..}``,
    numbers, names, calls, closures and operators."""

    name = "ThingsDB"
    aliases: ClassVar[list[str]] = ["thingsdb", "ti"]
    filenames: ClassVar[list[str]] = ["*.ti"]

    tokens: ClassVar[dict[str, list[object]]] = {
        "root": [
            (r"\s+", Whitespace),
            include("comments"),
            (r"'(?:[^']|'')*'", String.Single),
            (r'"(?:[^"]|"")*"', String.Double),
            (r"`", String.Backtick, "template"),
            include("numbers"),
            (r"(true|false|nil)\b", Keyword.Constant),
            (r"(if|else|return|for|in|break|continue)\b", Keyword),
            # a call: a builtin such as `now()` or a method such as `.keys()`
            (
                rf"(\.)({_NAME})(\s*)(?=\()",
                bygroups(Punctuation, Name.Function, Whitespace),
            ),
            (rf"({_NAME})(\s*)(?=\()", bygroups(Name.Function, Whitespace)),
            (rf"(\.)({_NAME})", bygroups(Punctuation, Name.Attribute)),
            (_NAME, Name),
            (r"\|", Punctuation),
            (
                r"(==|!=|<=|>=|&&|\|\||\+=|-=|\*=|/=|%=|&=|\^=|\|=|<<|>>)",
                Operator,
            ),
            (r"[-+*/%<>=!?&^~]", Operator),
            (r"[()\[\]{},;:.#]", Punctuation),
            (r".", Text),
        ],
        "comments": [
            (r"//.*?$", Comment.Single),
            (r"/\*[\s\S]*?\*/", Comment.Multiline),
        ],
        "numbers": [
            (r"0[xX][0-9a-fA-F]+\b", Number.Hex),
            (r"0[oO][0-7]+\b", Number.Oct),
            (r"0[bB][01]+\b", Number.Bin),
            (r"(\d+\.\d*|\.\d+)([eE][-+]?\d+)?", Number.Float),
            (r"\d+[eE][-+]?\d+", Number.Float),
            (r"(inf|nan)\b", Number.Float),
            (r"\d+", Number.Integer),
        ],
        "template": [
            (r"``", String.Escape),
            (r"\{\{|\}\}", String.Escape),
            (r"`", String.Backtick, "#pop"),
            (r"\{", String.Interpol, "interpolation"),
            (r"[^`{}]+", String.Backtick),
            (r"\}", String.Backtick),
        ],
        "interpolation": [
            (r"\}", String.Interpol, "#pop"),
            include("root"),
        ],
    }

    def get_tokens_unprocessed(
        self, text: str, stack: tuple[str, ...] = ("root",)
    ) -> Iterator[tuple[int, object, str]]:
        """Calls of built-in functions come out as ``Name.Builtin``."""
        for index, token, value in super().get_tokens_unprocessed(text, stack):
            if token is Name.Function and value in _BUILTINS:
                token = Name.Builtin
            yield index, token, value
