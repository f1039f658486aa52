"""Removable media for the air gap: reading a pack or a mirror safely, checking it is complete,
and writing packs. Pure file handling: no tuf here (refresh.py runs TUF over what this reads).

A *source* is a directory (the `metadata/` + `targets/` layout of a repository checkout, or the
flat layout of a mirrored TUF site: metadata at the top, targets under `targets/`) or a
`.tar.gz` pack made by `airseal trust export`. Packs are read into memory member by member with
caps on count and size; only regular files and directories are accepted, names must be plain
relative paths, and nothing is ever extracted to disk.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import os
import re
import stat
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from verifier._internal.atomic import atomic_file
from verifier.errors import Reason, TrustRootError

PACK_FORMAT = "airseal-tuf-pack"
PACK_MANIFEST = "MANIFEST.json"
_CHUNK = 64 * 1024
_ROOT_RE = re.compile(r"^([1-9][0-9]{0,8})\.root\.json$")


@dataclass(frozen=True)
class MediaLimits:
    """Caps for reading media (packs are untrusted until TUF has checked them)."""

    max_pack_bytes: int = 64 << 20
    max_member_bytes: int = 8 << 20
    max_total_bytes: int = 128 << 20
    max_members: int = 4096
    max_peek_bytes: int = 8 << 20


DEFAULT_MEDIA_LIMITS = MediaLimits()


def _unsafe(detail: str) -> TrustRootError:
    return TrustRootError(Reason.TUF_MEDIA_UNSAFE, detail)


def check_relpath(rel: str) -> str:
    """Return `rel` if it is a plain relative path (no `..`, no absolute, no backslash, no NUL)."""
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
        raise NotImplementedError

    def names(self) -> set[str]:  # pragma: no cover - interface
        raise NotImplementedError

    def has(self, rel: str) -> bool:
        return rel in self.names()

    def read(self, rel: str, max_bytes: int) -> bytes | None:
        """The file's bytes, None when absent; raises when it is larger than `max_bytes`."""
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
        pre = self.metadata_prefix
        return {n[len(pre):] for n in self.names() if n.startswith(pre) and "/" not in n[len(pre):]}


class DirectorySource(MediaSource):
    """A mounted directory. Symbolic links below it and non-regular files are refused."""

    def __init__(self, root: Path, limits: MediaLimits = DEFAULT_MEDIA_LIMITS) -> None:
        self.root = Path(os.path.realpath(root))
        self.limits = limits
        self.description = str(root)
        self.metadata_prefix = "metadata/" if (self.root / "metadata").is_dir() else ""
        self._names: set[str] | None = None

    def _path(self, rel: str) -> Path:
        check_relpath(rel)
        path = self.root / rel
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
                    if len(found) > self.limits.max_members:
                        raise _unsafe(f"{self.root} holds more than {self.limits.max_members} files")
            self._names = found
        return self._names


class PackSource(MediaSource):
    """A pack (tar, optionally gzip-compressed), read fully into memory under caps."""

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


def read_pack(path: Path, limits: MediaLimits = DEFAULT_MEDIA_LIMITS) -> PackSource:
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
    files: dict[str, bytes] = {}
    total = 0
    count = 0
    try:
        with tarfile.open(path, mode="r:*") as tar:
            for member in tar:
                count += 1
                if count > limits.max_members:
                    raise _unsafe(f"{path} has more than {limits.max_members} members")
                name = member.name
                while name.startswith("./"):
                    name = name[2:]
                name = name.rstrip("/") if member.isdir() else name
                if member.isdir():
                    if name not in ("", "."):
                        check_relpath(name)
                    continue
                if not member.isreg():
                    kind = "link" if (member.issym() or member.islnk()) else "special file"
                    raise _unsafe(f"refusing {path}: member {member.name!r} is a {kind}")
                check_relpath(name)
                if member.size > limits.max_member_bytes:
                    raise TrustRootError(
                        Reason.TUF_OVERSIZED,
                        f"refusing {path}: member {name} is {member.size} bytes"
                        f" (cap {limits.max_member_bytes})",
                    )
                total += member.size
                if total > limits.max_total_bytes:
                    raise TrustRootError(
                        Reason.TUF_OVERSIZED,
                        f"refusing {path}: more than {limits.max_total_bytes} bytes uncompressed",
                    )
                if name in files:
                    raise _unsafe(f"refusing {path}: member {name} appears twice")
                handle = tar.extractfile(member)
                data = handle.read(member.size + 1) if handle is not None else b""
                if len(data) != member.size:
                    raise _unsafe(f"refusing {path}: member {name} is truncated")
                files[name] = data
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise TrustRootError(
            Reason.TUF_FETCH_FAILED, f"{path} is not a readable pack (tar.gz): {exc}"
        ) from exc
    return PackSource(_strip_single_top_dir(files), str(path))


