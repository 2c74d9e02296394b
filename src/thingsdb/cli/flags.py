"""The connection flags (node, port, credentials, TLS, scope, timeout,
--local) and their checked settings: nothing is sent yet, and a bad value
is a CliError naming the flag."""

from __future__ import annotations

import argparse
import getpass
import math
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from ..protocol import check_scope
from ..transport import parse_address
from ..url import ConnectionURL, parse_url
from .env import _env, _flag_only, picked
from .status import BAD_USAGE, CliError
from .tls import _ssl_context

_DEFAULT_NODE = "localhost"


#: where a --local node listens
LOCAL_HOST = "127.0.0.1"


_DEFAULT_PORT = 9200


_DEFAULT_TIMEOUT = 10.0


_NO_NODE_HINT = (
    "start one with `thingsdb --init` (see https://docs.thingsdb.io), "
    "use a throwaway one with --local, or point --node/--port (or "
    "THINGSDB_NODE/THINGSDB_PORT) at a running node"
)


_HTTP_SCHEMES = ("http://", "https://")


NEEDS_HTTPX = (
    "an http:// or https:// node needs httpx: pip install 'thingsdb-connector[http]'"
)


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


def add_connection_flags(
    parser: argparse.ArgumentParser,
    *,
    local: bool = True,
    scope_help: str | None = None,
    timeout_help: str | None = None,
) -> None:
    """The flags of :class:`ConnectionSettings`, in a group "connection":
    ``-n/--node``, ``-p/--port``, ``-u/--user``, ``-w/--password``,
    ``-W/--ask-password``, ``-t/--token``, ``--ssl``, ``--cafile``,
    ``--no-verify``, ``--timeout`` and ``-s/--scope``; with ``local``, a
    group "local node" too: ``--local``, ``--data`` and ``--thingsdb-bin``
    (run through :func:`thingsdb.cli.local.connection_settings`). Those
    with an environment variable (``THINGSDB_NODE``...) leave it to
    :func:`settings_from_args` (their default is None), so that it can
    name the source of a bad value. ``scope_help`` and ``timeout_help``
    say what the command does with those two."""
    conn = parser.add_argument_group("connection")
    conn.add_argument(
        "--url",
        help="where and how to connect, in one: thingsdb://USER:PASSWORD@HOST:PORT"
        "/SCOPE, thingsdbs://... for TLS, ?token=TOKEN instead of USER:PASSWORD, "
        "ws://... or wss://... for a WebSocket (default: $THINGSDB_URL); the "
        "other connection flags beat its parts",
    )
    conn.add_argument(
        "-n",
        "--node",
        help="host, host:port, [IPv6]:port, unix:/path, a ws:// or wss:// "
        "URI, or the http:// or https:// URL of the node's HTTP API (one-shot "
        "code and --run only) (default: localhost)",
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
        help=timeout_help
        or "seconds for connecting and for each query (default: 10; "
        "the shell waits for queries until Ctrl-C)",
    )
    conn.add_argument(
        "-s",
        "--scope",
        help=scope_help
        or "scope to run in: @thingsdb, @node, //NAME (default: @thingsdb)",
    )
    if local:
        _add_local_flags(parser)


def _add_local_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("local node")
    group.add_argument(
        "--local",
        action="store_true",
        help="start a ThingsDB node on this machine for this run only, "
        "connect to it, and stop it at the end (not with --node, --port, TLS)",
    )
    group.add_argument(
        "--data",
        metavar="DIR",
        help="with --local: keep the node's data in DIR, for the next run "
        "(default: a temporary folder, thrown away)",
    )
    group.add_argument(
        "--thingsdb-bin",
        metavar="PATH",
        help="with --local: the node binary (default: $THINGSDB_BIN, else "
        "thingsdb on PATH)",
    )


@dataclass(frozen=True)
class ConnectionSettings:
    """Where and how to connect, checked; made by :func:`settings_from_args`.

    ``host`` and ``port`` go to ``Client.connect()`` as they are (``host``
    may be ``unix:/path`` or a WebSocket URI, which ignore the port);
    ``where`` is the address as people read it; ``auth`` goes to
    ``Client.authenticate()``; ``user`` is None with a token; ``scope`` is
    None when none was given (each command has its default). ``local``,
    with ``--local`` once the node runs, says in a line which node that is
    (version, PID, address, where its data is), for the command to show
    (from inside its event loop: then Ctrl-C is the loop's)."""

    host: str
    port: int
    where: str
    auth: tuple[str] | tuple[str, str]
    user: str | None
    ssl: ssl.SSLContext | None
    timeout: float
    scope: str | None
    local: str | None = None
    #: ``host`` is the URL of a node's HTTP API (``http://``, ``https://``)
    http: bool = False


def connection_url(args: argparse.Namespace) -> tuple[ConnectionURL, str] | None:
    """The URL of ``--url``, else of ``THINGSDB_URL`` (not with ``--local``,
    whose node is another), with where it came from; a bad one is a
    :class:`CliError` with :data:`BAD_USAGE`."""
    text, source = getattr(args, "url", None), "--url"
    if text is None and not getattr(args, "local", False):
        text, source = _env("URL"), "THINGSDB_URL"
    if text is None:
        return None
    try:
        return parse_url(text), source
    except ValueError as exc:
        raise CliError(BAD_USAGE, f"{source}: {exc}") from None


