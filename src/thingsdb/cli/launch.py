"""Starting the interactive shell from thingsdb-cli (the ``shell`` extra:
prompt_toolkit and Pygments) on a connected client."""

from __future__ import annotations

import argparse
import sys

from ..exceptions import ThingsDBError
from .connect import (
    FAILED,
    CliError,
    ConnectionSettings,
    connected_client,
    reason,
    request_errors,
)

_SHELL_MISSING = (
    "the shell needs prompt_toolkit and Pygments: pip install prompt_toolkit "
    "Pygments (or install this project with its 'shell' extra)"
)


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
