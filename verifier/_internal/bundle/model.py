"""Frozen model of a parsed Sigstore bundle. Holds decoded bytes; no verification here."""

from __future__ import annotations

from typing import NamedTuple, Optional, Union

from cryptography import x509

MEDIA_TYPES: dict[str, str] = {
    "application/vnd.dev.sigstore.bundle+json;version=0.1": "0.1",
    "application/vnd.dev.sigstore.bundle+json;version=0.2": "0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.3": "0.3",
    "application/vnd.dev.sigstore.bundle.v0.3+json": "0.3",
}


class Checkpoint(NamedTuple):
    envelope: str


class InclusionProof(NamedTuple):
    log_index: int
    root_hash: bytes
    tree_size: int
    hashes: tuple[bytes, ...]
    checkpoint: Optional[Checkpoint]


class TlogEntry(NamedTuple):
    log_index: int
    log_id: bytes
    kind: str
    version: str
    integrated_time: int
    signed_entry_timestamp: Optional[bytes]
    inclusion_proof: Optional[InclusionProof]
    canonicalized_body: bytes


class MessageSignature(NamedTuple):
    digest_algorithm: Optional[str]
    """`SHA2_256` etc. when the bundle carries a messageDigest, else None."""
    digest: Optional[bytes]
    signature: bytes


class DsseEnvelope(NamedTuple):
    payload: bytes
    payload_type: str
    signature: bytes
    keyid: str


class CertificateMaterial(NamedTuple):
    leaf: x509.Certificate
    leaf_der: bytes
    chain_der: tuple[bytes, ...]
    """Certificates after the leaf (v0.1/0.2 chains): untrusted, used only as hints."""


class PublicKeyMaterial(NamedTuple):
    hint: str


class Bundle(NamedTuple):
    media_type: str
    version: str
    material: Union[CertificateMaterial, PublicKeyMaterial]
    tlog_entries: tuple[TlogEntry, ...]
    rfc3161_timestamps: tuple[bytes, ...]
    content: Union[MessageSignature, DsseEnvelope]

    @property
    def signature(self) -> bytes:
        return self.content.signature
