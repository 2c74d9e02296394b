"""The interactive ThingsDB shell of ``thingsdb-cli`` (needs the ``shell``
extra: ``pip install 'thingsdb-connector[shell]'``).

The names below are imported when first used, so that
``thingsdb.shell.format`` (no dependencies) works without the extra.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import Shell, history_path, open_history
    from .completer import Names, ThingsDBCompleter
    from .format import format_bytes, format_error, format_result
    from .lexer import ThingsDBLexer

_WHERE = {
    "Shell": "app",
    "history_path": "app",
    "open_history": "app",
    "Names": "completer",
    "ThingsDBCompleter": "completer",
    "format_bytes": "format",
    "format_error": "format",
    "format_result": "format",
    "ThingsDBLexer": "lexer",
}

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


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
