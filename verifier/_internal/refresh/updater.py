"""Refreshing a named trust with TUF: online, or from removable media carried into an air gap.

The only module that imports tuf. It owns:

* running python-tuf's client (`tuf.ngclient.Updater`) against a repository URL or against
  media through `MediaFetcher` (a `FetcherInterface` whose "downloads" are reads from a
  directory or a pack; an absent file is a 404, so the client's own rules decide everything:
  root rotation chain, thresholds, rollback against the stored state, expiry, lengths and
  hashes, consistent-snapshot names);
* the reference-time seam: expiry is judged at `max(now - grace, floor)`, where the grace
  period comes from the trust's configuration (0..30 days) and the floor is the reference time
  of the last accepted refresh, so a rewound clock cannot replay old media;
* translating `tuf.api.exceptions.*` into `TrustRootError`s an operator can act on;
* building the new state beside the store and handing it to `store.install_state`, which swaps
  it in atomically; a refused or interrupted refresh leaves the previous state in use;
* `export_pack`, which packs the current verified state for the air gap.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import unquote

from tuf.api import exceptions as tuf_exc
from tuf.api.metadata import Metadata, Root, Signed
from tuf.ngclient import Updater, UpdaterConfig
from tuf.ngclient.fetcher import FetcherInterface

from verifier.errors import AirsealError, Reason, TrustRootError
from verifier._internal.trustroot import store
from verifier._internal.refresh import media as _media
from verifier._internal.refresh.diff import diff_trusted_roots
from verifier._internal.trustroot.embedded import embedded_trusted_root_bytes

TRUSTED_ROOT_TARGET = "trusted_root.json"
MEDIA_URL_PREFIX = "media:/"
USER_AGENT = "airseal/0.1"
_RECORD_CAP = 8 << 20
_ROLE_FILE_RE = re.compile(r"^(?:(\d+)\.)?(root|timestamp|snapshot|targets)\.json$")

# Bounds for python-tuf's client (bytes per role, rotations). Sigstore's files are far smaller.
UPDATER_CONFIG = UpdaterConfig(
    max_root_rotations=256,
    max_delegations=8,
    root_max_length=512_000,
    timestamp_max_length=16_384,
    snapshot_max_length=2_000_000,
    targets_max_length=5_000_000,
    app_user_agent=USER_AGENT,
)


# --- the reference-time seam (python-tuf has no public option) ---------------------------------


def _trusted_set_of(updater: Updater | None) -> Any:
    """python-tuf's internal TrustedMetadataSet of `updater`, or None (tuf>=6,<7)."""
    return getattr(updater, "_trusted_set", None) if updater is not None else None


def set_reference_time(updater: Updater, when: _dt.datetime) -> None:
    """Make every expiry check of `updater` judge at `when` instead of the clock.

    python-tuf captures `datetime.now()` once in `TrustedMetadataSet.__init__` and uses that
    attribute for each check, so replacing it right after constructing the Updater (before
    `refresh()`) is enough. tests/trust/test_time.py keeps this honest across tuf releases.

    Raises:
        RuntimeError: the tuf internals this relies on are gone (a tuf upgrade broke the seam).
    """
    if when.tzinfo is None:
        raise ValueError("naive datetime")
    trusted = _trusted_set_of(updater)
    if trusted is None or not isinstance(getattr(trusted, "reference_time", None), _dt.datetime):
        raise RuntimeError(
            "python-tuf no longer exposes Updater._trusted_set.reference_time; the reference-time"
            " seam in verifier/trustroot/refresh.py must be updated for this tuf version"
        )
    trusted.reference_time = when.astimezone(_dt.timezone.utc)


def reference_time_for(
    now: _dt.datetime, grace_days: int, floor: _dt.datetime | None
) -> _dt.datetime:
    """`max(now - grace, floor)`: grace from the site's configuration (capped), floor from the store."""
    if now.tzinfo is None:
        raise ValueError("naive datetime")
    grace = max(0, min(grace_days, store.MAX_GRACE_DAYS))
    ref = now - _dt.timedelta(days=grace)
    if floor is not None and ref < floor:
        ref = floor
    return ref


# --- fetchers ------------------------------------------------------------------------------


