"""Packs for the air gap: `trust export` writes the current verified state as a tar.gz.

Owns the pack format (`airseal-tuf-pack` v1: the repository layout plus a MANIFEST.json listing
each file's sha256 and length) and `export_pack`, which gathers the stored state into it and
writes it atomically.

Must not import tuf or verify anything: a pack is re-verified in full by TUF wherever it is
imported; the manifest only lets the importer say "damaged in transit" (completeness.py).
Reading packs is media.py's (with the caps of limits.py).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

from verifier._internal.atomic import atomic_file
from verifier._internal.refresh.completeness import PACK_MANIFEST
from verifier._internal.refresh.media import SIGNING_CONFIG_TARGET, TRUSTED_ROOT_TARGET
from verifier._internal.timefmt import iso
from verifier._internal.trustroot import store
from verifier.errors import Reason, TrustRootError

PACK_FORMAT = "airseal-tuf-pack"
PACK_FORMAT_VERSION = 1


def export_pack(name: str, out: Path) -> dict[str, Any]:
    """Pack trust `name`'s current verified state for an air-gapped client (a tar.gz).

    Holds every root version the store has (consistent-snapshot names), the timestamp,
    snapshot and targets metadata, the trusted_root.json target, and a MANIFEST.json.

    Returns:
        The manifest written (JSON-ready), including `files` and `expires`.

    Raises:
        TrustRootError: `trustroot.unknown_trust` (no such trust), `trustroot.not_found`
            (before the first refresh), `trustroot.store_error` (the stored state is unreadable
            or altered, or `out` cannot be written).
    """
    store.require_trust(name)
    state = store.current_state(name)
    if state is None:
        raise TrustRootError(
            Reason.TRUSTROOT_NOT_FOUND,
            f"nothing to export for {name!r}: run `airseal trust update {name}` (or import) first",
        )
    config = store.load_config(name)
    files = _state_files(state)
    versions = sorted(int(p.split("/")[1].split(".")[0]) for p in files if p.endswith(".root.json"))
    return write_pack(
        Path(out),
        files,
        {
            "trust": name,
            "url": config.url,
            "created_at": iso(_dt.datetime.now(_dt.timezone.utc)),
            "root_versions": versions,
            "root_version": state.root_version,
            "timestamp_version": state.timestamp_version,
            "snapshot_version": state.snapshot_version,
            "targets_version": state.targets_version,
            "trusted_root_sha256": state.trusted_root_sha256,
            "expires": iso(state.earliest_expiry),
        },
    )


def _state_files(state: store.StoredState) -> dict[str, bytes]:
    """The stored state under the names a repository serves them by (pack-relative paths)."""
    files: dict[str, bytes] = {}
    mdir = state.metadata_dir
    try:
        for path in sorted((mdir / "root_history").glob("*.root.json")):
            if path.is_file():
                files[f"metadata/{path.name}"] = path.read_bytes()
        files["metadata/timestamp.json"] = (mdir / "timestamp.json").read_bytes()
        # python-tuf caches snapshot/targets under plain names; a consistent-snapshot
        # repository serves them by version, and so must the pack
        cs = state.consistent_snapshot
        snap = f"{state.snapshot_version}.snapshot.json" if cs else "snapshot.json"
        targ = f"{state.targets_version}.targets.json" if cs else "targets.json"
        files[f"metadata/{snap}"] = (mdir / "snapshot.json").read_bytes()
        files[f"metadata/{targ}"] = (mdir / "targets.json").read_bytes()
    except OSError as exc:
        raise TrustRootError(Reason.TRUST_STORE_ERROR, f"cannot read the stored state: {exc}") from exc
    target = (
        f"targets/{state.trusted_root_target_hash}.{TRUSTED_ROOT_TARGET}"
        if state.consistent_snapshot
        else f"targets/{TRUSTED_ROOT_TARGET}"
    )
    files[target] = store.read_verified_trusted_root(state)
    signing_config = store.read_verified_signing_config(state)
    if signing_config is not None:
        config_target = (
            f"targets/{state.signing_config_target_hash}.{SIGNING_CONFIG_TARGET}"
            if state.consistent_snapshot
            else f"targets/{SIGNING_CONFIG_TARGET}"
        )
        files[config_target] = signing_config
    return files


def write_pack(out: Path, files: dict[str, bytes], manifest_extra: dict[str, Any]) -> dict[str, Any]:
    """Write `files` plus a MANIFEST.json as a gzip tar at `out`, atomically.

    Returns:
        The manifest written.

    Raises:
        TrustRootError: `trustroot.store_error` when `out` cannot be written (nothing is left
            behind at `out`).
    """
    manifest = dict(manifest_extra)
    manifest["format"] = PACK_FORMAT
    manifest["format_version"] = PACK_FORMAT_VERSION
    manifest["files"] = {
        rel: {"sha256": hashlib.sha256(data).hexdigest(), "length": len(data)}
        for rel, data in sorted(files.items())
    }
    entries = dict(files)
    entries[PACK_MANIFEST] = json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n"
    mtime = int(_dt.datetime.now(_dt.timezone.utc).timestamp())
    out_dir = out.resolve().parent
    try:
        with atomic_file(out_dir / out.name) as raw, tarfile.open(fileobj=raw, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
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