def pick_scope(args: argparse.Namespace) -> tuple[str, str]:
    """The scope and where it came from: ``-s``, else the URL's, else
    ``THINGSDB_SCOPE`` ("" when none is given)."""
    if args.scope is None:
        url = connection_url(args)
        if url is not None and url[0].scope is not None:
            return url[0].scope, url[1]
    return picked(args.scope, "SCOPE", "", "--scope")


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


def _check_local_flags(args: argparse.Namespace) -> bool:
    """Whether ``--local`` is on; the flags that do not go with it (or
    only with it) are a :class:`CliError`."""
    local = bool(getattr(args, "local", False))
    if not local:
        for flag, value in (
            ("--data", getattr(args, "data", None)),
            ("--thingsdb-bin", getattr(args, "thingsdb_bin", None)),
        ):
            if value is not None:
                raise CliError(BAD_USAGE, f"{flag} goes with --local")
        return False
    for flag, value in (
        ("--url", getattr(args, "url", None)),
        ("--node", args.node),
        ("--port", args.port),
    ):
        if value is not None:
            raise CliError(
                BAD_USAGE,
                f"--local starts a node of its own; {flag} does not go with it",
            )
    for flag, on in (
        ("--ssl", args.ssl),
        ("--cafile", args.cafile is not None),
        ("--no-verify", args.verify is False),
    ):
        if on:
            raise CliError(
                BAD_USAGE, f"--local: the local node has no TLS; leave out {flag}"
            )
    return True


def settings_from_args(
    args: argparse.Namespace, ask_password: Callable[[str], str] | None = None
) -> ConnectionSettings:
    """Check the flags of :func:`add_connection_flags` (with the environment
    and the defaults); a bad value is a :class:`CliError` with
    :data:`BAD_USAGE` that names the flag or variable. With ``-W`` the
    password is asked for here (``ask_password``, getpass by default).

    With ``--local`` the node's address is not known yet: ``host`` is
    loopback and ``port`` 0 until :func:`thingsdb.cli.local.connection_settings`
    fills them in, and of the environment only ``THINGSDB_SCOPE`` counts
    (the other variables describe another node)."""
    local = _check_local_flags(args)
    pick = _flag_only if local else picked
    found = connection_url(args)
    url = None if found is None else found[0]
    if local:
        host, port, where = LOCAL_HOST, 0, "the local node"
    else:
        host, port, where = _address(args, found)
    scope, scope_from = pick_scope(args)
    if scope:
        try:
            check_scope(scope)
        except ValueError as exc:
            raise CliError(BAD_USAGE, f"{scope_from}: {exc}") from None
    context = None if local else _ssl_context(args, url)
    http = not local and host.lower().startswith(_HTTP_SCHEMES)
    if http and context is not None and not host.lower().startswith("https://"):
        raise CliError(
            BAD_USAGE, f"{host}: TLS flags go with an https:// node; this is http://"
        )
    token, token_from = pick(args.token, "TOKEN", "", "--token")
    auth: tuple[str] | tuple[str, str]
    login_flags = (args.token, args.user, args.password)
    if (
        url is not None
        and url.auth is not None
        and (all(flag is None for flag in login_flags) and not args.ask_password)
    ):
        # the URL's login, unless a login flag is given
        auth, user = url.auth, url.user
    elif token or args.token is not None:
        if not token.strip():
            raise CliError(BAD_USAGE, f"{token_from}: the token is empty")
        auth, user = (token,), None
    else:
        user_name, _ = pick(args.user, "USER", "admin", "--user")
        password, _ = pick(args.password, "PASSWORD", "pass", "--password")
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
        http=http,
    )


def _address(
    args: argparse.Namespace, url: tuple[ConnectionURL, str] | None = None
) -> tuple[str, int, str]:
    """Host, port and the address as people read it, from --node/--port
    (else the URL's node, else THINGSDB_NODE/THINGSDB_PORT); an http(s)://
    node is its URL, with port 0."""
    if args.node is None and url is not None:
        node, node_from = url[0].node, url[1]
    else:
        node, node_from = picked(args.node, "NODE", _DEFAULT_NODE, "--node")
    if node.lower().startswith(_HTTP_SCHEMES):
        http_url = _http_node(node, node_from, args.port)
        return http_url, 0, http_url
    host, port_in_node = split_node(node, node_from)
    port_text, port_from = picked(args.port, "PORT", str(_DEFAULT_PORT), "--port")
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
    return host, port, where


def _http_node(url: str, source: str, port_flag: str | None) -> str:
    """The URL of a node's HTTP API, checked (a CliError with BAD_USAGE
    otherwise)."""
    try:
        from ..http.nodes import check_url
    except ImportError:
        raise CliError(BAD_USAGE, NEEDS_HTTPX) from None
    if port_flag is not None:
        raise CliError(
            BAD_USAGE, f"{source} {url!r}: the port of an HTTP node goes in its URL"
        )
    try:
        return check_url(url)
    except ValueError as exc:
        raise CliError(BAD_USAGE, f"{source}: {exc}") from None
