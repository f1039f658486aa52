"""Log entry body <-> bundle consistency (docs/verification.md §4.5) and signed entry timestamps (§4.4). Pure.

`canonicalizedBody` is what the log committed to; these checks make sure it commits to *this*
bundle's signature, key or certificate, and artifact.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Mapping
from typing import Any, Optional, TypeVar, Union

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from verifier._internal.algorithms import ENUM_FROM_HASH, hashedrekord_v2_key_details, message_hash_names
from verifier._internal.bundle.model import DsseEnvelope, MessageSignature, TlogEntry
from verifier._internal.crypto import verify_log_signature
from verifier._internal.encoding import canonical_json, load_json, pae
from verifier._internal.keyio import Encoding, load_pem_public_key, spki_der
from verifier._internal.record import Record
from verifier._internal.trustroot.model import TransparencyLog
from verifier.errors import Reason, VerificationError

_CHECK = "tlog.entry"


class SigningMaterial(Record):
    """What the log entry must name: the leaf certificate or the public key, and its key."""

    key: PublicKeyTypes
    certificate_der: Optional[bytes]
    spki_der: bytes


def _mismatch(what: str, **context: Any) -> VerificationError:
    return VerificationError(
        Reason.TLOG_ENTRY_MISMATCH, f"log entry does not match the bundle: {what}", context=context, check=_CHECK
    )


def parse_body(entry: TlogEntry) -> dict[str, Any]:
    try:
        body = load_json(entry.canonicalized_body, what="canonicalizedBody", error=VerificationError)
    except VerificationError as exc:
        raise _mismatch(f"canonicalizedBody is not strict JSON ({exc.detail})") from exc
    if not isinstance(body, dict):
        raise _mismatch("canonicalizedBody is not a JSON object")
    if body.get("kind") != entry.kind or body.get("apiVersion") != entry.version:
        raise VerificationError(
            Reason.TLOG_KIND_VERSION_MISMATCH,
            "kindVersion does not match the logged body",
            context={
                "kindVersion": f"{entry.kind} {entry.version}",
                "body": f"{body.get('kind')} {body.get('apiVersion')}",
            },
            check=_CHECK,
        )
    if (entry.kind, entry.version) not in SUPPORTED_KINDS:
        raise VerificationError(
            Reason.TLOG_UNSUPPORTED_KIND,
            f"log entries of kind {entry.kind} {entry.version} are not supported",
            context={"supported": sorted(f"{k} {v}" for k, v in SUPPORTED_KINDS)},
            check=_CHECK,
        )
    return body


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            raise _mismatch(f"body has no {'.'.join(path)}")
        obj = obj[key]
    return obj


def _b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise _mismatch(f"{what} is not a string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _mismatch(f"{what} is not base64") from exc


def _pem_matches(pem: bytes, material: SigningMaterial) -> bool:
    """Compare DER, not PEM text: the log may re-wrap lines."""
    try:
        if b"CERTIFICATE" in pem:
            der = x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)
            return material.certificate_der is not None and der == material.certificate_der
        spki = spki_der(load_pem_public_key(pem))
        return material.certificate_der is None and spki == material.spki_der
    except (ValueError, TypeError, x509.InvalidVersion):
        return False


_Content = TypeVar("_Content", MessageSignature, DsseEnvelope)


def _require_content(entry: TlogEntry, content: object, expected: type[_Content]) -> _Content:
    """The bundle's content, if it is the kind this log entry can prove."""
    if not isinstance(content, expected):
        raise VerificationError(
            Reason.TLOG_KIND_CONTENT_MISMATCH,
            f"a {entry.kind} {entry.version} log entry cannot prove a "
            f"{'DSSE envelope' if isinstance(content, DsseEnvelope) else 'message signature'}",
            check=_CHECK,
        )
    return content


def verify_entry_body(
    entry: TlogEntry,
    content: Union[MessageSignature, DsseEnvelope],
    material: SigningMaterial,
    artifact_digests: Mapping[str, bytes],
    body: Optional[dict[str, Any]] = None,
) -> None:
    """Check that the logged body commits to this bundle (docs/verification.md §4.5).

    `body` is `parse_body(entry)` when the caller already has it. Each supported kind has its
    own checker below; Rekor v2 bodies are rebuilt from the bundle and compared byte for byte.

    Raises:
        VerificationError: tlog.kind_version_mismatch, tlog.unsupported_kind,
            tlog.kind_content_mismatch, tlog.entry_mismatch, algorithm.unsupported.
    """
    if body is None:
        body = parse_body(entry)
    checker = _BODY_CHECKERS.get((entry.kind, entry.version))
    if checker is None:  # pragma: no cover - parse_body refuses these
        raise VerificationError(Reason.TLOG_UNSUPPORTED_KIND, f"unsupported kind {entry.kind} {entry.version}", check=_CHECK)
    checker(entry, body, content, material, artifact_digests)


