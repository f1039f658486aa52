"""A log's checkpoint origin when its base URL has a port: host:port (the URL) or host (cosign).

Private deployments run logs on ports; rekor-tiles signs under whatever origin its operator set,
and cosign derives the host alone. Both spellings are accepted, and for Ed25519 logs the
trusted root's logId (which commits to the origin) pins the one the log uses.
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from tests.conftest import REPO
from verifier import InputError, Reason, load_trusted_root
from verifier._internal.algorithms import signed_note_key_id
from verifier._internal.trustroot.model import log_origins

PUBLIC_GOOD = json.loads((REPO / "trust-root" / "public-good" / "trusted_root.json").read_bytes())


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://log2025-1.rekor.sigstore.dev", ("log2025-1.rekor.sigstore.dev",)),
        ("https://log.example/", ("log.example",)),
        ("http://127.0.0.1:3003", ("127.0.0.1:3003", "127.0.0.1")),
        ("https://log.example:8443/tree", ("log.example:8443/tree", "log.example/tree")),
    ],
)
def test_log_origins(url: str, expected: tuple[str, ...]) -> None:
    assert log_origins(url) == expected


def _root_with_v2_log(key: Any, url: str, log_id: bytes) -> bytes:
    doc = copy.deepcopy(PUBLIC_GOOD)
    spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    details = "PKIX_ED25519" if isinstance(key, ed25519.Ed25519PublicKey) else "PKIX_ECDSA_P256_SHA_256"
    doc["tlogs"].append(
        {
            "baseUrl": url,
            "hashAlgorithm": "SHA2_256",
            "publicKey": {
                "rawBytes": base64.b64encode(spki).decode(),
                "keyDetails": details,
                "validFor": {"start": "2025-01-01T00:00:00Z"},
            },
            "logId": {"keyId": base64.b64encode(log_id).decode()},
        }
    )
    return json.dumps(doc).encode()


@pytest.mark.parametrize("origin", ["127.0.0.1:3003", "127.0.0.1"])
def test_ed25519_log_id_pins_the_origin_it_was_made_for(origin: str) -> None:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    root = load_trusted_root(_root_with_v2_log(key, "http://127.0.0.1:3003", signed_note_key_id(origin, key, spki)))
    log = root.tlogs[-1]
    assert log.origins == (origin,) and log.origin == origin


def test_ed25519_log_id_for_another_origin_is_refused() -> None:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    data = _root_with_v2_log(key, "http://127.0.0.1:3003", signed_note_key_id("127.0.0.2", key, spki))
    with pytest.raises(InputError) as info:
        load_trusted_root(data)
    assert info.value.reason is Reason.TRUSTROOT_LOG_ID_MISMATCH


def test_ecdsa_log_id_leaves_both_origins_open() -> None:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    root = load_trusted_root(_root_with_v2_log(key, "http://127.0.0.1:3003", signed_note_key_id("x", key, spki)))
    assert root.tlogs[-1].origins == ("127.0.0.1:3003", "127.0.0.1")
