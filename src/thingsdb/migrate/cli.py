"""``thingsdb-cli migrate status|up|new NAME|baseline``.

A subcommand of ``thingsdb-cli`` (registered in
:data:`thingsdb.cli.SUBCOMMANDS`), also run as ``python -m
thingsdb.migrate``. Its connection flags, ``--local`` and the
``THINGSDB_*`` variables are those of ``thingsdb-cli`` (from
:mod:`thingsdb.cli`), and so are its exit statuses 0 to 4; 5 and 6 are its
own.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from ..cli import (
    BAD_USAGE,
    FAILED,
    OK,
    CliError,
    CliParser,
    ConnectionSettings,
    add_connection_flags,
    connected_client,
    make_parser,
    run_command,
    settings_from_args,
    with_local_node,
)
from ..cli.connect import pick_scope, reason
from ..exceptions import (
    ConnectionLostError,
    NotConnectedError,
    ProtocolError,
    ThingsDBError,
)
from .api import Migrator, collection_of
from .engine import Progress
from .errors import (
    CollectionError,
    FolderError,
    MigrateError,
)
from .failures import DriftError, MigrationFailed
from .folder import load_folder, new_migration
from .status import Status, drift_message

PROG = "thingsdb-cli migrate"

#: ``status``: migrations are pending (after thingsdb-cli's 0 to 4)
PENDING = 5
#: the folder and the collection disagree: an applied file was edited or
#: is gone (``status`` reports it; ``up`` applies nothing unless
#: ``--allow-edited``)
DRIFT = 6

_DESCRIPTION = """\
Apply NNNN_description.ti files of ThingsDB code to a collection, in
number order, each once, each in one query with its record entry.

  status     what is applied, what is pending, what was edited since
  up         apply the pending migrations (--to N: up to number N)
  new NAME   create the next file, NNNN_NAME.ti
  baseline   write the collection's export() as 0001_baseline.ti of a new
             folder and record it as applied

  thingsdb-cli migrate status -s //shop --dir migrations
  thingsdb-cli migrate up -s //shop --dir migrations -n db1:9200 -W
  thingsdb-cli migrate up -s stuff --local     (try them on a throwaway node)

