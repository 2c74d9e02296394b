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
import importlib
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence

import thingsdb._installation  # noqa: F401 - first: python-thingsdb beside it is an ImportError

from .. import __version__
from ..exceptions import ThingsDBError
from ..shell.format import FORMATS
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
    reason,
    request_errors,
    settings_from_args,
    split_node,
)
from .http import http_client
from .local import connection_settings, local_version, with_local_node
from .oneshot import (
    NOTHING,
    check_readable,
    check_writable,
    one_shot,
    plan,
    print_result,
    read_text,
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

#: ``thingsdb-cli NAME ARGS...``: NAME -> "module:function"; the function
#: is imported when used, gets ARGS (a list of str) and returns the exit
#: status. Looked up before the flags are parsed, so that a subcommand has
#: flags of its own (see add_connection_flags, connection_settings).
#: Connection flags may also come before NAME (``thingsdb-cli -n db1
#: migrate up``, as git, docker and kubectl take global flags): they are
#: handed on after ARGS' first word when that is no flag (the subcommand's
#: own command word, as ``up``), else first.
SUBCOMMANDS: dict[str, str] = {
    "migrate": "thingsdb.migrate.cli:main",
    "codegen": "thingsdb.codegen.cli:main",
}

_SHELL_MISSING = (
    "the shell needs prompt_toolkit and Pygments: pip install prompt_toolkit "
    "Pygments (or install this project with its 'shell' extra)"
)


# -- the shell -------------------------------------------------------------------------


def _shell_installed() -> bool:
    try:
        import prompt_toolkit  # noqa: F401
        import pygments  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        return False
    return True


async def _shell(args: argparse.Namespace, settings: ConnectionSettings) -> int:
    from ..shell.app import Shell, history_path, open_history

    path = history_path()
    try:
        history = open_history(path)
    except OSError as exc:
        print(f"thingsdb-cli: no history ({reason(exc)}: {path})", file=sys.stderr)
        history = None
    scope = settings.scope or "@thingsdb"
    if settings.local is not None:
        print(f"thingsdb-cli: {settings.local}", file=sys.stderr, flush=True)
    async with connected_client(settings, auto_reconnect=True) as client:
        # the starting scope is checked as a switch in the shell is
        with request_errors(settings.where, settings.timeout):
            try:
                await client.query("nil", scope=scope, timeout=settings.timeout)
            except ThingsDBError as exc:
                raise CliError(
                    FAILED,
                    f"cannot use the scope {scope}: {type(exc).__name__} "
                    f"({exc.error_code}): {exc}",
                ) from None
        shell = Shell(
            client,
            scope,
            where=settings.where,
            history=history,
            history_file=path if history is not None else None,
            output_format=args.format or "pretty",
            pager=False if args.no_pager else None,
            timing=args.timing,
            user=settings.user,
            verbose=args.verbose,
        )
        return await shell.run()


# -- the command ---------------------------------------------------------------------


_DESCRIPTION = """\
Talk to a ThingsDB node.

  thingsdb-cli                      on a terminal: the interactive shell
  thingsdb-cli '1 + 1'              run code, print the result as JSON
  thingsdb-cli -s //stuff -f q.ti   run the code in a file ('-' for stdin)
  echo '.keys()' | thingsdb-cli -s //stuff -
  thingsdb-cli -s //stuff --run add_one '[41]'
                                    run a procedure; its arguments as JSON
                                    (a list by position, an object by name)
  thingsdb-cli -s //stuff --export stuff.bin
  thingsdb-cli -s //other --import stuff.bin
  thingsdb-cli -n node2:9201 --version
  thingsdb-cli --local              the shell on a throwaway node of its own
  thingsdb-cli --local --data DIR   ... on a node that keeps its data in DIR
  thingsdb-cli migrate up -s //stuff --dir migrations
                                    apply migrations (see: migrate --help)

Without code and without a terminal it prints node_info() as JSON.
Bytes come out as {"$bytes": "<base64>"}.

Exit status:
  0  done
  1  the request failed: ThingsDB's error (on stderr as "ErrorClass (code):
     message"), no answer within --timeout, or the connection broke while
     waiting for the answer (the request may or may not have run)
  2  bad usage, nothing was sent: flags, files, JSON arguments, values
     ThingsDB cannot take, a missing extra; --local: no node binary
  3  no connection, nothing was sent: no node answers, TLS failed;
     --local: the node did not start (the line says where its log is)
  4  the node refused the login: check --user/--password or --token
  5  migrate status: migrations are pending
  6  migrate: an applied migration file was edited or is gone
  130 Ctrl-C; 141 stdout closed early; 143 SIGTERM, 129 SIGHUP (--local:
     after stopping the node)"""

_EPILOG = """\
Environment: THINGSDB_NODE, THINGSDB_PORT, THINGSDB_USER, THINGSDB_PASSWORD,
THINGSDB_TOKEN, THINGSDB_SCOPE stand in for the flags of the same names;
THINGSDB_SSL=1 for --ssl, THINGSDB_SSL_VERIFY=0 for --no-verify,
THINGSDB_CAFILE for --cafile (with --local only THINGSDB_SCOPE counts,
and THINGSDB_BIN names the node binary). A port in --node (host:9201)
must agree with --port. A WebSocket node is given as a URI: --node
ws://host:9270 (or wss:// for TLS); it needs the websockets extra. A
node's HTTP API is given as a URL: --node http://host:9210 (or https://);
it runs one-shot code and --run (no shell, no migrate) and needs the http
extra.

In the shell, type help or \\? for its keys and commands: \\format,
\\pager, \\timing, \\q. Results longer than the screen go through $PAGER
(else less -FRS). The shell keeps its history in
$XDG_CONFIG_HOME/thingsdb/history (else ~/.config/thingsdb/history)."""


def _parser() -> CliParser:
    parser = make_parser("thingsdb-cli", _DESCRIPTION, _EPILOG)
    parser.add_argument(
        "code",
        nargs="?",
        help="ThingsDB code ('-' reads stdin); with --run: the arguments as JSON",
    )
    add_connection_flags(parser)
    what = parser.add_argument_group("what to do")
    what.add_argument(
        "--shell",
        action="store_true",
        help="start the shell (with input that is no terminal: run it as '-')",
    )
    what.add_argument("-f", "--file", help="run the code in FILE ('-' reads stdin)")
    what.add_argument(
        "-r",
        "--run",
        metavar="PROCEDURE",
        help="run a procedure; CODE, if given, holds its arguments as JSON",
    )
    what.add_argument(
        "--export",
        metavar="FILE",
        help="write the collection of --scope to FILE ('-' for stdout)",
    )
    what.add_argument(
        "--import",
        dest="import_",
        metavar="FILE",
        help="load FILE (made by --export; '-' for stdin) into the empty "
        "collection of --scope",
    )
    what.add_argument(
        "--import-tasks",
        action="store_true",
        help="with --import: also import the tasks",
    )
    out = parser.add_argument_group("output")
    out.add_argument(
        "--format",
        choices=sorted(FORMATS),
        help="results as JSON (one-shot default) or pretty: ThingsDB's "
        "notation, indented, coloured on a terminal (the shell's default)",
    )
    out.add_argument(
        "--no-pager",
        action="store_true",
        help="the shell prints long results straight, without $PAGER",
    )
    out.add_argument(
        "--timing",
        action="store_true",
        help="the shell shows how long each query took (also: \\timing)",
    )
    out.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also show the client's own log (connects, reconnect attempts)",
    )
    out.add_argument(
        "--version",
        action="store_true",
        help="show this program's version, and the node's when it answers",
    )
    return parser


