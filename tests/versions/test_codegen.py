"""Codegen and typed results against each release: the schema of
test_codegen.py (types, enums, a relation, a wrap-only type, a '#' field,
procedures) read with the release's types_info(), enums_info() and
procedures_info(), the module written and imported, every field
definition written from its Struct and read back typed."""

from __future__ import annotations

import importlib
import uuid
from pathlib import Path
from typing import Any

import msgspec
import pytest

from test_codegen import SCHEMA, list_of, new_book
from thingsdb.codegen import read_schema_blocking, write_module
from thingsdb.sync import Client as SyncClient
from thingsdb.testing import Node

pytestmark = pytest.mark.node


def test_codegen_round_trip(
    tier_node: Node,
    tier_collection: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with SyncClient() as client:
        client.connect(*tier_node.address, timeout=10)
        client.authenticate("admin", "pass", timeout=10)
        client.set_default_scope(f"//{tier_collection}")
        client.query(SCHEMA)
        schema = read_schema_blocking(client.query, tier_collection)
        names = [t.name for t in schema.types]
        assert names == ["Author", "Book", "Tagged", "_Summary"]
        assert [p.name for p in schema.procedures] == ["add_book", "count_books"]
        text = write_module(schema, "tier")
        assert "# enum Odd: its members are not all str or all int" in text
        path = tmp_path / f"tier_models_{uuid.uuid4().hex[:8]}.py"
        path.write_text(text)
        monkeypatch.syspath_prepend(str(tmp_path))
        m: Any = importlib.import_module(path.stem)
        book = new_book(m)
        key = m.BlockingProcedures(client).add_book(
            msgspec.to_builtins(book, builtin_types=(bytes,))
        )
        back = client.typed(m.Book).query("return thing(key), 2;", key=key)
        assert back == msgspec.structs.replace(book, id=key, th=back.th)
        assert back.th["k"] == 1
        summaries = client.typed(list_of(m._Summary))
        assert summaries.query(".books.map_wrap('_Summary');") == [
            m._Summary(id=key, title="Typed", by=None)
        ]
        assert m.BlockingProcedures(client).count_books(-1) == 0