class MediaFetcher(FetcherInterface):
    """Serves `media:/<relative path>` URLs from a directory or pack; absent files are 404s."""

    def __init__(self, source: _media.MediaSource) -> None:
        self.source = source

    def _fetch(self, url: str) -> Iterator[bytes]:
        if not url.startswith(MEDIA_URL_PREFIX):
            raise TrustRootError(Reason.TUF_MEDIA_UNSAFE, f"refusing non-media URL {url!r}")
        rel = _media.check_relpath(unquote(url[len(MEDIA_URL_PREFIX):]))
        chunks = self.source.chunks(rel)
        if chunks is None:
            raise tuf_exc.DownloadHTTPError(f"{rel} is not on the media", 404)
        return chunks


class _RecordingFetcher(FetcherInterface):
    """Wraps a fetcher and remembers what it served, to explain a refusal afterwards."""

    def __init__(self, inner: FetcherInterface) -> None:
        self.inner = inner
        self.bodies: dict[str, bytes] = {}
        self.last_url: str | None = None

    @property
    def last_file(self) -> str:
        return _file_of(self.last_url) if self.last_url else "?"

    def _fetch(self, url: str) -> Iterator[bytes]:
        self.last_url = url
        chunks = self.inner.fetch(url)
        return self._record(url, chunks)

    def _record(self, url: str, chunks: Iterator[bytes]) -> Iterator[bytes]:
        buf = bytearray()
        name = _file_of(url)
        for chunk in chunks:
            if len(buf) <= _RECORD_CAP:
                buf += chunk
            yield chunk
        self.bodies[name] = bytes(buf)

    def body_for_role(self, role: str) -> bytes | None:
        best: tuple[int, bytes] | None = None
        for fname, data in self.bodies.items():
            m = _ROLE_FILE_RE.match(fname)
            if m and m.group(2) == role:
                version = int(m.group(1) or 0)
                if best is None or version >= best[0]:
                    best = (version, data)
        return best[1] if best else None


def _file_of(url: str) -> str:
    return unquote(url.rsplit("/", 1)[-1])


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
            "reference_time": store.format_time(self.reference_time),
            "root_version": self.state.root_version,
            "timestamp_version": self.state.timestamp_version,
            "snapshot_version": self.state.snapshot_version,
            "targets_version": self.state.targets_version,
            "trusted_root_sha256": self.state.trusted_root_sha256,
            "previous_trusted_root_sha256": prev.trusted_root_sha256 if prev else None,
            "previous_root_version": prev.root_version if prev else None,
            "trusted_root_changes": list(self.changes),
            "expires": store.format_time(self.state.earliest_expiry),
            "refreshed_at": store.format_time(self.state.refreshed_at),
            "warnings": list(self.warnings),
        }


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
        TrustRootError: the refresh was refused (reason says why); the stored state is unchanged.
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
        from tuf.ngclient import Urllib3Fetcher

        fetcher = Urllib3Fetcher(app_user_agent=USER_AGENT)
    return _refresh(
        name,
        metadata_url=f"{base}/",
        targets_url=f"{base}/targets/",
        fetcher=fetcher,
        now=now,
        source_kind="repository",
        source_desc=base,
    )


def refresh_from_media(
    name: str, source_path: Path, *, now: _dt.datetime | None = None
) -> RefreshResult:
    """Refresh trust `name` from a pack made by `trust export` or a directory (mirror/checkout).

    Checks first that the media holds every file the refresh will need and reports what is
    missing; then runs the full TUF client over it.

    Raises:
        TrustRootError: unsafe, incomplete or refused media; the stored state is unchanged.
    """
    store.require_trust(name)
    source = _media.open_source(Path(source_path))
    damaged = _media.damaged_on_media(source)
    if damaged:
        raise TrustRootError(
            Reason.TUF_HASH_MISMATCH,
            f"{len(damaged)} file(s) on {source.description} do not match the pack's"
            f" {_media.PACK_MANIFEST} (damaged in transit or altered): {', '.join(damaged)}",
            context={"damaged": damaged},
        )
    return _refresh(
        name,
        metadata_url=f"{MEDIA_URL_PREFIX}{source.metadata_prefix}",
        targets_url=f"{MEDIA_URL_PREFIX}targets/",
        fetcher=MediaFetcher(source),
        now=now,
        source_kind="media",
        source_desc=source.description,
        media=source,
    )


