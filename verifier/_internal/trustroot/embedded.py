"""The trust material shipped with airseal: bootstrap TUF roots and trusted_root.json snapshots.

Owns finding the reviewed files of `trust-root/` at run time. In a wheel they sit inside the
package at `verifier/_trust_root/<name>/<file>` (mapped by pyproject's force-include); in a
source or editable checkout they are read from `<repo>/trust-root/<name>/<file>`.

Read-only and cheap: no tuf, no network, no writes. Used on the verify path.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

from verifier._internal.encoding import load_json
from verifier.errors import AirsealError, Reason, TrustRootError

BUILTIN_TRUSTS: dict[str, str] = {
    "public-good": "https://tuf-repo-cdn.sigstore.dev",
    "staging": "https://tuf-repo-cdn.sigstage.dev",
}
"""Named trusts that bootstrap from shipped files, with their default TUF repository URLs."""

TUF_ROOT_FILE = "root.json"
TRUSTED_ROOT_FILE = "trusted_root.json"

# Dates of the shipped trusted_root.json snapshots, where their provenance records one
# (trust-root/README.md: the public-good file is byte-identical to sigstore/root-signing
# commit 60cf2ce8, committed 2026-08-21). Other snapshots fall back to the newest validity
# start they contain, which is a lower bound on their age.
_SNAPSHOT_DATES: dict[str, _dt.date] = {
    "public-good": _dt.date(2026, 8, 21),
}

_REPO_TRUST_ROOT = Path(__file__).resolve().parents[3] / "trust-root"


_PACKAGE_TRUST_ROOT = Path(__file__).resolve().parents[2] / "_trust_root"


def _package_file(name: str, filename: str) -> bytes | None:
    # Read by path: wheels install unpacked, and importlib.resources (with its zip support)
    # would cost a few milliseconds of every cold verify.
    direct = _PACKAGE_TRUST_ROOT / name / filename
    return direct.read_bytes() if direct.is_file() else None


def embedded_file(name: str, filename: str) -> bytes:
    """Return a shipped file, e.g. `embedded_file("public-good", "root.json")`.

    Raises:
        TrustRootError: `trustroot.unknown_trust` for a name airseal does not ship;
            `trustroot.not_found` when the installation lacks the file.
    """
    if name not in BUILTIN_TRUSTS:
        raise TrustRootError(
            Reason.TRUST_NAME_UNKNOWN,
            f"airseal ships no trust named {name!r} (built in: {', '.join(BUILTIN_TRUSTS)})",
        )
    if filename not in (TUF_ROOT_FILE, TRUSTED_ROOT_FILE):
        raise ValueError(f"not a shipped trust file: {filename!r}")
    data = _package_file(name, filename)
    if data is not None:
        return data
    path = _REPO_TRUST_ROOT / name / filename
    try:
        return path.read_bytes()
    except OSError as exc:
        raise TrustRootError(
            Reason.TRUSTROOT_NOT_FOUND,
            f"the shipped {filename} for {name!r} is missing from this installation"
            f" (looked in the package and in {path.parent}): reinstall airseal",
        ) from exc


def embedded_tuf_root_bytes(name: str) -> bytes:
    """The shipped TUF root.json that bootstraps `trust update`/`trust import` for `name`."""
    return embedded_file(name, TUF_ROOT_FILE)


def embedded_trusted_root_bytes(name: str) -> bytes:
    """The shipped trusted_root.json snapshot used before any refresh."""
    return embedded_file(name, TRUSTED_ROOT_FILE)


def embedded_snapshot_date(name: str) -> _dt.date:
    """The date of the shipped trusted_root.json snapshot for `name`."""
    known = _SNAPSHOT_DATES.get(name)
    if known is not None:
        return known
    return _newest_validity_start(embedded_trusted_root_bytes(name))


def _newest_validity_start(data: bytes) -> _dt.date:
    newest = _dt.date(1970, 1, 1)
    try:
        doc = load_json(data, what="trusted root")
    except AirsealError:
        return newest
    if not isinstance(doc, dict):
        return newest
    groups = ("tlogs", "ctlogs", "certificateAuthorities", "timestampAuthorities")
    for group in groups:
        for entry in doc.get(group) or ():
            if not isinstance(entry, dict):
                continue
            valid = entry.get("validFor") or (entry.get("publicKey") or {}).get("validFor") or {}
            start = valid.get("start") if isinstance(valid, dict) else None
            if isinstance(start, str) and len(start) >= 10:
                try:
                    newest = max(newest, _dt.date.fromisoformat(start[:10]))
                except ValueError:
                    continue
    return newest


__all__ = [
    "BUILTIN_TRUSTS",
    "embedded_file",
    "embedded_snapshot_date",
    "embedded_trusted_root_bytes",
    "embedded_tuf_root_bytes",
]
