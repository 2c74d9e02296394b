"""A collection's schema, read with ``types_info()``, ``enums_info()`` and
``procedures_info()`` through the public ``query()`` of either client.

:func:`schema_from_info` reads the three answers without I/O, and takes
what it does not expect calmly: an entry of another shape is left out
(and counted in :attr:`Schema.skipped`) rather than stopping the
generator; a field definition it does not know is the writer's concern
(``typing.Any`` with a comment).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

#: the one query that reads the schema: one request, one consistent view
SCHEMA_CODE = "[types_info(), enums_info(), procedures_info()];"


@dataclass(frozen=True)
class TypeDef:
    """A type (``set_type``): its fields in the node's order."""

    name: str
    fields: tuple[tuple[str, str], ...]
    wrap_only: bool = False
    hide_id: bool = False
    #: field name -> (other type, its property)
    relations: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class EnumDef:
    """An enum (``set_enum``): its members in the node's order."""

    name: str
    members: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class ProcedureDef:
    """A procedure: its argument names, doc and whether it changes data."""

    name: str
    arguments: tuple[str, ...]
    doc: str = ""
    with_side_effects: bool = True


@dataclass(frozen=True)
class Schema:
    """What the generator needs of a collection, sorted by name (so an
    unchanged schema gives the same module)."""

    collection: str
    types: tuple[TypeDef, ...] = ()
    enums: tuple[EnumDef, ...] = ()
    procedures: tuple[ProcedureDef, ...] = ()
    #: entries of a shape the reader did not expect, left out
    skipped: tuple[str, ...] = field(default=())


def schema_from_info(
    collection: str, types: object, enums: object, procedures: object
) -> Schema:
    """The schema from the answers of ``types_info()``, ``enums_info()``
    and ``procedures_info()``."""
    skipped: list[str] = []
    type_defs = [t for t in map(_type_def, _entries(types)) if t is not None]
    enum_defs = [e for e in map(_enum_def, _entries(enums)) if e is not None]
    procs = [p for p in map(_procedure_def, _entries(procedures)) if p is not None]
    for kind, answer, kept in (
        ("type", types, type_defs),
        ("enum", enums, enum_defs),
        ("procedure", procedures, procs),
    ):
        lost = len(_entries(answer)) - len(kept)
        if lost:
            skipped.append(f"{lost} {kind} entr{'y' if lost == 1 else 'ies'}")
    return Schema(
        collection=collection,
        types=tuple(sorted(type_defs, key=lambda t: t.name)),
        enums=tuple(sorted(enum_defs, key=lambda e: e.name)),
        procedures=tuple(sorted(procs, key=lambda p: p.name)),
        skipped=tuple(skipped),
    )


async def read_schema(query: Callable[..., Awaitable[Any]], collection: str) -> Schema:
    """Read the schema of ``collection`` (a name, without ``//``) with an
    async ``query()`` (``client.query`` or ``client.idempotent.query``)."""
    answer = await query(SCHEMA_CODE, scope=f"//{collection}")
    return schema_from_answer(collection, answer)


def read_schema_blocking(query: Callable[..., Any], collection: str) -> Schema:
    """:func:`read_schema` with the blocking client's ``query()``."""
    answer = query(SCHEMA_CODE, scope=f"//{collection}")
    return schema_from_answer(collection, answer)


def schema_from_answer(collection: str, answer: object) -> Schema:
    """The schema from the answer to :data:`SCHEMA_CODE`."""
    if isinstance(answer, list) and len(answer) == 3:
        return schema_from_info(collection, *answer)
    return Schema(collection=collection, skipped=("an answer of another shape",))


def _entries(answer: object) -> list[Any]:
    return answer if isinstance(answer, list) else []


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _type_def(entry: object) -> TypeDef | None:
    if not isinstance(entry, dict) or _str(entry.get("name")) is None:
        return None
    fields = []
    for pair in entry.get("fields") or []:
        if (
            isinstance(pair, (list, tuple))
            and len(pair) == 2
            and _str(pair[0])
            and isinstance(pair[1], str)
        ):
            fields.append((pair[0], pair[1]))
    relations = []
    found = entry.get("relations")
    if isinstance(found, dict):
        for name, relation in sorted(found.items()):
            if isinstance(relation, dict):
                other = relation.get("type")
                prop = relation.get("property")
                if isinstance(other, str) and isinstance(prop, str):
                    relations.append((str(name), other, prop))
    return TypeDef(
        name=entry["name"],
        fields=tuple(fields),
        wrap_only=entry.get("wrap_only") is True,
        hide_id=entry.get("hide_id") is True,
        relations=tuple(relations),
    )


def _enum_def(entry: object) -> EnumDef | None:
    if not isinstance(entry, dict) or _str(entry.get("name")) is None:
        return None
    members = []
    for pair in entry.get("members") or []:
        if isinstance(pair, (list, tuple)) and len(pair) == 2 and _str(pair[0]):
            members.append((pair[0], pair[1]))
    return EnumDef(name=entry["name"], members=tuple(members))


def _procedure_def(entry: object) -> ProcedureDef | None:
    if not isinstance(entry, dict) or _str(entry.get("name")) is None:
        return None
    arguments = entry.get("arguments")
    if not isinstance(arguments, list) or not all(
        isinstance(a, str) for a in arguments
    ):
        return None
    doc = entry.get("doc")
    return ProcedureDef(
        name=entry["name"],
        arguments=tuple(arguments),
        doc=doc if isinstance(doc, str) else "",
        # unknown: taken to change data, so it is never sent twice
        with_side_effects=entry.get("with_side_effects") is not False,
    )
