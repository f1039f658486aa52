"""Signing artifacts and DSSE envelopes with any `Signer`: hash on this host, sign on the token.

The `Signer` protocol is what `hsm.signer.HsmSigner` satisfies; this module never talks to a
token itself, so it is testable with any key that has the same shape.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any, Protocol

from verifier._internal.artifact import hash_file, read_whole
from verifier._internal.bundle.build import ArtifactDigest
from verifier._internal.encoding import pae


class Signer(Protocol):
    """What `sign`/`attest` need from a key. `key_type` is ec-p256, ec-p384, rsa-N or ed25519."""

    key_type: str

    @property
    def hash_name(self) -> str: ...

    @property
    def prehashed(self) -> bool: ...

    def public_key(self) -> Any: ...

    def sign_digest(self, digest: bytes, hash_name: str) -> bytes: ...

    def sign_message(self, message: bytes) -> bytes: ...


def digest_artifact(path: str | os.PathLike[str], hash_name: str) -> ArtifactDigest:
    """One digest of a file, streaming. Raises InputError(artifact.unreadable)."""
    return ArtifactDigest(hash_name, hash_file(path, (hash_name,))[hash_name])


def sign_artifact(signer: Signer, path: str | os.PathLike[str]) -> tuple[ArtifactDigest, bytes]:
    """Hash `path` on the host and sign it: the digest, or the whole file for Ed25519.

    The bundle's messageDigest is SHA-256 for Ed25519 (informational: the signature covers
    the bytes), the signer's hash otherwise.

    Raises:
        InputError: artifact.unreadable; input.too_large for an Ed25519 message over the cap.
    """
    if signer.prehashed:
        digest = digest_artifact(path, signer.hash_name)
        return digest, signer.sign_digest(digest.digest, digest.hash_name)
    sha256, message = read_whole(path, "sha256")
    return ArtifactDigest("sha256", sha256), signer.sign_message(message)


def sign_pae(signer: Signer, payload_type: str, payload: bytes) -> bytes:
    """Sign DSSE's PAE: hash then sign for ECDSA/RSA; Ed25519 signs PAE itself."""
    message = pae(payload_type, payload)
    if signer.prehashed:
        return signer.sign_digest(hashlib.new(signer.hash_name, message).digest(), signer.hash_name)
    return signer.sign_message(message)


__all__ = ["Signer", "digest_artifact", "sign_artifact", "sign_pae"]