def _check_usage(args: argparse.Namespace, scope: str | None) -> None:
    jobs = [
        n
        for n, on in (
            ("--shell", args.shell),
            ("--run", args.run),
            ("--export", args.export),
            ("--import", args.import_),
            ("--file", args.file),
        )
        if on
    ]
    if len(jobs) > 1:
        raise CliError(BAD_USAGE, f"use only one of {', '.join(jobs)}")
    if args.code is not None and (
        args.file or args.export or args.import_ or args.shell
    ):
        raise CliError(BAD_USAGE, f"CODE does not go with {jobs[0]}")
    if (args.export or args.import_) and not scope:
        raise CliError(
            BAD_USAGE, "--export and --import need a collection scope: -s //NAME"
        )
    if args.import_tasks and not args.import_:
        raise CliError(BAD_USAGE, "--import-tasks goes with --import")
    if args.run is not None and not args.run:
        raise CliError(BAD_USAGE, "--run: the procedure name is empty")
    if args.file:
        check_readable(args.file, "--file")
    if args.import_:
        check_readable(args.import_, "--import")
    if args.export:
        check_writable(args.export, "--export")


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


def _connection_flags() -> dict[str, bool]:
    """Each option string of the connection flags (``--local`` and its
    group included): whether it takes a value."""
    parser = argparse.ArgumentParser(add_help=False)
    add_connection_flags(parser)
    return {
        option: action.nargs != 0
        for action in parser._actions
        for option in action.option_strings
    }


def _flags_first(argv: list[str]) -> list[str]:
    """``FLAGS... NAME ARGS...``, where FLAGS are connection flags only and
    NAME is a subcommand: the same with FLAGS handed on to it (see
    SUBCOMMANDS). Anything else comes back as it is."""
    flags = _connection_flags()
    i = 0
    while i < len(argv):
        word = argv[i]
        if word in SUBCOMMANDS:
            if i == 0:
                return argv
            before, rest = argv[:i], argv[i + 1 :]
            if rest and not rest[0].startswith("-"):
                return [word, rest[0], *before, *rest[1:]]
            return [word, *before, *rest]
        name, equals, _ = word.partition("=")
        if word in flags:
            i += 2 if flags[word] else 1  # the flag, and its value if any
        elif equals and name.startswith("--") and flags.get(name):
            i += 1  # --port=9300
        elif not word.startswith("--") and flags.get(word[:2]):
            i += 1  # -p9300
        else:
            return argv  # not a connection flag: thingsdb-cli's own parsing
    return argv


def _subcommand(argv: list[str]) -> Callable[[], int] | None:
    if not argv or argv[0] not in SUBCOMMANDS:
        return None
    module_name, _, function = SUBCOMMANDS[argv[0]].partition(":")
    rest = argv[1:]

    def body() -> int:
        module = importlib.import_module(module_name)
        status: int = getattr(module, function)(rest)
        return status

    return body


def _misplaced_subcommand(words: Sequence[str]) -> str | None:
    """A subcommand's name after flags that are not all connection flags
    (``--verbose migrate up``, which the parser refuses): how to write it
    instead."""
    for word in words:
        if word in SUBCOMMANDS:
            return (
                f"only connection flags (-n, -p, -u, -w, -W, -t, TLS, --timeout, "
                f"-s, --local...) go before {word}; its other flags go after it: "
                f"thingsdb-cli {word} ... (see thingsdb-cli {word} --help)"
            )
    return None


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
