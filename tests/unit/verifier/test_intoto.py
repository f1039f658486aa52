"""in-toto Statements (docs/verification.md §8.2): building one, reading and matching subjects."""

from __future__ import annotations

import hashlib
import json

import pytest

from verifier import InputError, Reason, VerificationError
from verifier._internal import intoto
from verifier._internal.limits import DEFAULT_LIMITS


def test_built_statement_reads_back() -> None:
    payload = intoto.build_statement("a.tar.gz", "ab" * 32, "https://slsa.dev/provenance/v1", {"x": 1})
    subjects = intoto.read_subjects(intoto.PAYLOAD_TYPE, payload)
    assert subjects == (intoto.Subject("a.tar.gz", {"sha256": "ab" * 32}),)
    assert intoto.matching_subject(subjects, {"sha256": bytes.fromhex("ab" * 32)}) == subjects[0]
    assert intoto.matching_subject(subjects, {"sha256": bytes(32)}) is None


def _statement(**fields: object) -> bytes:
    return json.dumps({"_type": intoto.STATEMENT_V1, "predicateType": "p", **fields}).encode()


@pytest.mark.parametrize(
    ("payload_type", "payload", "reason"),
    [
        ("text/plain", _statement(subject=[{"digest": {"sha256": "00"}}]), Reason.DSSE_PAYLOAD_TYPE),
        (intoto.PAYLOAD_TYPE, b"not json", Reason.DSSE_SUBJECT_MISMATCH),
        (intoto.PAYLOAD_TYPE, json.dumps({"_type": "x", "subject": []}).encode(), Reason.DSSE_SUBJECT_MISMATCH),
        (intoto.PAYLOAD_TYPE, _statement(subject=[]), Reason.DSSE_SUBJECT_MISMATCH),
    ],
    ids=["not in-toto", "not json", "not a statement", "no subjects"],
)
def test_unreadable_statements_are_refused(payload_type: str, payload: bytes, reason: Reason) -> None:
    with pytest.raises(VerificationError) as info:
        intoto.read_subjects(payload_type, payload)
    assert info.value.reason is reason


def test_subject_counts_are_capped() -> None:
    many = _statement(subject=[{"name": str(i), "digest": {"sha256": "00"}} for i in range(DEFAULT_LIMITS.max_intoto_subjects + 1)])
    with pytest.raises(InputError) as info:
        intoto.read_subjects(intoto.PAYLOAD_TYPE, many)
    assert info.value.reason is Reason.INPUT_TOO_LARGE


def test_subject_hash_names_are_lenient_and_known_only() -> None:
    payload = _statement(subject=[{"digest": {"sha384": "00", "md5": "00"}}])
    assert intoto.subject_hash_names(payload) == {"sha384"}
    assert intoto.subject_hash_names(b"[" * 100_000) == set()


def test_a_digest_matches_case_insensitively() -> None:
    digest = hashlib.sha256(b"x").hexdigest()
    subjects = intoto.read_subjects(intoto.PAYLOAD_TYPE, _statement(subject=[{"digest": {"sha256": digest.upper()}}]))
    assert intoto.matching_subject(subjects, {"sha256": bytes.fromhex(digest)}) is not None
