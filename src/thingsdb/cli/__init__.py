"""``thingsdb-cli``: the ThingsDB shell, and one-shot use for scripts.

Without code and on a terminal it starts the interactive shell (the
``shell`` extra); with code (an argument, ``--file`` or ``-`` for stdin) or
``--run`` it prints the result as JSON; ``--export`` and ``--import`` move a
collection to and from a file. The node and credentials come from the flags,
else from ``THINGSDB_*`` environment variables, else the defaults of a fresh
node (localhost:9200, admin/pass).

Every failure ends in one line on stderr and an exit status that tells a
script what happened (:data:`OK` ... :data:`NO_LOGIN`); never a traceback.

Building another command on this one (a subcommand such as ``migrate``):

* :data:`SUBCOMMANDS` maps a first argument to the function that gets the
  arguments after it: ``thingsdb-cli NAME ARGS...`` calls it before any flag
  is parsed, and its return value is the exit status.
* :mod:`thingsdb.cli.connect` (its names are here too) has the flags, their
  checked settings and the connected client: :func:`make_parser`,
  :func:`add_connection_flags`, :func:`settings_from_args`,
  :func:`connected_client`, :class:`CliError` and the statuses.
* :func:`connection_settings` (:mod:`thingsdb.cli.local`) is
  :func:`settings_from_args` for a ``with`` block, which also runs
  ``--local``: a node started for the block and stopped after it;
  :func:`with_local_node` is its second half, for a command that checks
  more between the two.
* :func:`run_command` runs a command's body, turning :class:`CliError`,
  ThingsDB's errors, Ctrl-C and a closed stdout into the line and status.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence

import thingsdb._installation  # noqa: F401 - first: python-thingsdb beside it is an ImportError

from .. import __version__
from ..exceptions import ThingsDBError
from .connect import (
    BAD_USAGE,
    BROKEN_PIPE,
    FAILED,
    INTERRUPTED,
    NO_CONNECTION,
    NO_LOGIN,
    OK,
    CliError,
    CliParser,
    ConnectionSettings,
    add_connection_flags,
    connected_client,
    make_parser,
    pick_scope,
    request_errors,
    settings_from_args,
    split_node,
)
from .http import http_client
from .launch import _SHELL_MISSING, _shell, _shell_installed
from .local import connection_settings, local_version, with_local_node
from .oneshot import (
    NOTHING,
    one_shot,
    plan,
    print_result,
    read_text,
)
from .parser import (
    SUBCOMMANDS,
    _check_usage,
    _flags_first,
    _misplaced_subcommand,
    _parser,
    _subcommand,
)

__all__ = [
    "BAD_USAGE",
    "BROKEN_PIPE",
    "FAILED",
    "INTERRUPTED",
    "NO_CONNECTION",
    "NO_LOGIN",
    "OK",
    "PACKAGE",
    "SUBCOMMANDS",
    "CliError",
    "CliParser",
    "ConnectionSettings",
    "add_connection_flags",
    "connected_client",
    "connection_settings",
    "main",
    "make_parser",
    "pick_scope",
    "request_errors",
    "run_command",
    "settings_from_args",
    "split_node",
    "with_local_node",
]

PACKAGE = "thingsdb-connector"


# -- the command ---------------------------------------------------------------------


def _stdin_is_terminal() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def _stdout_is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def _wants_shell(args: argparse.Namespace) -> bool:
    """The shell: with --shell, or with nothing to run on a terminal. With
    input that is no terminal, --shell reads it as '-' does."""
    if args.shell:
        if not _stdin_is_terminal():
            args.code = "-"
            return False
        if not _stdout_is_terminal():
            raise CliError(
                BAD_USAGE,
                "--shell needs a terminal, and the output is not one; give "
                "code to run instead",
            )
        return True
    if args.code is not None or args.file or args.run:
        return False
    if args.export or args.import_:
        return False
    return _stdin_is_terminal() and _stdout_is_terminal()


class _StderrLog(logging.Handler):
    """The client's log, one line each on stderr (WARNING and up; INFO and
    up with --verbose), while a one-shot command runs."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(f"thingsdb-cli: {record.getMessage()}\n")
        except Exception:  # noqa: BLE001 - logging must not end the command
            self.handleError(record)


