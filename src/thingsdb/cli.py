"""``thingsdb-cli``: the ThingsDB shell, and one-shot use for scripts.

Without code and on a terminal it starts the interactive shell (the
``shell`` extra); with code (an argument, ``--file`` or ``-`` for stdin) or
``--run`` it prints the result as JSON; ``--export`` and ``--import`` move a
collection to and from a file. The node and credentials come from the flags,
else from ``THINGSDB_*`` environment variables, else the defaults of a fresh
node (localhost:9200, admin/pass).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime
import getpass
import json
import os
import ssl
import sys
import tempfile
import time
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import Any, TextIO, TypeVar

from . import __version__
from .client import Client
from .exceptions import (
    ConnectionLostError,
    NotConnectedError,
    ProtocolError,
    ThingsDBError,
)
from .transport import parse_address

_DEFAULT_CODE = "node_info();"

_SHELL_MISSING = (
    "the shell needs prompt_toolkit and Pygments: pip install prompt_toolkit "
    "Pygments (or install this project with its 'shell' extra)"
)

_T = TypeVar("_T")

_NO_NODE_HINT = (
    "start one with `thingsdb --init` (see https://docs.thingsdb.io) "
    "or point --node/--port (or THINGSDB_NODE/THINGSDB_PORT) at a running node"
)

#: exit statuses: done; the request failed; nothing ran (no node, TLS
#: failed, bad usage: flags, files, JSON arguments)
OK, FAILED, NOT_RUN = 0, 1, 2


class _Exit(Exception):
    """Ends the command with ``status`` after one line on stderr."""

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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="thingsdb-cli",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""\
Talk to a ThingsDB node.

  thingsdb-cli                      on a terminal: the interactive shell
  thingsdb-cli --shell              the shell, also without a terminal
  thingsdb-cli '1 + 1'              run code, print the result as JSON
  thingsdb-cli -s //stuff -f q.ti   run the code in a file ('-' for stdin)
  echo '.keys()' | thingsdb-cli -s //stuff -
  thingsdb-cli -s //stuff --run add_one '[41]'
                                    run a procedure; its arguments as JSON
                                    (a list by position, an object by name)
  thingsdb-cli -s //stuff --export stuff.bin
  thingsdb-cli -s //other --import stuff.bin

Without code and without a terminal it prints node_info() as JSON.
Bytes come out as {"$bytes": "<base64>"}.
Exit status: 0 done; 1 the request failed (printed on stderr as
"ErrorClass (code): message" for an error of ThingsDB, or no answer
within --timeout); 2 nothing ran: no node answers (or TLS fails), or bad
usage (flags, files, JSON arguments).""",
        epilog="""\
Environment: THINGSDB_NODE, THINGSDB_PORT, THINGSDB_USER, THINGSDB_PASSWORD,
THINGSDB_TOKEN, THINGSDB_SCOPE stand in for the flags of the same names;
THINGSDB_SSL=1 for --ssl, THINGSDB_SSL_VERIFY=0 for --no-verify,
THINGSDB_CAFILE for --cafile. A WebSocket node is given as a URI:
--node ws://host:9270 (or wss:// for TLS). In the shell, type 'help'.
It keeps its history in $XDG_CONFIG_HOME/thingsdb/history
(else ~/.config/thingsdb/history).""",
    )
    parser.add_argument(
        "code",
        nargs="?",
        help="ThingsDB code ('-' reads stdin); with --run: the arguments as JSON",
    )
    conn = parser.add_argument_group("connection")
    conn.add_argument(
        "-n",
        "--node",
        default=_env("NODE", "localhost"),
        help="host name, 'unix:/path' or ws:// / wss:// URI (default: localhost)",
    )
    conn.add_argument(
        "-p",
        "--port",
        type=int,
        default=_env("PORT", "9200"),  # a str default goes through type=int
        help="TCP port (default: 9200)",
    )
    conn.add_argument(
        "-u", "--user", default=_env("USER", "admin"), help="(default: admin)"
    )
    conn.add_argument(
        "-w", "--password", default=_env("PASSWORD", "pass"), help="(default: pass)"
    )
    conn.add_argument(
        "-W",
        "--ask-password",
        action="store_true",
        help="ask for the password (not shown while typed)",
    )
    conn.add_argument(
        "-t", "--token", default=_env("TOKEN"), help="log in with a token instead"
    )
    conn.add_argument(
        "--ssl",
        action="store_true",
        default=_env_flag("SSL", False),
        help="connect with TLS; the certificate is verified",
    )
    conn.add_argument(
        "--cafile",
        default=_env("CAFILE"),
        help="TLS, verified with the CA certificates in CAFILE",
    )
    conn.add_argument(
        "--no-verify",
        dest="verify",
        action="store_false",
        default=_env_flag("SSL_VERIFY", True),
        help="TLS without checking the certificate (test nodes only)",
    )
    conn.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        help="seconds for connecting and for each query (default: 10; "
        "the shell waits for queries until Ctrl-C)",
    )
    what = parser.add_argument_group("what to do")
    what.add_argument(
        "-s",
        "--scope",
        default=_env("SCOPE"),
        help="scope to run in: @thingsdb, @node, //NAME (default: @thingsdb)",
    )
    what.add_argument("--shell", action="store_true", help="start the shell")
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
    parser.add_argument("--version", action="version", version=__version__)
    return parser