def _strip_single_top_dir(files: dict[str, bytes]) -> dict[str, bytes]:
    """Accept a pack whose members all sit under one top folder (e.g. a tarred mirror)."""
    if not files or any("/" not in n for n in files):
        return files
    tops = {n.split("/", 1)[0] for n in files}
    if len(tops) != 1 or tops == {"metadata"} or tops == {"targets"}:
        return files
    return {n.split("/", 1)[1]: d for n, d in files.items()}


def open_source(path: Path, limits: MediaLimits = DEFAULT_MEDIA_LIMITS) -> MediaSource:
    if path.is_dir():
        return DirectorySource(path, limits)
    if path.is_file():
        return read_pack(path, limits)
    raise TrustRootError(Reason.TUF_FETCH_FAILED, f"{path}: no such directory or pack")


# --- completeness --------------------------------------------------------------------------


def _peek(source: MediaSource, rel: str, limits: MediaLimits) -> dict[str, Any] | None:
    """Parse a file without trusting it, only to learn which files the media should hold."""
    try:
        data = source.read(rel, limits.max_peek_bytes)
        obj = json.loads(data) if data is not None else None
    except (TrustRootError, ValueError):
        return None
    signed = obj.get("signed") if isinstance(obj, dict) else None
    return signed if isinstance(signed, dict) else None


def _meta_version(signed: dict[str, Any] | None, key: str) -> int | None:
    try:
        version = signed["meta"][key]["version"]  # type: ignore[index]
    except (KeyError, TypeError):
        return None
    return version if isinstance(version, int) and not isinstance(version, bool) else None


@dataclass(frozen=True)
class StoredVersions:
    """What the store already trusts, so the media need not repeat it."""

    root_version: int
    consistent_snapshot: bool
    snapshot_version: int | None = None
    targets_version: int | None = None
    trusted_root_target_hash: str | None = None


def root_versions(source: MediaSource) -> list[int]:
    found = []
    for name in source.metadata_names():
        m = _ROOT_RE.match(name)
        if m:
            found.append(int(m.group(1)))
    return sorted(found)


