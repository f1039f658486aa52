"""Frozen verification results and their JSON form (schema `airseal.verify.v1`, docs/verify.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

from verifier._internal.record import Record
from verifier.errors import CheckResult

VERIFY_SCHEMA = "airseal.verify.v1"


class TimeSource(Record):
    """One verified time: where it came from and when (RFC 3339, UTC)."""

    kind: str
    """"tlog" (Rekor v1 integrated time with a verified SET) or "tsa" (RFC 3161)."""
    source: str
    """The log's base URL or the timestamp authority's URI (or name)."""
    time: str


class TlogEvidence(Record):
    """One verified transparency-log entry (at most one per trusted log counts)."""

    log_url: str
    log_index: int
    kind: str
    """"<kind> <version>", e.g. "hashedrekord 0.0.1"."""
    integrated_time: Optional[str]
    """RFC 3339, UTC, when a signed entry timestamp vouches for it; else None."""


class VerifiedSigner(Record):
    """Who signed: a certificate's identity and issuer, or a key's id."""

    kind: str
    """"certificate" or "key"."""
    identity: Optional[str] = None
    """Certificate bundles: the SAN that matched the identity policy."""
    issuer: Optional[str] = None
    """Certificate bundles: the OIDC issuer from the certificate's Fulcio extension."""
    sans: tuple[str, ...] = ()
    """Certificate bundles: every URI, email and Sigstore OtherName SAN of the certificate."""
    certificate_serial: Optional[str] = None
    """Certificate bundles: the serial number, lowercase hex."""
    key_id: Optional[str] = None
    """Key bundles: base64 SHA-256 of the key's SubjectPublicKeyInfo (airseal's key hint)."""
    key_type: Optional[str] = None
    """Key bundles: "ECDSA secp256r1", "RSA-3072", "Ed25519", ..."""
    hint: Optional[str] = None
    """Key bundles: the bundle's own `publicKey.hint`, if any (informational)."""

    def describe(self) -> str:
        """One line for a person: "ID (issuer ISSUER)" or "key KEY_ID (TYPE)"."""
        if self.kind == "certificate":
            return f"{self.identity} (issuer {self.issuer})"
        return f"key {self.key_id} ({self.key_type})"

    def to_json(self) -> dict[str, Any]:
        """The `signer` object of the JSON schema: only the fields of its kind."""
        if self.kind == "certificate":
            return {
                "kind": "certificate",
                "identity": self.identity,
                "issuer": self.issuer,
                "sans": list(self.sans),
                "certificate_serial": self.certificate_serial,
            }
        return {"kind": "key", "key_id": self.key_id, "key_type": self.key_type, "hint": self.hint}


class Threshold(Record):
    required: int
    verified: int


class VerificationResult(Record):
    """Everything a successful verification established."""

    signer: VerifiedSigner
    artifact_digest: str
    """"<hash>:<hex>" of the artifact (SHA-256 when it was computed or given)."""
    media_type: str
    time_sources: tuple[TimeSource, ...]
    tlog_entries: tuple[TlogEvidence, ...]
    scts: int
    """Verified SCTs from distinct trusted CT logs (0 for key bundles)."""
    thresholds: dict[str, Threshold]
    """"tlog_entries", "timestamps", "scts": what was required and what verified."""
    checks: tuple[CheckResult, ...]
    warnings: tuple[str, ...] = ()
    evidence_format: str = "sigstore-bundle"
    """The evidence file's format ("sigstore-bundle", "github-attestations-jsonl", ...)."""
    evidence_location: str = ""
    """Where in the evidence file the verified bundle sits ("line 2", "attestations[0] ...")."""
    trusted_root_sha256: Optional[str] = None
    """SHA-256 (hex) of the trusted root the bundle was judged against, when one was chosen."""

    def to_json(self) -> dict[str, Any]:
        """The `--json` object of a successful verification (docs/verify.md)."""
        return {
            "schema": VERIFY_SCHEMA,
            "verified": True,
            "enforced": True,
            "reason_code": None,
            "message": "verified",
            "signer": self.signer.to_json(),
            "artifact_digest": self.artifact_digest,
            "media_type": self.media_type,
            "format": self.evidence_format,
            "evidence_location": self.evidence_location,
            "trusted_root_sha256": self.trusted_root_sha256,
            "time_sources": [t._asdict() for t in self.time_sources],
            "tlog_entries": [e._asdict() for e in self.tlog_entries],
            "scts": self.scts,
            "thresholds": {name: t._asdict() for name, t in self.thresholds.items()},
            "checks": checks_json(self.checks),
            "warnings": list(self.warnings),
        }


def checks_json(checks: Sequence[CheckResult]) -> list[dict[str, Any]]:
    return [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in checks]


__all__ = [
    "CheckResult",
    "Threshold",
    "TimeSource",
    "TlogEvidence",
    "VERIFY_SCHEMA",
    "VerificationResult",
    "VerifiedSigner",
    "checks_json",
]
