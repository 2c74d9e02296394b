"""TLS files for test nodes: a node serves ``wss://`` only with its key in
PKCS#8 form (with another form it falls back to ``ws://``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import load_pem_private_key

import realnode


def write_pkcs8_key(key: Any, path: Path) -> None:
    """``key`` (a cryptography private key) as PEM, PKCS#8, unencrypted."""
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def start_wss_node(workdir: Path, ca: trustme.CA) -> realnode.Node:
    """A node whose WebSocket port serves TLS with a certificate of ``ca``
    for localhost and 127.0.0.1 (skips the test without a binary)."""
    binary, reason = realnode.find_binary()
    if binary is None:
        pytest.skip(reason)
    cert = ca.issue_cert("localhost", "127.0.0.1")
    cert_file = Path(workdir, "cert.pem")
    key_file = Path(workdir, "key.pem")
    cert_file.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    write_pkcs8_key(
        load_pem_private_key(cert.private_key_pem.bytes(), password=None), key_file
    )
    return realnode.start_node(
        workdir,
        binary=binary,
        extra_config={"ws_cert_file": cert_file, "ws_key_file": key_file},
    )
