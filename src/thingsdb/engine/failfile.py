"""Where the payload of an undecodable package is dumped, for debugging."""

from __future__ import annotations

import logging

_log = logging.getLogger("thingsdb.protocol")
_fail_file = ""


def set_package_fail_file(fn: str | None = "") -> None:
    """Dump the MessagePack payload of the last package that failed to decode
    to ``fn`` (the header is not written). ``''`` or None turns dumping off.
    One file for all clients in the process."""
    global _fail_file
    if fn is None:
        fn = ""
    if not isinstance(fn, str):
        raise TypeError(f"fn must be a str or None, not {type(fn).__name__}")
    _fail_file = fn


def dump_failed_payload(payload: bytes) -> None:
    if not _fail_file:
        return
    try:
        with open(_fail_file, "wb") as fp:
            fp.write(payload)
    except OSError as exc:
        _log.error("cannot write the failed package to %r: %s", _fail_file, exc)
    else:
        _log.warning("failed package payload written to %r", _fail_file)
