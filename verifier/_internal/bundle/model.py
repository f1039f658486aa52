"""Frozen model of a parsed Sigstore bundle. Holds decoded bytes; no verification here."""

from __future__ import annotations

from typing import Optional, Union

from cryptography import x509

from verifier._internal.record import Record

MEDIA_TYPES: dict[str, str] = {
    "application/vnd.dev.sigstore.bundle+json;version=0.1": "0.1",
    "application/vnd.dev.sigstore.bundle+json;version=0.2": "0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.3": "0.3",
    "application/vnd.dev.sigstore.bundle.v0.3+json": "0.3",
}


class Checkpoint(Record):
    envelope: str


class InclusionProof(Record):
    log_index: int
    root_hash: bytes
    tree_size: int
    hashes: tuple[bytes, ...]
    checkpoint: Optional[Checkpoint]


class TlogEntry(Record):
    log_index: int
    log_id: bytes
    kind: str
    version: str
    integrated_time: int
    signed_entry_timestamp: Optional[bytes]
    inclusion_proof: Optional[InclusionProof]
    canonicalized_body: bytes


class MessageSignature(Record):
    digest_algorithm: Optional[str]
    """`SHA2_256` etc. when the bundle carries a messageDigest, else None."""
    digest: Optional[bytes]
    signature: bytes


class DsseEnvelope(Record):
    payload: bytes
    payload_type: str
    signature: bytes
    keyid: str


class CertificateMaterial(Record):
    leaf: x509.Certificate
    leaf_der: bytes
    chain_der: tuple[bytes, ...]
    """Certificates after the leaf (v0.1/0.2 chains): untrusted, used only as hints."""


class PublicKeyMaterial(Record):
    hint: str


class Bundle(Record):
    media_type: str
    version: str
    material: Union[CertificateMaterial, PublicKeyMaterial]
    tlog_entries: tuple[TlogEntry, ...]
    rfc3161_timestamps: tuple[bytes, ...]
    content: Union[MessageSignature, DsseEnvelope]

    @property
    def signature(self) -> bytes:
        return self.content.signature