def _json_default(value: object) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$bytes": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    return str(value)


def _wants_tls(args: argparse.Namespace) -> bool:
    """TLS with --ssl, --cafile or --no-verify (a wss:// URI has it anyway)."""
    return bool(args.ssl or args.cafile or not args.verify)


def _ssl_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    """The context for TLS; the certificate verified unless --no-verify."""
    if not _wants_tls(args):
        return None
    context = ssl.create_default_context(cafile=args.cafile)
    if not args.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason).replace("_", " ").lower()
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, ConnectionResetError) and not str(exc):
        return "the connection was reset"
    return str(exc) or type(exc).__name__


async def _connect(client: Client, args: argparse.Namespace, where: str) -> None:
    """Connect and authenticate; no node (or no TLS) ends the command."""
    try:
        await client.connect(args.node, args.port, timeout=args.timeout)
        auth = (args.token,) if args.token else (args.user, args.password)
        await client.authenticate(*auth, timeout=args.timeout)
    except ssl.SSLCertVerificationError as exc:
        raise _Exit(
            NOT_RUN,
            f"the TLS certificate of {where} is not trusted "
            f"({exc.verify_message}); give its CA with --cafile FILE "
            "(or --no-verify, for a test node only)",
        ) from None
    except OSError as exc:  # refused, unreachable, timed out, TLS failed
        hint = _NO_NODE_HINT
        if _wants_tls(args):
            hint = "check that it serves TLS there (or leave out TLS)"
        raise _Exit(
            NOT_RUN, f"no ThingsDB node answers at {where} ({_reason(exc)}); {hint}"
        ) from None


def _read_text(name: str) -> str:
    if name == "-":
        return sys.stdin.read()
    try:
        return Path(name).read_text(encoding="utf-8")
    except OSError as exc:
        raise _Exit(NOT_RUN, f"cannot read {name}: {_reason(exc)}") from None


