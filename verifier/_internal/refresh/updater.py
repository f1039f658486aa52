"""Refreshing a named trust with TUF: online, or from removable media carried into an air gap.

Owns:

* running python-tuf's client (`tuf.ngclient.Updater`) against a repository URL or against
  media through `fetcher.MediaFetcher`, so the client's own rules decide everything: root
  rotation chain, thresholds, rollback against the stored state, expiry, lengths and hashes,
  consistent-snapshot names;
* the reference-time seam: expiry is judged at `max(now - grace, floor)`, where the grace
  period comes from the trust's configuration (capped by `limits.max_grace_days`) and the
  floor is the reference time of the last accepted refresh, so a rewound clock cannot replay
  old media;
* the order of a refresh: lock, pre-check the media, build the new state beside the store
  (build.py), hand it to `store.install_state`, which swaps it in atomically; a refused or
  interrupted refresh leaves the previous state in use;
* `check_root_bytes` for `trust init`.

Must not explain refusals itself (explain.py turns tuf's exceptions into reason codes), read
media files directly (media.py, completeness.py), or hold a size cap of its own (limits.py).
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuf.api import exceptions as tuf_exc
from tuf.api.metadata import Metadata, Root, TargetFile
from tuf.ngclient import Updater, UpdaterConfig
from tuf.ngclient.fetcher import FetcherInterface

from verifier import __version__
from verifier._internal.limits import DEFAULT_LIMITS, Limits
from verifier._internal.refresh import build
from verifier._internal.refresh.completeness import (
    StoredVersions,
    damaged_on_media,
    missing_from_media,
)
from verifier._internal.refresh.diff import diff_trusted_roots
from verifier._internal.refresh.explain import RefreshContext, own_cause, translate
from verifier._internal.refresh.fetcher import MEDIA_URL_PREFIX, MediaFetcher, RecordingFetcher
from verifier._internal.refresh.media import SIGNING_CONFIG_TARGET, TRUSTED_ROOT_TARGET, MediaSource, open_source
from verifier._internal.timefmt import iso
from verifier._internal.trustroot import store
from verifier.errors import Reason, TrustRootError

USER_AGENT = f"airseal/{__version__}"


def updater_config(limits: Limits = DEFAULT_LIMITS) -> UpdaterConfig:
    """python-tuf's bounds (bytes per role, rotations, delegations), all from limits.py."""
    return UpdaterConfig(
        max_root_rotations=limits.tuf_max_root_rotations,
        max_delegations=limits.tuf_max_delegations,
        root_max_length=limits.tuf_root_max_bytes,
        timestamp_max_length=limits.tuf_timestamp_max_bytes,
        snapshot_max_length=limits.tuf_snapshot_max_bytes,
        targets_max_length=limits.tuf_targets_max_bytes,
        app_user_agent=USER_AGENT,
    )


UPDATER_CONFIG = updater_config()


# --- the reference-time seam (python-tuf has no public option) ---------------------------------


def trusted_set_of(updater: Updater | None) -> Any:
    """python-tuf's internal TrustedMetadataSet of `updater`, or None (tuf>=6,<7)."""
    return getattr(updater, "_trusted_set", None) if updater is not None else None


def set_reference_time(updater: Updater, when: _dt.datetime) -> None:
    """Make every expiry check of `updater` judge at `when` instead of the clock.

    python-tuf captures `datetime.now()` once in `TrustedMetadataSet.__init__` and uses that
    attribute for each check, so replacing it right after constructing the Updater (before
    `refresh()`) is enough. tests/trust/test_time.py keeps this honest across tuf releases.

    Raises:
        ValueError: `when` is naive.
        RuntimeError: the tuf internals this relies on are gone (a tuf upgrade broke the seam).
    """
    if when.tzinfo is None:
        raise ValueError("naive datetime")
    trusted = trusted_set_of(updater)
    if trusted is None or not isinstance(getattr(trusted, "reference_time", None), _dt.datetime):
        raise RuntimeError(
            "python-tuf no longer exposes Updater._trusted_set.reference_time; the reference-time"
            " seam in verifier/_internal/refresh/updater.py must be updated for this tuf version"
        )
    trusted.reference_time = when.astimezone(_dt.timezone.utc)


