"""Frozen model of a Sigstore `trusted_root.json`. No I/O, no parsing (see load.py)."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple, Optional

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes


class ValidityPeriod(NamedTuple):
    """Closed interval [start, end]; `end` None means open-ended. Both tz-aware UTC."""

    start: datetime
    end: Optional[datetime]

    def contains(self, when: datetime) -> bool:
        if when.tzinfo is None:
            raise ValueError("naive datetime")
        return self.start <= when and (self.end is None or when <= self.end)


class TransparencyLog(NamedTuple):
    """A Rekor (v1 or v2) or CT log instance."""

    base_url: str
    key_details: str
    public_key: PublicKeyTypes
    spki_der: bytes
    valid_for: ValidityPeriod
    log_id: bytes
    """32-byte id the bundle refers to (v1: SHA-256(SPKI); v2: signed-note key id)."""
    checkpoint_key_id: Optional[bytes]
    operator: Optional[str]

    @property
    def origin(self) -> str:
        """Signed-note origin of a Rekor v2 log: the base URL without its scheme."""
        url = self.base_url
        for scheme in ("https://", "http://"):
            if url.startswith(scheme):
                url = url[len(scheme):]
        return url.rstrip("/")


class CertificateAuthority(NamedTuple):
    """A Fulcio CA or a timestamp authority: chain (leaf/intermediates first, anchor last)."""

    uri: str
    subject_common_name: str
    subject_organization: str
    chain: tuple[x509.Certificate, ...]
    chain_der: tuple[bytes, ...]
    valid_for: ValidityPeriod
    operator: Optional[str]

    @property
    def anchor(self) -> x509.Certificate:
        return self.chain[-1]


class TrustedRoot(NamedTuple):
    media_type: str
    tlogs: tuple[TransparencyLog, ...]
    certificate_authorities: tuple[CertificateAuthority, ...]
    ctlogs: tuple[TransparencyLog, ...]
    timestamp_authorities: tuple[CertificateAuthority, ...]

    def tlog_by_id(self, key_id: bytes) -> Optional[TransparencyLog]:
        for log in self.tlogs:
            if log.checkpoint_key_id == key_id or log.log_id == key_id:
                return log
        return None
