"""Building Sigstore v0.3 bundles from signatures; no pkcs11 import, no network.

Owns: the `Signer` protocol (what `hsm.signer.HsmSigner` satisfies), streaming artifact
hashing, the in-toto Statement and DSSE PAE, the bundle dicts (protobuf-JSON: lowerCamelCase
names, standard padded base64) and atomic file writes, one at a time (`write_atomic`) or as a
batch (`AtomicBatch`: many temp files made durable with one filesystem sync, then renamed).
It must not talk to a token or a TSA: the CLI passes signatures and timestamp responses in.
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

from verifier._internal.atomic import atomic_file, fsync_dir
from verifier._internal.encoding import b64, pae
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


def hash_file(path: Path, hash_name: str) -> ArtifactDigest:
    """`hash_artifact` without keeping the message, on a raw fd: the batch path's hasher.

    Same result and errors as `hash_artifact(path, hash_name)`, but with os.read on an fd and
    no file object: for the small files of a big batch this halves the per-file cost.
    """
    hasher = hashlib.new(hash_name)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            while chunk := os.read(fd, CHUNK_BYTES):
                hasher.update(chunk)
        finally:
            os.close(fd)
    except OSError as exc:
        raise InputError(
            Reason.ARTIFACT_UNREADABLE, f"cannot read artifact {path}: {exc.strerror or exc}"
        ) from exc
    return ArtifactDigest(hash_name, hasher.digest())


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


class MessageBundleTemplate:
    """`dump_bundle_json(message_signature_bundle(...))` for many signatures sharing one
    verification material, without rebuilding and re-serialising the constant parts.

    The JSON is produced once with placeholders and split; `render` fills in the two base64
    values (base64 needs no JSON escaping), so the bytes equal `dump_bundle_json`'s.
    """

    _DIGEST_MARK = "@@airseal-digest@@"
    _SIGNATURE_MARK = "@@airseal-signature@@"

    def __init__(self, material: dict[str, Any], hash_name: str) -> None:
        self.hash_name = hash_name
        bundle = {
            "mediaType": BUNDLE_MEDIA_TYPE,
            "verificationMaterial": material,
            "messageSignature": {
                "messageDigest": {"algorithm": _DIGEST_NAMES[hash_name], "digest": self._DIGEST_MARK},
                "signature": self._SIGNATURE_MARK,
            },
        }
        text = dump_bundle_json(bundle)
        head, rest = text.split(self._DIGEST_MARK.encode("ascii"))
        middle, tail = rest.split(self._SIGNATURE_MARK.encode("ascii"))
        self._parts = (head, middle, tail)

    def render(self, digest: bytes, signature: bytes) -> bytes:
        head, middle, tail = self._parts
        return b"".join((head, base64.b64encode(digest), middle, base64.b64encode(signature), tail))


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
    try:
        with atomic_file(path, sync_dir=sync_dir) as fh:
            fh.write(data)
    except OSError as exc:
        raise InputError(Reason.ARTIFACT_UNREADABLE, f"cannot write {path}: {exc.strerror or exc}") from exc


BULK_SYNC_MIN_FILES = 8
"""From this many files on, `AtomicBatch` makes its temp files durable with one syncfs(2)
of their filesystem instead of one fsync each (0.3-1.5 ms per file on ext4)."""


class AtomicBatch:
    """Write many files atomically, durably, and all-or-nothing up to the renames.

    1. `stage(path, data)` writes a temp file next to `path` (same directory, so the rename
       stays on one filesystem); in bulk mode without fsync, else with fsync as `write_atomic`.
    2. `commit()` makes every staged temp file durable (bulk: one syncfs(2) per filesystem,
       which reports writeback errors on Linux >= 5.8; without syncfs, an fsync per file),
       then renames each over its target, then fsyncs each parent directory once.
    3. `abort()` (on any failure before `commit`) unlinks every staged temp file: no target
       is touched, nothing half-written is left.

    So a failure while staging or syncing writes nothing. A rename failing inside `commit`
    (target replaced by a directory, say) leaves the earlier targets replaced (each complete
    and durable), removes the remaining temp files and raises `artifact.unreadable`.
    """

    def __init__(self, *, bulk: bool) -> None:
        self.bulk = bulk
        self._staged: list[tuple[str, Path]] = []

    def __len__(self) -> int:
        return len(self._staged)

    def stage(self, path: Path, data: bytes) -> None:
        """Raises: InputError `artifact.unreadable` when the temp file cannot be written."""
        directory = path.parent if str(path.parent) else Path(".")
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
        except OSError as exc:
            raise InputError(Reason.ARTIFACT_UNREADABLE, f"cannot write {path}: {exc.strerror or exc}") from exc
        self._staged.append((tmp, path))
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fchmod(fd, 0o644)
            if not self.bulk:
                os.fsync(fd)
        except OSError as exc:
            raise InputError(Reason.ARTIFACT_UNREADABLE, f"cannot write {path}: {exc.strerror or exc}") from exc
        finally:
            os.close(fd)

    def commit(self) -> None:
        """Sync, rename, sync directories. Raises: InputError `artifact.unreadable`."""
        staged = self._staged
        try:
            if self.bulk:
                _sync_files([tmp for tmp, _ in staged])
        except OSError as exc:
            self.abort()
            raise InputError(
                Reason.ARTIFACT_UNREADABLE, f"cannot make the bundles durable: {exc.strerror or exc}"
            ) from exc
        done = 0
        try:
            for tmp, path in staged:
                os.replace(tmp, path)
                done += 1
        except OSError as exc:
            failed = staged[done][1]
            self._staged = staged[done:]  # the failed one and the rest are still temp files
            self.abort()
            raise InputError(Reason.ARTIFACT_UNREADABLE, f"cannot write {failed}: {exc.strerror or exc}") from exc
        finally:
            sync_dirs([path for _, path in staged[:done]])
        self._staged = []

    def abort(self) -> None:
        """Remove every staged temp file (best effort); idempotent."""
        staged, self._staged = self._staged, []
        for tmp, _ in staged:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _sync_files(paths: list[str]) -> None:
    """Make the data of `paths` durable: syncfs(2) once per filesystem, else fsync each."""
    syncfs = _libc_syncfs()
    if syncfs is None:
        for name in paths:
            fd = os.open(name, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        return
    seen: set[int] = set()
    for name in paths:
        directory = os.path.dirname(name) or "."
        fd = os.open(directory, os.O_RDONLY)
        try:
            dev = os.fstat(fd).st_dev
            if dev in seen:
                continue
            seen.add(dev)
            if syncfs(fd) != 0:
                import ctypes

                err = ctypes.get_errno()
                raise OSError(err, os.strerror(err))
        finally:
            os.close(fd)


def _libc_syncfs() -> Any:
    """libc's syncfs(int fd), or None (not Linux, or no ctypes)."""
    if not hasattr(os, "sched_getaffinity"):  # cheap "is this Linux" test
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).syncfs
    except (ImportError, OSError, AttributeError):
        return None


def sync_dirs(paths: list[Path]) -> None:
    """fsync each distinct parent directory once (after a batch of write_atomic calls)."""
    for directory in {p.parent if str(p.parent) else Path(".") for p in paths}:
        fsync_dir(directory)


