"""The one table of hash algorithms, curves, key types and key ids. Leaf module, no I/O.

Every place that maps a hash name to a cryptography object, a Sigstore `HashAlgorithm` enum
name, a curve to its hash, a trusted root's `keyDetails` to a key shape and signature scheme,
or a public key to its id reads it from here, so the verifier, the signer and the token code
cannot drift apart.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Optional

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from verifier._internal.keyio import Encoding, PublicFormat
from verifier._internal.record import Record

HASH_NAMES: tuple[str, ...] = ("sha256", "sha384", "sha512")
"""The hashes Sigstore evidence may use (hashlib names); SHA-1 and MD5 never count."""

DIGEST_SIZES: dict[str, int] = {"sha256": 32, "sha384": 48, "sha512": 64}

HASH_ALGORITHMS: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}

HASH_FROM_ENUM: dict[str, str] = {"SHA2_256": "sha256", "SHA2_384": "sha384", "SHA2_512": "sha512"}
"""Sigstore's protobuf `HashAlgorithm` enum names -> hashlib names."""
ENUM_FROM_HASH: dict[str, str] = {name: enum for enum, name in HASH_FROM_ENUM.items()}

CURVE_HASH: dict[str, str] = {"secp256r1": "sha256", "secp384r1": "sha384", "secp521r1": "sha512"}
"""The hash the algorithm registry pairs with each supported curve."""

KEY_TYPE_CURVES: dict[str, str] = {"ec-p256": "secp256r1", "ec-p384": "secp384r1"}
"""airseal's token key-type names for EC keys -> curve names."""


def hash_algorithm(name: str) -> hashes.HashAlgorithm:
    """A cryptography hash object for a hashlib name in HASH_NAMES (KeyError otherwise)."""
    return HASH_ALGORITHMS[name]()


def key_hash_name(key: PublicKeyTypes) -> Optional[str]:
    """The hash a signature by this key is over (None: Ed25519 signs the message itself)."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        return CURVE_HASH.get(key.curve.name, "sha256")
    if isinstance(key, ed25519.Ed25519PublicKey):
        return None
    return "sha256"


def message_hash_names(key: PublicKeyTypes) -> Optional[frozenset[str]]:
    """Hashes a message signature by this key may be over; None when any is plausible.

    P-384/P-521 keys: their own hash, or SHA-256 (older clients signed so, and sigstore-go
    still accepts it for bundles up to v0.3). RSA: SHA-256.
    """
    if isinstance(key, ec.EllipticCurvePublicKey):
        return frozenset({CURVE_HASH.get(key.curve.name, "sha256"), "sha256"})
    if isinstance(key, rsa.RSAPublicKey):
        return frozenset({"sha256"})
    return None


def is_supported_key(key: PublicKeyTypes) -> bool:
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key.curve.name in CURVE_HASH
    if isinstance(key, rsa.RSAPublicKey):
        return key.key_size >= 2048
    return isinstance(key, ed25519.Ed25519PublicKey)


def describe_key(key: PublicKeyTypes) -> str:
    """A person's name for a key: "ECDSA secp256r1", "RSA-3072", "Ed25519"."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"ECDSA {key.curve.name}"
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA-{key.key_size}"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    return type(key).__name__


def key_type_name(key: PublicKeyTypes) -> str:
    """airseal's key-type name (ec-p256, ec-p384, rsa-3072, ed25519) for a public key."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        by_curve = {curve: name for name, curve in KEY_TYPE_CURVES.items()}
        return by_curve.get(key.curve.name, f"ec-{key.curve.name}")
    if isinstance(key, rsa.RSAPublicKey):
        return f"rsa-{key.key_size}"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519"
    return type(key).__name__.lower()


# --- key ids -----------------------------------------------------------------------------------


def spki_sha256(spki_der: bytes) -> bytes:
    """SHA-256 of a DER SubjectPublicKeyInfo: a Rekor v1 / CT log id, and the key hint's bytes."""
    return hashlib.sha256(spki_der).digest()


def key_id(spki_der: bytes) -> str:
    """The key id airseal writes as a bundle's `publicKey.hint`: base64 SHA-256 of the SPKI."""
    return base64.b64encode(spki_sha256(spki_der)).decode("ascii")


def ssh_fingerprint_sha256(key: PublicKeyTypes) -> Optional[bytes]:
    """OpenSSH's `SHA256:` fingerprint of a key: SHA-256 of its SSH wire encoding (what npm's
    registry keys and publish attestations name a key by), or None for a key SSH cannot encode."""
    from cryptography.hazmat.primitives import serialization

    try:
        line = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    except (ValueError, TypeError, AttributeError):
        return None
    return hashlib.sha256(base64.b64decode(line.split()[1])).digest()


def signed_note_key_id(origin: str, key: PublicKeyTypes, spki: bytes) -> bytes:
    """The C2SP signed-note key id of a log key: what a Rekor v2 log's `logId` holds.

    Ed25519: SHA-256(origin LF 0x01 raw-key); RSA: SHA-256(origin LF 0xff "PKIX-RSA-PKCS#1v1.5"
    SPKI); ECDSA (and anything else): SHA-256(SPKI), as for Rekor v1.
    """
    if isinstance(key, ed25519.Ed25519PublicKey):
        raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return hashlib.sha256(origin.encode() + b"\n" + b"\x01" + raw).digest()
    if isinstance(key, rsa.RSAPublicKey):
        return hashlib.sha256(origin.encode() + b"\n" + b"\xff" + b"PKIX-RSA-PKCS#1v1.5" + spki).digest()
    return spki_sha256(spki)


