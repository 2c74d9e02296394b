"""The parser of thingsdb-cli: its flags, usage checks, and the subcommands
(``thingsdb-cli migrate ...``) looked up before any flag is parsed."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable, Sequence

from ..shell.format import FORMATS
from .connect import BAD_USAGE, CliError, CliParser, add_connection_flags, make_parser
from .oneshot import check_readable, check_writable

#: ``thingsdb-cli NAME ARGS...``: NAME -> "module:function"; the function
#: is imported when used, gets ARGS (a list of str) and returns the exit
#: status. Looked up before the flags are parsed, so that a subcommand has
#: flags of its own (see add_connection_flags, connection_settings).
#: Connection flags may also come before NAME (``thingsdb-cli -n db1
#: migrate up``, as git, docker and kubectl take global flags): they are
#: handed on after ARGS' first word when that is no flag (the subcommand's
#: own command word, as ``up``), else first.
SUBCOMMANDS: dict[str, str] = {"migrate": "thingsdb.migrate.cli:main"}


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
