"""Embedded SCTs (RFC 6962 precertificate flow) checked against the trusted CT log keys."""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from functools import lru_cache

from cryptography import x509

from verifier._internal.crypto import verify_with_key_details
from verifier._internal.keyio import spki_der
from verifier._internal.record import Record
from verifier._internal.timefmt import iso
from verifier._internal.trustroot.model import TransparencyLog
from verifier.errors import Reason, VerificationError

_EPOCH = datetime(1970, 1, 1)
_CHECK = "certificate.sct"


class VerifiedSct(Record):
    log_id: bytes
    log_url: str
    timestamp: datetime


def _millis(ts: datetime) -> int:
    naive = ts.astimezone(timezone.utc).replace(tzinfo=None) if ts.tzinfo else ts
    return (naive - _EPOCH) // timedelta(milliseconds=1)


@lru_cache(maxsize=64)
def _issuer_key_hash(issuer: x509.Certificate) -> bytes:
    """SHA-256 of the issuer's SPKI, part of every SCT's signed input. Cached: the issuers are
    the few CA certificates of the trusted roots (the gate asks once per bundle)."""
    return hashlib.sha256(spki_der(issuer.public_key())).digest()


def verify_embedded_scts(
    leaf: x509.Certificate, issuer: x509.Certificate, ctlogs: Sequence[TransparencyLog], threshold: int
) -> tuple[VerifiedSct, ...]:
    """Count SCTs from distinct trusted CT logs that verify; require at least `threshold`.

    SCTs from unknown logs, outside their key's validity, or with bad signatures are skipped,
    and listed in the error if the threshold is not met.

    Raises:
        VerificationError: sct.threshold_not_met.
    """
    if threshold <= 0:
        return ()
    try:
        scts = list(leaf.extensions.get_extension_for_class(x509.PrecertificateSignedCertificateTimestamps).value)
    except x509.ExtensionNotFound:
        scts = []
    issuer_key_hash = _issuer_key_hash(issuer)
    tbs = leaf.tbs_precertificate_bytes if scts else b""
    verified: dict[bytes, VerifiedSct] = {}
    skipped: list[str] = []
    for sct in scts:
        log = next((c for c in ctlogs if c.log_id == sct.log_id), None)
        if log is None:
            skipped.append(f"{sct.log_id.hex()[:16]}: log not in the trusted root")
            continue
        when = sct.timestamp.replace(tzinfo=timezone.utc) if sct.timestamp.tzinfo is None else sct.timestamp
        if not log.valid_for.contains(when):
            skipped.append(f"{log.base_url}: SCT time {iso(when)} outside the log key's validity")
            continue
        signed = (
            b"\x00\x00"
            + struct.pack(">Q", _millis(sct.timestamp))
            + b"\x00\x01"
            + issuer_key_hash
            + len(tbs).to_bytes(3, "big")
            + tbs
            + struct.pack(">H", len(sct.extension_bytes))
            + sct.extension_bytes
        )
        try:
            # The trusted root's keyDetails fixes the scheme (PKCS#1 v1.5 or PSS, the hash),
            # never whichever happens to verify.
            verify_with_key_details(log.public_key, log.key_details, sct.signature, signed, what="SCT", check=_CHECK)
        except VerificationError:
            skipped.append(f"{log.base_url}: SCT signature does not verify")
            continue
        verified.setdefault(sct.log_id, VerifiedSct(sct.log_id, log.base_url, when))
    if len(verified) < threshold:
        raise VerificationError(
            Reason.SCT_THRESHOLD_NOT_MET,
            f"signing certificate has {len(verified)} verified SCT(s) from trusted CT logs; {threshold} required",
            context={"embedded_scts": len(scts), "skipped": skipped},
            check=_CHECK,
        )
    return tuple(verified.values())