def _check_hashedrekord_v001(
    entry: TlogEntry, body: dict[str, Any], content: object, material: SigningMaterial, digests: Mapping[str, bytes]
) -> None:
    """Signature, key or certificate, and artifact digest, as logged.

    The digest must use a hash the signature can be over (the key's hash, or SHA-256 for older
    P-384/P-521 clients): the log could not have accepted anything else.
    """
    message = _require_content(entry, content, MessageSignature)
    spec = _get(body, "spec")
    if _b64(_get(spec, "signature", "content"), "signature.content") != message.signature:
        raise _mismatch("logged signature differs from the bundle's signature")
    pem = _b64(_get(spec, "signature", "publicKey", "content"), "signature.publicKey.content")
    if not _pem_matches(pem, material):
        raise _mismatch("logged key or certificate differs from the bundle's")
    algorithm = _get(spec, "data", "hash", "algorithm")
    value = _get(spec, "data", "hash", "value")
    allowed = message_hash_names(material.key)
    if allowed is not None and algorithm not in allowed:
        raise _mismatch(
            f"logged digest algorithm {str(algorithm)[:40]!r} is not one this key signs with",
            logged=algorithm,
            expected=sorted(allowed),
        )
    ours = digests.get(algorithm) if isinstance(algorithm, str) else None
    if ours is None:
        raise _mismatch(f"logged digest algorithm {str(algorithm)[:40]!r} cannot be checked against the artifact")
    if not isinstance(value, str) or value.lower() != ours.hex():
        raise _mismatch("logged artifact digest differs from the artifact", logged=value, artifact=ours.hex())


def _check_dsse_v001(
    entry: TlogEntry, body: dict[str, Any], content: object, material: SigningMaterial, digests: Mapping[str, bytes]
) -> None:
    """Payload hash, the one signature and its verifier, as logged."""
    envelope = _require_content(entry, content, DsseEnvelope)
    spec = _get(body, "spec")
    _check_payload_hash(_get(spec, "payloadHash"), envelope.payload)
    sigs = _get(spec, "signatures")
    if not isinstance(sigs, list) or len(sigs) != 1:
        raise _mismatch("logged envelope does not have exactly one signature")
    if _b64(_get(sigs[0], "signature"), "signature") != envelope.signature:
        raise _mismatch("logged signature differs from the envelope's signature")
    if not _pem_matches(_b64(_get(sigs[0], "verifier"), "verifier"), material):
        raise _mismatch("logged verifier differs from the bundle's certificate or key")


def _check_intoto_v002(
    entry: TlogEntry, body: dict[str, Any], content: object, material: SigningMaterial, digests: Mapping[str, bytes]
) -> None:
    """Payload hash, payload type, the payload if logged, the one signature and its public key."""
    envelope = _require_content(entry, content, DsseEnvelope)
    spec = _get(body, "spec")
    _check_payload_hash(_get(spec, "content", "payloadHash"), envelope.payload)
    logged = _get(spec, "content", "envelope")
    if _get(logged, "payloadType") != envelope.payload_type:
        raise _mismatch("logged payloadType differs from the envelope's")
    # Rekor's canonical intoto 0.0.2 body omits the payload; when one is there it must be ours.
    if isinstance(logged, dict) and "payload" in logged:
        payload_text = _b64(logged["payload"], "payload")
        if _b64(payload_text.decode("ascii", "replace"), "payload") != envelope.payload:
            raise _mismatch("logged payload differs from the envelope's payload")
    sigs = _get(logged, "signatures")
    if not isinstance(sigs, list) or len(sigs) != 1:
        raise _mismatch("logged envelope does not have exactly one signature")
    # intoto 0.0.2 double-encodes: base64 of the base64 text of the signature.
    sig_text = _b64(_get(sigs[0], "sig"), "sig")
    if _b64(sig_text.decode("ascii", "replace"), "sig") != envelope.signature:
        raise _mismatch("logged signature differs from the envelope's signature")
    if not _pem_matches(_b64(_get(sigs[0], "publicKey"), "publicKey"), material):
        raise _mismatch("logged public key differs from the bundle's certificate or key")