def missing_from_media(
    source: MediaSource, stored: StoredVersions, limits: MediaLimits = DEFAULT_MEDIA_LIMITS
) -> list[str]:
    """Files a refresh from this media needs but cannot find, each with why it is needed.

    Only a pre-check from unverified contents, so an operator hears "7.root.json is missing"
    instead of a signature failure; the TUF run that follows is what decides.
    """
    missing: list[str] = []
    meta = source.metadata_prefix
    names = source.metadata_names()
    manifest = _peek_manifest(source)
    for rel in manifest:
        if not source.has(rel):
            missing.append(f"{rel} (listed in the pack's {PACK_MANIFEST})")

    roots = root_versions(source)
    newer = [v for v in roots if v > stored.root_version]
    consistent = stored.consistent_snapshot
    if newer:
        top = max(newer)
        for v in range(stored.root_version + 1, top):
            if v not in roots:
                missing.append(
                    f"{meta}{v}.root.json (root version {v} is missing from the chain"
                    f" v{stored.root_version} -> v{top})"
                )
        newest = _peek(source, f"{meta}{top}.root.json", limits)
        if newest is not None and isinstance(newest.get("consistent_snapshot"), bool):
            consistent = newest["consistent_snapshot"]

    if "timestamp.json" not in names:
        missing.append(f"{meta}timestamp.json (the timestamp role)")
        return missing
    timestamp = _peek(source, f"{meta}timestamp.json", limits)
    snap_v = _meta_version(timestamp, "snapshot.json")
    if snap_v is None:
        return missing
    snap_name = f"{snap_v}.snapshot.json" if consistent else "snapshot.json"
    if snap_v != stored.snapshot_version and snap_name not in names:
        missing.append(f"{meta}{snap_name} (snapshot v{snap_v}, named by the timestamp)")
        return missing
    snapshot = _peek(source, f"{meta}{snap_name}", limits)
    targets_v = _meta_version(snapshot, "targets.json")
    if targets_v is None:
        return missing
    targets_name = f"{targets_v}.targets.json" if consistent else "targets.json"
    if targets_v != stored.targets_version and targets_name not in names:
        missing.append(f"{meta}{targets_name} (targets v{targets_v}, named by snapshot v{snap_v})")
        return missing
    targets = _peek(source, f"{meta}{targets_name}", limits)
    try:
        hashes = targets["targets"]["trusted_root.json"]["hashes"]  # type: ignore[index]
        first_hash = str(next(iter(hashes.values())))
    except (KeyError, TypeError, StopIteration, AttributeError):
        return missing
    target_rel = f"targets/{first_hash}.trusted_root.json" if consistent else "targets/trusted_root.json"
    if first_hash != stored.trusted_root_target_hash and not source.has(target_rel):
        missing.append(f"{target_rel} (the trusted_root.json target listed in targets v{targets_v})")
    return missing


def _peek_manifest(source: MediaSource) -> dict[str, dict[str, Any]]:
    try:
        data = source.read(PACK_MANIFEST, 1 << 20)
        obj = json.loads(data) if data is not None else None
    except (TrustRootError, ValueError):
        return {}
    files = obj.get("files") if isinstance(obj, dict) else None
    if not isinstance(files, dict):
        return {}
    out = {}
    for rel, info in files.items():
        if isinstance(rel, str) and isinstance(info, dict):
            try:
                out[check_relpath(rel)] = info
            except TrustRootError:
                continue
    return out


def damaged_on_media(source: MediaSource, limits: MediaLimits = DEFAULT_MEDIA_LIMITS) -> list[str]:
    """Files whose bytes differ from the pack's own manifest (damaged in transit)."""
    damaged = []
    for rel, info in sorted(_peek_manifest(source).items()):
        expected = info.get("sha256")
        if not isinstance(expected, str):
            continue
        try:
            data = source.read(rel, limits.max_member_bytes)
        except TrustRootError:
            continue
        if data is not None and hashlib.sha256(data).hexdigest() != expected:
            damaged.append(rel)
    return damaged


# --- writing a pack ------------------------------------------------------------------------


def write_pack(out: Path, files: dict[str, bytes], manifest_extra: dict[str, Any]) -> dict[str, Any]:
    """Write `files` plus a MANIFEST.json as a gzip tar at `out`, atomically. Returns the manifest."""
    manifest = dict(manifest_extra)
    manifest["format"] = PACK_FORMAT
    manifest["format_version"] = 1
    manifest["files"] = {
        rel: {"sha256": hashlib.sha256(data).hexdigest(), "length": len(data)}
        for rel, data in sorted(files.items())
    }
    entries = dict(files)
    entries[PACK_MANIFEST] = json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n"
    mtime = int(_dt.datetime.now(_dt.timezone.utc).timestamp())
    out_dir = out.resolve().parent
    try:
        with atomic_file(out_dir / out.name) as raw:
            with tarfile.open(fileobj=raw, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
                for rel in sorted(entries):
                    data = entries[rel]
                    info = tarfile.TarInfo(rel)
                    info.size = len(data)
                    info.mode = 0o644
                    info.mtime = mtime
                    info.type = tarfile.REGTYPE
                    tar.addfile(info, io.BytesIO(data))
    except OSError as exc:
        raise TrustRootError(Reason.TRUST_STORE_ERROR, f"cannot write {out}: {exc}") from exc
    return manifest
