"""TLS from the command line: --ssl, a thingsdbs:// URL, --cafile and
--no-verify into an ``ssl.SSLContext``."""

from __future__ import annotations

import argparse
import ssl

from ..url import ConnectionURL
from .env import _env_flag, picked
from .status import BAD_USAGE, CliError, reason


def _ssl_context(
    args: argparse.Namespace, url: ConnectionURL | None = None
) -> ssl.SSLContext | None:
    """TLS with --ssl, a thingsdbs:// URL, --cafile or --no-verify (a wss://
    URI has it anyway); the certificate verified unless --no-verify."""
    cafile, cafile_from = picked(args.cafile, "CAFILE", "", "--cafile")
    if args.ssl is not None:
        use_ssl = args.ssl
    elif url is not None:
        use_ssl = url.tls
    else:
        use_ssl = _env_flag("SSL", False)
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
            BAD_USAGE, f"{cafile_from}: cannot read {cafile}: {reason(exc)}"
        ) from None
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