def _procedure_args(text: str | None) -> tuple[list[Any], dict[str, Any]]:
    """``--run`` arguments: a JSON list by position, an object by name, any
    other JSON value as the one argument."""
    if text is None or not text.strip():
        return [], {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise _Exit(NOT_RUN, f"the arguments are no JSON: {exc}") from None
    if isinstance(value, list):
        return value, {}
    if isinstance(value, dict):
        return [], value
    return [value], {}


def _size(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KiB", "MiB"):
        if size < 1024:
            return f"{n} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


async def _with_progress(
    label: str, work: Awaitable[_T], stream: TextIO | None = None
) -> _T:
    """Await ``work``; on a terminal, show a spinner and the time so far."""
    stream = stream if stream is not None else sys.stderr
    if not stream.isatty():
        return await work
    task = asyncio.ensure_future(_awaited(work))  # a Task: wait() takes it
    started = time.monotonic()
    spin = "|/-\\"
    n = 0
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=0.2)
            if task.done():
                break
            elapsed = time.monotonic() - started
            stream.write(f"\r{spin[n % 4]} {label} {elapsed:.1f} s")
            stream.flush()
            n += 1
    finally:
        if not task.done():
            task.cancel()
        if n:
            stream.write("\r\x1b[K")
            stream.flush()
    return task.result()


_NOTHING = object()


def _write_file(name: str, data: bytes) -> None:
    """Write ``data`` to a new file next to ``name``, then put it in place:
    a failed export never leaves half a file, nor spoils an older one."""
    path = Path(name)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


async def _export(client: Client, args: argparse.Namespace, scope: str) -> None:
    target: str = args.export
    if target != "-":
        folder = Path(target).parent
        if not os.access(folder, os.W_OK):
            raise _Exit(NOT_RUN, f"cannot write {target}: no writable folder")
    data = await _with_progress(
        f"exporting {scope}",
        client.query("export({dump: true});", scope=scope, timeout=None),
    )
    if not isinstance(data, bytes):
        raise TypeError(f"export() gave {type(data).__name__}, not bytes")
    if target == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        try:
            await asyncio.to_thread(_write_file, target, data)
        except OSError as exc:
            raise _Exit(NOT_RUN, f"cannot write {target}: {_reason(exc)}") from None
    print(
        f"thingsdb-cli: exported {scope} ({_size(len(data))}) to {target}",
        file=sys.stderr,
    )


def _read_dump(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(name).read_bytes()
    except OSError as exc:
        raise _Exit(NOT_RUN, f"cannot read {name}: {_reason(exc)}") from None


async def _import(client: Client, args: argparse.Namespace, scope: str) -> None:
    data = await asyncio.to_thread(_read_dump, args.import_)
    size = _size(len(data))
    await _with_progress(
        f"importing {args.import_} ({size}) into {scope}",
        client.query(
            "import(data, {import_tasks: tasks});",
            scope=scope,
            timeout=None,
            data=data,
            tasks=bool(args.import_tasks),
        ),
    )
    print(
        f"thingsdb-cli: imported {args.import_} ({size}) into {scope}",
        file=sys.stderr,
    )


async def _job(client: Client, args: argparse.Namespace, code: str | None) -> Any:
    scope = args.scope or "@thingsdb"
    if args.export:
        await _export(client, args, scope)
        return _NOTHING
    if args.import_:
        await _import(client, args, scope)
        return _NOTHING
    if args.run:
        pos, named = _procedure_args(code)
        return await client.run(
            args.run, *pos, scope=scope, timeout=args.timeout, **named
        )
    if code is None:
        return await client.query(_DEFAULT_CODE, scope="@node", timeout=args.timeout)
    return await client.query(code, scope=scope, timeout=args.timeout)


async def _one_shot(args: argparse.Namespace, code: str | None, where: str) -> Any:
    async with Client(auto_reconnect=False, ssl=_ssl_context(args)) as client:
        await _connect(client, args, where)
        try:
            return await _job(client, args, code)
        except TimeoutError:
            raise _Exit(
                FAILED, f"no answer within {args.timeout:g} seconds (see --timeout)"
            ) from None
        except (ConnectionLostError, NotConnectedError, ProtocolError) as exc:
            raise _Exit(
                FAILED, f"lost the connection to {where} ({_reason(exc)})"
            ) from None


async def _shell(args: argparse.Namespace, where: str) -> int:
    from .shell.app import Shell, history_path, open_history

    path = history_path()
    try:
        history = open_history(path)
    except OSError as exc:
        print(f"thingsdb-cli: no history ({exc})", file=sys.stderr)
        history = None
    async with Client(ssl=_ssl_context(args)) as client:
        await _connect(client, args, where)
        shell = Shell(
            client,
            args.scope or "@thingsdb",
            where=where,
            history=history,
            history_file=path if history is not None else None,
        )
        return await shell.run()


def _shell_installed() -> bool:
    try:
        import prompt_toolkit  # noqa: F401
        import pygments  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        return False
    return True


def _wants_shell(args: argparse.Namespace) -> bool:
    if args.shell:
        return True
    if args.code is not None or args.file or args.run:
        return False
    if args.export or args.import_:
        return False
    return sys.stdin.isatty()


def _check_usage(args: argparse.Namespace) -> str | None:
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
        return f"use only one of {', '.join(jobs)}"
    if args.code is not None and (args.file or args.export or args.import_):
        return f"CODE does not go with {jobs[0]}"
    if (args.export or args.import_) and not args.scope:
        return "--export and --import need a collection scope: -s //NAME"
    if args.import_tasks and not args.import_:
        return "--import-tasks goes with --import"
    return None


def _print_result(result: Any) -> None:
    text = json.dumps(result, indent=2, ensure_ascii=False, default=_json_default)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    problem = _check_usage(args)
    try:
        if problem:
            raise _Exit(NOT_RUN, problem)
        try:
            where = str(parse_address(args.node, args.port))
        except (TypeError, ValueError) as exc:
            raise _Exit(NOT_RUN, str(exc)) from None
        shell = _wants_shell(args)
        if shell and not _shell_installed():
            if args.shell:
                raise _Exit(NOT_RUN, _SHELL_MISSING)
            # a terminal, but no shell: the one-shot job still tells whether
            # a node answers
            print(
                f"thingsdb-cli: {_SHELL_MISSING}; showing node_info() instead",
                file=sys.stderr,
            )
            shell = False
        if args.ask_password and not args.token:
            args.password = getpass.getpass(f"password for {args.user}: ")
        if shell:
            return asyncio.run(_shell(args, where))
        code = _read_text(args.file) if args.file else args.code
        if args.code == "-":
            code = sys.stdin.read()
        result = asyncio.run(_one_shot(args, code, where))
        if result is not _NOTHING:
            _print_result(result)
        return OK
    except _Exit as exc:
        print(f"thingsdb-cli: {exc}", file=sys.stderr)
        return exc.status
    except ThingsDBError as exc:
        print(f"{type(exc).__name__} ({exc.error_code}): {exc}", file=sys.stderr)
        return FAILED
    except (ValueError, UnicodeDecodeError) as exc:  # a bad scope, bad UTF-8
        print(f"thingsdb-cli: {exc}", file=sys.stderr)
        return NOT_RUN
    except BrokenPipeError:
        # the reader went away (`thingsdb-cli ... | head`): no traceback
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 141
    except OSError as exc:
        print(f"thingsdb-cli: {_reason(exc)}", file=sys.stderr)
        return FAILED
    except (KeyboardInterrupt, EOFError):
        return 130


if __name__ == "__main__":
    sys.exit(main())


async def _awaited(aw: Awaitable[_T]) -> _T:
    """``aw``'s result, from a coroutine of our own: ``asyncio.wait()``
    takes no coroutines, and a client's request future counts as one."""
    return await aw
