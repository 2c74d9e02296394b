"""Python code from a collection's schema: ``thingsdb-cli codegen``.

:func:`read_schema` (or :func:`read_schema_blocking`) reads a collection's
types, enums and procedures through ``query()``; :func:`write_module` turns
them into one Python module (msgspec Structs or dataclasses, Enums, typed
procedure calls) to decode results into with ``client.typed(T)``.
"""

from .definitions import Annotation, python_type
from .schema import (
    EnumDef,
    ProcedureDef,
    Schema,
    TypeDef,
    read_schema,
    read_schema_blocking,
    schema_from_info,
)
from .writer import Options, write_module

__all__ = [
    "Annotation",
    "EnumDef",
    "Options",
    "ProcedureDef",
    "Schema",
    "TypeDef",
    "python_type",
    "read_schema",
    "read_schema_blocking",
    "schema_from_info",
    "write_module",
]
