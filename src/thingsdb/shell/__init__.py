"""The interactive ThingsDB shell of ``thingsdb-cli`` (needs the ``shell``
extra: ``pip install 'thingsdb-connector[shell]'``)."""

from __future__ import annotations

from .app import Shell, history_path, open_history
from .completer import Names, ThingsDBCompleter
from .format import format_bytes, format_error, format_result
from .lexer import ThingsDBLexer

__all__ = [
    "Names",
    "Shell",
    "ThingsDBCompleter",
    "ThingsDBLexer",
    "format_bytes",
    "format_error",
    "format_result",
    "history_path",
    "open_history",
]
