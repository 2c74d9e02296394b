"""Results as text: for people (indented, in ThingsDB's notation, bytes
shown readably) and as JSON (what scripts read). No dependencies: the
one-shot command uses this module without the shell's extra."""

from __future__ import annotations

import base64
import datetime
import json
import math
from typing import Any

#: bytes longer than this are shown shortened
MAX_BYTES_SHOWN = 64


def format_bytes(value: bytes | bytearray | memoryview) -> str:
    """``bytes("text")`` when the bytes are printable UTF-8 (the ThingsDB
    expression that makes them), else their size and first bytes in hex."""
    data = bytes(value)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and text.isprintable() and len(data) <= MAX_BYTES_SHOWN * 4:
        return f"bytes({_string(text)})"
    shown = data[:MAX_BYTES_SHOWN].hex(" ")
    more = " ..." if len(data) > MAX_BYTES_SHOWN else ""
    return f"<{len(data)} bytes: {shown}{more}>"


def _string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _scalar(value: object) -> str:
    if value is None:
        return "nil"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return format_bytes(value)
    return repr(value)


def format_result(value: object, indent: int = 2) -> str:
    """A result as indented text: maps and lists over several lines, empty
    ones and scalars on one; ``nil``, ``true``, ``false`` as in ThingsDB."""
    parts: list[str] = []
    _write(value, 0, indent, parts)
    return "".join(parts)


def _write(value: object, level: int, indent: int, out: list[str]) -> None:
    pad = " " * (indent * (level + 1))
    end = " " * (indent * level)
    if isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        out.append("{\n")
        for n, (key, item) in enumerate(value.items()):
            out.append(f"{pad}{_string(str(key))}: ")
            _write(item, level + 1, indent, out)
            out.append(",\n" if n < len(value) - 1 else "\n")
        out.append(end + "}")
    elif isinstance(value, (list, tuple)):
        if not value:
            out.append("[]")
            return
        out.append("[\n")
        for n, item in enumerate(value):
            out.append(pad)
            _write(item, level + 1, indent, out)
            out.append(",\n" if n < len(value) - 1 else "\n")
        out.append(end + "]")
    else:
        out.append(_scalar(value))


def format_error(exc: BaseException) -> str:
    """An error as ``ClassName: message``."""
    message = str(exc) or repr(exc)
    return f"{type(exc).__name__}: {message}"


def json_default(value: object) -> Any:
    """JSON for what has none: bytes as ``{"$bytes": "<base64>"}``, a
    datetime in ISO 8601, anything else as its ``str()``."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$bytes": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    return str(value)


def format_json(value: object) -> str:
    """A result as indented JSON (a float nan or inf as ``NaN``/``Infinity``,
    as Python's json module writes them)."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=json_default)


#: the output formats, by the name ``--format`` and ``\format`` take
FORMATS = {"pretty": format_result, "json": format_json}
