"""Frozen model of a Sigstore `trusted_root.json`. No I/O, no parsing (see load.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from verifier._internal.record import Record


class ValidityPeriod(Record):
    """Closed interval [start, end]; `end` None means open-ended. Both tz-aware UTC."""

    start: datetime
    end: Optional[datetime]

    def contains(self, when: datetime) -> bool:
        if when.tzinfo is None:
            raise ValueError("naive datetime")
        return self.start <= when and (self.end is None or when <= self.end)


class TransparencyLog(Record):
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

    origins: tuple[str, ...] = ()
    """The names this log may sign its checkpoints under (see `log_origins`); the first is
    its origin when the trusted root does not pin one."""

    @property
    def origin(self) -> str:
        """Signed-note origin of a Rekor v2 log: the base URL's host (and port)."""
        return self.origins[0] if self.origins else log_origins(self.base_url)[0]


def log_origins(base_url: str) -> tuple[str, ...]:
    """Origins a log at `base_url` may use: "host:port" and "host", or "host" alone.

    A log's checkpoint origin is its host name (log2025-1.rekor.sigstore.dev). When the base
    URL carries a port, deployments differ: rekor-tiles' origin is what its operator set, cosign
    derives the host alone, the URL gives host:port. Both are accepted; for logs whose key id
    commits to the origin (Ed25519, RSA signed-note ids) the trusted root's logId picks one.
    """
    url = base_url
    for scheme in ("https://", "http://"):
        if url.startswith(scheme):
            url = url[len(scheme):]
    host_port = url.split("/", 1)[0].rstrip("/") if url else ""
    path = url[len(host_port):].rstrip("/")
    with_path = host_port + path
    host = host_port.rsplit(":", 1)[0] if ":" in host_port and not host_port.endswith("]") else host_port
    names = [with_path]
    if host + path != with_path:
        names.append(host + path)
    return tuple(names)


class CertificateAuthority(Record):
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


class TrustedRoot(Record):
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
