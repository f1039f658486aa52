"""Before TUF runs over media: is everything there, and did it arrive intact?

Owns two pre-checks on the *unverified* contents of a media source, so an operator hears
"7.root.json is missing" or "2.snapshot.json is damaged" instead of a signature failure:

* `missing_from_media`: follows root versions, timestamp -> snapshot -> targets -> the
  trusted_root.json target, naming each file a refresh will need and cannot find;
* `damaged_on_media`: compares each file with the sha256 in the pack's own MANIFEST.json.

Must not import tuf or decide trust: these only peek at JSON to name files; the TUF run that
follows is what accepts or refuses. Caps come from `limits.py`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from verifier._internal.encoding import load_json
from verifier._internal.limits import DEFAULT_LIMITS, Limits
from verifier._internal.refresh.media import TRUSTED_ROOT_TARGET, MediaSource, check_relpath
from verifier.errors import AirsealError, TrustRootError

PACK_MANIFEST = "MANIFEST.json"
"""The pack's list of files and their sha256 (written by pack.py)."""
_ROOT_RE = re.compile(r"^([1-9][0-9]{0,8})\.root\.json$")


@dataclass(frozen=True)
class StoredVersions:
    """What the store already trusts, so the media need not repeat it."""

    root_version: int
    consistent_snapshot: bool
    snapshot_version: int | None = None
    targets_version: int | None = None
    trusted_root_target_hash: str | None = None


def _peek(source: MediaSource, rel: str, limits: Limits) -> dict[str, Any] | None:
    """The `signed` part of a metadata file, parsed without trusting it; None if unreadable."""
    try:
        data = source.read(rel, limits.max_media_peek_bytes)
        obj = load_json(data, what=rel, error=TrustRootError) if data is not None else None
    except AirsealError:
        # an unreadable file is reported by the TUF run, with the reason TUF gives
        return None
    signed = obj.get("signed") if isinstance(obj, dict) else None
    return signed if isinstance(signed, dict) else None


def _meta_version(signed: dict[str, Any] | None, key: str) -> int | None:
    try:
        version = signed["meta"][key]["version"]  # type: ignore[index]
    except (KeyError, TypeError):
        return None
    return version if isinstance(version, int) and not isinstance(version, bool) else None


def root_versions(source: MediaSource) -> list[int]:
    """The root versions on the media (`N.root.json`), ascending."""
    found = []
    for name in source.metadata_names():
        m = _ROOT_RE.match(name)
        if m:
            found.append(int(m.group(1)))
    return sorted(found)


def missing_from_media(
    source: MediaSource, stored: StoredVersions, limits: Limits = DEFAULT_LIMITS
) -> list[str]:
    """Files a refresh from this media needs but cannot find, each with why it is needed.

    Only a pre-check from unverified contents; the TUF run that follows is what decides.
    Never raises for what it reads: an unreadable file simply ends the walk.
    """
    missing = [
        f"{rel} (listed in the pack's {PACK_MANIFEST})"
        for rel in _peek_manifest(source, limits)
        if not source.has(rel)
    ]
    consistent = _missing_roots(source, stored, limits, missing)
    _missing_role_files(source, stored, limits, consistent, missing)
    return missing


def _missing_roots(
    source: MediaSource, stored: StoredVersions, limits: Limits, missing: list[str]
) -> bool:
    """Append gaps in the root chain to `missing`; return consistent_snapshot of the newest root."""
    roots = root_versions(source)
    newer = [v for v in roots if v > stored.root_version]
    if not newer:
        return stored.consistent_snapshot
    top = max(newer)
    for v in range(stored.root_version + 1, top):
        if v not in roots:
            missing.append(
                f"{source.metadata_prefix}{v}.root.json (root version {v} is missing from the"
                f" chain v{stored.root_version} -> v{top})"
            )
    newest = _peek(source, f"{source.metadata_prefix}{top}.root.json", limits)
    if newest is not None and isinstance(newest.get("consistent_snapshot"), bool):
        return bool(newest["consistent_snapshot"])
    return stored.consistent_snapshot


def _missing_role_files(
    source: MediaSource, stored: StoredVersions, limits: Limits, consistent: bool, missing: list[str]
) -> None:
    """Walk timestamp -> snapshot -> targets -> target, appending the first file not found.

    A file the store already holds at the named version need not be on the media.
    """
    meta = source.metadata_prefix
    names = source.metadata_names()
    if "timestamp.json" not in names:
        missing.append(f"{meta}timestamp.json (the timestamp role)")
        return
    snap_v = _meta_version(_peek(source, f"{meta}timestamp.json", limits), "snapshot.json")
    if snap_v is None:
        return
    snap_name = f"{snap_v}.snapshot.json" if consistent else "snapshot.json"
    if snap_v != stored.snapshot_version and snap_name not in names:
        missing.append(f"{meta}{snap_name} (snapshot v{snap_v}, named by the timestamp)")
        return
    targets_v = _meta_version(_peek(source, f"{meta}{snap_name}", limits), "targets.json")
    if targets_v is None:
        return
    targets_name = f"{targets_v}.targets.json" if consistent else "targets.json"
    if targets_v != stored.targets_version and targets_name not in names:
        missing.append(f"{meta}{targets_name} (targets v{targets_v}, named by snapshot v{snap_v})")
        return
    targets = _peek(source, f"{meta}{targets_name}", limits)
    try:
        hashes = targets["targets"][TRUSTED_ROOT_TARGET]["hashes"]  # type: ignore[index]
        first_hash = str(next(iter(hashes.values())))
    except (KeyError, TypeError, StopIteration, AttributeError):
        return
    target_rel = (
        f"targets/{first_hash}.{TRUSTED_ROOT_TARGET}" if consistent else f"targets/{TRUSTED_ROOT_TARGET}"
    )
    if first_hash != stored.trusted_root_target_hash and not source.has(target_rel):
        missing.append(f"{target_rel} (the {TRUSTED_ROOT_TARGET} target listed in targets v{targets_v})")


def _peek_manifest(source: MediaSource, limits: Limits) -> dict[str, dict[str, Any]]:
    """The manifest's files with safe names; empty when there is no (readable) manifest."""
    try:
        data = source.read(PACK_MANIFEST, limits.max_pack_manifest_bytes)
        obj = load_json(data, what=PACK_MANIFEST, error=TrustRootError) if data is not None else None
    except AirsealError:
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
                # a hostile name in the manifest is skipped; the file itself is never read by it
                continue
    return out


def damaged_on_media(source: MediaSource, limits: Limits = DEFAULT_LIMITS) -> list[str]:
    """Files whose bytes differ from the pack's own manifest (damaged in transit or altered).

    Never raises for what it reads: a file that cannot be read is left to the TUF run.
    """
    damaged = []
    for rel, info in sorted(_peek_manifest(source, limits).items()):
        expected = info.get("sha256")
        if not isinstance(expected, str):
            continue
        try:
            data = source.read(rel, limits.max_pack_member_bytes)
        except TrustRootError:
            continue
        if data is not None and hashlib.sha256(data).hexdigest() != expected:
            damaged.append(rel)
    return damaged
