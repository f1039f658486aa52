"""The trust store: named trusts on disk, their configuration, and the verified state in use.

Owns the layout under `$AIRSEAL_HOME/trust/` and every write to it (atomic, crash-safe), and
answers the verify path's one question: which trusted_root.json bytes does trust NAME mean now?

Layout (see docs/trust.md)::

    $AIRSEAL_HOME/trust/
      .<name>.lock                 held while a refresh of <name> runs
      <name>/
        config.json                url, grace_days, stale_warning_days, max_age_days (optional for built-ins)
        bootstrap.root.json        the TUF root given to `trust init` (built-ins use the shipped one)
        CURRENT                    one line: the state directory in use (the atomic pointer)
        state-000007/
          state.json               versions, expiries, hashes, refreshed_at, reference_time
          metadata/                python-tuf's cache: root_history/N.root.json, timestamp.json, ...
          targets/trusted_root.json

A refresh builds a complete new state directory beside the store, renames it into place and
then swaps CURRENT with os.replace; until that last step the previous state is the one in use.

Must not import tuf, urllib3, requests or http.client: `verify --trust NAME` imports this
module (a subprocess test keeps it so); the TUF work lives in `verifier._internal.refresh`.
Must not hold caps, time formats or an atomic-write routine of its own: those are
`limits.py`, `timefmt.py` and `atomic.py`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Optional

from verifier._internal.atomic import atomic_file, fsync_dir
from verifier._internal.encoding import load_json
from verifier._internal.limits import DEFAULT_LIMITS
from verifier._internal.record import Record
from verifier._internal.timefmt import iso, parse_rfc3339
from verifier._internal.trustroot.embedded import (
    BUILTIN_TRUSTS,
    embedded_snapshot_date,
    embedded_trusted_root_bytes,
    embedded_tuf_root_bytes,
)
from verifier.errors import InputError, Reason, TrustRootError

DEFAULT_GRACE_DAYS = 0
DEFAULT_STALE_WARNING_DAYS = 30
STATE_SCHEMA = 1
CONFIG_FILE = "config.json"
BOOTSTRAP_ROOT_FILE = "bootstrap.root.json"
POINTER_FILE = "CURRENT"
STATE_FILE = "state.json"
TRUSTED_ROOT_PATH = ("targets", "trusted_root.json")
SIGNING_CONFIG_FILE = "signing_config.v0.2.json"

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
_STATE_RE = re.compile(r"^state-(\d{6,})$")


# --- locations ------------------------------------------------------------------------------


def airseal_home() -> Path:
    """`$AIRSEAL_HOME`, else `$XDG_DATA_HOME/airseal`, else `~/.local/share/airseal`."""
    home = os.environ.get("AIRSEAL_HOME")
    if home:
        return Path(home)
    xdg = os.environ.get("XDG_DATA_HOME")
    if xdg:
        return Path(xdg) / "airseal"
    return Path.home() / ".local" / "share" / "airseal"


def trust_root_dir() -> Path:
    """The folder holding every trust: `$AIRSEAL_HOME/trust`."""
    return airseal_home() / "trust"


def check_name(name: str) -> str:
    """Return `name` if it can name a trust (lower-case letters, digits, `.`, `_`, `-`).

    Raises:
        TrustRootError: `trustroot.unknown_trust` for a name no trust can have.
    """
    if not _NAME_RE.match(name) or name in (".", ".."):
        raise TrustRootError(
            Reason.TRUST_NAME_UNKNOWN,
            f"{name!r} is not a valid trust name (use lower-case letters, digits, '.', '_', '-')",
        )
    return name


def trust_dir(name: str) -> Path:
    """The folder of trust `name` (which need not exist yet).

    Raises:
        TrustRootError: `trustroot.unknown_trust` for an invalid name.
    """
    return trust_root_dir() / check_name(name)


# --- configuration --------------------------------------------------------------------------


class TrustConfig(Record):
    """Per-trust settings from `<name>/config.json`; built-ins default without the file."""

    url: str | None
    """Base URL of the TUF repository (metadata at the top, targets under `targets/`); None: media only."""
    grace_days: int = DEFAULT_GRACE_DAYS
    """How far before now metadata may have expired and still be accepted (0..30 days)."""
    stale_warning_days: int = DEFAULT_STALE_WARNING_DAYS
    """`verify` warns when the last refresh is older than this many days."""
    warnings: tuple[str, ...] = ()
    """Problems found while reading the file (e.g. a grace period above the cap)."""
    max_age_days: int | None = None
    """`verify` refuses (trustroot.stale) a trust last refreshed longer ago than this; None: only warn."""

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "grace_days": self.grace_days,
            "stale_warning_days": self.stale_warning_days,
            "max_age_days": self.max_age_days,
        }


def is_builtin(name: str) -> bool:
    """Whether `name` is a trust shipped with airseal (public-good, staging)."""
    return name in BUILTIN_TRUSTS


def trust_exists(name: str) -> bool:
    """A built-in name, or one created by `trust init`.

    Raises:
        TrustRootError: `trustroot.unknown_trust` for an invalid name.
    """
    check_name(name)
    return is_builtin(name) or (trust_dir(name) / CONFIG_FILE).is_file()


def require_trust(name: str) -> None:
    """Refuse a name that is neither built in nor created by `trust init`.

    Raises:
        TrustRootError: `trustroot.unknown_trust`, naming the trusts there are.
    """
    if not trust_exists(name):
        known = ", ".join(list_trusts())
        raise TrustRootError(
            Reason.TRUST_NAME_UNKNOWN,
            f"no trust named {name!r} (known: {known}); add one with"
            f" `airseal trust init {name} --root ROOT.json --url URL`",
        )


def list_trusts() -> list[str]:
    """Built-in trusts first, then the private ones in name order."""
    names = set(BUILTIN_TRUSTS)
    base = trust_root_dir()
    if base.is_dir():
        for child in base.iterdir():
            if _NAME_RE.match(child.name) and (child / CONFIG_FILE).is_file():
                names.add(child.name)
    builtins = [n for n in BUILTIN_TRUSTS if n in names]
    return builtins + sorted(names - set(BUILTIN_TRUSTS))


def _int_setting(raw: Mapping[str, Any], key: str, default: int, path: Path) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TrustRootError(
            Reason.TRUST_STORE_ERROR,
            f"{path}: {key} must be a whole number of days >= 0, got {value!r}",
        )
    return value


def load_config(name: str) -> TrustConfig:
    """Read the trust's config.json (built-ins need none).

    A grace period above `limits.max_grace_days` is capped, with a warning in the result.

    Raises:
        TrustRootError: `trustroot.unknown_trust`; `trustroot.store_error` for an unreadable
            or invalid file.
    """
    require_trust(name)
    path = trust_dir(name) / CONFIG_FILE
    raw: Mapping[str, Any] = {}
    if path.is_file():
        raw = _read_json(path, "configuration")
    url = raw.get("url", BUILTIN_TRUSTS.get(name))
    if url is not None and (not isinstance(url, str) or not url):
        raise TrustRootError(Reason.TRUST_STORE_ERROR, f"{path}: url must be a non-empty string")
    grace = _int_setting(raw, "grace_days", DEFAULT_GRACE_DAYS, path)
    stale = _int_setting(raw, "stale_warning_days", DEFAULT_STALE_WARNING_DAYS, path)
    max_age = None if raw.get("max_age_days") is None else _int_setting(raw, "max_age_days", 0, path)
    warnings: list[str] = []
    cap = DEFAULT_LIMITS.max_grace_days
    if grace > cap:
        warnings.append(f"trust {name!r}: grace_days {grace} is above the cap; using {cap}")
        grace = cap
    return TrustConfig(url=url, grace_days=grace, stale_warning_days=stale, warnings=tuple(warnings), max_age_days=max_age)


def save_config(name: str, config: TrustConfig) -> None:
    """Write config.json atomically (creates the trust folder).

    Raises:
        TrustRootError: `trustroot.store_error` for settings out of range or a failed write.
    """
    cap = DEFAULT_LIMITS.max_grace_days
    if not 0 <= config.grace_days <= cap:
        raise TrustRootError(
            Reason.TRUST_STORE_ERROR,
            f"grace period must be between 0 and {cap} days, got {config.grace_days}",
        )
    if config.stale_warning_days < 0:
        raise TrustRootError(Reason.TRUST_STORE_ERROR, "stale-warning days must be >= 0")
    if config.max_age_days is not None and config.max_age_days < 0:
        raise TrustRootError(Reason.TRUST_STORE_ERROR, "max-age days must be >= 0")
    tdir = trust_dir(name)
    _guard_os(lambda: tdir.mkdir(parents=True, exist_ok=True), tdir)
    data = json.dumps(config.to_json_dict(), indent=2, sort_keys=True).encode() + b"\n"
    _write_file(tdir / CONFIG_FILE, data)


def create_trust(name: str, root_bytes: bytes, config: TrustConfig) -> None:
    """Create a private trust folder: bootstrap root first, config.json last (it marks it live).

    Raises:
        TrustRootError: `trustroot.unknown_trust` (invalid name), `trustroot.store_error`
            (it exists already, or a write failed).
    """
    check_name(name)
    if trust_exists(name):
        raise TrustRootError(Reason.TRUST_STORE_ERROR, f"trust {name!r} already exists")
    tdir = trust_dir(name)
    _guard_os(lambda: tdir.mkdir(parents=True, exist_ok=True), tdir)
    _write_file(tdir / BOOTSTRAP_ROOT_FILE, root_bytes)
    save_config(name, config)


def bootstrap_root_bytes(name: str) -> bytes:
    """The TUF root a trust starts from before its first refresh.

    Raises:
        TrustRootError: `trustroot.unknown_trust`; `trustroot.store_error` when a private
            trust's bootstrap root is unreadable.
    """
    require_trust(name)
    if is_builtin(name):
        return embedded_tuf_root_bytes(name)
    path = trust_dir(name) / BOOTSTRAP_ROOT_FILE
    try:
        return path.read_bytes()
    except OSError as exc:
        raise TrustRootError(
            Reason.TRUST_STORE_ERROR, f"trust {name!r} has lost its bootstrap root ({path}): {exc}"
        ) from exc


# --- stored state ---------------------------------------------------------------------------


class StoredState(Record):
    """The verified TUF state a trust currently uses (one state directory)."""

    path: Path
    root_version: int
    timestamp_version: int
    snapshot_version: int
    targets_version: int
    consistent_snapshot: bool
    trusted_root_sha256: str
    trusted_root_target_hash: str
    """First hash listed for trusted_root.json in targets (its consistent-snapshot file prefix)."""
    refreshed_at: _dt.datetime
    """Wall-clock time of the refresh that made this state."""
    reference_time: _dt.datetime
    """The time expiry was judged at; later refreshes never judge at an earlier time."""
    expires: dict[str, _dt.datetime]
    source: str
    signing_config_sha256: Optional[str] = None
    """SHA-256 of the TUF-verified signing_config.v0.2.json, when the repository ships one."""
    signing_config_target_hash: Optional[str] = None

    @property
    def metadata_dir(self) -> Path:
        return self.path / "metadata"

    @property
    def trusted_root_path(self) -> Path:
        return self.path.joinpath(*TRUSTED_ROOT_PATH)

    @property
    def earliest_expiry(self) -> _dt.datetime:
        return min(self.expires.values())


def state_to_json(fields: Mapping[str, Any]) -> bytes:
    """state.json's bytes for `fields` (built by the refresh), stamped with the schema."""
    return json.dumps(dict(fields, schema=STATE_SCHEMA), indent=2, sort_keys=True).encode() + b"\n"