def check_root_bytes(data: bytes) -> Root:
    """Parse a TUF root.json and check it meets its own signature threshold (for `trust init`)."""
    try:
        md = Metadata[Root].from_bytes(data)
        if not isinstance(md.signed, Root):
            raise TrustRootError(Reason.TUF_BAD_METADATA, "the file is not TUF root metadata")
        md.signed.verify_delegate(Root.type, md.signed_bytes, md.signatures)
    except tuf_exc.UnsignedMetadataError as exc:
        raise TrustRootError(
            Reason.TUF_UNSIGNED, f"the root is not signed by its own root keys: {exc}"
        ) from None
    except (tuf_exc.RepositoryError, ValueError, TypeError, KeyError) as exc:
        raise TrustRootError(
            Reason.TUF_BAD_METADATA, f"not usable TUF root metadata: {exc}"
        ) from None
    return md.signed


# --- the refresh itself ----------------------------------------------------------------------


def _prev_root_bytes(prev: store.StoredState) -> bytes:
    path = prev.metadata_dir / "root_history" / f"{prev.root_version}.root.json"
    try:
        return path.read_bytes()
    except OSError as exc:
        raise TrustRootError(
            Reason.TRUST_STORE_ERROR, f"the stored trusted root is unreadable ({path}): {exc}"
        ) from exc


def _copy_previous(prev: store.StoredState, mdir: Path, tdir: Path) -> None:
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


def _stored_versions(prev: store.StoredState | None, bootstrap: bytes) -> _media.StoredVersions:
    if prev is not None:
        return _media.StoredVersions(
            root_version=prev.root_version,
            consistent_snapshot=prev.consistent_snapshot,
            snapshot_version=prev.snapshot_version,
            targets_version=prev.targets_version,
            trusted_root_target_hash=prev.trusted_root_target_hash,
        )
    root = check_root_bytes(bootstrap)
    return _media.StoredVersions(root.version, bool(root.consistent_snapshot))


@dataclass
class _Context:
    name: str
    source_kind: str
    source_desc: str
    reference_time: _dt.datetime
    grace_days: int
    recorder: _RecordingFetcher
    previous: store.StoredState | None
    updater: Updater | None = None


def _refresh(
    name: str,
    *,
    metadata_url: str,
    targets_url: str,
    fetcher: FetcherInterface,
    now: _dt.datetime | None,
    source_kind: str,
    source_desc: str,
    media: _media.MediaSource | None = None,
) -> RefreshResult:
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
                f"the clock ({store.format_time(now)}) is behind the last accepted refresh time"
                f" ({store.format_time(floor)}); expiry is judged at the latter"
            )
        bootstrap = _prev_root_bytes(prev) if prev else store.bootstrap_root_bytes(name)
        old_bytes = _previous_trusted_root(name, prev)
        if media is not None:
            missing = _media.missing_from_media(media, _stored_versions(prev, bootstrap))
            if missing:
                raise TrustRootError(
                    Reason.TUF_MEDIA_INCOMPLETE,
                    f"the media at {media.description} is incomplete; missing: {'; '.join(missing)}."
                    " Bring a complete pack (`airseal trust export`) or a full mirror",
                    context={"missing": missing},
                )
        with store.staging_dir(name) as stage:
            built = stage / "state"
            mdir = built / "metadata"
            tdir = built / "targets"
            mdir.mkdir(parents=True)
            tdir.mkdir()
            if prev is not None:
                _copy_previous(prev, mdir, tdir)
            recorder = _RecordingFetcher(fetcher)
            ctx = _Context(name, source_kind, source_desc, ref, config.grace_days, recorder, prev)
            try:
                updater = Updater(
                    str(mdir),
                    metadata_url,
                    str(tdir),
                    targets_url,
                    fetcher=recorder,
                    config=UPDATER_CONFIG,
                    bootstrap=bootstrap,
                )
                ctx.updater = updater
                set_reference_time(updater, ref)
                updater.refresh()
                info = updater.get_targetinfo(TRUSTED_ROOT_TARGET)
                if info is None:
                    targets_v = _trusted_set_of(updater)["targets"].version
                    raise TrustRootError(
                        Reason.TUF_BAD_METADATA,
                        f"targets v{targets_v} from {source_desc} does not list {TRUSTED_ROOT_TARGET}",
                    )
                target_path = tdir / TRUSTED_ROOT_TARGET
                if updater.find_cached_target(info, str(target_path)) is None:
                    updater.download_target(info, str(target_path))
            except (tuf_exc.RepositoryError, tuf_exc.DownloadError) as exc:
                raise _translate(exc, ctx) from None
            except OSError as exc:
                raise TrustRootError(
                    Reason.TRUST_STORE_ERROR, f"cannot write the new state of {name!r}: {exc}"
                ) from None
            new_bytes = target_path.read_bytes()
            _check_trusted_root(new_bytes, source_desc)
            _carry_older_roots(fetcher, metadata_url, mdir)
            refreshed_at = _dt.datetime.now(_dt.timezone.utc)
            fields = _state_fields(mdir, new_bytes, info, refreshed_at, ref, source_kind, source_desc)
            (built / store.STATE_FILE).write_bytes(store.state_to_json(fields))
            store.install_state(name, built)
        state = store.current_state(name)
    assert state is not None
    changes = tuple(diff_trusted_roots(old_bytes, new_bytes)) if old_bytes != new_bytes else ()
    return RefreshResult(name, state, prev, changes, ref, f"{source_kind} {source_desc}", tuple(warnings))


