"""Turning python-tuf's refusals into `TrustRootError`s an operator can act on.

Owns the mapping from `tuf.api.exceptions.*` to reason codes, and the sentences that name the
role, the versions offered and trusted, the expiry and the time it was judged at. It reads
what the refresh saw (the recorder's bodies, python-tuf's trusted set) to say so.

Must not guess: a refusal it does not recognise gets `trustroot.tuf_error` with python-tuf's
own message, never a code that merely looks likely. It never changes the outcome of a refresh
(only python-tuf decides), performs no I/O, and does not raise: it returns the error for the
caller to raise `from` the tuf exception, so the cause stays attached.

| tuf exception | reason |
| --- | --- |
| `DownloadError` caused by one of our `AirsealError`s | that error, unchanged |
| `DownloadLengthMismatchError` | `trustroot.tuf_oversized` |
| `DownloadHTTPError` | `trustroot.tuf_media_incomplete` (media), `trustroot.fetch_failed` (online) |
| any other `DownloadError` (`SlowRetrievalError`, ...) | `trustroot.fetch_failed` |
| `ExpiredMetadataError` | `trustroot.tuf_expired` |
| `UnsignedMetadataError` | `trustroot.tuf_unsigned` |
| `BadVersionNumberError`, rollback of root/timestamp/snapshot/targets | `trustroot.tuf_rollback` |
| `BadVersionNumberError`, versions that disagree (mix-and-match) | `trustroot.tuf_bad_metadata` |
| `LengthOrHashMismatchError` | `trustroot.tuf_hash_mismatch` |
| `DeserializationError`; wrong metadata type; a role missing from snapshot | `trustroot.tuf_bad_metadata` |
| anything else (`RepositoryError`, unrecognised `BadVersionNumberError`) | `trustroot.tuf_error` |
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tuf.api import exceptions as tuf_exc
from tuf.api.metadata import Metadata, Root, Signed
from tuf.api.serialization import DeserializationError

from verifier._internal.refresh.fetcher import ROLE_FILE_RE, RecordingFetcher
from verifier._internal.refresh.media import TRUSTED_ROOT_TARGET
from verifier._internal.timefmt import iso
from verifier._internal.trustroot import store
from verifier.errors import AirsealError, Reason, TrustRootError

_TOP_ROLES = ("root", "timestamp", "snapshot", "targets")

# Plain RepositoryErrors python-tuf (6.x) raises for metadata that is malformed for its place:
# a file of the wrong type, or a role the snapshot does not describe.
_BAD_METADATA_MESSAGES = (
    re.compile(r"^Expected '\w+', got '\w+'$"),
    re.compile(r"^Snapshot does not contain information for "),
    re.compile(r"^New snapshot is missing info for "),
    re.compile(r" was delegated but is not part of snapshot$"),
)


@dataclass
class RefreshContext:
    """What one refresh saw, for explaining a refusal."""

    name: str
    source_kind: str
    """"media" or "repository"."""
    source_desc: str
    reference_time: _dt.datetime
    grace_days: int
    recorder: RecordingFetcher
    previous: store.StoredState | None
    trusted: Any = None
    """python-tuf's TrustedMetadataSet once the Updater exists (see updater.trusted_set_of)."""


def translate(exc: BaseException, ctx: RefreshContext) -> AirsealError:
    """The error to report for a refusal raised by python-tuf during a refresh.

    The caller raises the result `from exc`, unless it is `exc`'s own cause (one of our
    refusals that python-tuf's fetcher wrapped), which is returned as it is.

    Returns:
        An AirsealError; for tuf's exceptions a TrustRootError with one of the reasons
        `trustroot.tuf_oversized`, `trustroot.tuf_media_incomplete`, `trustroot.fetch_failed`,
        `trustroot.tuf_expired`, `trustroot.tuf_unsigned`, `trustroot.tuf_rollback`,
        `trustroot.tuf_bad_metadata`, `trustroot.tuf_hash_mismatch` or, for a refusal not
        recognised here, `trustroot.tuf_error` carrying python-tuf's message.
    """
    ours = own_cause(exc)
    if ours is not None:
        return ours
    if isinstance(exc, tuf_exc.DownloadError):
        return _explain_download(exc, ctx)
    if isinstance(exc, tuf_exc.ExpiredMetadataError):
        return _explain_expired(exc, ctx)
    if isinstance(exc, tuf_exc.UnsignedMetadataError):
        return _explain_unsigned(exc, ctx)
    if isinstance(exc, tuf_exc.BadVersionNumberError):
        return _explain_version(exc, ctx) or unrecognised(exc, ctx)
    if isinstance(exc, tuf_exc.LengthOrHashMismatchError):
        return _explain_hash(exc, ctx)
    if isinstance(exc, DeserializationError) or any(p.search(str(exc)) for p in _BAD_METADATA_MESSAGES):
        fname = ctx.recorder.last_file
        return TrustRootError(
            Reason.TUF_BAD_METADATA,
            f"{fname} from {ctx.source_desc} is not valid TUF metadata: {exc}",
            context={"file": fname},
        )
    return unrecognised(exc, ctx)


