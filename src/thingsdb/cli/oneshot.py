"""The one-shot jobs of ``thingsdb-cli``: code, a procedure, an export or
an import, checked before connecting (files, values that cannot be sent),
then run on a client that does not reconnect."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TextIO, TypeVar

from ..protocol import query_payload, run_payload
from ..shell.format import FORMATS
from .connect import (
    BAD_USAGE,
    FAILED,
    CliError,
    ConnectionSettings,
    connected_client,
    reason,
    request_errors,
)
from .http import http_client

_DEFAULT_CODE = "node_info();"


class Requests(Protocol):
    """What a one-shot job needs of a client: the socket client
    (``thingsdb.client.Client``) and the HTTP one
    (``thingsdb.http.AsyncClient``) both have it."""

    def query(
        self,
        code: str,
        scope: str | None = None,
        timeout: float | None = None,
        skip_strip_code: bool = False,
        **kwargs: Any,
    ) -> Awaitable[Any]: ...

    def run(
        self,
        procedure: str,
        *args: Any,
        scope: str | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Awaitable[Any]: ...


_T = TypeVar("_T")


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


def read_text(name: str, flag: str) -> str:
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
            BAD_USAGE, f"{flag}: cannot read {name}: {reason(exc)}"
        ) from None
    return _decoded(data, name, flag)


def check_readable(name: str, flag: str) -> None:
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


def check_writable(name: str, flag: str) -> None:
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
            BAD_USAGE, f"--import: cannot read {name}: {reason(exc)}"
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


NOTHING = object()


def _procedure_args(text: str | None) -> tuple[list[Any], dict[str, Any]]:
    """``--run`` arguments: a JSON list by position, an object by name, any
    other JSON value as the one argument."""

    if text is None or not text.strip():
        return [], {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise CliError(
            BAD_USAGE,
            f"--run: the arguments are not valid JSON ({exc}); give a JSON "
            """list by position ('[41]'), an object by name ('{"name": "Iris"}') """
            "or one JSON value (strings in double quotes: '\"Iris\"')",
        ) from None
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


def plan(args: argparse.Namespace, scope: str | None, code: str | None) -> _Job:
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


async def _export(client: Requests, target: str, scope: str) -> None:
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
                BAD_USAGE, f"--export: cannot write {target}: {reason(exc)}"
            ) from None
    print(
        f"thingsdb-cli: exported {scope} ({_size(len(data))}) to {target}",
        file=sys.stderr,
    )


async def _import(client: Requests, source: str, scope: str, tasks: bool) -> None:
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


async def one_shot(
    args: argparse.Namespace, settings: ConnectionSettings, job: _Job
) -> Any:
    if settings.local is not None and args.verbose:
        print(f"thingsdb-cli: {settings.local}", file=sys.stderr, flush=True)
    if settings.http:
        async with http_client(settings) as http:
            return await _job(http, args, settings, job)
    async with connected_client(settings) as client:
        with request_errors(settings.where, settings.timeout):
            return await _job(client, args, settings, job)


async def _job(
    client: Requests, args: argparse.Namespace, settings: ConnectionSettings, job: _Job
) -> Any:
    if job.kind == "export":
        await _export(client, args.export, job.scope)
        return NOTHING
    if job.kind == "import":
        await _import(client, args.import_, job.scope, args.import_tasks)
        return NOTHING
    if job.kind == "run":
        pos, named = job.args
        return await client.run(
            job.procedure, *pos, scope=job.scope, timeout=settings.timeout, **named
        )
    return await client.query(job.code, scope=job.scope, timeout=settings.timeout)


def print_result(result: Any, output_format: str) -> None:
    sys.stdout.write(FORMATS[output_format](result) + "\n")
    sys.stdout.flush()


async def _awaited(aw: Awaitable[_T]) -> _T:
    """``aw``'s result, from a coroutine of our own: ``asyncio.wait()``
    takes no coroutines, and a client's request future counts as one."""
    return await aw
