"""cosign's older bundle file (`cosign sign-blob --bundle`): signature, certificate or key, and a
Rekor v1 SET.

    {"base64Signature": B64, "cert": B64(PEM) (absent for a key),
     "rekorBundle": {"SignedEntryTimestamp": B64,
                     "Payload": {"body": B64, "integratedTime": N, "logIndex": N, "logID": HEX}}}

Normalised into a v0.1 bundle whose one log entry has the SET and no inclusion proof: the SET
is all the log evidence this format carries, judged as for any v0.1 bundle.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Optional

from verifier._internal.evidence import Evidence
from verifier._internal.formats._common import BUNDLE_V01, bundle_from, field, malformed, parse_object
from verifier._internal.limits import Limits

FORMAT = "cosign-bundle"


def read(data: bytes, limits: Limits) -> Optional[list[Evidence]]:
    if b'"rekorBundle"' not in data or b'"base64Signature"' not in data:
        return None
    doc = parse_object(data, FORMAT)
    if "rekorBundle" not in doc or "base64Signature" not in doc:
        return None
    unknown = set(doc) - {"base64Signature", "cert", "rekorBundle"}
    if unknown:
        malformed(FORMAT, "file", f"unknown fields {sorted(unknown)}")
    signature = field(doc, "base64Signature", str, FORMAT, "file")
    rekor = field(doc, "rekorBundle", dict, FORMAT, "file")
    set_b64 = field(rekor, "SignedEntryTimestamp", str, FORMAT, "rekorBundle")
    payload = field(rekor, "Payload", dict, FORMAT, "rekorBundle")
    body_b64 = field(payload, "body", str, FORMAT, "rekorBundle.Payload")
    integrated = field(payload, "integratedTime", int, FORMAT, "rekorBundle.Payload")
    index = field(payload, "logIndex", int, FORMAT, "rekorBundle.Payload")
    log_id_hex = field(payload, "logID", str, FORMAT, "rekorBundle.Payload")
    try:
        log_id = bytes.fromhex(log_id_hex)
        body = json.loads(base64.b64decode(body_b64, validate=True))
    except (ValueError, binascii.Error, RecursionError):
        malformed(FORMAT, "rekorBundle.Payload", "logID is not hex or body is not base64 JSON")
    if not isinstance(body, dict) or not isinstance(body.get("kind"), str) or not isinstance(body.get("apiVersion"), str):
        malformed(FORMAT, "rekorBundle.Payload.body", "no kind and apiVersion")
    material: dict[str, Any]
    cert = doc.get("cert")
    if cert is not None:
        material = {"x509CertificateChain": {"certificates": [{"rawBytes": _cert_der_b64(cert)}]}}
    else:
        material = {"publicKey": {"hint": ""}}
    material["tlogEntries"] = [
        {
            "logIndex": str(index),
            "logId": {"keyId": base64.b64encode(log_id).decode()},
            "kindVersion": {"kind": body["kind"], "version": body["apiVersion"]},
            "integratedTime": str(integrated),
            "inclusionPromise": {"signedEntryTimestamp": set_b64},
            "canonicalizedBody": body_b64,
        }
    ]
    bundle = {"mediaType": BUNDLE_V01, "verificationMaterial": material, "messageSignature": {"signature": signature}}
    return [Evidence(FORMAT, "", bundle_from(bundle, limits, FORMAT, "file"))]


def _cert_der_b64(value: Any) -> str:
    """cosign writes the certificate as base64 of its PEM; plain PEM is accepted too."""
    if not isinstance(value, str):
        malformed(FORMAT, "cert", "not a string")
    text = value
    if "-----BEGIN" not in text:
        try:
            text = base64.b64decode(value, validate=True).decode("ascii")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            malformed(FORMAT, "cert", "not base64 of a PEM certificate")
    begin, end = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
    if text.count(begin) != 1 or end not in text:
        malformed(FORMAT, "cert", "not exactly one PEM certificate")
    inner = "".join(text.split(begin, 1)[1].split(end, 1)[0].split())
    try:
        return base64.b64encode(base64.b64decode(inner, validate=True)).decode()
    except (binascii.Error, ValueError):
        malformed(FORMAT, "cert", "PEM body is not base64")
