"""``thingsdb-cli migrate status|up|new NAME|baseline``.

Runs as ``python -m thingsdb.migrate ...`` until the main command hands its
``migrate`` word to :func:`main`. The connection flags and ``THINGSDB_*``
variables are those of ``thingsdb-cli``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import ssl
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from ..client import Client
from ..exceptions import (
    ConnectionLostError,
    NotConnectedError,
    ProtocolError,
    ThingsDBError,
)
from ..transport import parse_address
from .api import Migrator, collection_of
from .engine import Progress
from .errors import (
    CollectionError,
    DriftError,
    FolderError,
    MigrateError,
    MigrationFailed,
    MigrationInterrupted,
)
from .folder import load_folder, new_migration
from .status import Status, drift_message

PROG = "thingsdb-cli migrate"

#: exit statuses (see the README): done; a migration or request failed;
#: nothing ran (bad usage, folder or collection, no node); migrations are
#: pending (status); the folder and the collection disagree (status, up)
OK, FAILED, NOT_RUN, PENDING, DRIFT = 0, 1, 2, 3, 4
INTERRUPTED = 130


class _Exit(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(f"THINGSDB_{name}")
    return value if value else default


def _env_flag(name: str, default: bool) -> bool:
    value = _env(name)
    if value is None:
        return default
    return value.strip().lower() not in ("0", "false", "no", "off")


def _connection_flags() -> argparse.ArgumentParser:
    flags = argparse.ArgumentParser(add_help=False)
    conn = flags.add_argument_group("connection (as thingsdb-cli)")
    conn.add_argument("-n", "--node", default=_env("NODE", "localhost"))
    conn.add_argument("-p", "--port", type=int, default=_env("PORT", "9200"))
    conn.add_argument("-u", "--user", default=_env("USER", "admin"))
    conn.add_argument("-w", "--password", default=_env("PASSWORD", "pass"))
    conn.add_argument("-t", "--token", default=_env("TOKEN"))
    conn.add_argument("--ssl", action="store_true", default=_env_flag("SSL", False))
    conn.add_argument("--cafile", default=_env("CAFILE"))
    conn.add_argument(
        "--no-verify",
        dest="verify",
        action="store_false",
        default=_env_flag("SSL_VERIFY", True),
    )
    conn.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        help="seconds for connecting (migrations themselves have no limit)",
    )
    return flags


def _folder_flags(scope: bool) -> argparse.ArgumentParser:
    flags = argparse.ArgumentParser(add_help=False)
    flags.add_argument(
        "--dir",
        default="migrations",
        help="the migrations folder (default: ./migrations)",
    )
    if scope:
        flags.add_argument(
            "-s",
            "--scope",
            default=_env("SCOPE"),
            help="the collection: //NAME, @:NAME or NAME",
        )
    return flags


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""\
Apply NNNN_description.ti files of ThingsDB code to a collection, in
number order, each once, each in one query with its record entry.

  status     what is applied, what is pending, what was edited since
  up         apply the pending migrations (--to N: up to number N)
  new NAME   create the next file, NNNN_NAME.ti
  baseline   write the collection's export() as 0001_baseline.ti of a new
             folder and record it as applied""",
        epilog="""\
Exit status: 0 done (status: nothing pending); 1 a migration failed (file,
line and the node's error on stderr), or another request failed, or the
connection was lost; 2 nothing ran: bad usage, a folder out of order, a
scope that is no collection, no node; 3 status: migrations are pending;
4 the folder and the collection disagree (an applied file was edited or
is gone): up applies nothing unless --allow-edited.""",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    connection = _connection_flags()
    commands.add_parser(
        "status",
        parents=[connection, _folder_flags(True)],
        help="compare the folder with the collection's record",
    )
    up = commands.add_parser(
        "up",
        parents=[connection, _folder_flags(True)],
        help="apply the pending migrations",
    )
    up.add_argument("--to", type=int, metavar="N", help="stop after migration N")
    up.add_argument(
        "--allow-edited",
        action="store_true",
        help="go on although applied files were edited or are gone",
    )
    new = commands.add_parser(
        "new", parents=[_folder_flags(False)], help="create the next migration file"
    )
    new.add_argument("name", help="what it does: letters, digits, _ or -")
    baseline = commands.add_parser(
        "baseline",
        parents=[connection, _folder_flags(True)],
        help="start a folder from the collection's export()",
    )
    baseline.add_argument(
        "--name",
        default="baseline",
        help="description in the file name (default: baseline)",
    )
    return parser


