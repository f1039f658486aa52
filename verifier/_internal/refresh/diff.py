"""What changed between two trusted_root.json files, in lines an operator can read.

A plain diff on the JSON: entries are matched by identity (log id for tlogs and ctlogs; the
certificate chain for CAs and TSAs), then reported as added, removed or changed (validity
window, key or URL). Pure: bytes in, strings out.

Must not verify or load either document (load.py does that, before install), import tuf, or
raise: it only describes a change that has already been accepted.
"""

from __future__ import annotations

import hashlib
from typing import Any

from verifier._internal.encoding import load_json
from verifier.errors import AirsealError, TrustRootError

_GROUPS = (
    ("tlogs", "tlog"),
    ("ctlogs", "ctlog"),
    ("certificateAuthorities", "CA"),
    ("timestampAuthorities", "TSA"),
)


def _validity(entry: dict[str, Any]) -> tuple[str, str]:
    valid = entry.get("validFor")
    if not isinstance(valid, dict):
        valid = (entry.get("publicKey") or {}).get("validFor")
    if not isinstance(valid, dict):
        return ("?", "open")
    return (str(valid.get("start", "?")), str(valid.get("end") or "open"))


def _chain_id(entry: dict[str, Any]) -> str:
    certs = ((entry.get("certChain") or {}).get("certificates")) or []
    raw = "".join(str(c.get("rawBytes", "")) for c in certs if isinstance(c, dict))
    return hashlib.sha256(raw.encode()).hexdigest()[:12]


def _identity(kind: str, entry: dict[str, Any]) -> str:
    if kind in ("tlog", "ctlog"):
        key_id = (entry.get("logId") or {}).get("keyId")
        return f"id:{key_id}" if key_id else f"url:{entry.get('baseUrl')}"
    return f"chain:{_chain_id(entry)}"


def _label(kind: str, entry: dict[str, Any]) -> str:
    if kind in ("tlog", "ctlog"):
        key_id = str((entry.get("logId") or {}).get("keyId") or "?")
        return f"{kind} {entry.get('baseUrl', '?')} (log id {key_id[:16]})"
    subject = entry.get("subject") or {}
    cn = subject.get("commonName") if isinstance(subject, dict) else None
    name = f" {cn}" if cn else ""
    return f"{kind} {entry.get('uri', '?')}{name} (chain {_chain_id(entry)})"


def _window(entry: dict[str, Any]) -> str:
    start, end = _validity(entry)
    return f"valid {start} to {end}"


def _entries(doc: dict[str, Any], group: str, kind: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for entry in doc.get(group) or ():
        if isinstance(entry, dict):
            out[_identity(kind, entry)] = entry
    return out


def diff_trusted_roots(old: bytes | None, new: bytes) -> list[str]:
    """What changed from `old` (None: nothing before) to `new`, one line per entry.

    Returns:
        Lines such as `+ tlog https://... added (valid ... to open)`, `- ...removed`,
        `~ ...: <what changed>`; empty when equal. Documents that are not JSON objects give
        one line saying they are not comparable.
    """
    try:
        new_doc = load_json(new, what="trusted root", error=TrustRootError)
        old_doc = load_json(old, what="trusted root", error=TrustRootError) if old is not None else {}
    except AirsealError:
        return ["trusted_root.json changed (not comparable as JSON)"]
    if not isinstance(new_doc, dict) or not isinstance(old_doc, dict):
        return ["trusted_root.json changed (not comparable as JSON)"]
    lines: list[str] = []
    for group, kind in _GROUPS:
        before = _entries(old_doc, group, kind)
        after = _entries(new_doc, group, kind)
        for ident in sorted(after.keys() - before.keys()):
            entry = after[ident]
            lines.append(f"+ {_label(kind, entry)} added ({_window(entry)})")
        for ident in sorted(before.keys() - after.keys()):
            entry = before[ident]
            lines.append(f"- {_label(kind, entry)} removed (was {_window(entry)})")
        for ident in sorted(before.keys() & after.keys()):
            a, b = before[ident], after[ident]
            if a == b:
                continue
            changes = []
            if _validity(a) != _validity(b):
                changes.append(f"{_window(a)} -> {_window(b)}")
            if a.get("publicKey", {}).get("rawBytes") != b.get("publicKey", {}).get("rawBytes"):
                changes.append("public key changed")
            for url_key in ("baseUrl", "uri"):
                if a.get(url_key) != b.get(url_key):
                    changes.append(f"{url_key} {a.get(url_key)} -> {b.get(url_key)}")
            if not changes:
                changes.append("other fields changed")
            lines.append(f"~ {_label(kind, b)}: {'; '.join(changes)}")
    if old_doc.get("mediaType") != new_doc.get("mediaType") and old is not None:
        lines.append(f"~ mediaType {old_doc.get('mediaType')} -> {new_doc.get('mediaType')}")
    return lines