def current_state(name: str) -> StoredState | None:
    """The state CURRENT points at, or None before the first successful refresh.

    Raises:
        TrustRootError: `trustroot.unknown_trust` (invalid name), `trustroot.store_error`
            (an unreadable or damaged pointer or state.json).
    """
    tdir = trust_dir(name)
    pointer = tdir / POINTER_FILE
    try:
        target = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise TrustRootError(Reason.TRUST_STORE_ERROR, f"cannot read {pointer}: {exc}") from exc
    if not _STATE_RE.match(target):
        raise TrustRootError(Reason.TRUST_STORE_ERROR, f"{pointer} is damaged ({target!r})")
    sdir = tdir / target
    raw = _read_json(sdir / STATE_FILE, "state")
    try:
        return _state_from_json(sdir, raw)
    except (KeyError, TypeError, ValueError, AttributeError, InputError) as exc:
        raise TrustRootError(
            Reason.TRUST_STORE_ERROR, f"{sdir / STATE_FILE} is damaged: {exc}"
        ) from exc


def _state_from_json(sdir: Path, raw: Mapping[str, Any]) -> StoredState:
    def when(value: Any, what: str) -> _dt.datetime:
        return parse_rfc3339(value, what, Reason.TRUST_STORE_ERROR)

    expires = {str(k): when(v, f"expires.{k}") for k, v in raw["expires"].items()}
    return StoredState(
        path=sdir,
        root_version=int(raw["root_version"]),
        timestamp_version=int(raw["timestamp_version"]),
        snapshot_version=int(raw["snapshot_version"]),
        targets_version=int(raw["targets_version"]),
        consistent_snapshot=bool(raw["consistent_snapshot"]),
        trusted_root_sha256=str(raw["trusted_root_sha256"]),
        trusted_root_target_hash=str(raw["trusted_root_target_hash"]),
        refreshed_at=when(raw["refreshed_at"], "refreshed_at"),
        reference_time=when(raw["reference_time"], "reference_time"),
        expires=expires,
        source=str(raw.get("source", "")),
        signing_config_sha256=raw.get("signing_config_sha256"),
        signing_config_target_hash=raw.get("signing_config_target_hash"),
    )