def own_cause(exc: BaseException) -> AirsealError | None:
    """One of our errors in `exc`'s cause chain (e.g. a media refusal inside a DownloadError)."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, AirsealError):
            return cause
        cause = cause.__cause__
    return None


def unrecognised(exc: BaseException, ctx: RefreshContext) -> TrustRootError:
    """`trustroot.tuf_error` with python-tuf's own message: a refusal without a specific code."""
    message = str(exc) or type(exc).__name__
    fname = ctx.recorder.last_file
    return TrustRootError(
        Reason.TUF_ERROR,
        f"TUF refused the refresh: {message} (while reading {fname} from {ctx.source_desc})",
        context={"tuf_error": type(exc).__name__, "file": fname},
    )


# --- downloads ---------------------------------------------------------------------------------


def _explain_download(exc: tuf_exc.DownloadError, ctx: RefreshContext) -> TrustRootError:
    fname = ctx.recorder.last_file
    if isinstance(exc, tuf_exc.DownloadLengthMismatchError):
        m = ROLE_FILE_RE.match(fname)
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
    inner = exc.__cause__ or exc
    return TrustRootError(
        Reason.TUF_FETCH_FAILED,
        f"could not fetch {ctx.recorder.last_url or fname}: {inner}"
        + ("" if ctx.source_kind == "media" else
           " (no network here? carry a pack across and use `airseal trust import`)"),
    )


# --- what the refresh saw ------------------------------------------------------------------------


def _when(signed: Any) -> str:
    try:
        return iso(signed.expires)
    except (AttributeError, TypeError, ValueError):
        return "?"


def _role_signed(ctx: RefreshContext, role: str) -> Signed | None:
    """The role python-tuf trusts at the moment of the refusal, if any."""
    if ctx.trusted is not None and role in _TOP_ROLES:
        try:
            signed: Signed = ctx.trusted[role]
            return signed
        except KeyError:
            return None
    return None


def _recorded_metadata(ctx: RefreshContext, role: str) -> Metadata[Any] | None:
    """The (untrusted) metadata last served for `role`, parsed; None if absent or unparsable."""
    body = ctx.recorder.body_for_role(role)
    if body is None:
        return None
    try:
        return Metadata.from_bytes(body)
    except (tuf_exc.RepositoryError, ValueError):
        return None


# --- signatures ----------------------------------------------------------------------------------


def _short(keyids: Any) -> str:
    ids = sorted(str(k)[:12] for k in keyids)
    return ", ".join(ids) if ids else "none"


def _sig_summary(result: Any, who: str) -> str:
    status = "met" if result.verified else "NOT met"
    return (
        f"{len(result.signed)} of the {who} signed, threshold {result.threshold} {status}"
        f" (valid: {_short(result.signed)}; missing or invalid: {_short(result.unsigned)})"
    )


def _signature_detail(role: str, md: Any, trusted_root: Any) -> tuple[list[str], str]:
    """Who signed `md` against whom (the trusted root; for a new root, also itself), and a hint."""
    parts: list[str] = []
    hint = ""
    if md is None or not isinstance(trusted_root, Root):
        return parts, hint
    first = trusted_root.get_verification_result(role, md.signed_bytes, md.signatures)
    parts.append(_sig_summary(first, f"{role} keys of trusted root v{trusted_root.version}"))
    if role == "root" and isinstance(md.signed, Root):
        second = md.signed.get_verification_result(role, md.signed_bytes, md.signatures)
        parts.append(_sig_summary(second, f"root keys of the new root v{md.signed.version} itself"))
        if not first.verified:
            hint = (
                " A new root must be signed by a threshold of the previous root's keys:"
                " a rotation signed only by new keys is refused."
            )
        elif not second.verified:
            hint = " A new root must also be signed by a threshold of its own root keys."
    return parts, hint


