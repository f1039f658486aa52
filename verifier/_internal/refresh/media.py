"""Removable media for the air gap: reading a directory or a pack safely, file by file.

Owns the *sources* a media refresh reads from and the rules that make reading them safe:

* a directory: the `metadata/` + `targets/` layout of a repository checkout, or the flat layout
  of a mirrored TUF site (metadata at the top, targets under `targets/`); symbolic links and
  non-regular files below it are refused;
* a `.tar.gz` pack made by `airseal trust export`: read into memory member by member under the
  caps of `limits.py`; only regular files and directories are accepted, names must be plain
  relative paths, and nothing is ever extracted to disk.

Must not import tuf (fetcher.py adapts a source to python-tuf's `FetcherInterface`), trust
anything it reads (TUF decides that), or hold a cap of its own (every cap is in `limits.py`).
"""

from __future__ import annotations

import os
import re
import stat
import tarfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from verifier._internal.limits import DEFAULT_LIMITS, Limits
from verifier.errors import Reason, TrustRootError

TRUSTED_ROOT_TARGET = "trusted_root.json"
SIGNING_CONFIG_TARGET = "signing_config.v0.2.json"
"""Optional: the deployment's services for signing (Sigstore signing config v0.2), when listed."""
"""The one TUF target airseal asks a repository for."""
_CHUNK = 64 * 1024


def _unsafe(detail: str) -> TrustRootError:
    return TrustRootError(Reason.TUF_MEDIA_UNSAFE, detail)


def check_relpath(rel: str) -> str:
    """Return `rel` if it is a plain relative path.

    Raises:
        TrustRootError: `trustroot.tuf_media_unsafe` for an absolute path, a drive letter, a
            backslash, a NUL, an empty segment, `.` or `..`.
    """
    if not rel or "\\" in rel or "\x00" in rel or rel.startswith("/") or re.match(r"^[A-Za-z]:", rel):
        raise _unsafe(f"refusing path {rel!r} on the media: not a plain relative path")
    parts = rel.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise _unsafe(f"refusing path {rel!r} on the media: path traversal")
    return rel


class MediaSource:
    """Read-only view of the files on the media, addressed by relative path."""

    description: str
    metadata_prefix: str

    def chunks(self, rel: str) -> Iterator[bytes] | None:  # pragma: no cover - interface
        """The file's bytes in chunks, or None when it is absent."""
        raise NotImplementedError

    def names(self) -> set[str]:  # pragma: no cover - interface
        """Every file on the media, as relative paths."""
        raise NotImplementedError

    def has(self, rel: str) -> bool:
        return rel in self.names()

    def read(self, rel: str, max_bytes: int) -> bytes | None:
        """The file's bytes, or None when it is absent.

        Raises:
            TrustRootError: `trustroot.tuf_oversized` when it is larger than `max_bytes`;
                `trustroot.tuf_media_unsafe` for an unsafe path or file.
        """
        it = self.chunks(rel)
        if it is None:
            return None
        buf = bytearray()
        for chunk in it:
            buf += chunk
            if len(buf) > max_bytes:
                raise TrustRootError(
                    Reason.TUF_OVERSIZED, f"{rel} on the media is larger than {max_bytes} bytes"
                )
        return bytes(buf)

    def metadata_names(self) -> set[str]:
        """File names directly under the metadata folder (no sub-folders)."""
        pre = self.metadata_prefix
        return {n[len(pre):] for n in self.names() if n.startswith(pre) and "/" not in n[len(pre):]}


class DirectorySource(MediaSource):
    """A mounted directory. Symbolic links below it and non-regular files are refused."""

    def __init__(self, root: Path, limits: Limits = DEFAULT_LIMITS) -> None:
        self.root = Path(os.path.realpath(root))
        self.limits = limits
        self.description = str(root)
        self.metadata_prefix = "metadata/" if (self.root / "metadata").is_dir() else ""
        self._names: set[str] | None = None

    def _path(self, rel: str) -> Path:
        check_relpath(rel)
        path = self.root / rel
        # realpath differs from the plain join exactly when a link sits on the way
        if os.path.realpath(path) != str(path):
            raise _unsafe(f"refusing {rel} on the media: it is (or sits under) a symbolic link")
        return path

    def chunks(self, rel: str) -> Iterator[bytes] | None:
        path = self._path(rel)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise TrustRootError(Reason.TUF_FETCH_FAILED, f"cannot read {path}: {exc}") from exc
        if not stat.S_ISREG(st.st_mode):
            raise _unsafe(f"refusing {rel} on the media: not a regular file")
        return self._stream(path)

    @staticmethod
    def _stream(path: Path) -> Iterator[bytes]:
        with open(path, "rb") as fh:
            while True:
                chunk = fh.read(_CHUNK)
                if not chunk:
                    return
                yield chunk

    def has(self, rel: str) -> bool:
        check_relpath(rel)
        return os.path.lexists(self.root / rel)

    def names(self) -> set[str]:
        """Files at the top and one folder down (metadata/, targets/); links are not followed."""
        if self._names is None:
            found: set[str] = set()
            for dirpath, dirnames, files in os.walk(self.root):
                rel_dir = os.path.relpath(dirpath, self.root)
                depth = 0 if rel_dir == "." else rel_dir.count(os.sep) + 1
                if depth >= 1:
                    dirnames[:] = []
                dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
                for fname in files:
                    rel = fname if rel_dir == "." else f"{rel_dir.replace(os.sep, '/')}/{fname}"
                    found.add(rel)
                    if len(found) > self.limits.max_pack_members:
                        raise _unsafe(f"{self.root} holds more than {self.limits.max_pack_members} files")
            self._names = found
        return self._names


