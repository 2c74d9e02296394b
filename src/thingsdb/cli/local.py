"""``--local``: a ThingsDB node on this machine for one run of a command.

``with connection_settings(args) as settings:`` checks the connection
flags (:func:`~.connect.settings_from_args`); with ``--local`` it also finds
the node binary, starts a node with :func:`thingsdb.testing.local_node`
(in a temporary folder, or on the data kept in ``--data DIR``), and gives
settings that point at it with its credentials. The node is stopped by its
PID when the block ends: normally, on an error, on Ctrl-C, and on SIGTERM
or SIGHUP (a closed terminal), which end the command with 128 + the signal
number once the node is down.

Statuses: no binary, or one that is no ThingsDB node, is :data:`BAD_USAGE`
(nothing ran, and trying again will not help); a node that does not start
(its folder locked by another node, not ready in time) is
:data:`NO_CONNECTION`, with the node's own words and where its log is.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import re
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from .connect import (
    BAD_USAGE,
    NO_CONNECTION,
    CliError,
    ConnectionSettings,
    reason,
    settings_from_args,
)

if TYPE_CHECKING:
    from ..testing import Node

#: how the binary is given on the command line, in messages
BIN_FLAG = "--thingsdb-bin "

#: signals that end the command (the node is stopped first); SIGINT is
#: Python's KeyboardInterrupt already (Windows has no SIGHUP)
_ENDING = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)
#: a line of the node's log that reports an error: "[E 2025-06-02 ...] text"
_NODE_ERROR = re.compile(r"^\[E [^\]]*\] (.*)$")
#: the node's last words before it exits with an error, not worth a mention
_EXIT_LINE = "exit with error code"


@contextlib.contextmanager
def connection_settings(
    args: argparse.Namespace, ask_password: Callable[[str], str] | None = None
) -> Iterator[ConnectionSettings]:
    """The checked settings of the connection flags (see
    :func:`~.connect.settings_from_args`) for the block; with ``--local``,
    those of a node started for the block and stopped after it (see
    :func:`with_local_node`). Raises :class:`CliError` when the flags are
    wrong or the node does not start."""
    settings = settings_from_args(args, ask_password)
    with with_local_node(args, settings) as settings:
        yield settings


@contextlib.contextmanager
def with_local_node(
    args: argparse.Namespace, settings: ConnectionSettings
) -> Iterator[ConnectionSettings]:
    """``settings`` (from :func:`~.connect.settings_from_args`) for the
    block: as they are without ``--local``; with it, pointed at a node
    started for the block and stopped, by its PID, after it, and with
    ``local`` saying which node that is.

    For a command that checks more after the flags and before it connects:
    what goes wrong there then costs no node start."""
    if not getattr(args, "local", False):
        yield settings
        return
    with running_local_node(args) as node:
        host, port = node.address
        yield dataclasses.replace(
            settings,
            host=host,
            port=port,
            where=f"{host}:{port}",
            local=describe(node, args.data),
        )


def describe(node: Node, data: str | None) -> str:
    """Which local node runs (its address is the command's to show)."""
    kept = (
        f"its data in {node.workdir}"
        if data is not None
        else "throwaway: its data goes at exit"
    )
    return f"local node ThingsDB {node.version} (pid {node.pid}), {kept}"


def find_local_binary(args: argparse.Namespace) -> str:
    """The node binary for ``--local``: ``--thingsdb-bin``, else
    ``THINGSDB_BIN``, else ``thingsdb`` on PATH; none (or a configured one
    that is missing) is a :class:`CliError` with :data:`BAD_USAGE`."""
    from ..testing import BinaryError, which_binary

    try:
        path, missing = which_binary(args.thingsdb_bin, given_as=BIN_FLAG)
    except BinaryError as exc:
        raise CliError(BAD_USAGE, str(exc)) from None
    if path is None:
        raise CliError(BAD_USAGE, missing)
    return path


def local_version(args: argparse.Namespace) -> str:
    """What ``--local --version`` says about the node, without starting it."""
    from ..testing import BinaryError, check_binary

    path = find_local_binary(args)
    try:
        return f"ThingsDB {check_binary(path)} (--local starts {path})"
    except BinaryError as exc:
        raise CliError(BAD_USAGE, _first_line(str(exc))) from None


def _data_folder(text: str) -> Path:
    """``--data DIR`` as an absolute path (the node runs in it, so a
    relative one would be read from there), made when missing."""
    path = Path(text).expanduser().absolute()
    if path.exists() and not path.is_dir():
        raise CliError(BAD_USAGE, f"--data {text}: not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(
            BAD_USAGE, f"--data {text}: cannot make the folder: {reason(exc)}"
        ) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise CliError(BAD_USAGE, f"--data {text}: the folder is not writable")
    return path


@contextlib.contextmanager
def running_local_node(args: argparse.Namespace) -> Iterator[Node]:
    """A node started for ``--local`` (``--data``, ``--thingsdb-bin``),
    stopped by its PID when the block ends, however it ends."""
    from ..testing import (
        BinaryError,
        NodeStartError,
        PortRangeError,
        local_node,
        port_range,
    )

    binary = find_local_binary(args)
    data = _data_folder(args.data) if args.data is not None else None
    try:
        port_range()  # THINGSDB_PORTS, checked before anything starts
    except PortRangeError as exc:
        raise CliError(BAD_USAGE, str(exc)) from None
    with _ended_by_signals():
        try:
            node = local_node(data, binary=binary)  # picks its ports
        except PortRangeError as exc:  # none free in THINGSDB_PORTS
            raise CliError(
                NO_CONNECTION, f"the local node did not start: {exc}"
            ) from None
        try:
            node.start()
        except BinaryError as exc:  # it is no ThingsDB node: nothing started
            node.close()
            raise CliError(BAD_USAGE, _first_line(str(exc))) from None
        except NodeStartError as exc:
            # stopped already; the folder stays, for the log
            raise CliError(NO_CONNECTION, _start_failure(node, exc)) from None
        except BaseException:
            node.close()
            raise
        try:
            yield node
        finally:
            with _signals_held():
                node.close()


def _first_line(text: str) -> str:
    return text.split("\n", 1)[0]


def _start_failure(node: Node, exc: BaseException) -> str:
    what = _first_line(str(exc)).split("; last lines of ", 1)[0]
    line = f"the local node did not start: {what}"
    said = _node_error(node.log_path)
    if said:
        line += f"; the node says: {said}"
    return f"{line}; its log: {node.log_path}"


def _node_error(log: Path) -> str | None:
    """The first error the node logged since it was last started."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return None
    # each start writes a "-- thingsdb.testing: <command>" line first
    last_start = text.rfind("\n-- thingsdb.testing:")
    for line in text[last_start + 1 :].splitlines():
        found = _NODE_ERROR.match(line)
        if found and not found.group(1).startswith(_EXIT_LINE):
            return found.group(1).strip()
    return None


def _end_by_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def _ended_by_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP raise SystemExit in the block (instead of ending
    the process at once), so that the ``finally`` that stops the node
    runs."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set in the main thread
        return
    before = {sig: signal.signal(sig, _end_by_signal) for sig in _ENDING}
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Ctrl-C, SIGTERM and SIGHUP wait while the node is being stopped (a
    second Ctrl-C must not leave it half stopped), and take effect after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)

    before = {sig: signal.signal(sig, hold) for sig in (signal.SIGINT, *_ENDING)}
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
    if signal.SIGINT in caught:
        raise KeyboardInterrupt
    if caught:
        raise SystemExit(128 + caught[0])
