"""Building Sigstore v0.3 bundles from signatures; no pkcs11 import, no network.

Owns: the `Signer` protocol (what `hsm.signer.HsmSigner` satisfies), streaming artifact
hashing, the in-toto Statement and DSSE PAE, the bundle dicts (protobuf-JSON: lowerCamelCase
names, standard padded base64) and atomic file writes. It must not talk to a token or a TSA:
the CLI passes signatures and timestamp responses in.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from verifier.errors import InputError, Reason

BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
IN_TOTO_STATEMENT_V1 = "https://in-toto.io/Statement/v1"
CHUNK_BYTES = 1 << 20
# Ed25519 (pure EdDSA) needs the whole artifact in memory; above this we refuse rather than
# surprise someone with a multi-gigabyte allocation.
MAX_ED25519_MESSAGE_BYTES = 256 << 20

_DIGEST_NAMES = {"sha256": "SHA2_256", "sha384": "SHA2_384", "sha512": "SHA2_512"}


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


@dataclass(frozen=True)
class ArtifactDigest:
    hash_name: str
    """sha256, sha384 or sha512."""
    digest: bytes
    message: bytes | None = None
    """The whole artifact, only when the signer needs it (Ed25519)."""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_artifact(path: Path, hash_name: str, *, keep_message: bool = False) -> ArtifactDigest:
    """Hash a file in 1 MiB chunks (constant memory unless `keep_message`).

    Raises:
        InputError: `artifact.unreadable`, or `input.too_large` when `keep_message` and the
            file exceeds MAX_ED25519_MESSAGE_BYTES.
    """
    hasher = hashlib.new(hash_name)
    kept: list[bytes] | None = [] if keep_message else None
    total = 0
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(CHUNK_BYTES):
                hasher.update(chunk)
                total += len(chunk)
                if kept is not None:
                    if total > MAX_ED25519_MESSAGE_BYTES:
                        raise InputError(
                            Reason.INPUT_TOO_LARGE,
                            f"{path} is larger than {MAX_ED25519_MESSAGE_BYTES >> 20} MiB: Ed25519 signs the"
                            " whole file in one token call; use an EC or RSA key for large artifacts",
                        )
                    kept.append(chunk)
    except OSError as exc:
        raise InputError(
            Reason.ARTIFACT_UNREADABLE, f"cannot read artifact {path}: {exc.strerror or exc}"
        ) from exc
    return ArtifactDigest(hash_name, hasher.digest(), b"".join(kept) if kept is not None else None)


def sign_artifact(signer: Signer, path: Path) -> tuple[ArtifactDigest, bytes]:
    """Hash `path` on the host and sign it: the digest, or the whole file for Ed25519.

    The bundle's messageDigest is SHA-256 for Ed25519 (informational: the signature covers
    the bytes), the signer's hash otherwise.
    """
    if signer.prehashed:
        digest = hash_artifact(path, signer.hash_name)
        return digest, signer.sign_digest(digest.digest, digest.hash_name)
    digest = hash_artifact(path, "sha256", keep_message=True)
    assert digest.message is not None
    signature = signer.sign_message(digest.message)
    return ArtifactDigest(digest.hash_name, digest.digest), signature


def sign_pae(signer: Signer, payload_type: str, payload: bytes) -> bytes:
    """Sign DSSE's PAE: hash then sign for ECDSA/RSA; Ed25519 signs PAE itself."""
    message = pae(payload_type, payload)
    if signer.prehashed:
        return signer.sign_digest(hashlib.new(signer.hash_name, message).digest(), signer.hash_name)
    return signer.sign_message(message)


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: "DSSEv1" SP len(type) SP type SP len(body) SP body."""
    type_bytes = payload_type.encode("utf-8")
    return b" ".join(
        [b"DSSEv1", str(len(type_bytes)).encode(), type_bytes, str(len(payload)).encode(), payload]
    )


def in_toto_statement(subject_name: str, sha256_hex: str, predicate_type: str, predicate: Any) -> bytes:
    """An in-toto Statement v1 as compact JSON bytes (the DSSE payload)."""
    statement = {
        "_type": IN_TOTO_STATEMENT_V1,
        "subject": [{"name": subject_name, "digest": {"sha256": sha256_hex}}],
        "predicateType": predicate_type,
        "predicate": predicate,
    }
    return json.dumps(statement, separators=(",", ":"), sort_keys=False).encode("utf-8")


def verification_material(
    *,
    key_hint: str | None = None,
    certificate_der: bytes | None = None,
    rfc3161_responses: list[bytes] | None = None,
) -> dict[str, Any]:
    """The v0.3 verificationMaterial: a certificate, or a public-key hint; no tlog entries."""
    if (key_hint is None) == (certificate_der is None):
        raise ValueError("exactly one of key_hint and certificate_der")
    material: dict[str, Any] = {}
    if certificate_der is not None:
        material["certificate"] = {"rawBytes": b64(certificate_der)}
    else:
        material["publicKey"] = {"hint": key_hint}
    material["tlogEntries"] = []
    if rfc3161_responses:
        material["timestampVerificationData"] = {
            "rfc3161Timestamps": [{"signedTimestamp": b64(r)} for r in rfc3161_responses]
        }
    return material


def message_signature_bundle(digest: ArtifactDigest, signature: bytes, material: dict[str, Any]) -> dict[str, Any]:
    """A v0.3 bundle whose content is a messageSignature over the artifact digest."""
    return {
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": material,
        "messageSignature": {
            "messageDigest": {"algorithm": _DIGEST_NAMES[digest.hash_name], "digest": b64(digest.digest)},
            "signature": b64(signature),
        },
    }


def dsse_bundle(payload: bytes, payload_type: str, signature: bytes, material: dict[str, Any]) -> dict[str, Any]:
    """A v0.3 bundle whose content is a one-signature DSSE envelope."""
    return {
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": material,
        "dsseEnvelope": {
            "payload": b64(payload),
            "payloadType": payload_type,
            "signatures": [{"sig": b64(signature), "keyid": ""}],
        },
    }


def dump_bundle_json(bundle: dict[str, Any]) -> bytes:
    return (json.dumps(bundle, indent=2) + "\n").encode("utf-8")


def write_atomic(path: Path, data: bytes, *, sync_dir: bool = True) -> None:
    """Write via a temp file in the same directory, fsync, then os.replace: readers see the
    old file or the new one, never half of one.

    `sync_dir=False` skips the directory fsync that makes the rename itself durable; a
    caller writing many files into one directory does it once at the end (`sync_dirs`).

    Raises:
        InputError: `artifact.unreadable` when the directory is not writable.
    """
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise InputError(Reason.ARTIFACT_UNREADABLE, f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if sync_dir:
        _fsync_dir(directory)


def sync_dirs(paths: list[Path]) -> None:
    """fsync each distinct parent directory once (after a batch of write_atomic calls)."""
    for directory in {p.parent if str(p.parent) else Path(".") for p in paths}:
        _fsync_dir(directory)


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not possible on every platform, hence best effort.
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


__all__ = [
    "ArtifactDigest",
    "BUNDLE_MEDIA_TYPE",
    "CHUNK_BYTES",
    "IN_TOTO_PAYLOAD_TYPE",
    "IN_TOTO_STATEMENT_V1",
    "MAX_ED25519_MESSAGE_BYTES",
    "Signer",
    "b64",
    "dsse_bundle",
    "dump_bundle_json",
    "hash_artifact",
    "in_toto_statement",
    "message_signature_bundle",
    "pae",
    "sign_artifact",
    "sign_pae",
    "sync_dirs",
    "verification_material",
    "write_atomic",
]
