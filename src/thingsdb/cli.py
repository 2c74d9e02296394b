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
* :func:`make_parser` gives an argument parser whose errors are one line
  (a :class:`CliError` with status :data:`BAD_USAGE`);
  :func:`add_connection_flags` adds the node, port, credentials, TLS, scope
  and timeout flags with their ``THINGSDB_*`` environment variables.
* :func:`settings_from_args` checks those flags into a
  :class:`ConnectionSettings` (nothing is sent yet);
  :func:`connected_client` makes a connected, authenticated client of them.
* :func:`run_command` runs a command's body, turning :class:`CliError`,
  ThingsDB's errors, Ctrl-C and a closed stdout into the line and status.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import importlib
import logging
import math
import os
import socket
import ssl
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TextIO, TypeVar

from . import __version__
from .client import Client
from .exceptions import (
    AuthError,
    ConnectionLostError,
    NotConnectedError,
    ProtocolError,
    ThingsDBError,
)
from .protocol import check_scope, query_payload, run_payload
from .shell.format import FORMATS
from .transport import parse_address

PACKAGE = "thingsdb-connector"

#: exit statuses: done
OK = 0
#: the request failed: ThingsDB's error, no answer within the timeout, or
#: the connection broke while waiting for the answer (it may have run)
FAILED = 1
#: bad usage, nothing was sent: flags, files, values that cannot be sent
BAD_USAGE = 2
#: no connection, nothing was sent: no node answers, TLS failed, the
#: connection closed before the login was answered
NO_CONNECTION = 3
#: the node refused the login (user name and password, or token)
NO_LOGIN = 4
#: interrupted with Ctrl-C
INTERRUPTED = 130
#: stdout was closed early (``thingsdb-cli ... | head``)
BROKEN_PIPE = 141

#: ``thingsdb-cli NAME ARGS...``: NAME -> "module:function"; the function
#: is imported when used, gets ARGS (a list of str) and returns the exit
#: status. Looked up before the flags are parsed, so that a subcommand has
#: flags of its own (see add_connection_flags, settings_from_args).
SUBCOMMANDS: dict[str, str] = {}

_DEFAULT_CODE = "node_info();"
_DEFAULT_NODE = "localhost"
_DEFAULT_PORT = 9200
_DEFAULT_TIMEOUT = 10.0

_SHELL_MISSING = (
    "the shell needs prompt_toolkit and Pygments: pip install prompt_toolkit "
    "Pygments (or install this project with its 'shell' extra)"
)

_NO_NODE_HINT = (
    "start one with `thingsdb --init` (see https://docs.thingsdb.io) "
    "or point --node/--port (or THINGSDB_NODE/THINGSDB_PORT) at a running node"
)

_T = TypeVar("_T")


class CliError(Exception):
    """Ends the command with ``status`` after one line on stderr."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# -- the flags ---------------------------------------------------------------


class CliParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: a :class:`CliError`
    with :data:`BAD_USAGE`, the message saying where help is."""

    def error(self, message: str) -> NoReturn:
        raise CliError(BAD_USAGE, f"{message} (see {self.prog} --help)")


def make_parser(prog: str, description: str, epilog: str = "") -> CliParser:
    return CliParser(
        prog=prog,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _env(name: str) -> str | None:
    value = os.environ.get(f"THINGSDB_{name}")
    return value if value else None


def _env_flag(name: str, default: bool) -> bool:
    value = _env(name)
    if value is None:
        return default
    return value.strip().lower() not in ("0", "false", "no", "off")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of seconds"
        ) from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be above 0 seconds, not {text!r}")
    return value