def _explain_unsigned(exc: Exception, ctx: RefreshContext) -> TrustRootError:
    msg = str(exc)
    role = msg.split(" ", 1)[0] if msg else "?"  # python-tuf starts the message with the role
    md = _recorded_metadata(ctx, role)
    version = getattr(getattr(md, "signed", None), "version", "?")
    try:
        parts, hint = _signature_detail(role, md, _role_signed(ctx, "root"))
    except (ValueError, KeyError, TypeError):
        # the summary is a courtesy; python-tuf's message still says what failed
        parts, hint = [], ""
    detail = "; ".join(parts) if parts else msg
    if role in ("timestamp", "snapshot", "targets"):
        hint = " If the repository rotated its keys, a root version may be missing from the source."
    return TrustRootError(
        Reason.TUF_UNSIGNED,
        f"{role} v{version} from {ctx.source_desc} is not signed by enough trusted keys: {detail}.{hint}",
        context={"role": role, "version": version},
    )


# --- expiry ----------------------------------------------------------------------------------------


def _explain_expired(exc: Exception, ctx: RefreshContext) -> TrustRootError:
    msg = str(exc).lower()
    # python-tuf names the file ("timestamp.json is expired", "New targets is expired")
    role = next((r for r in _TOP_ROLES if r in msg), "targets")
    signed: Any = _role_signed(ctx, role)
    if signed is None or role == "targets":
        md = _recorded_metadata(ctx, role)
        signed = md.signed if md is not None else signed
    version = getattr(signed, "version", "?")
    judged = iso(ctx.reference_time)
    floor_note = ""
    if ctx.previous is not None and ctx.reference_time == ctx.previous.reference_time:
        floor_note = " (the last accepted refresh time: it never goes back)"
    advice = (
        "bring media exported more recently (or ask the site to allow a grace period)"
        if ctx.source_kind == "media"
        else "the repository serves expired metadata (stalled, or a freeze attack); try later or another mirror"
    )
    if role == "root" and isinstance(version, int) and f"{version}.root.json" not in ctx.recorder.bodies:
        # The source served no root at or above this version: the expired root is the one the
        # store already trusted (shipped with airseal, or from an earlier refresh), not the source's.
        whose = "from an earlier refresh" if ctx.previous is not None else "the one it started from"
        return TrustRootError(
            Reason.TUF_EXPIRED,
            f"trust {ctx.name!r}'s own root v{version} ({whose}) expired on {_when(signed)}, and"
            f" {ctx.source_desc} carries no newer root (no {version + 1}.root.json); expiry was judged at"
            f" {judged}{floor_note} with a grace period of {ctx.grace_days} days: the"
            f" {'media' if ctx.source_kind == 'media' else 'repository'} must carry root v{version + 1} or later"
            " (export it from an up-to-date machine), or ask the site to allow a grace period",
            context={"role": "root", "version": version, "expires": _when(signed), "reference_time": judged,
                     "source_newest_root": "none newer than the store's"},
        )
    return TrustRootError(
        Reason.TUF_EXPIRED,
        f"{role} v{version} from {ctx.source_desc} expired on {_when(signed)}; expiry was judged at"
        f" {judged}{floor_note} with a grace period of {ctx.grace_days} days: {advice}",
        context={"role": role, "version": version, "expires": _when(signed), "reference_time": judged},
    )


# --- versions: one function per python-tuf message ----------------------------------------------


def _root_version(m: re.Match[str], ctx: RefreshContext) -> TrustRootError:
    want, got = int(m.group(1)), int(m.group(2))
    src = ctx.source_desc
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