def _read_json(path: Path, what: str) -> dict[str, Any]:
    cap = DEFAULT_LIMITS.max_store_file_bytes
    try:
        with open(path, "rb") as fh:
            data = fh.read(cap + 1)  # one byte more than allowed tells "too large" from "at the cap"
    except OSError as exc:
        raise TrustRootError(Reason.TRUST_STORE_ERROR, f"cannot read {what} {path}: {exc}") from exc
    if len(data) > cap:
        raise TrustRootError(Reason.TRUST_STORE_ERROR, f"{what} {path} is too large")
    try:
        obj = load_json(data, what=f"{what} {path}", reason=Reason.TRUST_STORE_ERROR, error=TrustRootError)
    except InputError as exc:  # too many values
        raise TrustRootError(Reason.TRUST_STORE_ERROR, exc.detail) from exc
    if not isinstance(obj, dict):
        raise TrustRootError(Reason.TRUST_STORE_ERROR, f"{what} {path} is not a JSON object")
    return obj


# --- what `verify --trust NAME` uses ----------------------------------------------------------


class ResolvedTrust(Record):
    """The trusted_root.json bytes a named trust stands for, and how we got them."""

    data: bytes
    """trusted_root.json as verified by TUF (store) or as shipped (embedded)."""
    source: str
    """"store" (a verified refresh) or "embedded" (the snapshot shipped with airseal)."""
    warnings: tuple[str, ...] = ()
    """Sentences for stderr: stale refresh, shipped snapshot in use, capped settings."""


