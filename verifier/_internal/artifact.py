"""The thing being verified or signed: a file (hashed streaming, constant memory) or a digest.

One home for reading artifacts: verification, signing and the gate all hash through
`hash_fd` (and `hash_file`, which opens a path and calls it), reading with `os.read` on a raw
descriptor (for the many small files of a batch this is about half the cost of a buffered file
object) in chunks of `Limits.hash_chunk_bytes`, so memory stays constant whatever the file size.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import re
from collections.abc import Iterable
from typing import Optional

from verifier._internal.algorithms import DIGEST_SIZES
from verifier._internal.limits import DEFAULT_LIMITS, Limits
from verifier._internal.record import Record
from verifier.errors import InputError, Reason

_DIGEST_RE = re.compile(r"\A(sha256|sha384|sha512):([0-9a-fA-F]+)\Z")


class ArtifactInput(Record):
    """What the caller asked about: a file path, or a digest given instead of the file."""

    path: Optional[str] = None
    given_digest: Optional[tuple[str, bytes]] = None
    """(hash name, digest) when the caller passed `sha256:HEX` instead of a file."""

    def describe(self) -> str:
        if self.path is not None:
            return self.path
        assert self.given_digest is not None
        return f"{self.given_digest[0]}:{self.given_digest[1].hex()}"


def parse_artifact_argument(arg: str) -> ArtifactInput:
    """`sha256:HEX` (right length, not an existing path) is a digest; anything else a file.

    Raises:
        InputError: artifact.bad_digest, artifact.unreadable.
    """
    m = _DIGEST_RE.match(arg)
    if m and not os.path.exists(arg):
        name, hex_digest = m.group(1), m.group(2)
        if len(hex_digest) != 2 * DIGEST_SIZES[name]:
            raise InputError(Reason.ARTIFACT_BAD_DIGEST, f"{name} digest must be {2 * DIGEST_SIZES[name]} hex digits")
        return ArtifactInput(given_digest=(name, bytes.fromhex(hex_digest)))
    if not os.path.isfile(arg):
        raise InputError(Reason.ARTIFACT_UNREADABLE, f"artifact {arg[:200]!r} is not a readable file")
    return ArtifactInput(path=arg)


def _unreadable(path: str | os.PathLike[str], exc: OSError) -> InputError:
    return InputError(Reason.ARTIFACT_UNREADABLE, f"cannot read artifact {str(path)[:200]!r}: {exc.strerror or exc}")


def hash_fd(fd: int, names: Iterable[str], limits: Limits = DEFAULT_LIMITS) -> dict[str, bytes]:
    """Hash what an open descriptor yields from its current offset to the end (`os.read`, so
    pipes work too: `<(...)`), once with each named algorithm, a chunk at a time.

    The one hasher: `hash_file` opens a path and calls this; the gate calls it on the
    descriptor it opened with O_NOFOLLOW and checked with fstat (rewound first).

    Raises:
        OSError: a read error (the caller names the file).
    """
    hashers = [(name, hashlib.new(name)) for name in set(names)]
    chunk = limits.hash_chunk_bytes
    while data := os.read(fd, chunk):
        for _, hasher in hashers:
            hasher.update(data)
    return {name: hasher.digest() for name, hasher in hashers}


def hash_file(path: str | os.PathLike[str], names: Iterable[str], limits: Limits = DEFAULT_LIMITS) -> dict[str, bytes]:
    """Hash a file once with each named algorithm, a chunk at a time (`hash_fd` on it).

    Raises:
        InputError: artifact.unreadable (missing, a directory, a read error).
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            return hash_fd(fd, names, limits)
        finally:
            os.close(fd)
    except OSError as exc:
        raise _unreadable(path, exc) from exc


def artifact_digests(artifact: ArtifactInput, names: Iterable[str]) -> dict[str, bytes]:
    """Digests we computed (file) or were given (digest input; only that one algorithm)."""
    if artifact.path is not None:
        return hash_file(artifact.path, names)
    assert artifact.given_digest is not None
    name, digest = artifact.given_digest
    return {name: digest}


def map_artifact(path: str) -> mmap.mmap | bytes:
    """Whole-message access for verifying Ed25519, which cannot be prehashed: mapped, not copied.

    Raises:
        InputError: artifact.unreadable.
    """
    try:
        with open(path, "rb") as fh:
            if os.fstat(fh.fileno()).st_size == 0:
                return b""
            return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError as exc:
        raise _unreadable(path, exc) from exc


def read_whole(path: str | os.PathLike[str], hash_name: str, limits: Limits = DEFAULT_LIMITS) -> tuple[bytes, bytes]:
    """(digest, whole content) of a file, for signers that sign the whole message (Ed25519).

    Raises:
        InputError: artifact.unreadable; input.too_large above Limits.max_ed25519_message_bytes.
    """
    hasher = hashlib.new(hash_name)
    kept: list[bytes] = []
    total = 0
    try:
        with open(path, "rb") as fh:
            while data := fh.read(limits.hash_chunk_bytes):
                total += len(data)
                if total > limits.max_ed25519_message_bytes:
                    raise InputError(
                        Reason.INPUT_TOO_LARGE,
                        f"{path} is larger than {limits.max_ed25519_message_bytes >> 20} MiB: Ed25519 signs the"
                        " whole file in one token call; use an EC or RSA key for large artifacts",
                    )
                hasher.update(data)
                kept.append(data)
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    return hasher.digest(), b"".join(kept)


__all__ = ["ArtifactInput", "artifact_digests", "hash_fd", "hash_file", "map_artifact", "parse_artifact_argument", "read_whole"]
