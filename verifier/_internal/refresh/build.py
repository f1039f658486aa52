"""The new state directory a refresh builds beside the store, before `store.install_state`.

Owns what goes into a state folder besides python-tuf's own cache writes: the previous state
copied in as the starting point, root versions older than the first trusted one (so `export`
can carry the whole chain), the check that the new trusted_root.json loads, and the fields of
state.json.

Must not run python-tuf's client (updater.py does), make anything trusted that python-tuf did
not verify, or write anywhere but the staging folder it is given: installing is store.py's.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import shutil
from pathlib import Path
from typing import Any

from tuf.api import exceptions as tuf_exc
from tuf.api.metadata import Metadata, Root, Signed, TargetFile
from tuf.ngclient.fetcher import FetcherInterface

from verifier._internal.refresh.media import SIGNING_CONFIG_TARGET, TRUSTED_ROOT_TARGET
from verifier._internal.timefmt import iso
from verifier._internal.trustroot import store
from verifier._internal.trustroot.embedded import embedded_trusted_root_bytes
from verifier._internal.trustroot.load import load_trusted_root
from verifier.errors import AirsealError, Reason, TrustRootError

_ROLES = ("root", "timestamp", "snapshot", "targets")


def prev_root_bytes(prev: store.StoredState) -> bytes:
    """The root the previous state trusts: the client's starting point for this refresh.

    Raises:
        TrustRootError: `trustroot.store_error` when it is unreadable.
    """
    path = prev.metadata_dir / "root_history" / f"{prev.root_version}.root.json"
    try:
        return path.read_bytes()
    except OSError as exc:
        raise TrustRootError(
            Reason.TRUST_STORE_ERROR, f"the stored trusted root is unreadable ({path}): {exc}"
        ) from exc


def previous_trusted_root(name: str, prev: store.StoredState | None) -> bytes | None:
    """The trusted_root.json in use before this refresh (to describe the change); None if none."""
    if prev is not None:
        try:
            return store.read_verified_trusted_root(prev)
        except TrustRootError:
            # only used for the change summary; the refresh itself replaces the damaged copy
            return None
    if store.is_builtin(name):
        return embedded_trusted_root_bytes(name)
    return None


def copy_previous(prev: store.StoredState, mdir: Path, tdir: Path) -> None:
    """Seed the new state with the previous one: python-tuf then checks rollback against it.

    Raises:
        OSError: the copy failed (the caller reports `trustroot.store_error`).
    """
    hist = prev.metadata_dir / "root_history"
    (mdir / "root_history").mkdir(parents=True, exist_ok=True)
    for path in hist.glob("*.root.json"):
        if path.is_file() and not path.is_symlink():
            shutil.copy2(path, mdir / "root_history" / path.name)
    for role in ("timestamp", "snapshot", "targets"):
        src = prev.metadata_dir / f"{role}.json"
        if src.is_file() and not src.is_symlink():
            shutil.copy2(src, mdir / src.name)
    if prev.trusted_root_path.is_file():
        shutil.copy2(prev.trusted_root_path, tdir / TRUSTED_ROOT_TARGET)


def check_trusted_root(data: bytes, source_desc: str) -> None:
    """The new trusted_root.json must load before it is installed.

    Raises:
        TrustRootError: `trustroot.tuf_bad_metadata`: TUF signed it, but it is not a usable
            Sigstore trusted root; the previous state stays in use.
    """
    try:
        load_trusted_root(data)
    except AirsealError as err:
        raise TrustRootError(
            Reason.TUF_BAD_METADATA,
            f"the trusted_root.json signed by {source_desc} does not load ({err.detail});"
            " the previous state stays in use",
        ) from err


def carry_older_roots(
    fetcher: FetcherInterface, metadata_url: str, mdir: Path, root_max_bytes: int
) -> list[int]:
    """Keep root versions below the first trusted one too, so `export` can carry the whole chain.

    Each one is kept only if it verifies the version above it (it is not trusted: clients
    that start from it verify the chain themselves). Stops at the first gap or failure, which
    is not an error: the refresh itself already succeeded.

    Returns:
        The versions added, newest first.
    """
    hist = mdir / "root_history"
    versions = sorted(int(p.name.split(".")[0]) for p in hist.glob("*.root.json"))
    if not versions:
        return []
    carried: list[int] = []
    try:
        upper = Metadata[Root].from_bytes((hist / f"{versions[0]}.root.json").read_bytes())
    except (tuf_exc.RepositoryError, OSError):
        return []
    for version in range(versions[0] - 1, 0, -1):
        try:
            data = fetcher.download_bytes(f"{metadata_url}{version}.root.json", root_max_bytes)
            md = Metadata[Root].from_bytes(data)
            if md.signed.version != version:
                break
            md.signed.verify_delegate(Root.type, upper.signed_bytes, upper.signatures)
        except (tuf_exc.RepositoryError, tuf_exc.DownloadError, ValueError):
            break
        (hist / f"{version}.root.json").write_bytes(data)
        carried.append(version)
        upper = md
    return carried


def state_fields(
    mdir: Path,
    trusted_root: bytes,
    info: TargetFile,
    refreshed_at: _dt.datetime,
    ref: _dt.datetime,
    source: str,
) -> dict[str, Any]:
    """The contents of state.json for the metadata python-tuf has just verified into `mdir`."""
    signed: dict[str, Signed] = {}
    for role in _ROLES:
        signed[role] = Metadata.from_bytes((mdir / f"{role}.json").read_bytes()).signed
    root = signed["root"]
    assert isinstance(root, Root)
    targets = signed["targets"]
    config_info = getattr(targets, "targets", {}).get(SIGNING_CONFIG_TARGET)
    config_path = mdir.parent / "targets" / SIGNING_CONFIG_TARGET
    config = (
        {
            "signing_config_sha256": hashlib.sha256(config_path.read_bytes()).hexdigest(),
            "signing_config_target_hash": next(iter(config_info.hashes.values())),
        }
        if config_info is not None and config_path.is_file()
        else {}
    )
    return {
        **config,
        "root_version": root.version,
        "timestamp_version": signed["timestamp"].version,
        "snapshot_version": signed["snapshot"].version,
        "targets_version": signed["targets"].version,
        "consistent_snapshot": bool(root.consistent_snapshot),
        "trusted_root_sha256": hashlib.sha256(trusted_root).hexdigest(),
        "trusted_root_target_hash": next(iter(info.hashes.values())),
        "refreshed_at": iso(refreshed_at),
        "reference_time": iso(ref),
        "expires": {role: iso(s.expires) for role, s in signed.items()},
        "source": source,
    }