@contextlib.contextmanager
def _client_log(verbose: bool) -> Iterator[None]:
    logger = logging.getLogger("thingsdb")
    handler = _StderrLog(logging.INFO if verbose else logging.WARNING)
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    if verbose:
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


async def _node_version(settings: ConnectionSettings) -> str:
    if settings.http:
        async with http_client(settings) as http:
            version = await http.query(
                "node_info().load().version", scope="@node", timeout=settings.timeout
            )
        return f"ThingsDB {version} at {settings.where}"
    async with connected_client(settings) as client:
        with request_errors(settings.where, settings.timeout):
            version = await client.query(
                "node_info().load().version", scope="@node", timeout=settings.timeout
            )
    return f"ThingsDB {version} at {settings.where}"


def _version(args: argparse.Namespace) -> int:
    print(f"thingsdb-cli ({PACKAGE} {__version__})")
    sys.stdout.flush()
    try:
        settings = settings_from_args(args)
        if args.local:  # the binary's version: no need to start a node
            line = local_version(args)
        else:
            line = asyncio.run(_node_version(settings))
    except CliError as exc:
        line = f"no node: {exc}"
    except ThingsDBError as exc:
        line = f"the node did not say its version: {type(exc).__name__}: {exc}"
    print(line)
    return OK


def run_command(body: Callable[[], int], prog: str = "thingsdb-cli") -> int:
    """Run ``body`` and return its exit status; a :class:`CliError`, an
    error of ThingsDB, Ctrl-C or a closed stdout become one line on stderr
    (``prog`` names the command in it) and their status, and anything else
    unexpected one line with FAILED: never a traceback."""
    try:
        return body()
    except CliError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return exc.status
    except ThingsDBError as exc:
        print(f"{type(exc).__name__} ({exc.error_code}): {exc}", file=sys.stderr)
        return FAILED
    except BrokenPipeError:
        # the reader went away (`thingsdb-cli ... | head`): no traceback
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return BROKEN_PIPE
    except (KeyboardInterrupt, EOFError):
        return INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback
        print(
            f"{prog}: unexpected {type(exc).__name__}: {exc}",
            file=sys.stderr,
        )
        return FAILED


def _main(argv: list[str]) -> int:
    try:
        args = _parser().parse_args(argv)
    except CliError as exc:
        hint = _misplaced_subcommand(argv)
        if hint is None:
            raise
        raise CliError(exc.status, f"{exc}; {hint}") from None
    if args.version:
        return _version(args)
    scope, _ = pick_scope(args)
    _check_usage(args, scope or None)
    shell = _wants_shell(args)
    if shell and not _shell_installed():
        if args.shell:
            raise CliError(BAD_USAGE, _SHELL_MISSING)
        # a terminal, but no shell: the one-shot job still tells whether a
        # node answers
        print(
            f"thingsdb-cli: {_SHELL_MISSING}; showing node_info() instead",
            file=sys.stderr,
        )
        shell = False
    code: str | None = None
    if not shell:
        if args.file:
            code = read_text(args.file, "--file")
        elif args.code == "-":
            code = read_text("-", "")
        else:
            code = args.code
    settings = settings_from_args(args)
    if shell and settings.http:
        raise CliError(
            BAD_USAGE,
            f"{settings.where}: the shell needs a socket connection (host, "
            "host:port, ws://...); over an http:// or https:// node give code "
            "to run (CODE, -f FILE, --run)",
        )
    if shell:
        with with_local_node(args, settings) as settings:
            return asyncio.run(_shell(args, settings))
    job = plan(args, settings.scope, code)
    with _client_log(args.verbose), with_local_node(args, settings) as settings:
        result = asyncio.run(one_shot(args, settings, job))
    if result is not NOTHING:
        print_result(result, args.format or "json")
    return OK


def main(argv: Sequence[str] | None = None) -> int:
    """``thingsdb-cli``; returns the exit status."""
    args = _flags_first(list(sys.argv[1:] if argv is None else argv))
    subcommand = _subcommand(args)
    if subcommand is not None:
        return run_command(subcommand)
    return run_command(lambda: _main(args))


if __name__ == "__main__":
    sys.exit(main())
