"""Frozen verification results and their JSON form (schema `airseal.verify.v1`)."""

from __future__ import annotations

from typing import Any, NamedTuple, Optional

VERIFY_SCHEMA = "airseal.verify.v1"


class CheckResult(NamedTuple):
    name: str
    ok: bool
    detail: str


class TimeSource(NamedTuple):
    kind: str
    """"tlog" (Rekor v1 integrated time with a verified SET) or "tsa" (RFC 3161)."""
    source: str
    time: str


class TlogEvidence(NamedTuple):
    log_url: str
    log_index: int
    kind: str
    integrated_time: Optional[str]


class VerificationResult(NamedTuple):
    signer: dict[str, Any]
    artifact_digest: str
    media_type: str
    time_sources: tuple[TimeSource, ...]
    tlog_entries: tuple[TlogEvidence, ...]
    scts: int
    thresholds: dict[str, dict[str, int]]
    checks: tuple[CheckResult, ...]
    warnings: tuple[str, ...] = ()


def checks_json(checks: "tuple[CheckResult, ...] | list[CheckResult]") -> list[dict[str, Any]]:
    return [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in checks]


def result_json(result: VerificationResult) -> dict[str, Any]:
    return {
        "schema": VERIFY_SCHEMA,
        "verified": True,
        "enforced": True,
        "reason_code": None,
        "message": "verified",
        "signer": result.signer,
        "artifact_digest": result.artifact_digest,
        "media_type": result.media_type,
        "time_sources": [{"kind": t.kind, "source": t.source, "time": t.time} for t in result.time_sources],
        "tlog_entries": [
            {"log_url": e.log_url, "log_index": e.log_index, "kind": e.kind, "integrated_time": e.integrated_time}
            for e in result.tlog_entries
        ],
        "scts": result.scts,
        "thresholds": result.thresholds,
        "checks": checks_json(result.checks),
        "warnings": list(result.warnings),
    }