def _previous_trusted_root(name: str, prev: store.StoredState | None) -> bytes | None:
    if prev is not None:
        try:
            return store.read_verified_trusted_root(prev)
        except TrustRootError:
            return None
    if store.is_builtin(name):
        return embedded_trusted_root_bytes(name)
    return None


def _check_trusted_root(data: bytes, source_desc: str) -> None:
    """The new trusted_root.json must load before it is installed."""
    try:
        from verifier._internal.trustroot.load import load_trusted_root
    except ImportError:  # pragma: no cover - load.py ships with airseal
        load_trusted_root = None
    try:
        if load_trusted_root is not None:
            load_trusted_root(data)
        else:  # pragma: no cover
            import json

            if not str(json.loads(data).get("mediaType", "")).startswith(
                "application/vnd.dev.sigstore.trustedroot"
            ):
                raise ValueError("not a Sigstore trusted root")
    except AirsealError as err:
        raise TrustRootError(
            Reason.TUF_BAD_METADATA,
            f"the trusted_root.json signed by {source_desc} does not load ({err.detail});"
            " the previous state stays in use",
        ) from None
    except ValueError as exc:  # pragma: no cover
        raise TrustRootError(
            Reason.TUF_BAD_METADATA, f"the trusted_root.json from {source_desc} is unusable: {exc}"
        ) from None