def add_connection_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of :class:`ConnectionSettings`, in a group "connection":
    ``-n/--node``, ``-p/--port``, ``-u/--user``, ``-w/--password``,
    ``-W/--ask-password``, ``-t/--token``, ``--ssl``, ``--cafile``,
    ``--no-verify``, ``--timeout`` and ``-s/--scope``. Those with an
    environment variable (``THINGSDB_NODE``...) leave it to
    :func:`settings_from_args` (their default is None), so that it can
    name the source of a bad value."""
    conn = parser.add_argument_group("connection")
    conn.add_argument(
        "-n",
        "--node",
        help="host, host:port, [IPv6]:port, unix:/path, or a ws:// or wss:// "
        "URI (default: localhost)",
    )
    conn.add_argument("-p", "--port", help="TCP port (default: 9200)")
    conn.add_argument("-u", "--user", help="(default: admin)")
    conn.add_argument("-w", "--password", help="(default: pass)")
    conn.add_argument(
        "-W",
        "--ask-password",
        action="store_true",
        help="ask for the password (not shown while typed)",
    )
    conn.add_argument("-t", "--token", help="log in with a token instead")
    conn.add_argument(
        "--ssl",
        action="store_true",
        default=None,
        help="connect with TLS; the certificate is verified",
    )
    conn.add_argument(
        "--cafile", help="TLS, verified with the CA certificates in CAFILE"
    )
    conn.add_argument(
        "--no-verify",
        dest="verify",
        action="store_false",
        default=None,
        help="TLS without checking the certificate (test nodes only)",
    )
    conn.add_argument(
        "--timeout",
        type=_seconds,
        default=_DEFAULT_TIMEOUT,
        help="seconds for connecting and for each query (default: 10; "
        "the shell waits for queries until Ctrl-C)",
    )
    conn.add_argument(
        "-s",
        "--scope",
        help="scope to run in: @thingsdb, @node, //NAME (default: @thingsdb)",
    )


# -- connection settings -----------------------------------------------------


@dataclass(frozen=True)
class ConnectionSettings:
    """Where and how to connect, checked; made by :func:`settings_from_args`.

    ``host`` and ``port`` go to ``Client.connect()`` as they are (``host``
    may be ``unix:/path`` or a WebSocket URI, which ignore the port);
    ``where`` is the address as people read it; ``auth`` goes to
    ``Client.authenticate()``; ``user`` is None with a token; ``scope`` is
    None when none was given (each command has its default)."""

    host: str
    port: int
    where: str
    auth: tuple[str] | tuple[str, str]
    user: str | None
    ssl: ssl.SSLContext | None
    timeout: float
    scope: str | None


def _picked(
    flag: str | None, env: str, default: str, flag_name: str
) -> tuple[str, str]:
    """A value and where it came from: the flag, else the environment, else
    the default."""
    if flag is not None:
        return flag, flag_name
    value = _env(env)
    if value is not None:
        return value, f"THINGSDB_{env}"
    return default, flag_name


def _port_number(text: str, source: str) -> int:
    if not (text.isascii() and text.isdigit() and 0 < int(text) < 65536):
        raise CliError(
            BAD_USAGE,
            f"{source}: the port must be a number from 1 to 65535, not {text!r}",
        )
    return int(text)


def split_node(text: str, source: str = "--node") -> tuple[str, int | None]:
    """``host:port`` and ``[IPv6]:port`` split into host and port; a host,
    a bare IPv6 address, ``unix:/path`` and URIs as they are (port None)."""
    if text.startswith("unix:") or "://" in text:
        return text, None
    if text.startswith("["):
        inner, bracket, rest = text[1:].partition("]")
        if bracket and rest.startswith(":"):
            return inner, _port_number(rest[1:], f"{source} {text!r}")
        return text, None  # parse_address says what is wrong, if anything
    if text.count(":") == 1:  # IPv6 addresses have two or more
        host, _, port = text.partition(":")
        return host, _port_number(port, f"{source} {text!r}")
    return text, None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason).replace("_", " ").lower()
    if isinstance(exc, socket.gaierror) and exc.strerror:
        return exc.strerror.lower()  # "name or service not known"
    if isinstance(exc, OSError) and exc.errno and exc.errno > 0:
        # the system's words for the number ("connection refused"), not
        # asyncio's "Connect call failed (...)"
        return os.strerror(exc.errno).lower()
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, ConnectionResetError) and not str(exc):
        return "the connection was reset"
    return str(exc) or type(exc).__name__


def _ssl_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    """TLS with --ssl, --cafile or --no-verify (a wss:// URI has it anyway);
    the certificate verified unless --no-verify."""
    cafile, cafile_from = _picked(args.cafile, "CAFILE", "", "--cafile")
    use_ssl = args.ssl if args.ssl is not None else _env_flag("SSL", False)
    verify = args.verify if args.verify is not None else _env_flag("SSL_VERIFY", True)
    if not (use_ssl or cafile or not verify):
        return None
    try:
        context = ssl.create_default_context(cafile=cafile or None)
    except ssl.SSLError:
        raise CliError(
            BAD_USAGE,
            f"{cafile_from} {cafile}: no CA certificate in it (a PEM file is expected)",
        ) from None
    except OSError as exc:
        raise CliError(
            BAD_USAGE, f"{cafile_from}: cannot read {cafile}: {_reason(exc)}"
        ) from None
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def settings_from_args(
    args: argparse.Namespace, ask_password: Callable[[str], str] | None = None
) -> ConnectionSettings:
    """Check the flags of :func:`add_connection_flags` (with the environment
    and the defaults); a bad value is a :class:`CliError` with
    :data:`BAD_USAGE` that names the flag or variable. With ``-W`` the
    password is asked for here (``ask_password``, getpass by default)."""
    node, node_from = _picked(args.node, "NODE", _DEFAULT_NODE, "--node")
    host, port_in_node = split_node(node, node_from)
    port_text, port_from = _picked(args.port, "PORT", str(_DEFAULT_PORT), "--port")
    port = _port_number(port_text, port_from)
    if port_in_node is not None:
        if args.port is not None and port != port_in_node:
            raise CliError(
                BAD_USAGE,
                f"two ports: {port_in_node} in {node_from} and {port} in "
                f"{port_from}; give one",
            )
        port = port_in_node
    try:
        where = str(parse_address(host, port))
    except (TypeError, ValueError) as exc:
        raise CliError(BAD_USAGE, f"{node_from} {node!r}: {exc}") from None
    scope, scope_from = _picked(args.scope, "SCOPE", "", "--scope")
    if scope:
        try:
            check_scope(scope)
        except ValueError as exc:
            raise CliError(BAD_USAGE, f"{scope_from}: {exc}") from None
    context = _ssl_context(args)
    token, token_from = _picked(args.token, "TOKEN", "", "--token")
    auth: tuple[str] | tuple[str, str]
    if token or args.token is not None:
        if not token.strip():
            raise CliError(BAD_USAGE, f"{token_from}: the token is empty")
        auth, user = (token,), None
    else:
        user_name, _ = _picked(args.user, "USER", "admin", "--user")
        password, _ = _picked(args.password, "PASSWORD", "pass", "--password")
        if args.ask_password:
            ask = ask_password if ask_password is not None else getpass.getpass
            password = ask(f"password for {user_name}: ")
        auth, user = (user_name, password), user_name
    return ConnectionSettings(
        host=host,
        port=port,
        where=where,
        auth=auth,
        user=user,
        ssl=context,
        timeout=args.timeout,
        scope=scope or None,
    )


# -- connecting ----------------------------------------------------------------


async def _connect(client: Client, settings: ConnectionSettings) -> None:
    where, timeout = settings.where, settings.timeout
    try:
        await client.connect(settings.host, settings.port, timeout=timeout)
    except ImportError as exc:  # ws:// without the websockets extra
        raise CliError(BAD_USAGE, f"{where}: {exc}") from None
    except ssl.SSLCertVerificationError as exc:
        raise CliError(
            NO_CONNECTION,
            f"the TLS certificate of {where} is not trusted "
            f"({exc.verify_message}); give its CA with --cafile FILE "
            "(or --no-verify, for a test node only)",
        ) from None
    except OSError as exc:  # refused, unreachable, timed out, TLS failed
        hint = _NO_NODE_HINT
        if settings.ssl is not None:
            hint = "check that it serves TLS there (or leave out TLS)"
        raise CliError(
            NO_CONNECTION,
            f"no ThingsDB node answers at {where} ({_reason(exc)}); {hint}",
        ) from None
    try:
        await client.authenticate(*settings.auth, timeout=timeout)
    except AuthError as exc:
        how = "--token" if settings.user is None else "--user and --password"
        raise CliError(
            NO_LOGIN, f"{where} refused the login ({exc}); check {how}"
        ) from None
    except ThingsDBError as exc:
        raise CliError(NO_LOGIN, f"{where} refused the login ({exc})") from None
    except OSError as exc:  # closed or no answer before the login was answered
        raise CliError(NO_CONNECTION, f"no login at {where}: {_reason(exc)}") from None


@contextlib.asynccontextmanager
async def connected_client(
    settings: ConnectionSettings, *, auto_reconnect: bool = False
) -> AsyncIterator[Client]:
    """A client connected to ``settings``' node and logged in, closed when
    the block ends.

    Failing to get there raises :class:`CliError`: :data:`NO_CONNECTION`
    (no node answers, TLS failed, the connection closed during the login),
    :data:`NO_LOGIN` (the node refused the credentials) or
    :data:`BAD_USAGE` (a ``ws://`` node without the websockets extra).
    ``auto_reconnect`` is off by default: a one-shot command should fail,
    not wait, when the node goes away; the shell turns it on.
    """
    client = Client(auto_reconnect=auto_reconnect, ssl=settings.ssl)
    try:
        await _connect(client, settings)
        yield client
    finally:
        await client.close_and_wait()


@contextlib.contextmanager
def request_errors(where: str, timeout: float | None) -> Iterator[None]:
    """Errors of a request as :class:`CliError`s (ThingsDB's own errors
    pass through: :func:`run_command` prints them as they are)."""
    try:
        yield
    except ThingsDBError:
        raise
    except TimeoutError:
        raise CliError(
            FAILED, f"no answer within {timeout:g} seconds (see --timeout)"
        ) from None
    except NotConnectedError as exc:
        raise CliError(
            NO_CONNECTION, f"not sent: no connection to {where} ({exc})"
        ) from None
    except (ConnectionLostError, ProtocolError) as exc:
        raise CliError(
            FAILED,
            f"lost the connection to {where} before the answer ({_reason(exc)}); "
            "the request may or may not have run",
        ) from None


# -- reading and writing files ---------------------------------------------------


def _decoded(data: bytes, name: str, flag: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = f"{flag}: " if flag else ""
        raise CliError(
            BAD_USAGE,
            f"{where}cannot read {name}: not UTF-8 text (byte "
            f"{data[exc.start]:#04x} at position {exc.start})",
        ) from None


def _read_text(name: str, flag: str) -> str:
    """The code in a file (``-``: stdin), as UTF-8."""
    if name == "-":
        buffer = getattr(sys.stdin, "buffer", None)
        if buffer is None:  # a text stream without bytes underneath
            return sys.stdin.read()
        return _decoded(buffer.read(), "standard input", flag)
    try:
        data = Path(name).read_bytes()
    except OSError as exc:
        raise CliError(
            BAD_USAGE, f"{flag}: cannot read {name}: {_reason(exc)}"
        ) from None
    return _decoded(data, name, flag)


def _check_readable(name: str, flag: str) -> None:
    """Before connecting: a file to read must be there."""
    if name == "-":
        return
    path = Path(name)
    if not path.exists():
        raise CliError(BAD_USAGE, f"{flag}: cannot read {name}: no such file")
    if path.is_dir():
        raise CliError(BAD_USAGE, f"{flag}: cannot read {name}: it is a folder")
    if not os.access(path, os.R_OK):
        raise CliError(BAD_USAGE, f"{flag}: cannot read {name}: permission denied")


def _check_writable(name: str, flag: str) -> None:
    """Before connecting: a file to write must have a folder to go in."""
    if name == "-":
        return
    path = Path(name)
    if path.is_dir():
        raise CliError(BAD_USAGE, f"{flag}: cannot write {name}: it is a folder")
    folder = path.parent
    if not folder.is_dir():
        raise CliError(BAD_USAGE, f"{flag}: cannot write {name}: no folder {folder}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise CliError(
            BAD_USAGE, f"{flag}: cannot write {name}: the folder is not writable"
        )


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


def _read_dump(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(name).read_bytes()
    except OSError as exc:
        raise CliError(
            BAD_USAGE, f"--import: cannot read {name}: {_reason(exc)}"
        ) from None


# -- the one-shot jobs ---------------------------------------------------------------


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
    task = asyncio.ensure_future(work)
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


def _procedure_args(text: str | None) -> tuple[list[Any], dict[str, Any]]:
    """``--run`` arguments: a JSON list by position, an object by name, any
    other JSON value as the one argument."""
    import json

    if text is None or not text.strip():
        return [], {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise CliError(BAD_USAGE, f"--run: the arguments are no JSON: {exc}") from None
    if isinstance(value, list):
        return value, {}
    if isinstance(value, dict):
        return [], value
    return [value], {}


@dataclass
class _Job:
    """What a one-shot command does, checked before connecting."""

    kind: str  # "query", "run", "export", "import"
    scope: str
    code: str = ""
    procedure: str = ""
    args: tuple[list[Any], dict[str, Any]] = ([], {})


def _sendable(job: _Job) -> None:
    """Build the request once before connecting: a value ThingsDB cannot
    take (an int over 64 bits, text that is not UTF-8...) is bad usage, and
    nothing is sent."""
    try:
        if job.kind == "run":
            run_payload(job.scope, job.procedure, job.args[0], job.args[1])
        else:
            query_payload(job.scope, job.code, {})
    except UnicodeEncodeError:
        raise CliError(BAD_USAGE, "the code is not UTF-8 text") from None
    except (TypeError, ValueError, OverflowError) as exc:
        what = "--run" if job.kind == "run" else "the code"
        raise CliError(BAD_USAGE, f"{what}: {exc}") from None


def _plan(args: argparse.Namespace, scope: str | None, code: str | None) -> _Job:
    if args.export or args.import_:
        assert scope is not None
        return _Job("export" if args.export else "import", scope)
    if args.run:
        job = _Job(
            "run",
            scope or "@thingsdb",
            procedure=args.run,
            args=_procedure_args(code),
        )
    elif code is None:
        job = _Job("query", "@node", code=_DEFAULT_CODE)
    else:
        job = _Job("query", scope or "@thingsdb", code=code)
    _sendable(job)
    return job


async def _export(client: Client, target: str, scope: str) -> None:
    data = await _with_progress(
        f"exporting {scope}",
        client.query("export({dump: true});", scope=scope, timeout=None),
    )
    if not isinstance(data, bytes):
        raise CliError(FAILED, f"export() gave {type(data).__name__}, not bytes")
    if target == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        try:
            await asyncio.to_thread(_write_file, target, data)
        except OSError as exc:
            raise CliError(
                BAD_USAGE, f"--export: cannot write {target}: {_reason(exc)}"
            ) from None
    print(
        f"thingsdb-cli: exported {scope} ({_size(len(data))}) to {target}",
        file=sys.stderr,
    )


async def _import(client: Client, source: str, scope: str, tasks: bool) -> None:
    data = await asyncio.to_thread(_read_dump, source)
    size = _size(len(data))
    await _with_progress(
        f"importing {source} ({size}) into {scope}",
        client.query(
            "import(data, {import_tasks: tasks});",
            scope=scope,
            timeout=None,
            data=data,
            tasks=tasks,
        ),
    )
    print(f"thingsdb-cli: imported {source} ({size}) into {scope}", file=sys.stderr)


async def _one_shot(
    args: argparse.Namespace, settings: ConnectionSettings, job: _Job
) -> Any:
    async with connected_client(settings) as client:
        with request_errors(settings.where, settings.timeout):
            if job.kind == "export":
                await _export(client, args.export, job.scope)
                return _NOTHING
            if job.kind == "import":
                await _import(client, args.import_, job.scope, args.import_tasks)
                return _NOTHING
            if job.kind == "run":
                pos, named = job.args
                return await client.run(
                    job.procedure,
                    *pos,
                    scope=job.scope,
                    timeout=settings.timeout,
                    **named,
                )
            return await client.query(
                job.code, scope=job.scope, timeout=settings.timeout
            )


def _print_result(result: Any, output_format: str) -> None:
    sys.stdout.write(FORMATS[output_format](result) + "\n")
    sys.stdout.flush()


# -- the shell -------------------------------------------------------------------------


def _shell_installed() -> bool:
    try:
        import prompt_toolkit  # noqa: F401
        import pygments  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        return False
    return True


async def _shell(args: argparse.Namespace, settings: ConnectionSettings) -> int:
    from .shell.app import Shell, history_path, open_history

    path = history_path()
    try:
        history = open_history(path)
    except OSError as exc:
        print(f"thingsdb-cli: no history ({_reason(exc)}: {path})", file=sys.stderr)
        history = None
    scope = settings.scope or "@thingsdb"
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

Without code and without a terminal it prints node_info() as JSON.
Bytes come out as {"$bytes": "<base64>"}.

Exit status:
  0  done
  1  the request failed: ThingsDB's error (on stderr as "ErrorClass (code):
     message"), no answer within --timeout, or the connection broke while
     waiting for the answer (the request may or may not have run)
  2  bad usage, nothing was sent: flags, files, JSON arguments, values
     ThingsDB cannot take, a missing extra
  3  no connection, nothing was sent: no node answers, TLS failed
  4  the node refused the login: check --user/--password or --token
  130 Ctrl-C; 141 stdout closed early"""

_EPILOG = """\
Environment: THINGSDB_NODE, THINGSDB_PORT, THINGSDB_USER, THINGSDB_PASSWORD,
THINGSDB_TOKEN, THINGSDB_SCOPE stand in for the flags of the same names;
THINGSDB_SSL=1 for --ssl, THINGSDB_SSL_VERIFY=0 for --no-verify,
THINGSDB_CAFILE for --cafile. A port in --node (host:9201) must agree with
--port. A WebSocket node is given as a URI: --node ws://host:9270 (or
wss:// for TLS); it needs the websockets extra.

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
        _check_readable(args.file, "--file")
    if args.import_:
        _check_readable(args.import_, "--import")
    if args.export:
        _check_writable(args.export, "--export")


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
        line = asyncio.run(_node_version(settings))
    except CliError as exc:
        line = f"no node: {exc}"
    except ThingsDBError as exc:
        line = f"the node did not say its version: {type(exc).__name__}: {exc}"
    print(line)
    return OK


def run_command(body: Callable[[], int]) -> int:
    """Run ``body`` and return its exit status; a :class:`CliError`, an
    error of ThingsDB, Ctrl-C or a closed stdout become one line on stderr
    and their status, and anything else unexpected one line with FAILED:
    never a traceback."""
    try:
        return body()
    except CliError as exc:
        print(f"thingsdb-cli: {exc}", file=sys.stderr)
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
            f"thingsdb-cli: unexpected {type(exc).__name__}: {exc}",
            file=sys.stderr,
        )
        return FAILED


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


def _main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.version:
        return _version(args)
    _check_usage(args, args.scope or _env("SCOPE"))
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
            code = _read_text(args.file, "--file")
        elif args.code == "-":
            code = _read_text("-", "")
        else:
            code = args.code
    settings = settings_from_args(args)
    if shell:
        return asyncio.run(_shell(args, settings))
    job = _plan(args, settings.scope, code)
    with _client_log(args.verbose):
        result = asyncio.run(_one_shot(args, settings, job))
    if result is not _NOTHING:
        _print_result(result, args.format or "json")
    return OK


def main(argv: Sequence[str] | None = None) -> int:
    """``thingsdb-cli``; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    subcommand = _subcommand(args)
    if subcommand is not None:
        return run_command(subcommand)
    return run_command(lambda: _main(args))


if __name__ == "__main__":
    sys.exit(main())