# --- trusted-root keyDetails ------------------------------------------------------------------


class KeyDetails(Record):
    """What a trusted root's `keyDetails` value fixes about a key and its signatures."""

    matches: Callable[[PublicKeyTypes], bool]
    """Whether a public key has the shape this value names."""
    hash_name: Optional[str]
    """Hash the signatures are over (None: pure Ed25519 over the message)."""
    scheme: str
    """Signature scheme: "ecdsa", "rsa-pkcs1v15", "rsa-pss", "ed25519" or "ed25519ph"."""


def _ec(curve: str) -> Callable[[PublicKeyTypes], bool]:
    return lambda k: isinstance(k, ec.EllipticCurvePublicKey) and k.curve.name == curve


def _rsa(bits: Optional[int]) -> Callable[[PublicKeyTypes], bool]:
    return lambda k: isinstance(k, rsa.RSAPublicKey) and (bits is None or k.key_size == bits)


def _ed25519(key: PublicKeyTypes) -> bool:
    return isinstance(key, ed25519.Ed25519PublicKey)


KEY_DETAILS: dict[str, KeyDetails] = {
    "PKIX_ECDSA_P256_SHA_256": KeyDetails(_ec("secp256r1"), "sha256", "ecdsa"),
    "PKIX_ECDSA_P384_SHA_384": KeyDetails(_ec("secp384r1"), "sha384", "ecdsa"),
    "PKIX_ECDSA_P521_SHA_512": KeyDetails(_ec("secp521r1"), "sha512", "ecdsa"),
    "PKIX_ECDSA_P256_HMAC_SHA_256": KeyDetails(_ec("secp256r1"), "sha256", "ecdsa"),
    "PKIX_ED25519": KeyDetails(_ed25519, None, "ed25519"),
    "PKIX_ED25519_PH": KeyDetails(_ed25519, "sha512", "ed25519ph"),
    "PKIX_RSA_PKCS1V15_2048_SHA256": KeyDetails(_rsa(2048), "sha256", "rsa-pkcs1v15"),
    "PKIX_RSA_PKCS1V15_3072_SHA256": KeyDetails(_rsa(3072), "sha256", "rsa-pkcs1v15"),
    "PKIX_RSA_PKCS1V15_4096_SHA256": KeyDetails(_rsa(4096), "sha256", "rsa-pkcs1v15"),
    "PKIX_RSA_PSS_2048_SHA256": KeyDetails(_rsa(2048), "sha256", "rsa-pss"),
    "PKIX_RSA_PSS_3072_SHA256": KeyDetails(_rsa(3072), "sha256", "rsa-pss"),
    "PKIX_RSA_PSS_4096_SHA256": KeyDetails(_rsa(4096), "sha256", "rsa-pss"),
    # Deprecated enum names that real trusted roots (staging's CT log) still use; size-agnostic.
    "PKCS1_RSA_PKCS1V5": KeyDetails(_rsa(None), "sha256", "rsa-pkcs1v15"),
    "PKIX_RSA_PKCS1V5": KeyDetails(_rsa(None), "sha256", "rsa-pkcs1v15"),
    "PKCS1_RSA_PSS": KeyDetails(_rsa(None), "sha256", "rsa-pss"),
    "PKIX_RSA_PSS": KeyDetails(_rsa(None), "sha256", "rsa-pss"),
}


def hashedrekord_v2_key_details(key: PublicKeyTypes) -> Optional[tuple[str, str]]:
    """(keyDetails name, hash name) a Rekor v2 hashedrekord names for this key, or None.

    Ed25519 is not here: Rekor v2 logs Ed25519 only as Ed25519ph, which airseal does not sign
    or verify.
    """
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name in CURVE_HASH:
        name = {"secp256r1": "P256_SHA_256", "secp384r1": "P384_SHA_384", "secp521r1": "P521_SHA_512"}
        return f"PKIX_ECDSA_{name[key.curve.name]}", CURVE_HASH[key.curve.name]
    if isinstance(key, rsa.RSAPublicKey) and key.key_size in (2048, 3072, 4096):
        return f"PKIX_RSA_PKCS1V15_{key.key_size}_SHA256", "sha256"
    return None


__all__ = [
    "CURVE_HASH",
    "DIGEST_SIZES",
    "ENUM_FROM_HASH",
    "HASH_ALGORITHMS",
    "HASH_FROM_ENUM",
    "HASH_NAMES",
    "KEY_DETAILS",
    "KEY_TYPE_CURVES",
    "KeyDetails",
    "describe_key",
    "hash_algorithm",
    "hashedrekord_v2_key_details",
    "is_supported_key",
    "key_hash_name",
    "key_id",
    "key_type_name",
    "message_hash_names",
    "signed_note_key_id",
    "spki_sha256",
]
