"""The protocol core: framing, decoding and the pending-request table.

Nothing here does I/O or knows about event loops; the drivers in
``thingsdb.transport`` feed it bytes and write what it produces.
"""

from .codec import (
    auth_payload,
    decode,
    encode,
    query_payload,
    run_payload,
)
from .decoder import PackageDecoder
from .grammar import (
    Scope,
    canonical_scope,
    check_name,
    check_scope,
    collection_name,
    is_name,
    parse_scope,
)
from .package import (
    DEFAULT_MAX_PACKAGE_SIZE,
    EVENT_PID,
    EVENT_TYPES,
    HEADER,
    HEADER_SIZE,
    MAX_REQUEST_PID,
    RESPONSE_TYPES,
    Package,
    PackageType,
    frame,
)
from .pending import PendingRequests

__all__ = [
    "DEFAULT_MAX_PACKAGE_SIZE",
    "EVENT_PID",
    "EVENT_TYPES",
    "HEADER",
    "HEADER_SIZE",
    "MAX_REQUEST_PID",
    "RESPONSE_TYPES",
    "Package",
    "PackageDecoder",
    "PackageType",
    "PendingRequests",
    "Scope",
    "auth_payload",
    "canonical_scope",
    "check_name",
    "check_scope",
    "collection_name",
    "decode",
    "encode",
    "frame",
    "is_name",
    "parse_scope",
    "query_payload",
    "run_payload",
]
