"""The ``THINGSDB_*`` environment variables behind the connection flags:
a flag wins over its variable, which wins over the default."""

from __future__ import annotations

import os


def _env(name: str) -> str | None:
    value = os.environ.get(f"THINGSDB_{name}")
    return value if value else None


def _env_flag(name: str, default: bool) -> bool:
    value = _env(name)
    if value is None:
        return default
    return value.strip().lower() not in ("0", "false", "no", "off")


def picked(flag: str | None, env: str, default: str, flag_name: str) -> tuple[str, str]:
    """A value and where it came from: the flag, else the environment, else
    the default."""
    if flag is not None:
        return flag, flag_name
    value = _env(env)
    if value is not None:
        return value, f"THINGSDB_{env}"
    return default, flag_name


def _flag_only(
    flag: str | None, env: str, default: str, flag_name: str
) -> tuple[str, str]:
    """:func:`picked` without the environment: with ``--local``, whose
    node is not the one ``THINGSDB_NODE`` and its like describe."""
    return (flag, flag_name) if flag is not None else (default, flag_name)