def _carry_older_roots(fetcher: FetcherInterface, metadata_url: str, mdir: Path) -> list[int]:
    """Keep root versions below the first trusted one too, so `export` can carry the whole chain.

    Each one is kept only if it verifies the version above it (it is not trusted: clients
    that start from it verify the chain themselves). Stops at the first gap or failure.
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
            data = fetcher.download_bytes(
                f"{metadata_url}{version}.root.json", UPDATER_CONFIG.root_max_length
            )
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


def _state_fields(
    mdir: Path,
    trusted_root: bytes,
    info: Any,
    refreshed_at: _dt.datetime,
    ref: _dt.datetime,
    source_kind: str,
    source_desc: str,
) -> dict[str, Any]:
    signed: dict[str, Signed] = {}
    for role in ("root", "timestamp", "snapshot", "targets"):
        signed[role] = Metadata.from_bytes((mdir / f"{role}.json").read_bytes()).signed
    root = signed["root"]
    assert isinstance(root, Root)
    return {
        "root_version": root.version,
        "timestamp_version": signed["timestamp"].version,
        "snapshot_version": signed["snapshot"].version,
        "targets_version": signed["targets"].version,
        "consistent_snapshot": bool(root.consistent_snapshot),
        "trusted_root_sha256": hashlib.sha256(trusted_root).hexdigest(),
        "trusted_root_target_hash": next(iter(info.hashes.values())),
        "refreshed_at": store.format_time(refreshed_at),
        "reference_time": store.format_time(ref),
        "expires": {role: store.format_time(s.expires) for role, s in signed.items()},
        "source": f"{source_kind} {source_desc}",
    }


# --- error translation -----------------------------------------------------------------------


def _when(signed: Any) -> str:
    try:
        return store.format_time(signed.expires)
    except (AttributeError, TypeError, ValueError):
        return "?"


def _role_signed(ctx: _Context, role: str) -> Signed | None:
    trusted = _trusted_set_of(ctx.updater)
    if trusted is not None and role in ("root", "timestamp", "snapshot", "targets"):
        try:
            return trusted[role]
        except KeyError:
            pass
    return None


def _recorded_signed(ctx: _Context, role: str) -> Any:
    body = ctx.recorder.body_for_role(role)
    if body is None:
        return None
    try:
        return Metadata.from_bytes(body)
    except (tuf_exc.RepositoryError, ValueError):
        return None


def _short(keyids: Any) -> str:
    ids = sorted(str(k)[:12] for k in keyids)
    return ", ".join(ids) if ids else "none"


def _sig_summary(result: Any, who: str) -> str:
    status = "met" if result.verified else "NOT met"
    return (
        f"{len(result.signed)} of the {who} signed, threshold {result.threshold} {status}"
        f" (valid: {_short(result.signed)}; missing or invalid: {_short(result.unsigned)})"
    )


def _explain_unsigned(exc: Exception, ctx: _Context) -> TrustRootError:
    msg = str(exc)
    role = msg.split(" ", 1)[0] if msg else "?"
    trusted_root = _role_signed(ctx, "root")
    md = _recorded_signed(ctx, role)
    parts: list[str] = []
    version = getattr(getattr(md, "signed", None), "version", "?")
    hint = ""
    try:
        if md is not None and isinstance(trusted_root, Root):
            first = trusted_root.get_verification_result(role, md.signed_bytes, md.signatures)
            parts.append(_sig_summary(first, f"{role} keys of trusted root v{trusted_root.version}"))
            if role == "root" and isinstance(md.signed, Root):
                second = md.signed.get_verification_result(role, md.signed_bytes, md.signatures)
                parts.append(_sig_summary(second, f"root keys of the new root v{version} itself"))
                if not first.verified:
                    hint = (
                        " A new root must be signed by a threshold of the previous root's keys:"
                        " a rotation signed only by new keys is refused."
                    )
                elif not second.verified:
                    hint = " A new root must also be signed by a threshold of its own root keys."
    except (ValueError, KeyError, TypeError):
        parts = []
    detail = "; ".join(parts) if parts else msg
    if role in ("timestamp", "snapshot", "targets"):
        hint = " If the repository rotated its keys, a root version may be missing from the source."
    return TrustRootError(
        Reason.TUF_UNSIGNED,
        f"{role} v{version} from {ctx.source_desc} is not signed by enough trusted keys: {detail}.{hint}",
        context={"role": role, "version": version},
    )


def _explain_expired(exc: Exception, ctx: _Context) -> TrustRootError:
    msg = str(exc).lower()
    role = next((r for r in ("root", "timestamp", "snapshot", "targets") if r in msg), "targets")
    signed: Any = _role_signed(ctx, role)
    if signed is None or role == "targets":
        md = _recorded_signed(ctx, role)
        signed = md.signed if md is not None else signed
    version = getattr(signed, "version", "?")
    judged = store.format_time(ctx.reference_time)
    floor_note = ""
    if ctx.previous is not None and ctx.reference_time == ctx.previous.reference_time:
        floor_note = " (the last accepted refresh time: it never goes back)"
    advice = (
        "bring media exported more recently (or ask the site to allow a grace period)"
        if ctx.source_kind == "media"
        else "the repository serves expired metadata (stalled, or a freeze attack); try later or another mirror"
    )
    return TrustRootError(
        Reason.TUF_EXPIRED,
        f"{role} v{version} from {ctx.source_desc} expired on {_when(signed)}; expiry was judged at"
        f" {judged}{floor_note} with a grace period of {ctx.grace_days} days: {advice}",
        context={"role": role, "version": version, "expires": _when(signed), "reference_time": judged},
    )


def _explain_version(exc: Exception, ctx: _Context) -> TrustRootError:
    msg = str(exc)
    src = ctx.source_desc
    ts = _role_signed(ctx, "timestamp")
    sn = _role_signed(ctx, "snapshot")
    m = re.search(r"Expected root version (\d+) instead got version (\d+)", msg)
    if m:
        want, got = int(m.group(1)), int(m.group(2))
        if got < want:
            return TrustRootError(
                Reason.TUF_ROLLBACK,
                f"root rollback: {src} offers {want}.root.json holding root v{got}; trust"
                f" {ctx.name!r} already trusts root v{want - 1}",
                context={"role": "root", "offered": got, "trusted": want - 1},
            )
        return TrustRootError(
            Reason.TUF_BAD_METADATA, f"{src}: {want}.root.json holds root v{got}, not v{want}"
        )
    m = re.search(r"New timestamp version (\d+) must be >= (\d+)", msg)
    if m:
        return TrustRootError(
            Reason.TUF_ROLLBACK,
            f"timestamp rollback: {src} offers timestamp v{m.group(1)}, but trust {ctx.name!r}"
            f" already trusts v{m.group(2)} (older metadata than the store; refused)",
            context={"role": "timestamp", "offered": int(m.group(1)), "trusted": int(m.group(2))},
        )
    m = re.search(r"New snapshot version must be >= (\d+), got version (\d+)", msg)
    if m:
        return TrustRootError(
            Reason.TUF_ROLLBACK,
            f"snapshot rollback: the timestamp from {src} names snapshot v{m.group(2)}, but trust"
            f" {ctx.name!r} already trusts snapshot v{m.group(1)}",
            context={"role": "snapshot", "offered": int(m.group(2)), "trusted": int(m.group(1))},
        )
    m = re.search(r"Expected (\S+)\.json version (\d+), got (\d+)\.", msg)
    if m:  # python-tuf names the new version first, then the trusted one
        role, offered, trusted = m.group(1), int(m.group(2)), int(m.group(3))
        return TrustRootError(
            Reason.TUF_ROLLBACK,
            f"{role} rollback: the snapshot from {src} lists {role} v{offered}, but trust"
            f" {ctx.name!r} already trusts {role} v{trusted}",
            context={"role": role, "offered": offered, "trusted": trusted},
        )
    m = re.search(r"Expected snapshot version (\d+), got (\d+)", msg)
    if m:
        tv = getattr(ts, "version", "?")
        return TrustRootError(
            Reason.TUF_BAD_METADATA,
            f"mix-and-match: timestamp v{tv} from {src} names snapshot v{m.group(1)}, but the"
            f" snapshot file served holds v{m.group(2)} (files from different repository states)",
            context={"role": "snapshot", "expected": int(m.group(1)), "got": int(m.group(2))},
        )
    m = re.search(r"Expected (\S+) v(\d+), got v(\d+)", msg)
    if m:
        sv = getattr(sn, "version", "?")
        return TrustRootError(
            Reason.TUF_BAD_METADATA,
            f"mix-and-match: snapshot v{sv} from {src} names {m.group(1)} v{m.group(2)}, but the"
            f" {m.group(1)} file served holds v{m.group(3)} (files from different repository states)",
            context={"role": m.group(1), "expected": int(m.group(2)), "got": int(m.group(3))},
        )
    return TrustRootError(Reason.TUF_ROLLBACK, f"{src}: version check failed: {msg}")


def _explain_hash(exc: Exception, ctx: _Context) -> TrustRootError:
    fname = ctx.recorder.last_file
    m = _ROLE_FILE_RE.match(fname)
    if fname.endswith(TRUSTED_ROOT_TARGET):
        parent = _role_signed(ctx, "targets")
        what = f"the length/hashes that targets v{getattr(parent, 'version', '?')} records for {TRUSTED_ROOT_TARGET}"
    elif m and m.group(2) == "snapshot":
        parent = _role_signed(ctx, "timestamp")
        what = f"the length/hashes that timestamp v{getattr(parent, 'version', '?')} records"
    else:
        parent = _role_signed(ctx, "snapshot")
        what = f"the length/hashes that snapshot v{getattr(parent, 'version', '?')} records"
    return TrustRootError(
        Reason.TUF_HASH_MISMATCH,
        f"{fname} from {ctx.source_desc} does not match {what} (tampered, or mixed from"
        f" another repository state): {exc}",
        context={"file": fname},
    )


def _translate(exc: BaseException, ctx: _Context) -> AirsealError:
    """Turn a tuf exception into one actionable TrustRootError (exit 4)."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, AirsealError):
            return cause
        cause = cause.__cause__
    fname = ctx.recorder.last_file
    if isinstance(exc, tuf_exc.DownloadLengthMismatchError):
        m = _ROLE_FILE_RE.match(fname)
        role = f"{m.group(2)} metadata" if m else "the target"
        return TrustRootError(
            Reason.TUF_OVERSIZED,
            f"{fname} from {ctx.source_desc} is larger than allowed for {role} (endless data or"
            f" oversized metadata): {exc}",
            context={"file": fname},
        )
    if isinstance(exc, tuf_exc.DownloadHTTPError):
        if ctx.source_kind == "media":
            return TrustRootError(
                Reason.TUF_MEDIA_INCOMPLETE,
                f"{fname} is not on the media at {ctx.source_desc}; bring a complete pack",
                context={"file": fname},
            )
        return TrustRootError(
            Reason.TUF_FETCH_FAILED,
            f"{ctx.recorder.last_url} answered HTTP {exc.status_code}",
            context={"url": ctx.recorder.last_url},
        )
    if isinstance(exc, tuf_exc.DownloadError):
        inner = exc.__cause__ or exc
        return TrustRootError(
            Reason.TUF_FETCH_FAILED,
            f"could not fetch {ctx.recorder.last_url or fname}: {inner}"
            + ("" if ctx.source_kind == "media" else
               " (no network here? carry a pack across and use `airseal trust import`)"),
        )
    if isinstance(exc, tuf_exc.ExpiredMetadataError):
        return _explain_expired(exc, ctx)
    if isinstance(exc, tuf_exc.UnsignedMetadataError):
        return _explain_unsigned(exc, ctx)
    if isinstance(exc, tuf_exc.BadVersionNumberError):
        return _explain_version(exc, ctx)
    if isinstance(exc, tuf_exc.LengthOrHashMismatchError):
        return _explain_hash(exc, ctx)
    return TrustRootError(
        Reason.TUF_BAD_METADATA,
        f"{fname} from {ctx.source_desc} is not valid TUF metadata: {exc}",
        context={"file": fname},
    )


