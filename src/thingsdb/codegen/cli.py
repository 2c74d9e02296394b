"""``thingsdb-cli codegen``: a collection's schema as a Python module.

A subcommand of ``thingsdb-cli`` (registered in
:data:`thingsdb.cli.SUBCOMMANDS`), with its connection flags, ``--local``,
``THINGSDB_*`` variables and exit statuses.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ..cli import (
    BAD_USAGE,
    OK,
    CliError,
    CliParser,
    ConnectionSettings,
    add_connection_flags,
    connected_client,
    make_parser,
    pick_scope,
    run_command,
    settings_from_args,
    with_local_node,
)
from ..protocol import collection_name, is_name
from .schema import Schema, read_schema
from .writer import Options, write_module

PROG = "thingsdb-cli codegen"

_DESCRIPTION = """\
Write a Python module for a collection's schema: a msgspec Struct (or,
with --dataclasses, a dataclass) per type, an Enum per enum, and the
procedures as typed calls (Procedures for the asyncio client,
BlockingProcedures for the blocking one). Read results into its classes
with client.typed(T).query(...).

The same schema gives the same module, so a deploy script can diff it.

  thingsdb-cli codegen -s //shop -o shop_models.py
  thingsdb-cli codegen -s //shop --dataclasses > shop_models.py
  thingsdb-cli codegen -s //shop -o models.py -n db1:9200 -W"""

_EPILOG = """\
Exit status:
  0  written (or unchanged)
  1  a request failed, or the connection was lost
  2  bad usage: no collection, a collection that does not exist
  3  no connection: no node answers
  4  the node refused the login
  130 Ctrl-C"""


def _parser(prog: str) -> CliParser:
    parser = make_parser(prog, _DESCRIPTION, _EPILOG)
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="the module to write (default: standard output); left as it is "
        "when nothing changed",
    )
    parser.add_argument(
        "--dataclasses",
        action="store_true",
        help="dataclasses instead of msgspec Structs (they get no id field: a "
        "dataclass cannot rename the key '#')",
    )
    parser.add_argument(
        "--id-field",
        default="id",
        metavar="NAME",
        help="the field that takes a thing's id, '#' (default: id)",
    )
    add_connection_flags(
        parser,
        scope_help="the collection: //NAME, @:NAME or NAME (or THINGSDB_SCOPE)",
    )
    return parser


def _collection(args: argparse.Namespace) -> str:
    scope, _ = pick_scope(args)
    if not scope:
        raise CliError(BAD_USAGE, "give the collection with -s //NAME")
    try:
        name = collection_name(scope) if scope[:1] in "@/" else scope
    except ValueError:
        name = ""
    if not is_name(name):
        raise CliError(BAD_USAGE, f"{scope} is not a collection scope")
    args.scope = f"//{name}"
    return name


async def _read(settings: ConnectionSettings, collection: str) -> Schema:
    async with connected_client(settings) as client:
        try:
            return await read_schema(client.idempotent.query, collection)
        except LookupError as exc:  # no such collection
            raise CliError(BAD_USAGE, f"//{collection}: {exc}") from None


def _write(text: str, output: str | None) -> None:
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    path = Path(output)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        print(f"{path}: unchanged", file=sys.stderr)
        return
    # written whole or not at all: a reader never sees half a module
    fd, tmp = tempfile.mkstemp(dir=path.parent or ".", prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    print(f"wrote {path}", file=sys.stderr)


def _body(argv: Sequence[str], prog: str) -> int:
    try:
        args = _parser(prog).parse_args(list(argv))
    except SystemExit as exc:  # --help (printed)
        return exc.code if isinstance(exc.code, int) else OK
    if not is_name(args.id_field):
        raise CliError(BAD_USAGE, f"--id-field: {args.id_field!r} is not a name")
    collection = _collection(args)
    settings = settings_from_args(args)
    if settings.http:
        raise CliError(BAD_USAGE, "codegen reads the schema over a socket node")
    with with_local_node(args, settings) as settings:
        if settings.local is not None:
            print(f"{prog}: {settings.local}", file=sys.stderr, flush=True)
        schema = asyncio.run(_read(settings, collection))
        where = settings.where
    options = Options(dataclasses=args.dataclasses, id_field=args.id_field)
    _write(write_module(schema, where, options), args.output)
    return OK


def main(argv: Sequence[str], *, prog: str = PROG) -> int:
    """Run ``codegen`` with ``argv`` (the words after ``codegen``); returns
    the exit status."""
    return run_command(lambda: _body(argv, prog), prog)
