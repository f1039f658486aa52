"""Public-key loading and encoding for the verify path, without cryptography's serialization
package.

Importing `cryptography.hazmat.primitives.serialization` also imports its SSH key module
(dataclasses, inspect, ciphers): about 7 ms of every cold `airseal verify`, for two loader
functions and two enums. In cryptography the public names are plain aliases of the objects
imported here; `tests/unit/test_keyio.py` asserts they are the very same objects, so a
cryptography release that moves them fails the tests instead of changing behaviour, and the
fallback keeps airseal working meanwhile.
"""

from __future__ import annotations

from typing import Any

try:
    from cryptography.hazmat.bindings._rust import openssl as _rust_openssl
    from cryptography.hazmat.primitives._serialization import Encoding, PublicFormat

    load_der_public_key = _rust_openssl.keys.load_der_public_key
    load_pem_public_key = _rust_openssl.keys.load_pem_public_key
except (ImportError, AttributeError):  # pragma: no cover - only if cryptography reorganises
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        PublicFormat,
        load_der_public_key,
        load_pem_public_key,
    )


def spki_der(key: Any) -> bytes:
    """DER SubjectPublicKeyInfo of a public key."""
    der: bytes = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return der


__all__ = ["Encoding", "PublicFormat", "load_der_public_key", "load_pem_public_key", "spki_der"]