def _timestamp_rollback(m: re.Match[str], ctx: RefreshContext) -> TrustRootError:
    offered, trusted = int(m.group(1)), int(m.group(2))
    return TrustRootError(
        Reason.TUF_ROLLBACK,
        f"timestamp rollback: {ctx.source_desc} offers timestamp v{offered}, but trust {ctx.name!r}"
        f" already trusts v{trusted} (older metadata than the store; refused)",
        context={"role": "timestamp", "offered": offered, "trusted": trusted},
    )


def _snapshot_rollback(m: re.Match[str], ctx: RefreshContext) -> TrustRootError:
    trusted, offered = int(m.group(1)), int(m.group(2))
    return TrustRootError(
        Reason.TUF_ROLLBACK,
        f"snapshot rollback: the timestamp from {ctx.source_desc} names snapshot v{offered}, but"
        f" trust {ctx.name!r} already trusts snapshot v{trusted}",
        context={"role": "snapshot", "offered": offered, "trusted": trusted},
    )


def _meta_rollback(m: re.Match[str], ctx: RefreshContext) -> TrustRootError:
    # python-tuf names the new version first, then the trusted one
    role, offered, trusted = m.group(1), int(m.group(2)), int(m.group(3))
    return TrustRootError(
        Reason.TUF_ROLLBACK,
        f"{role} rollback: the snapshot from {ctx.source_desc} lists {role} v{offered}, but trust"
        f" {ctx.name!r} already trusts {role} v{trusted}",
        context={"role": role, "offered": offered, "trusted": trusted},
    )


def _snapshot_mismatch(m: re.Match[str], ctx: RefreshContext) -> TrustRootError:
    tv = getattr(_role_signed(ctx, "timestamp"), "version", "?")
    expected, got = int(m.group(1)), int(m.group(2))
    return TrustRootError(
        Reason.TUF_BAD_METADATA,
        f"mix-and-match: timestamp v{tv} from {ctx.source_desc} names snapshot v{expected}, but the"
        f" snapshot file served holds v{got} (files from different repository states)",
        context={"role": "snapshot", "expected": expected, "got": got},
    )


def _role_mismatch(m: re.Match[str], ctx: RefreshContext) -> TrustRootError:
    sv = getattr(_role_signed(ctx, "snapshot"), "version", "?")
    role, expected, got = m.group(1), int(m.group(2)), int(m.group(3))
    return TrustRootError(
        Reason.TUF_BAD_METADATA,
        f"mix-and-match: snapshot v{sv} from {ctx.source_desc} names {role} v{expected}, but the"
        f" {role} file served holds v{got} (files from different repository states)",
        context={"role": role, "expected": expected, "got": got},
    )


_VERSION_MESSAGES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str], RefreshContext], TrustRootError]], ...] = (
    (re.compile(r"Expected root version (\d+) instead got version (\d+)"), _root_version),
    (re.compile(r"New timestamp version (\d+) must be >= (\d+)"), _timestamp_rollback),
    (re.compile(r"New snapshot version must be >= (\d+), got version (\d+)"), _snapshot_rollback),
    (re.compile(r"Expected (\S+)\.json version (\d+), got (\d+)\."), _meta_rollback),
    (re.compile(r"Expected snapshot version (\d+), got (\d+)"), _snapshot_mismatch),
    (re.compile(r"Expected (\S+) v(\d+), got v(\d+)"), _role_mismatch),
)
"""python-tuf 6.x's BadVersionNumberError messages, most specific first."""


def _explain_version(exc: Exception, ctx: RefreshContext) -> TrustRootError | None:
    """The error for a recognised version message; None when python-tuf said something new."""
    msg = str(exc)
    for pattern, build in _VERSION_MESSAGES:
        m = pattern.search(msg)
        if m:
            return build(m, ctx)
    return None


# --- lengths and hashes ----------------------------------------------------------------------------


def _explain_hash(exc: Exception, ctx: RefreshContext) -> TrustRootError:
    fname = ctx.recorder.last_file
    m = ROLE_FILE_RE.match(fname)
    # the parent is the role whose record the file failed: targets for the target,
    # timestamp for snapshot, snapshot for targets
    if fname.endswith(TRUSTED_ROOT_TARGET):
        parent = _role_signed(ctx, "targets")
        what = (
            f"the length/hashes that targets v{getattr(parent, 'version', '?')} records"
            f" for {TRUSTED_ROOT_TARGET}"
        )
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