def _ssl_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    if not (args.ssl or args.cafile or not args.verify):
        return None
    context = ssl.create_default_context(cafile=args.cafile)
    if not args.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


async def _connect(client: Client, args: argparse.Namespace, where: str) -> None:
    try:
        await client.connect(args.node, args.port, timeout=args.timeout)
        auth = (args.token,) if args.token else (args.user, args.password)
        await client.authenticate(*auth, timeout=args.timeout)
    except OSError as exc:
        raise _Exit(
            NOT_RUN,
            f"no ThingsDB node answers at {where} ({_reason(exc)}); check "
            "--node/--port (or THINGSDB_NODE/THINGSDB_PORT)",
        ) from None


def _print_status(status: Status, out: TextIO) -> None:
    pending = len(status.pending)
    head = f"//{status.collection}: at {status.version:04d}"
    head += f", {pending} pending" if pending else ", up to date"
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


async def _run(args: argparse.Namespace, where: str) -> int:
    collection = collection_of(args.scope)
    async with Client(ssl=_ssl_context(args), connect_timeout=args.timeout) as client:
        await _connect(client, args, where)
        migrator = Migrator(client, args.dir, collection)
        if args.command == "status":
            status = await migrator.status()
            _print_status(status, sys.stdout)
            if status.drift:
                _error(args.prog, drift_message(status))
                return DRIFT
            return PENDING if status.pending else OK
        if args.command == "up":
            result = await migrator.up(
                args.to, allow_edited=args.allow_edited, on_progress=_print_progress
            )
            done = len(result.applied)
            print(
                f"//{result.collection}: at {result.version:04d}; applied {done}"
                + (
                    f", {len(result.skipped)} by another deployer"
                    if result.skipped
                    else ""
                )
            )
            return OK
        migration = await migrator.baseline(args.name)
        print(
            f"wrote {migration.path} (export() of //{collection}) and recorded "
            "it as applied"
        )
        return OK


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


def main(argv: Sequence[str], *, prog: str = PROG) -> int:
    """Run ``migrate`` with ``argv`` (the words after ``migrate``); returns
    the exit status. ``prog`` names the command in its help and messages."""
    try:
        args = _parser(prog).parse_args(list(argv))
    except SystemExit as exc:  # --help, or a usage error (printed)
        return exc.code if isinstance(exc.code, int) else NOT_RUN
    args.prog = prog
    try:
        if args.command == "new":
            path = new_migration(Path(args.dir), args.name)
            print(path)
            return OK
        # the folder and the scope are checked before connecting, so their
        # errors need no node
        folder = Path(args.dir)
        if args.command != "baseline":
            load_folder(folder)
        elif folder.exists() and load_folder(folder):
            raise FolderError(
                f"{folder} holds migrations already; baseline starts a new folder"
            )
        if not args.scope:
            raise _Exit(
                NOT_RUN, "give the collection with -s //NAME (or THINGSDB_SCOPE)"
            )
        try:
            where = str(parse_address(args.node, args.port))
        except (TypeError, ValueError) as exc:
            raise _Exit(NOT_RUN, str(exc)) from None
        return asyncio.run(_run(args, where))
    except _Exit as exc:
        _error(prog, str(exc))
        return exc.status
    except DriftError as exc:
        _print_status(exc.status, sys.stdout)
        _error(prog, str(exc))
        return DRIFT
    except MigrationFailed as exc:
        for line in _failure_lines(exc):
            _error(prog, line)
        return FAILED
    except MigrationInterrupted as exc:
        _error(prog, str(exc))
        return FAILED
    except (FolderError, CollectionError) as exc:
        _error(prog, str(exc))
        return NOT_RUN
    except MigrateError as exc:
        _error(prog, str(exc))
        return FAILED
    except ThingsDBError as exc:
        _error(prog, f"{type(exc).__name__} ({exc.error_code}): {exc}")
        return FAILED
    except (ConnectionLostError, NotConnectedError, ProtocolError, TimeoutError) as exc:
        _error(prog, f"lost the connection ({_reason(exc)})")
        return FAILED
    except ValueError as exc:  # --to out of range
        _error(prog, str(exc))
        return NOT_RUN
    except KeyboardInterrupt:
        return INTERRUPTED


def _error(prog: str, line: str) -> None:
    print(f"{prog}: {line}", file=sys.stderr)