def _utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def resolve_trusted_root(
    name: str, *, now: _dt.datetime | None = None, max_age_days: int | None = None
) -> ResolvedTrust:
    """Return the trusted_root.json for trust `name`.

    The store's verified copy when there is one; before any refresh, for a built-in trust, the
    snapshot shipped with airseal (with a warning giving its date).

    `max_age_days` (`verify --max-trust-age`; default: the trust's `max_age_days` setting)
    turns the stale warning into a refusal: a trust refreshed longer ago than that, or a
    shipped snapshot dated longer ago, is `trustroot.stale`.

    Raises:
        TrustRootError: `trustroot.unknown_trust` (no such trust), `trustroot.not_found`
            (a private trust never refreshed), `trustroot.store_error` (damaged store),
            `trustroot.stale` (older than the maximum age).
    """
    now = now or _utcnow()
    if now.tzinfo is None:
        raise ValueError("naive datetime")
    require_trust(name)
    config = load_config(name)
    warnings = list(config.warnings)
    max_age = config.max_age_days if max_age_days is None else max_age_days
    state = current_state(name)
    if state is None:
        if not is_builtin(name):
            raise TrustRootError(
                Reason.TRUSTROOT_NOT_FOUND,
                f"trust {name!r} has no verified trusted root yet: run `airseal trust update {name}`"
                f" or `airseal trust import {name} SOURCE`",
            )
        dated = embedded_snapshot_date(name).isoformat()
        snapshot_age = now.date() - embedded_snapshot_date(name)
        if max_age is not None and snapshot_age > _dt.timedelta(days=max_age):
            raise TrustRootError(
                Reason.TRUSTROOT_STALE,
                f"trust {name!r} has never been refreshed and its shipped snapshot is {snapshot_age.days} days"
                f" old (dated {dated}; at most {max_age} days allowed): refresh it with `airseal trust update"
                f" {name}` or `airseal trust import {name} SOURCE`",
                context={"snapshot_date": dated, "max_age_days": max_age},
            )
        warnings.append(
            f"no refreshed trust for {name!r}; using the snapshot shipped with airseal"
            f" (dated {dated}); refresh it with `airseal trust update {name}`"
            f" or `airseal trust import {name} SOURCE`"
        )
        return ResolvedTrust(embedded_trusted_root_bytes(name), "embedded", tuple(warnings))
    data = read_verified_trusted_root(state)
    age = now - state.refreshed_at
    if max_age is not None and age > _dt.timedelta(days=max_age):
        raise TrustRootError(
            Reason.TRUSTROOT_STALE,
            f"trust {name!r} was last refreshed {age.days} days ago ({iso(state.refreshed_at)}; at most"
            f" {max_age} days allowed): refresh it with `airseal trust update {name}` or import fresh media",
            context={"refreshed_at": iso(state.refreshed_at), "max_age_days": max_age},
        )
    if age > _dt.timedelta(days=config.stale_warning_days):
        warnings.append(
            f"trust {name!r} was last refreshed {age.days} days ago"
            f" ({iso(state.refreshed_at)}); refresh it with `airseal trust update {name}`"
            f" or import fresh media"
        )
    return ResolvedTrust(data, "store", tuple(warnings))