The connection flags (-n, -p, -u, -w, -W, -t, TLS, --local, --data) and the
THINGSDB_* variables are those of thingsdb-cli; they go after the command
word (see thingsdb-cli migrate up --help) or before migrate
(thingsdb-cli -n db1 migrate up ...)."""

_EPILOG = """\
Exit status (those of thingsdb-cli, then two of its own):
  0  done (status: nothing pending, nothing edited)
  1  a migration failed (its file, line and the node's error on stderr),
     another request failed, or the connection was lost on the way
  2  nothing ran: bad usage, a folder out of order, a scope that is not a
     collection or a collection that does not exist; --local: no binary
  3  no connection, nothing ran: no node answers (--local: it did not start)
  4  the node refused the login
  5  status: migrations are pending
  6  the folder and the collection disagree: an applied file was edited
     or is gone (status shows it; up applies nothing unless --allow-edited)
  130 Ctrl-C"""

_SCOPE_HELP = "the collection: //NAME, @:NAME or NAME (or THINGSDB_SCOPE)"
_TIMEOUT_HELP = (
    "seconds for connecting (default: 10); migrations themselves have no time limit"
)


def _folder_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dir",
        default="migrations",
        help="the migrations folder (default: ./migrations)",
    )


def _parser(prog: str) -> CliParser:
    parser = make_parser(prog, _DESCRIPTION, _EPILOG)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, what: str, *, connects: bool = True) -> CliParser:
        sub: CliParser = commands.add_parser(
            name,
            help=what,
            description=what[:1].upper() + what[1:] + ".",
            epilog=_EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _folder_flag(sub)
        if connects:
            add_connection_flags(
                sub, scope_help=_SCOPE_HELP, timeout_help=_TIMEOUT_HELP
            )
        return sub

    command("status", "compare the folder with the collection's record")
    up = command("up", "apply the pending migrations")
    up.add_argument("--to", type=int, metavar="N", help="stop after migration N")
    up.add_argument(
        "--allow-edited",
        action="store_true",
        help="go on although applied files were edited or are gone",
    )
    new = command("new", "create the next migration file", connects=False)
    new.add_argument("name", help="what it does: letters, digits, _ or -")
    baseline = command("baseline", "start a folder from the collection's export()")
    baseline.add_argument(
        "--name",
        default="baseline",
        help="description in the file name (default: baseline)",
    )
    return parser


# -- output ----------------------------------------------------------------------


def _print_status(status: Status, out: TextIO) -> None:
    # the headline says "up to date" only when nothing is off: drift comes
    # first, as it is what stops `up`
    counts = [
        f"{len(found)} {state}"
        for state, found in (
            ("edited", status.edited),
            ("missing", status.missing),
            ("pending", status.pending),
        )
        if found
    ]
    head = f"//{status.collection}: at {status.version:04d}, "
    head += ", ".join(counts) if counts else "up to date"
    print(head, file=out)
    width = max((len(m.name) for m in status.migrations), default=0)
    for m in status.migrations:
        if m.state == "pending":
            what = "pending"
        else:
            assert m.applied is not None
            when = f"{m.applied.applied_at or '?'} by {m.applied.by or '?'}"
            what = {
                "applied": f"applied  {when}",
                "edited": f"EDITED   since it was applied {when}",
                "missing": f"MISSING  from the folder; applied {when}",
            }[m.state]
            if m.renamed:
                what += f" (as {m.applied.name})"
        print(f"  {m.name:<{width}}  {what}", file=out)


def _print_progress(progress: Progress) -> None:
    note = f" ({progress.note})" if progress.note else ""
    if progress.event == "applied":
        print(f"applied {progress.migration.name}{note}", flush=True)
    elif progress.event == "skipped":
        print(f"skipped {progress.migration.name}{note}", flush=True)


def _failure_lines(exc: MigrationFailed) -> list[str]:
    lines = [str(exc)]
    name = exc.migration.name
    if exc.ran:
        failing = f"`{exc.statement}`" if exc.statement else "the failing statement"
        lines.append(
            f"in {failing}; {name} is not recorded as applied, and ThingsDB "
            "keeps what ran before the error (it has no rollback)"
        )
    else:
        lines.append(f"nothing of {name} ran")
    return lines


# -- running -----------------------------------------------------------------------


async def _run(
    args: argparse.Namespace, settings: ConnectionSettings, collection: str
) -> int:
    if settings.local is not None:
        print(f"{args.prog}: {settings.local}", file=sys.stderr, flush=True)
    # reconnecting: a connection lost while `up` waits for an answer is
    # resolved by reading the record on the next one
    async with connected_client(settings, auto_reconnect=True) as client:
        migrator = Migrator(client, args.dir, collection)
        if args.command == "status":
            status = await migrator.status()
            _print_status(status, sys.stdout)
            if status.drift:
                raise CliError(DRIFT, drift_message(status))
            return PENDING if status.pending else OK
        if args.command == "up":
            result = await migrator.up(
                args.to, allow_edited=args.allow_edited, on_progress=_print_progress
            )
            done = len(result.applied)
            skipped = len(result.skipped)
            print(
                f"//{result.collection}: at {result.version:04d}; applied {done}"
                + (f", {skipped} by another deployer" if skipped else "")
            )
            return OK
        migration = await migrator.baseline(args.name)
        print(
            f"wrote {migration.path} (export() of //{collection}) and recorded "
            "it as applied"
        )
        return OK


def _collection(args: argparse.Namespace) -> str:
    """The collection of -s (or THINGSDB_SCOPE); ``args.scope`` becomes its
    ``//NAME`` form, which the connection flags' check takes."""
    scope, _ = pick_scope(args)
    if not scope:
        raise CliError(
            BAD_USAGE, "give the collection with -s //NAME (or THINGSDB_SCOPE)"
        )
    collection = collection_of(scope)
    args.scope = f"//{collection}"
    return collection


def _command(args: argparse.Namespace, prog: str) -> int:
    if args.command == "new":
        print(new_migration(Path(args.dir), args.name))
        return OK
    # the folder, the scope and the flags are checked before connecting
    # (and before a --local node starts), so their errors need no node
    folder = Path(args.dir)
    if args.command != "baseline":
        load_folder(folder)
    elif folder.exists() and load_folder(folder):
        raise FolderError(
            f"{folder} holds migrations already; baseline starts a new folder"
        )
    collection = _collection(args)
    settings = settings_from_args(args)
    args.prog = prog
    with with_local_node(args, settings) as settings:
        return asyncio.run(_run(args, settings, collection))


def _body(argv: Sequence[str], prog: str) -> int:
    try:
        args = _parser(prog).parse_args(list(argv))
    except SystemExit as exc:  # --help (printed)
        return exc.code if isinstance(exc.code, int) else OK
    try:
        return _command(args, prog)
    except DriftError as exc:
        _print_status(exc.status, sys.stdout)
        raise CliError(DRIFT, str(exc)) from None
    except MigrationFailed as exc:
        for line in _failure_lines(exc):
            print(f"{prog}: {line}", file=sys.stderr)
        return FAILED
    except (FolderError, CollectionError) as exc:
        raise CliError(BAD_USAGE, str(exc)) from None
    except MigrateError as exc:  # interrupted, a damaged record, a conflict
        raise CliError(FAILED, str(exc)) from None
    except ThingsDBError as exc:
        raise CliError(
            FAILED, f"{type(exc).__name__} ({exc.error_code}): {exc}"
        ) from None
    except (ConnectionLostError, NotConnectedError, ProtocolError, TimeoutError) as exc:
        raise CliError(
            FAILED,
            f"lost the connection ({reason(exc)}); `status` tells what was applied",
        ) from None
    except ValueError as exc:  # --to out of range
        raise CliError(BAD_USAGE, str(exc)) from None


def main(argv: Sequence[str], *, prog: str = PROG) -> int:
    """Run ``migrate`` with ``argv`` (the words after ``migrate``); returns
    the exit status. ``prog`` names the command in its help and messages."""
    return run_command(lambda: _body(argv, prog), prog)
