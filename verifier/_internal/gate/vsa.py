"""The SLSA Verification Summary Attestation (v1) the gate signs over what passed. Pure.

https://slsa.dev/spec/v1.0/verification_summary: an in-toto Statement v1 whose subjects are
the passed artifacts (name = path relative to PATH, digest sha256) and whose predicate says
who verified, when, against which policy and which evidence, with result PASSED.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from verifier._internal import intoto

PREDICATE_TYPE = "https://slsa.dev/verification_summary/v1"
VERIFIER_ID = "https://github.com/airseal/airseal/gate"
"""`verifier.id`: the tool; its version goes in `verifier.version`."""


def build_vsa_statement(
    subjects: Sequence[tuple[str, str]],
    *,
    version: str,
    time_verified: str,
    resource_uri: str,
    policy_uri: str,
    policy_sha256: str,
    input_attestations: Sequence[tuple[str, str]],
    verified_levels: Sequence[str],
) -> bytes:
    """Compact JSON bytes of the Statement (the DSSE payload).

    Args:
        subjects: (relative path, sha256 hex) of each passed artifact.
        input_attestations: (relative path, sha256 hex) of each evidence file relied on.
    """
    predicate: dict[str, Any] = {
        "verifier": {"id": VERIFIER_ID, "version": {"airseal": version}},
        "timeVerified": time_verified,
        "resourceUri": resource_uri,
        "policy": {"uri": policy_uri, "digest": {"sha256": policy_sha256}},
        "inputAttestations": [{"uri": uri, "digest": {"sha256": digest}} for uri, digest in input_attestations],
        "verificationResult": "PASSED",
        "verifiedLevels": list(verified_levels),
    }
    statement = {
        "_type": intoto.STATEMENT_V1,
        "subject": [{"name": name, "digest": {"sha256": digest}} for name, digest in subjects],
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate,
    }
    return json.dumps(statement, separators=(",", ":"), sort_keys=False).encode("utf-8")


def read_vsa(payload: bytes) -> Mapping[str, Any]:
    """The Statement back (tests, `gate merge` later)."""
    statement: Mapping[str, Any] = json.loads(payload)
    return statement


__all__ = ["PREDICATE_TYPE", "VERIFIER_ID", "build_vsa_statement", "read_vsa"]
