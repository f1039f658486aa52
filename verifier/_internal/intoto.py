"""in-toto Statements inside DSSE envelopes: the type strings, building one, reading its subjects.

One home for what `attest` writes and what verification (and the gate) read. Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Optional

from verifier._internal.algorithms import HASH_NAMES
from verifier._internal.encoding import load_json
from verifier._internal.limits import DEFAULT_LIMITS, Limits
from verifier._internal.record import Record
from verifier.errors import AirsealError, InputError, Reason, VerificationError

PAYLOAD_TYPE = "application/vnd.in-toto+json"
"""The DSSE payloadType of an in-toto Statement."""
STATEMENT_V1 = "https://in-toto.io/Statement/v1"
STATEMENT_TYPES = (STATEMENT_V1, "https://in-toto.io/Statement/v0.1")
"""Statement `_type` values airseal reads (v0.1 is what older SLSA provenance carries)."""


class Subject(Record):
    """One subject of a Statement: a name and its digests (hash name -> lowercase hex)."""

    name: Optional[str]
    digests: Mapping[str, str]


def build_statement(subject_name: str, sha256_hex: str, predicate_type: str, predicate: Any) -> bytes:
    """An in-toto Statement v1 about one subject, as compact JSON bytes (the DSSE payload)."""
    statement = {
        "_type": STATEMENT_V1,
        "subject": [{"name": subject_name, "digest": {"sha256": sha256_hex}}],
        "predicateType": predicate_type,
        "predicate": predicate,
    }
    return json.dumps(statement, separators=(",", ":"), sort_keys=False).encode("utf-8")


def subject_hash_names(payload: bytes, limits: Limits = DEFAULT_LIMITS) -> set[str]:
    """Hash algorithms a Statement's subjects use, so an artifact is hashed once with each.

    Lenient on purpose: anything unreadable yields no names, and `read_subjects` reports it.
    """
    try:
        subjects = load_json(payload, what="in-toto statement").get("subject", [])
        return {
            name
            for subject in subjects[: limits.max_intoto_subjects]
            for name in subject.get("digest", {})
            if name in HASH_NAMES
        }
    except (AirsealError, AttributeError, TypeError):
        return set()


def read_subjects(payload_type: str, payload: bytes, limits: Limits = DEFAULT_LIMITS) -> tuple[Subject, ...]:
    """The subjects of a DSSE payload that must be an in-toto Statement.

    Raises:
        VerificationError: dsse.payload_type (not in-toto), dsse.subject_mismatch (not a
            Statement, or no subjects).
        InputError: input.too_large (more subjects or digests than the limits allow).
    """
    if payload_type != PAYLOAD_TYPE:
        raise VerificationError(
            Reason.DSSE_PAYLOAD_TYPE,
            f"DSSE payload type {payload_type[:80]!r} is not an in-toto statement; cannot match an artifact",
            check="dsse.subject",
        )
    try:
        statement = load_json(payload, what="in-toto statement", error=VerificationError)
    except VerificationError as exc:
        raise VerificationError(
            Reason.DSSE_SUBJECT_MISMATCH, f"in-toto statement is not strict JSON ({exc.detail})", check="dsse.subject"
        ) from exc
    if not isinstance(statement, dict) or statement.get("_type") not in STATEMENT_TYPES:
        raise VerificationError(Reason.DSSE_SUBJECT_MISMATCH, "payload is not an in-toto Statement", check="dsse.subject")
    raw = statement.get("subject")
    if not isinstance(raw, list) or not raw:
        raise VerificationError(Reason.DSSE_SUBJECT_MISMATCH, "in-toto statement has no subjects", check="dsse.subject")
    if len(raw) > limits.max_intoto_subjects:
        raise InputError(Reason.INPUT_TOO_LARGE, f"in-toto statement has more than {limits.max_intoto_subjects} subjects")
    subjects = []
    for item in raw:
        digest_map = item.get("digest") if isinstance(item, dict) else None
        if not isinstance(digest_map, dict):
            continue
        if len(digest_map) > limits.max_digests_per_subject:
            raise InputError(
                Reason.INPUT_TOO_LARGE, f"an in-toto subject has more than {limits.max_digests_per_subject} digests"
            )
        name = item.get("name")
        digests = {h: v.lower() for h, v in digest_map.items() if h in HASH_NAMES and isinstance(v, str)}
        subjects.append(Subject(name if isinstance(name, str) else None, digests))
    return tuple(subjects)


def matching_subject(subjects: tuple[Subject, ...], artifact_digests: Mapping[str, bytes]) -> Optional[Subject]:
    """The first subject whose digest (any hash both sides have) equals the artifact's."""
    for subject in subjects:
        for name, value in subject.digests.items():
            ours = artifact_digests.get(name)
            if ours is not None and value == ours.hex():
                return subject
    return None


__all__ = [
    "PAYLOAD_TYPE",
    "STATEMENT_TYPES",
    "STATEMENT_V1",
    "Subject",
    "build_statement",
    "matching_subject",
    "read_subjects",
    "subject_hash_names",
]
