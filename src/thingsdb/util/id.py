"""``thingsdb.util.id``: python-thingsdb's deprecated ``id()`` helper."""

from __future__ import annotations

import builtins
import warnings
from typing import Any


def id(val: str | dict[str, Any]) -> int | None:  # noqa: A001 - its name
    """The id in ``'room:<id>'`` or in a thing (``{'#': id}``); None when
    there is none. Deprecated: it cannot read named ids."""
    warnings.warn(
        "thingsdb.util.id.id() cannot read named ids; read the thing's '#' "
        "or ask the node (room.id()) instead",
        DeprecationWarning,
        stacklevel=2,
    )
    if isinstance(val, str):
        number = val.removeprefix("room:")
        return builtins.int(number) if number != val and number.isdigit() else None
    if isinstance(val, dict):
        found = val.get("#")
        return found if isinstance(found, builtins.int) else None
    raise TypeError(f"expected a str or a dict, not {type(val).__name__}")


__all__ = ["id"]
