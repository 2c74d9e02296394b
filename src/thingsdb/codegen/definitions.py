"""A ThingsDB field definition (``'int?'``, ``'{Author}'``, ``'int<0:10>'``)
as the Python type that reads its value, as source text.

No I/O and no knowledge of the writer: :func:`python_type` gets the
definition and the names of the collection's types and enums (ThingsDB name
to Python name), and returns the annotation with a note for the reader
when something was approximated or not known. A definition it does not
know becomes ``Any`` with a note, never an error.

What each definition reads as (values as the node sends them):

==================================  ==========================================
ThingsDB                            Python
==================================  ==========================================
``str``, ``utf8``, ``raw``          ``str``
``bytes``                           ``bytes``
``bool``                            ``bool``
``int``                             ``int``
``uint``, ``pint``, ``nint``        ``int`` with msgspec bounds (>= 0, >= 1, <= -1)
``float``                           ``float``
``number``                          ``int | float``
``datetime``                        ``datetime.datetime`` (sent as ISO 8601 text)
``timeval``                         ``int`` (seconds since the epoch)
``regex``, ``closure``              ``str`` (``/pattern/flags``, the code)
``int<a:b>``, ``float<a:b>``        the number with msgspec bounds ``a`` .. ``b``
``str<a:b>``, ``utf8<a:b>``         ``str`` (the length is the node's check)
``/pattern/``                       ``str`` (the pattern is the node's check)
``#``                               ``int`` (the thing's id under this name)
``thing``                           ``dict[str, Any]``
``any``, ``mpdata``, ...            ``Any``
``list``, ``set``, ``tuple``        ``list[Any]``
``T?``                              ``T | None``
``[T]``, ``{T}``                    ``list[T]`` (a set of things comes as a list)
a type, a wrap-only type            its class
an enum                             its ``Enum`` class
==================================  ==========================================
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

ANY = "Any"

_LEAVES: dict[str, str] = {
    "str": "str",
    "utf8": "str",
    "raw": "str",
    "bytes": "bytes",
    "bool": "bool",
    "int": "int",
    "uint": "Annotated[int, Meta(ge=0)]",
    "pint": "Annotated[int, Meta(ge=1)]",
    "nint": "Annotated[int, Meta(le=-1)]",
    "float": "float",
    "number": "int | float",
    "datetime": "datetime.datetime",
    "timeval": "int",
    "regex": "str",
    "closure": "str",
    "#": "int",
    "thing": f"dict[str, {ANY}]",
    "any": ANY,
    "list": f"list[{ANY}]",
    "set": f"list[{ANY}]",
    "tuple": f"list[{ANY}]",
}

#: read as they come, with no check of their own: worth a note
_LOOSE = {
    "mpdata": "mpdata: the value packed in it",
    "room": "room: as the node sends it",
    "task": "task: as the node sends it",
    "error": "error: as the node sends it",
}

_RANGE = re.compile(
    r"^(?P<kind>int|float|str|utf8)<(?P<lo>[^:<>]*):(?P<hi>[^:<>]*)(?::[^<>]*)?>$"
)
_INT = re.compile(r"^-?[0-9]+$")
_FLOAT = re.compile(r"^-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$")


@dataclass(frozen=True)
class Annotation:
    """A definition as Python: the annotation's text and, when something
    was approximated or unknown, a note for a comment beside it."""

    text: str
    note: str = ""


def python_type(definition: str, names: Mapping[str, str]) -> Annotation:
    """The Python type of one ThingsDB field definition; ``names`` maps the
    collection's type and enum names to their Python names."""
    found = _parse(definition.strip(), names)
    if found is None:
        return Annotation(ANY, f"unknown definition {definition!r}")
    return found


def _parse(text: str, names: Mapping[str, str]) -> Annotation | None:
    if text.endswith("?"):
        inner = _parse(text[:-1], names)
        if inner is None:
            return None
        if inner.text == ANY or inner.text.endswith("| None"):
            return inner
        return Annotation(f"{inner.text} | None", inner.note)
    if len(text) >= 2 and text[0] + text[-1] in ("[]", "{}"):
        body = text[1:-1].strip()
        if not body:  # '[]' and '{}': any list
            return Annotation(f"list[{ANY}]")
        item = _parse(body, names)
        if item is None:
            return None
        return Annotation(f"list[{item.text}]", item.note)
    if text in _LEAVES:
        return Annotation(_LEAVES[text])
    if text in _LOOSE:
        return Annotation(ANY, _LOOSE[text])
    if text in names:
        return Annotation(names[text])
    if len(text) >= 2 and text.startswith("/") and text.rfind("/") > 0:
        return Annotation("str", f"pattern {text}")
    match = _RANGE.match(text)
    if match:
        return _range(match["kind"], match["lo"].strip(), match["hi"].strip(), text)
    return None


def _range(kind: str, lo: str, hi: str, text: str) -> Annotation | None:
    if kind in ("str", "utf8"):
        return Annotation("str", f"{text}: the length is checked by the node")
    number = _INT if kind == "int" else _FLOAT
    if not (number.match(lo) and number.match(hi)):
        return None
    bounds = (
        f"ge={lo}, le={hi}" if kind == "int" else f"ge={_float(lo)}, le={_float(hi)}"
    )
    return Annotation(f"Annotated[{kind}, Meta({bounds})]")


def _float(text: str) -> str:
    return repr(float(text))
