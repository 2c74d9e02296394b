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
import getpass
import json
import os
import ssl
import sys
import time
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import Any, TextIO, TypeVar

from . import __version__
from .client import Client
from .exceptions import ThingsDBError
from .transport import parse_address

_DEFAULT_CODE = "node_info();"

_SHELL_MISSING = (
    "thingsdb-cli: the shell needs prompt_toolkit and Pygments: "
    "pip install 'thingsdb-connector[shell]'"
)

_T = TypeVar("_T")

_NO_NODE_HINT = (
    "start one with `thingsdb --init` (see https://docs.thingsdb.io) "
    "or point --node/--port (or THINGSDB_NODE/THINGSDB_PORT) at a running node"
)


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
Exit status: 0 done, 1 ThingsDB error (printed on stderr as
"ErrorClass (code): message"), 2 no node answers or bad usage.""",
        epilog="""\
Environment: THINGSDB_NODE, THINGSDB_PORT, THINGSDB_USER, THINGSDB_PASSWORD,
THINGSDB_TOKEN, THINGSDB_SCOPE stand in for the flags of the same names;
THINGSDB_SSL=1 for --ssl, THINGSDB_SSL_VERIFY=0 for --no-verify,
THINGSDB_CAFILE for --cafile. A WebSocket node is given as a URI:
--node ws://host:9270 (or wss://). The shell keeps its history in
$XDG_CONFIG_HOME/thingsdb/history (else ~/.config/thingsdb/history).""",
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
        default=int(_env("PORT", "9200") or 9200),
        help="TCP port (default: 9200)",
    )
    conn.add_argument("-u", "--user", default=_env("USER", "admin"))
    conn.add_argument("-w", "--password", default=_env("PASSWORD", "pass"))
    conn.add_argument(
        "-W",
        "--ask-password",
        action="store_true",
        help="ask for the password (not shown while typed)",
    )
    conn.add_argument("-t", "--token", default=_env("TOKEN"), help="use a token")
    conn.add_argument(
        "--ssl",
        action="store_true",
        default=_env_flag("SSL", False),
        help="connect with TLS (the certificate is verified)",
    )
    conn.add_argument(
        "--no-verify",
        dest="verify",
        action="store_false",
        default=_env_flag("SSL_VERIFY", True),
        help="TLS without verifying the certificate (test nodes only)",
    )
    conn.add_argument(
        "--cafile", default=_env("CAFILE"), help="CA certificates to verify with"
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
        help="scope to run in: @thingsdb, @node, //NAME (default: @node "
        "without CODE, else @thingsdb)",
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
        help="write the collection of --scope to FILE (export({dump: true}))",
    )
    what.add_argument(
        "--import",
        dest="import_",
        metavar="FILE",
        help="load FILE (made by --export) into the collection of --scope",
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
    raise TypeError(f"cannot show {type(value).__name__} as JSON")


def _ssl_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    """TLS with --ssl or --cafile; verified unless --no-verify."""
    if not (args.ssl or args.cafile):
        return None
    context = ssl.create_default_context(cafile=args.cafile)
    if not args.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _auth(args: argparse.Namespace) -> tuple[str, ...]:
    return (args.token,) if args.token else (args.user, args.password)


async def _connect(client: Client, args: argparse.Namespace) -> None:
    await client.connect(args.node, args.port, timeout=args.timeout)
    await client.authenticate(*_auth(args), timeout=args.timeout)


def _read_text(name: str) -> str:
    if name == "-":
        return sys.stdin.read()
    return Path(name).read_text(encoding="utf-8")


def _procedure_args(text: str | None) -> tuple[list[Any], dict[str, Any]]:
    """``--run`` arguments: a JSON list by position, an object by name, any
    other JSON value as the one argument."""
    if text is None or not text.strip():
        return [], {}
    value = json.loads(text)
    if isinstance(value, list):
        return value, {}
    if isinstance(value, dict):
        return [], value
    return [value], {}


def _size(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{n} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"  # pragma: no cover


async def _with_progress(
    label: str, work: Awaitable[_T], stream: TextIO | None = None
) -> _T:
    """Await ``work``; on a terminal, show a spinner and the time so far."""
    stream = stream if stream is not None else sys.stderr
    if not stream.isatty():
        return await work
    task = asyncio.ensure_future(work)
    started = time.monotonic()
    spin = "|/-\\"
    n = 0
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=0.2)
            elapsed = time.monotonic() - started
            stream.write(f"\r{spin[n % 4]} {label} {elapsed:.1f} s")
            stream.flush()
            n += 1
    finally:
        if not task.done():
            task.cancel()
        stream.write("\r\x1b[K")
        stream.flush()
    return task.result()


_NOTHING = object()


async def _export(client: Client, args: argparse.Namespace, scope: str) -> None:
    data = await _with_progress(
        f"exporting {scope}",
        client.query("export({dump: true});", scope=scope, timeout=None),
    )
    if not isinstance(data, bytes):
        raise TypeError(f"export() gave {type(data).__name__}, not bytes")
    if args.export == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        await asyncio.to_thread(Path(args.export).write_bytes, data)
    print(
        f"thingsdb-cli: exported {scope} ({_size(len(data))}) to {args.export}",
        file=sys.stderr,
    )


async def _import(client: Client, args: argparse.Namespace, scope: str) -> None:
    if args.import_ == "-":
        data = sys.stdin.buffer.read()
    else:
        data = await asyncio.to_thread(Path(args.import_).read_bytes)
    await _with_progress(
        f"importing {args.import_} ({_size(len(data))}) into {scope}",
        client.query(
            "import(data, {import_tasks: tasks});",
            scope=scope,
            timeout=None,
            data=data,
            tasks=bool(args.import_tasks),
        ),
    )
    print(
        f"thingsdb-cli: imported {args.import_} ({_size(len(data))}) into {scope}",
        file=sys.stderr,
    )


async def _run(args: argparse.Namespace, code: str | None) -> Any:
    scope = args.scope or ("@node" if code is None and not args.run else "@thingsdb")
    async with Client(auto_reconnect=False, ssl=_ssl_context(args)) as client:
        await _connect(client, args)
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
        return await client.query(
            code or _DEFAULT_CODE, scope=scope, timeout=args.timeout
        )


async def _shell(args: argparse.Namespace, where: str) -> int:
    from .shell.app import Shell, history_path, open_history

    path = history_path()
    try:
        history = open_history(path)
    except OSError as exc:
        print(f"thingsdb-cli: no history ({exc})", file=sys.stderr)
        history = None
    async with Client(ssl=_ssl_context(args)) as client:
        await _connect(client, args)
        shell = Shell(
            client,
            args.scope or "@thingsdb",
            where=where,
            history=history,
            history_file=path if history is not None else None,
        )
        return await shell.run()


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
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    problem = _check_usage(args)
    if problem:
        print(f"thingsdb-cli: {problem}", file=sys.stderr)
        return 2
    try:
        where = str(parse_address(args.node, args.port))
    except (TypeError, ValueError) as exc:
        print(f"thingsdb-cli: {exc}", file=sys.stderr)
        return 2
    shell = _wants_shell(args)
    if shell:
        try:
            import prompt_toolkit  # noqa: F401
            import pygments  # type: ignore[import-untyped]  # noqa: F401
        except ImportError:
            print(_SHELL_MISSING, file=sys.stderr)
            return 1
    try:
        if args.ask_password:
            args.password = getpass.getpass(f"password for {args.user}: ")
        code = _read_text(args.file) if args.file else args.code
        if code == "-":
            code = sys.stdin.read()
        if args.run and code is not None and not code.strip():
            code = None
        if shell:
            return asyncio.run(_shell(args, where))
        result = asyncio.run(_run(args, code))
    except ThingsDBError as exc:
        print(f"{type(exc).__name__} ({exc.error_code}): {exc}", file=sys.stderr)
        return 1
    except (OSError, TimeoutError) as exc:
        if isinstance(exc, (FileNotFoundError, IsADirectoryError, PermissionError)):
            print(f"thingsdb-cli: {exc}", file=sys.stderr)
            return 2
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        print(
            f"thingsdb-cli: no ThingsDB node answers at {where} ({reason}); "
            f"{_NO_NODE_HINT}",
            file=sys.stderr,
        )
        return 2
    except (ValueError, UnicodeDecodeError) as exc:
        print(f"thingsdb-cli: {exc}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, EOFError):
        return 130
    if result is not _NOTHING:
        print(json.dumps(result, indent=2, ensure_ascii=False, default=_json_default))
    return 0


if __name__ == "__main__":
    sys.exit(main())