def reference_time_for(
    now: _dt.datetime, grace_days: int, floor: _dt.datetime | None
) -> _dt.datetime:
    """`max(now - grace, floor)`: grace from the site's configuration (capped), floor from the store.

    Raises:
        ValueError: `now` is naive.
    """
    if now.tzinfo is None:
        raise ValueError("naive datetime")
    grace = max(0, min(grace_days, DEFAULT_LIMITS.max_grace_days))
    ref = now - _dt.timedelta(days=grace)
    if floor is not None and ref < floor:
        ref = floor
    return ref


# --- results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RefreshResult:
    """What a successful refresh installed."""

    name: str
    state: store.StoredState
    previous: store.StoredState | None
    changes: tuple[str, ...]
    """Lines describing what changed in trusted_root.json (empty: unchanged)."""
    reference_time: _dt.datetime
    source: str
    warnings: tuple[str, ...] = field(default=())

    def to_json_dict(self) -> dict[str, Any]:
        prev = self.previous
        return {
            "name": self.name,
            "source": self.source,
            "reference_time": iso(self.reference_time),
            "root_version": self.state.root_version,
            "timestamp_version": self.state.timestamp_version,
            "snapshot_version": self.state.snapshot_version,
            "targets_version": self.state.targets_version,
            "trusted_root_sha256": self.state.trusted_root_sha256,
            "previous_trusted_root_sha256": prev.trusted_root_sha256 if prev else None,
            "previous_root_version": prev.root_version if prev else None,
            "trusted_root_changes": list(self.changes),
            "expires": iso(self.state.earliest_expiry),
            "refreshed_at": iso(self.state.refreshed_at),
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class _Source:
    """Where one refresh reads from."""

    metadata_url: str
    targets_url: str
    fetcher: FetcherInterface
    kind: str
    """"repository" or "media"."""
    desc: str
    media: MediaSource | None = None


# --- entry points --------------------------------------------------------------------------


def refresh_online(
    name: str,
    url: str | None = None,
    *,
    now: _dt.datetime | None = None,
    fetcher: FetcherInterface | None = None,
) -> RefreshResult:
    """Refresh trust `name` from its TUF repository (metadata at URL/, targets at URL/targets/).

    Raises:
        TrustRootError: the refresh was refused; the stored state is unchanged. Reasons:
            `trustroot.unknown_trust`, `trustroot.fetch_failed` (no or bad URL, network),
            the TUF refusals listed in explain.py (`trustroot.tuf_*`, `trustroot.tuf_error`),
            `trustroot.store_error`.
    """
    store.require_trust(name)
    config = store.load_config(name)
    if not (url or config.url):
        raise TrustRootError(
            Reason.TUF_FETCH_FAILED,
            f"trust {name!r} has no repository URL: pass --url, set one with"
            f" `airseal trust config {name} --url URL`, or use `airseal trust import`",
        )
    base = str(url or config.url).rstrip("/")
    if not re.match(r"^https?://", base):
        raise TrustRootError(
            Reason.TUF_FETCH_FAILED, f"repository URL must be http(s)://..., got {base!r}"
        )
    if fetcher is None:
        # urllib3 is imported only for an online refresh, never for media
        from tuf.ngclient import Urllib3Fetcher

        fetcher = Urllib3Fetcher(app_user_agent=USER_AGENT)
    source = _Source(f"{base}/", f"{base}/targets/", fetcher, "repository", base)
    return _refresh(name, source, now)


def refresh_from_media(
    name: str, source_path: Path, *, now: _dt.datetime | None = None
) -> RefreshResult:
    """Refresh trust `name` from a pack made by `trust export` or a directory (mirror/checkout).

    Checks first that the media is intact and holds every file the refresh will need, and
    reports what is damaged or missing; then runs the full TUF client over it.

    Raises:
        TrustRootError: the stored state is unchanged. Reasons: `trustroot.unknown_trust`,
            `trustroot.tuf_media_unsafe`, `trustroot.tuf_oversized`, `trustroot.fetch_failed`
            (unreadable media), `trustroot.tuf_hash_mismatch` (damaged against the pack's
            manifest), `trustroot.tuf_media_incomplete`, the TUF refusals listed in
            explain.py, `trustroot.store_error`.
    """
    store.require_trust(name)
    media = open_source(Path(source_path))
    damaged = damaged_on_media(media)
    if damaged:
        raise TrustRootError(
            Reason.TUF_HASH_MISMATCH,
            f"{len(damaged)} file(s) on {media.description} do not match the pack's"
            f" MANIFEST.json (damaged in transit or altered): {', '.join(damaged)}",
            context={"damaged": damaged},
        )
    source = _Source(
        f"{MEDIA_URL_PREFIX}{media.metadata_prefix}",
        f"{MEDIA_URL_PREFIX}targets/",
        MediaFetcher(media),
        "media",
        media.description,
        media,
    )
    return _refresh(name, source, now)


def check_root_bytes(data: bytes) -> Root:
    """Parse a TUF root.json and check it meets its own signature threshold (for `trust init`).

    Raises:
        TrustRootError: `trustroot.tuf_unsigned` (below its own threshold),
            `trustroot.tuf_bad_metadata` (not TUF root metadata).
    """
    try:
        md = Metadata[Root].from_bytes(data)
        if not isinstance(md.signed, Root):
            raise TrustRootError(Reason.TUF_BAD_METADATA, "the file is not TUF root metadata")
        md.signed.verify_delegate(Root.type, md.signed_bytes, md.signatures)
    except tuf_exc.UnsignedMetadataError as exc:
        raise TrustRootError(
            Reason.TUF_UNSIGNED, f"the root is not signed by its own root keys: {exc}"
        ) from exc
    except (tuf_exc.RepositoryError, ValueError, TypeError, KeyError) as exc:
        raise TrustRootError(
            Reason.TUF_BAD_METADATA, f"not usable TUF root metadata: {exc}"
        ) from exc
    return md.signed


# --- the refresh itself ----------------------------------------------------------------------


def _refresh(name: str, source: _Source, now: _dt.datetime | None) -> RefreshResult:
    """Lock, judge the time, pre-check media, build and install the new state."""
    config = store.load_config(name)
    now = now or _dt.datetime.now(_dt.timezone.utc)
    if now.tzinfo is None:
        raise ValueError("naive datetime")
    warnings = list(config.warnings)
    with store.trust_lock(name):
        prev = store.current_state(name)
        floor = prev.reference_time if prev else None
        ref = reference_time_for(now, config.grace_days, floor)
        if floor is not None and now < floor:
            warnings.append(
                f"the clock ({iso(now)}) is behind the last accepted refresh time"
                f" ({iso(floor)}); expiry is judged at the latter"
            )
        bootstrap = build.prev_root_bytes(prev) if prev else store.bootstrap_root_bytes(name)
        old_bytes = build.previous_trusted_root(name, prev)
        if source.media is not None:
            _require_complete(source.media, _stored_versions(prev, bootstrap))
        ctx = RefreshContext(
            name, source.kind, source.desc, ref, config.grace_days, RecordingFetcher(source.fetcher), prev
        )
        with store.staging_dir(name) as stage:
            new_bytes = _build_state(stage / "state", source, ctx, bootstrap)
            store.install_state(name, stage / "state")
        state = store.current_state(name)
    assert state is not None
    changes = tuple(diff_trusted_roots(old_bytes, new_bytes)) if old_bytes != new_bytes else ()
    return RefreshResult(name, state, prev, changes, ref, f"{source.kind} {source.desc}", tuple(warnings))


def _stored_versions(prev: store.StoredState | None, bootstrap: bytes) -> StoredVersions:
    """What the media need not repeat: the stored state, or only the bootstrap root."""
    if prev is not None:
        return StoredVersions(
            root_version=prev.root_version,
            consistent_snapshot=prev.consistent_snapshot,
            snapshot_version=prev.snapshot_version,
            targets_version=prev.targets_version,
            trusted_root_target_hash=prev.trusted_root_target_hash,
        )
    root = check_root_bytes(bootstrap)
    return StoredVersions(root.version, bool(root.consistent_snapshot))


def _require_complete(media: MediaSource, stored: StoredVersions) -> None:
    missing = missing_from_media(media, stored)
    if missing:
        raise TrustRootError(
            Reason.TUF_MEDIA_INCOMPLETE,
            f"the media at {media.description} is incomplete; missing: {'; '.join(missing)}."
            " Bring a complete pack (`airseal trust export`) or a full mirror",
            context={"missing": missing},
        )


def _build_state(built: Path, source: _Source, ctx: RefreshContext, bootstrap: bytes) -> bytes:
    """Fill the state folder `built`; returns the new trusted_root.json bytes.

    Raises:
        TrustRootError: a TUF refusal (see explain.py), `trustroot.tuf_bad_metadata` (the new
            trusted_root.json does not load), `trustroot.store_error` (writing failed).
    """
    mdir = built / "metadata"
    tdir = built / "targets"
    try:
        mdir.mkdir(parents=True)
        tdir.mkdir()
        if ctx.previous is not None:
            build.copy_previous(ctx.previous, mdir, tdir)
        info = _run_client(mdir, tdir, source, ctx, bootstrap)
        new_bytes = (tdir / TRUSTED_ROOT_TARGET).read_bytes()
        build.check_trusted_root(new_bytes, source.desc)
        build.carry_older_roots(source.fetcher, source.metadata_url, mdir, UPDATER_CONFIG.root_max_length)
        fields = build.state_fields(
            mdir, new_bytes, info, _dt.datetime.now(_dt.timezone.utc), ctx.reference_time,
            f"{source.kind} {source.desc}",
        )
        (built / store.STATE_FILE).write_bytes(store.state_to_json(fields))
    except OSError as exc:
        raise TrustRootError(
            Reason.TRUST_STORE_ERROR, f"cannot write the new state of {ctx.name!r}: {exc}"
        ) from exc
    return new_bytes


def _run_client(
    mdir: Path, tdir: Path, source: _Source, ctx: RefreshContext, bootstrap: bytes
) -> TargetFile:
    """Run python-tuf's Updater into `mdir`/`tdir`; returns trusted_root.json's target info.

    Raises:
        TrustRootError: python-tuf refused (translated by explain.py, tuf's exception kept as
            the cause), or targets does not list trusted_root.json (`trustroot.tuf_bad_metadata`).
    """
    try:
        updater = Updater(
            str(mdir),
            source.metadata_url,
            str(tdir),
            source.targets_url,
            fetcher=ctx.recorder,
            config=UPDATER_CONFIG,
            bootstrap=bootstrap,
        )
        ctx.trusted = trusted_set_of(updater)
        set_reference_time(updater, ctx.reference_time)
        updater.refresh()
        info = updater.get_targetinfo(TRUSTED_ROOT_TARGET)
        if info is None:
            raise TrustRootError(
                Reason.TUF_BAD_METADATA,
                f"targets v{ctx.trusted['targets'].version} from {source.desc} does not list"
                f" {TRUSTED_ROOT_TARGET}",
            )
        target_path = str(tdir / TRUSTED_ROOT_TARGET)
        if updater.find_cached_target(info, target_path) is None:
            updater.download_target(info, target_path)
        # The signing config is optional; when targets lists it, TUF checks it like any target.
        config_info = updater.get_targetinfo(SIGNING_CONFIG_TARGET)
        if config_info is not None:
            config_path = str(tdir / SIGNING_CONFIG_TARGET)
            if updater.find_cached_target(config_info, config_path) is None:
                updater.download_target(config_info, config_path)
    except (tuf_exc.RepositoryError, tuf_exc.DownloadError) as exc:
        ours = own_cause(exc)
        if ours is not None:
            # one of our refusals (e.g. unsafe media) that python-tuf's fetcher wrapped:
            # report it as it is, with the cause it already carries
            raise ours from ours.__cause__
        raise translate(exc, ctx) from exc
    return info


__all__ = [
    "RefreshResult",
    "UPDATER_CONFIG",
    "check_root_bytes",
    "reference_time_for",
    "refresh_from_media",
    "refresh_online",
    "set_reference_time",
    "trusted_set_of",
    "updater_config",
]