def read_verified_trusted_root(state: StoredState) -> bytes:
    """The state's trusted_root.json, checked against the hash recorded when TUF verified it.

    Raises:
        TrustRootError: `trustroot.store_error` when it is unreadable or was altered.
    """
    return _read_verified(state.trusted_root_path, state.trusted_root_sha256)


def read_verified_signing_config(state: Optional[StoredState]) -> Optional[bytes]:
    """The state's TUF-verified signing_config.v0.2.json, or None when it has none.

    Raises:
        TrustRootError: `trustroot.store_error` when it is unreadable or was altered.
    """
    if state is None or state.signing_config_sha256 is None:
        return None
    return _read_verified(state.path / "targets" / SIGNING_CONFIG_FILE, state.signing_config_sha256)


def _read_verified(path: Path, sha256_hex: str) -> bytes:
    """A stored target, refused unless it still has the hash recorded when TUF verified it."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TrustRootError(Reason.TRUST_STORE_ERROR, f"cannot read {path}: {exc}") from exc
    if hashlib.sha256(data).hexdigest() != sha256_hex:
        raise TrustRootError(
            Reason.TRUST_STORE_ERROR,
            f"{path} no longer matches the hash recorded when it was verified; refresh the trust",
        )
    return data


# --- atomic writes --------------------------------------------------------------------------


def _guard_os(action: Any, path: Path) -> Any:
    try:
        return action()
    except OSError as exc:
        raise TrustRootError(Reason.TRUST_STORE_ERROR, f"cannot write {path}: {exc}") from exc


def _write_file(path: Path, data: bytes) -> None:
    """Replace one small store file through atomic.py, reporting failure as a store error."""

    def write() -> None:
        with atomic_file(path) as fh:
            fh.write(data)

    _guard_os(write, path)


def _fsync_tree(root: Path) -> None:
    for dirpath, _dirs, files in os.walk(root):
        for fname in files:
            full = os.path.join(dirpath, fname)
            if os.path.islink(full):
                continue
            with open(full, "rb") as fh:
                os.fsync(fh.fileno())
        fsync_dir(Path(dirpath))


@contextlib.contextmanager
def trust_lock(name: str) -> Iterator[None]:
    """Hold an exclusive lock on refreshing `name` (a lock file beside, not inside, its folder).

    Raises:
        TrustRootError: `trustroot.store_error` when another process holds it or the lock
            file cannot be made.
    """
    base = trust_root_dir()
    _guard_os(lambda: base.mkdir(parents=True, exist_ok=True), base)
    lock_path = base / f".{check_name(name)}.lock"
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    fd = _guard_os(lambda: os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600), lock_path)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            raise TrustRootError(
                Reason.TRUST_STORE_ERROR,
                f"another airseal process is refreshing trust {name!r}; try again when it is done",
            ) from exc
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def staging_dir(name: str) -> Iterator[Path]:
    """A scratch folder on the store's file system for building a new state; removed on exit.

    Raises:
        TrustRootError: `trustroot.store_error` when it cannot be made.
    """
    base = trust_root_dir()
    _guard_os(lambda: base.mkdir(parents=True, exist_ok=True), base)
    import shutil
    import tempfile

    path = Path(_guard_os(lambda: tempfile.mkdtemp(prefix=f".staging-{name}-", dir=base), base))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _write_pointer(tdir: Path, state_name: str) -> None:
    _write_file(tdir / POINTER_FILE, (state_name + "\n").encode())


def install_state(name: str, built: Path) -> Path:
    """Make the complete state folder `built` the one in use, atomically.

    Steps: fsync the new files, rename the folder into the trust folder under an unused
    `state-N` name, then replace CURRENT. Any failure before the pointer swap removes the new
    folder and leaves the previous state in use; old state folders are pruned afterwards.

    Returns:
        The installed state folder.

    Raises:
        TrustRootError: `trustroot.store_error` when any step fails (the previous state stays
            in use).
    """
    import shutil  # write path only: verify never pays for it

    tdir = trust_dir(name)
    created_tdir = not tdir.exists()
    _guard_os(lambda: tdir.mkdir(parents=True, exist_ok=True), tdir)
    final: Path | None = None
    try:
        _fsync_tree(built)
        seq = 1 + max(
            (int(m.group(1)) for m in (_STATE_RE.match(p.name) for p in tdir.iterdir()) if m),
            default=0,
        )
        final = tdir / f"state-{seq:06d}"
        os.rename(built, final)
        fsync_dir(tdir)
        _write_pointer(tdir, final.name)
    except BaseException as exc:
        if final is not None and final.exists():
            shutil.rmtree(final, ignore_errors=True)
        if created_tdir:
            with contextlib.suppress(OSError):
                tdir.rmdir()
        if isinstance(exc, OSError):
            raise TrustRootError(
                Reason.TRUST_STORE_ERROR,
                f"could not install the new state of trust {name!r} ({exc}); the previous state"
                " is still in use",
            ) from exc
        raise
    prune_states(name)
    return final


def prune_states(name: str) -> None:
    """Remove state folders CURRENT does not point at (left by older refreshes or crashes)."""
    import shutil

    tdir = trust_dir(name)
    try:
        current = (tdir / POINTER_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return
    for child in tdir.iterdir():
        if _STATE_RE.match(child.name) and child.name != current:
            shutil.rmtree(child, ignore_errors=True)


# --- reporting ------------------------------------------------------------------------------


def describe_trust(name: str, *, now: _dt.datetime | None = None) -> dict[str, Any]:
    """Everything `trust show` and `trust list` print, as a JSON-ready dict.

    Raises:
        TrustRootError: `trustroot.unknown_trust`; `trustroot.store_error` (damaged store).
    """
    require_trust(name)
    config = load_config(name)
    state = current_state(name)
    info: dict[str, Any] = {
        "name": name,
        "builtin": is_builtin(name),
        "url": config.url,
        "grace_days": config.grace_days,
        "stale_warning_days": config.stale_warning_days,
        "max_age_days": config.max_age_days,
    }
    if state is None:
        info.update(_describe_unrefreshed(name))
    else:
        info.update(_describe_state(state, now or _utcnow()))
    return info


def _describe_unrefreshed(name: str) -> dict[str, Any]:
    """A trust before its first refresh: the shipped snapshot (built-ins) or nothing."""
    builtin = is_builtin(name)
    info: dict[str, Any] = {
        "source": "embedded" if builtin else "none",
        "root_version": None,
        "timestamp_version": None,
        "snapshot_version": None,
        "targets_version": None,
        "trusted_root_sha256": (
            hashlib.sha256(embedded_trusted_root_bytes(name)).hexdigest() if builtin else None
        ),
        "refreshed_at": None,
        "reference_time_floor": None,
        "expires": None,
        "expires_by_role": {},
        "embedded_snapshot_date": embedded_snapshot_date(name).isoformat() if builtin else None,
        "last_source": None,
    }
    if builtin:
        info["bootstrap_root_sha256"] = hashlib.sha256(bootstrap_root_bytes(name)).hexdigest()
    return info


def _describe_state(state: StoredState, now: _dt.datetime) -> dict[str, Any]:
    return {
        "source": "store",
        "root_version": state.root_version,
        "timestamp_version": state.timestamp_version,
        "snapshot_version": state.snapshot_version,
        "targets_version": state.targets_version,
        "trusted_root_sha256": state.trusted_root_sha256,
        "refreshed_at": iso(state.refreshed_at),
        "refreshed_days_ago": (now - state.refreshed_at).days,
        "reference_time_floor": iso(state.reference_time),
        "expires": iso(state.earliest_expiry),
        "expires_by_role": {k: iso(v) for k, v in sorted(state.expires.items())},
        "last_source": state.source,
        "state_dir": str(state.path),
    }


__all__ = [
    "ResolvedTrust",
    "StoredState",
    "TrustConfig",
    "airseal_home",
    "current_state",
    "describe_trust",
    "list_trusts",
    "load_config",
    "resolve_trusted_root",
]