class PackSource(MediaSource):
    """A pack (tar, optionally gzip-compressed), already read into memory under caps."""

    def __init__(self, files: dict[str, bytes], description: str) -> None:
        self.files = files
        self.description = description
        self.metadata_prefix = "metadata/" if any(n.startswith("metadata/") for n in files) else ""

    def chunks(self, rel: str) -> Iterator[bytes] | None:
        check_relpath(rel)
        data = self.files.get(rel)
        if data is None:
            return None
        return iter([data[i : i + _CHUNK] for i in range(0, len(data), _CHUNK)] or [b""])

    def names(self) -> set[str]:
        return set(self.files)


def read_pack(path: Path, limits: Limits = DEFAULT_LIMITS) -> PackSource:
    """Read a pack safely: regular files and directories only, plain names, size caps.

    Raises:
        TrustRootError: `trustroot.tuf_media_unsafe` (links, devices, traversal, duplicates,
            too many members), `trustroot.tuf_oversized` (a member or the whole is too
            large), `trustroot.fetch_failed` (not a readable tar).
    """
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise TrustRootError(Reason.TUF_FETCH_FAILED, f"cannot read {path}: {exc}") from exc
    if size > limits.max_pack_bytes:
        raise TrustRootError(
            Reason.TUF_OVERSIZED, f"{path} is {size} bytes; packs are capped at {limits.max_pack_bytes}"
        )
    if not path.is_file():
        raise TrustRootError(Reason.TUF_FETCH_FAILED, f"{path} is not a regular file: give a pack or a directory")
    return _read_tar(lambda: tarfile.open(path, mode="r:*"), path, limits)


def read_pack_bytes(data: bytes, label: str = "pack", limits: Limits = DEFAULT_LIMITS) -> PackSource:
    """`read_pack` on bytes already in memory (same checks; the fuzzing harness uses it)."""
    import io

    if len(data) > limits.max_pack_bytes:
        raise TrustRootError(Reason.TUF_OVERSIZED, f"{label} is larger than the pack cap of {limits.max_pack_bytes} bytes")
    return _read_tar(lambda: tarfile.open(fileobj=io.BytesIO(data), mode="r:*"), Path(label), limits)


def _read_tar(opener: Any, path: Path, limits: Limits) -> PackSource:
    files: dict[str, bytes] = {}
    try:
        with opener() as tar:
            total = 0
            for count, member in enumerate(tar, start=1):
                if count > limits.max_pack_members:
                    raise _unsafe(f"{path} has more than {limits.max_pack_members} members")
                total = _read_member(tar, member, path, limits, files, total)
    except (tarfile.TarError, EOFError, zlib.error, OSError, ValueError, UnicodeError) as exc:
        # tarfile's own text lists every compression it tried; the cause keeps it for -v
        detail = "it is damaged or truncated" if files else "it is not a tar archive (plain, gzip, bzip2 or xz)"
        raise TrustRootError(
            Reason.TUF_FETCH_FAILED,
            f"{path} is not a readable trust pack: {detail}; give a .tar.gz made by `airseal trust export`,"
            " or a directory (a TUF repository or mirror)",
        ) from exc
    return PackSource(_strip_single_top_dir(files), str(path))


def _read_member(
    tar: tarfile.TarFile,
    member: tarfile.TarInfo,
    path: Path,
    limits: Limits,
    files: dict[str, bytes],
    total: int,
) -> int:
    """Add one regular member to `files` (directories are skipped); returns the new total.

    Sizes are checked against the member's header before anything is read, so a compression
    bomb is refused without being inflated.
    """
    name = member.name
    while name.startswith("./"):
        name = name[2:]
    if member.isdir():
        name = name.rstrip("/")
        if name not in ("", "."):
            check_relpath(name)
        return total
    if not member.isreg():
        kind = "link" if (member.issym() or member.islnk()) else "special file"
        raise _unsafe(f"refusing {path}: member {member.name!r} is a {kind}")
    check_relpath(name)
    if member.size > limits.max_pack_member_bytes:
        raise TrustRootError(
            Reason.TUF_OVERSIZED,
            f"refusing {path}: member {name} is {member.size} bytes"
            f" (cap {limits.max_pack_member_bytes})",
        )
    total += member.size
    if total > limits.max_pack_total_bytes:
        raise TrustRootError(
            Reason.TUF_OVERSIZED,
            f"refusing {path}: more than {limits.max_pack_total_bytes} bytes uncompressed",
        )
    if name in files:
        raise _unsafe(f"refusing {path}: member {name} appears twice")
    handle = tar.extractfile(member)
    data = handle.read(member.size + 1) if handle is not None else b""
    if len(data) != member.size:
        raise _unsafe(f"refusing {path}: member {name} is truncated")
    files[name] = data
    return total


def _strip_single_top_dir(files: dict[str, bytes]) -> dict[str, bytes]:
    """Accept a pack whose members all sit under one top folder (e.g. a tarred mirror)."""
    if not files or any("/" not in n for n in files):
        return files
    tops = {n.split("/", 1)[0] for n in files}
    if len(tops) != 1 or tops == {"metadata"} or tops == {"targets"}:
        return files
    return {n.split("/", 1)[1]: d for n, d in files.items()}


def open_source(path: Path, limits: Limits = DEFAULT_LIMITS) -> MediaSource:
    """A directory or a pack at `path`, ready to read.

    Raises:
        TrustRootError: `trustroot.fetch_failed` (nothing there, or not a readable pack), and
            the refusals of `read_pack`.
    """
    if path.is_dir():
        return DirectorySource(path, limits)
    if path.is_file():
        return read_pack(path, limits)
    raise TrustRootError(Reason.TUF_FETCH_FAILED, f"{path}: no such directory or pack")
