"""The exit statuses of thingsdb-cli, the error that carries one, and
what an OS or TLS error says in a line."""

from __future__ import annotations

import os
import socket
import ssl

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


class CliError(Exception):
    """Ends the command with ``status`` after one line on stderr."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def reason(exc: BaseException) -> str:
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