# --- export ----------------------------------------------------------------------------------


def export_pack(name: str, out: Path) -> dict[str, Any]:
    """Pack trust `name`'s current verified state for an air-gapped client (a tar.gz).

    Holds every root version the store has (consistent-snapshot names), the timestamp,
    snapshot and targets metadata, the trusted_root.json target, and a MANIFEST.json.

    Raises:
        TrustRootError: `trustroot.not_found` before the first refresh.
    """
    store.require_trust(name)
    state = store.current_state(name)
    if state is None:
        raise TrustRootError(
            Reason.TRUSTROOT_NOT_FOUND,
            f"nothing to export for {name!r}: run `airseal trust update {name}` (or import) first",
        )
    config = store.load_config(name)
    files: dict[str, bytes] = {}
    hist = state.metadata_dir / "root_history"
    try:
        for path in sorted(hist.glob("*.root.json")):
            if path.is_file():
                files[f"metadata/{path.name}"] = path.read_bytes()
        files["metadata/timestamp.json"] = (state.metadata_dir / "timestamp.json").read_bytes()
        snap = f"{state.snapshot_version}.snapshot.json" if state.consistent_snapshot else "snapshot.json"
        targ = f"{state.targets_version}.targets.json" if state.consistent_snapshot else "targets.json"
        files[f"metadata/{snap}"] = (state.metadata_dir / "snapshot.json").read_bytes()
        files[f"metadata/{targ}"] = (state.metadata_dir / "targets.json").read_bytes()
    except OSError as exc:
        raise TrustRootError(Reason.TRUST_STORE_ERROR, f"cannot read the stored state: {exc}") from exc
    target = (
        f"targets/{state.trusted_root_target_hash}.{TRUSTED_ROOT_TARGET}"
        if state.consistent_snapshot
        else f"targets/{TRUSTED_ROOT_TARGET}"
    )
    files[target] = store.read_verified_trusted_root(state)
    versions = sorted(int(p.split("/")[1].split(".")[0]) for p in files if p.endswith(".root.json"))
    return _media.write_pack(
        Path(out),
        files,
        {
            "trust": name,
            "url": config.url,
            "created_at": store.format_time(_dt.datetime.now(_dt.timezone.utc)),
            "root_versions": versions,
            "root_version": state.root_version,
            "timestamp_version": state.timestamp_version,
            "snapshot_version": state.snapshot_version,
            "targets_version": state.targets_version,
            "trusted_root_sha256": state.trusted_root_sha256,
            "expires": store.format_time(state.earliest_expiry),
        },
    )


__all__ = [
    "MediaFetcher",
    "RefreshResult",
    "check_root_bytes",
    "export_pack",
    "reference_time_for",
    "refresh_from_media",
    "refresh_online",
    "set_reference_time",
]
