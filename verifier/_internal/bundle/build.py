"""Building Sigstore v0.3 bundles (protobuf-JSON dicts and bytes): the mirror of parse.py.

lowerCamelCase names and standard padded base64, as the parser demands. Pure: no I/O, no
token, no network; `sign` and `attest` pass signatures and service replies in.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from verifier._internal.algorithms import ENUM_FROM_HASH
from verifier._internal.encoding import b64
from verifier._internal.record import Record

BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
"""What airseal writes; the parser reads the three older spellings too."""


class ArtifactDigest(Record):
    hash_name: str
    """sha256, sha384 or sha512."""
    digest: bytes


def verification_material(
    *,
    key_hint: str | None = None,
    certificate_der: bytes | None = None,
    rfc3161_responses: list[bytes] | None = None,
    tlog_entries: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The v0.3 verificationMaterial: a certificate, or a public-key hint; the log entries
    (bundle-form TransparencyLogEntry dicts, as `signing.rekor_client` returns them) and
    RFC 3161 responses, if any."""
    if (key_hint is None) == (certificate_der is None):
        raise ValueError("exactly one of key_hint and certificate_der")
    material: dict[str, Any] = {}
    if certificate_der is not None:
        material["certificate"] = {"rawBytes": b64(certificate_der)}
    else:
        material["publicKey"] = {"hint": key_hint}
    material["tlogEntries"] = list(tlog_entries or [])
    if rfc3161_responses:
        material["timestampVerificationData"] = {
            "rfc3161Timestamps": [{"signedTimestamp": b64(r)} for r in rfc3161_responses]
        }
    return material


def message_signature_bundle(digest: ArtifactDigest, signature: bytes, material: dict[str, Any]) -> dict[str, Any]:
    """A v0.3 bundle whose content is a messageSignature over the artifact digest."""
    return {
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": material,
        "messageSignature": {
            "messageDigest": {"algorithm": ENUM_FROM_HASH[digest.hash_name], "digest": b64(digest.digest)},
            "signature": b64(signature),
        },
    }


class MessageBundleTemplate:
    """`dump_bundle_json(message_signature_bundle(...))` for many signatures sharing one
    verification material, without rebuilding and re-serialising the constant parts.

    The JSON is produced once with placeholders and split; `render` fills in the two base64
    values (base64 needs no JSON escaping), so the bytes equal `dump_bundle_json`'s.
    """

    _DIGEST_MARK = "@@airseal-digest@@"
    _SIGNATURE_MARK = "@@airseal-signature@@"

    def __init__(self, material: dict[str, Any], hash_name: str) -> None:
        self.hash_name = hash_name
        bundle = {
            "mediaType": BUNDLE_MEDIA_TYPE,
            "verificationMaterial": material,
            "messageSignature": {
                "messageDigest": {"algorithm": ENUM_FROM_HASH[hash_name], "digest": self._DIGEST_MARK},
                "signature": self._SIGNATURE_MARK,
            },
        }
        text = dump_bundle_json(bundle)
        head, rest = text.split(self._DIGEST_MARK.encode("ascii"))
        middle, tail = rest.split(self._SIGNATURE_MARK.encode("ascii"))
        self._parts = (head, middle, tail)

    def render(self, digest: bytes, signature: bytes) -> bytes:
        head, middle, tail = self._parts
        return b"".join((head, base64.b64encode(digest), middle, base64.b64encode(signature), tail))


def dsse_bundle(payload: bytes, payload_type: str, signature: bytes, material: dict[str, Any]) -> dict[str, Any]:
    """A v0.3 bundle whose content is a one-signature DSSE envelope."""
    return {
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": material,
        "dsseEnvelope": {
            "payload": b64(payload),
            "payloadType": payload_type,
            "signatures": [{"sig": b64(signature), "keyid": ""}],
        },
    }


def dump_bundle_json(bundle: dict[str, Any]) -> bytes:
    return (json.dumps(bundle, indent=2) + "\n").encode("utf-8")




__all__ = [
    "ArtifactDigest",
    "BUNDLE_MEDIA_TYPE",
    "MessageBundleTemplate",
    "dsse_bundle",
    "dump_bundle_json",
    "message_signature_bundle",
    "verification_material",
]
