"""The thing being verified: a file (hashed streaming, constant memory) or a given digest."""

from __future__ import annotations

import hashlib
import mmap
import os
import re
from typing import Iterable, NamedTuple, Optional

from verifier._internal.algorithms import DIGEST_SIZES
from verifier.errors import InputError, Reason

_CHUNK = 1024 * 1024
_DIGEST_RE = re.compile(r"\A(sha256|sha384|sha512):([0-9a-fA-F]+)\Z")


class ArtifactInput(NamedTuple):
    path: Optional[str] = None
    given_digest: Optional[tuple[str, bytes]] = None
    """(hash name, digest) when the caller passed `sha256:HEX` instead of a file."""

    def describe(self) -> str:
        if self.path is not None:
            return self.path
        assert self.given_digest is not None
        return f"{self.given_digest[0]}:{self.given_digest[1].hex()}"


def parse_artifact_argument(arg: str) -> ArtifactInput:
    """`sha256:HEX` (right length, not an existing path) is a digest; anything else a file."""
    m = _DIGEST_RE.match(arg)
    if m and not os.path.exists(arg):
        name, hex_digest = m.group(1), m.group(2)
        if len(hex_digest) != 2 * DIGEST_SIZES[name]:
            raise InputError(
                Reason.ARTIFACT_BAD_DIGEST, f"{name} digest must be {2 * DIGEST_SIZES[name]} hex digits"
            )
        return ArtifactInput(given_digest=(name, bytes.fromhex(hex_digest)))
    if not os.path.isfile(arg):
        raise InputError(Reason.ARTIFACT_UNREADABLE, f"artifact {arg!r} is not a readable file")
    return ArtifactInput(path=arg)


def hash_file(path: str, names: Iterable[str]) -> dict[str, bytes]:
    """Hash a file once with several algorithms, 1 MiB at a time."""
    hashers = {name: hashlib.new(name) for name in set(names)}
    try:
        with open(path, "rb") as fh:
            buf = bytearray(_CHUNK)
            view = memoryview(buf)
            while True:
                n = fh.readinto(buf)
                if not n:
                    break
                for h in hashers.values():
                    h.update(view[:n])
    except OSError as exc:
        raise InputError(Reason.ARTIFACT_UNREADABLE, f"cannot read artifact {path!r}: {exc.strerror}") from exc
    return {name: h.digest() for name, h in hashers.items()}


def artifact_digests(artifact: ArtifactInput, names: Iterable[str]) -> dict[str, bytes]:
    """Digests we computed (file) or were given (digest input; only that one algorithm)."""
    if artifact.path is not None:
        return hash_file(artifact.path, names)
    assert artifact.given_digest is not None
    name, digest = artifact.given_digest
    return {name: digest}


def read_artifact(path: str) -> "mmap.mmap | bytes":
    """Whole-message access for Ed25519, which cannot be prehashed: mapped, not copied."""
    try:
        with open(path, "rb") as fh:
            if os.fstat(fh.fileno()).st_size == 0:
                return b""
            return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError as exc:
        raise InputError(Reason.ARTIFACT_UNREADABLE, f"cannot read artifact {path!r}: {exc.strerror}") from exc