def _check_hashedrekord_v002(
    entry: TlogEntry, body: dict[str, Any], content: object, material: SigningMaterial, digests: Mapping[str, bytes]
) -> None:
    """The whole body, rebuilt from the bundle, byte for byte (Rekor v2 logs canonical JSON)."""
    assert isinstance(content, (MessageSignature, DsseEnvelope))
    if expected_v2_body(content, material, digests) != entry.canonicalized_body:
        raise _mismatch("logged hashedrekord 0.0.2 body differs from the one rebuilt from the bundle")


_BodyChecker = Callable[[TlogEntry, dict[str, Any], object, SigningMaterial, Mapping[str, bytes]], None]
_BODY_CHECKERS: dict[tuple[str, str], _BodyChecker] = {
    ("hashedrekord", "0.0.1"): _check_hashedrekord_v001,
    ("dsse", "0.0.1"): _check_dsse_v001,
    ("intoto", "0.0.2"): _check_intoto_v002,
    ("hashedrekord", "0.0.2"): _check_hashedrekord_v002,
}
SUPPORTED_KINDS = frozenset(_BODY_CHECKERS)


def _check_payload_hash(payload_hash: Any, payload: bytes) -> None:
    if _get(payload_hash, "algorithm") != "sha256":
        raise _mismatch("payloadHash algorithm is not sha256")
    value = _get(payload_hash, "value")
    ours = hashlib.sha256(payload).hexdigest()
    if not isinstance(value, str) or value.lower() != ours:
        raise _mismatch("logged payload hash differs from the envelope's payload", logged=value, payload=ours)


def _v2_key_details(key: PublicKeyTypes) -> tuple[str, str]:
    """(keyDetails, hash name) of a hashedrekord 0.0.2 entry for this key."""
    details = hashedrekord_v2_key_details(key)
    if details is not None:
        return details
    if isinstance(key, ed25519.Ed25519PublicKey):
        raise VerificationError(
            Reason.ALGORITHM_UNSUPPORTED,
            "Ed25519ph (prehashed Ed25519) hashedrekord 0.0.2 entries are not supported",
            check=_CHECK,
        )
    raise VerificationError(Reason.ALGORITHM_UNSUPPORTED, "key type not supported in hashedrekord 0.0.2", check=_CHECK)


def expected_v2_body(
    content: Union[MessageSignature, DsseEnvelope], material: SigningMaterial, artifact_digests: Mapping[str, bytes]
) -> bytes:
    key_details, hash_name = _v2_key_details(material.key)
    if isinstance(content, DsseEnvelope):
        digest = hashlib.new(hash_name, pae(content.payload_type, content.payload)).digest()
    else:
        found = artifact_digests.get(hash_name)
        if found is None:
            raise _mismatch(f"artifact digest with {hash_name} is not available")
        digest = found
    if material.certificate_der is not None:
        verifier_obj: dict[str, Any] = {
            "keyDetails": key_details,
            "x509Certificate": {"rawBytes": base64.b64encode(material.certificate_der).decode()},
        }
    else:
        verifier_obj = {"keyDetails": key_details, "publicKey": {"rawBytes": base64.b64encode(material.spki_der).decode()}}
    body = {
        "apiVersion": "0.0.2",
        "kind": "hashedrekord",
        "spec": {
            "hashedRekordV002": {
                "data": {"algorithm": ENUM_FROM_HASH[hash_name], "digest": base64.b64encode(digest).decode()},
                "signature": {"content": base64.b64encode(content.signature).decode(), "verifier": verifier_obj},
            }
        },
    }
    return canonical_json(body)


def verify_signed_entry_timestamp(entry: TlogEntry, log: TransparencyLog) -> None:
    """Verify the SET (inclusion promise) over the JCS payload (docs/verification.md §4.4).

    Raises:
        VerificationError: tlog.set_invalid.
    """
    assert entry.signed_entry_timestamp is not None
    if not isinstance(log.public_key, ec.EllipticCurvePublicKey):
        raise VerificationError(Reason.TLOG_SET_INVALID, "signed entry timestamps need an ECDSA log key", check="tlog.set")
    payload = canonical_json(
        {
            "body": base64.b64encode(entry.canonicalized_body).decode(),
            "integratedTime": entry.integrated_time,
            "logID": entry.log_id.hex(),
            "logIndex": entry.log_index,
        }
    )
    try:
        verify_log_signature(log, entry.signed_entry_timestamp, payload, check="tlog.set")
    except VerificationError as err:
        raise VerificationError(
            Reason.TLOG_SET_INVALID,
            "signed entry timestamp does not verify with the log's key",
            context={"log": log.base_url, "log_index": entry.log_index},
            check="tlog.set",
        ) from err
