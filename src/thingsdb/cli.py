"""``thingsdb-cli``: run ThingsDB code on a node and print the result as JSON.

The node and credentials come from the flags, else from ``THINGSDB_*``
environment variables, else the defaults of a fresh node (localhost:9200,
admin/pass).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from . import __version__
from .client import Client
from .exceptions import ThingsDBError
from .transport import parse_address

_DEFAULT_CODE = "node_info();"

_NO_NODE_HINT = (
    "start one with `thingsdb --init` (see https://docs.thingsdb.io) "
    "or point --node/--port (or THINGSDB_NODE/THINGSDB_PORT) at a running node"
)


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(f"THINGSDB_{name}")
    return value if value else default


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="thingsdb-cli",
        description=(
            "Run ThingsDB code on a node and print the result as JSON. "
            "Without CODE it prints the node's info (node_info() in @node)."
        ),
        epilog=(
            "Environment: THINGSDB_NODE, THINGSDB_PORT, THINGSDB_USER, "
            "THINGSDB_PASSWORD, THINGSDB_TOKEN, THINGSDB_SCOPE stand in for "
            "the flags of the same names."
        ),
    )
    parser.add_argument("code", nargs="?", help="ThingsDB code; '-' reads stdin")
    parser.add_argument(
        "-n",
        "--node",
        default=_env("NODE", "localhost"),
        help="host name, 'unix:/path' or ws:// URI (default: localhost)",
    )
    parser.add_argument(
        "-p", "--port", type=int, default=int(_env("PORT", "9200") or 9200)
    )
    parser.add_argument("-u", "--user", default=_env("USER", "admin"))
    parser.add_argument("-w", "--password", default=_env("PASSWORD", "pass"))
    parser.add_argument("-t", "--token", default=_env("TOKEN"), help="use a token")
    parser.add_argument(
        "-s",
        "--scope",
        default=_env("SCOPE"),
        help="scope to run in (default: @node without CODE, else @thingsdb)",
    )
    parser.add_argument("--ssl", action="store_true", help="connect with TLS")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds")
    parser.add_argument("--version", action="version", version=__version__)
    return parser


def _json_default(value: object) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$bytes": base64.b64encode(bytes(value)).decode()}
    raise TypeError(f"cannot show {type(value).__name__} as JSON")


async def _run(args: argparse.Namespace) -> Any:
    code = args.code
    if code == "-":
        code = sys.stdin.read()
    scope = args.scope or ("@node" if code is None else "@thingsdb")
    auth: tuple[str, ...] = (args.token,) if args.token else (args.user, args.password)
    async with Client(auto_reconnect=False, ssl=True if args.ssl else None) as client:
        await client.connect(args.node, args.port, timeout=args.timeout)
        await client.authenticate(*auth, timeout=args.timeout)
        return await client.query(
            code or _DEFAULT_CODE, scope=scope, timeout=args.timeout
        )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        where = str(parse_address(args.node, args.port))
    except (TypeError, ValueError) as exc:
        print(f"thingsdb-cli: {exc}", file=sys.stderr)
        return 2
    try:
        result = asyncio.run(_run(args))
    except ThingsDBError as exc:
        print(f"{type(exc).__name__} ({exc.error_code}): {exc}", file=sys.stderr)
        return 1
    except (OSError, TimeoutError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        print(
            f"thingsdb-cli: no ThingsDB node answers at {where} ({reason}); "
            f"{_NO_NODE_HINT}",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        return 130
    print(json.dumps(result, indent=2, ensure_ascii=False, default=_json_default))
    return 0


if __name__ == "__main__":
    sys.exit(main())
