"""Helpers shared by the format readers: strict JSON, typed field access, bundle assembly."""

from __future__ import annotations

import json
from typing import Any, NoReturn

from verifier._internal.bundle.model import Bundle
from verifier._internal.bundle.parse import load_bundle
from verifier._internal.encoding import load_json_object
from verifier._internal.limits import Limits
from verifier.errors import InputError, Reason

BUNDLE_V01 = "application/vnd.dev.sigstore.bundle+json;version=0.1"
BUNDLE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"


def malformed(fmt: str, where: str, why: str) -> NoReturn:
    raise InputError(Reason.EVIDENCE_MALFORMED, f"{fmt} evidence: {where}: {why}")


def parse_object(data: bytes, fmt: str) -> dict[str, Any]:
    """One strict JSON object (no duplicate keys, NaN or trailing data)."""
    return load_json_object(data, what=f"{fmt} evidence", reason=Reason.EVIDENCE_MALFORMED)


def field(obj: Any, key: str, kind: type, fmt: str, where: str) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        malformed(fmt, where, f"no {key!r}")
    value = obj[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        malformed(fmt, where, f"{key!r} is not a {kind.__name__}")
    return value


def bundle_from(obj: dict[str, Any], limits: Limits, fmt: str, where: str) -> Bundle:
    """A bundle from its protobuf-JSON object, through the strict bundle parser."""
    try:
        return load_bundle(json.dumps(obj, separators=(",", ":")).encode("utf-8"), limits)
    except InputError as err:
        raise InputError(err.reason, f"{fmt} evidence, {where}: {err.detail}", context=err.context) from err
