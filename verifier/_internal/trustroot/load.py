"""Strict loader: trusted_root.json bytes -> TrustedRoot (docs/verification.md A2). Pure: no I/O."""

from __future__ import annotations

from functools import lru_cache

from cryptography import x509

from verifier._internal.algorithms import KEY_DETAILS, signed_note_key_id, spki_sha256
from verifier._internal.encoding import Obj, load_json_object
from verifier._internal.keyio import load_der_public_key, spki_der
from verifier._internal.limits import DEFAULT_LIMITS, Limits
from verifier._internal.timefmt import parse_rfc3339
from verifier._internal.trustroot.model import CertificateAuthority, TransparencyLog, TrustedRoot, ValidityPeriod, log_origins
from verifier.errors import InputError, Reason

TRUSTED_ROOT_MEDIA_TYPES = (
    "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
    "application/vnd.dev.sigstore.trustedroot.v0.2+json",
)

_R = Reason.TRUSTROOT_MALFORMED
_LOG_FIELDS = ("baseUrl", "hashAlgorithm", "publicKey", "logId", "checkpointKeyId", "operator")
_CA_FIELDS = ("subject", "uri", "certChain", "validFor", "operator")


def load_trusted_root(data: bytes, limits: Limits = DEFAULT_LIMITS) -> TrustedRoot:
    """Parse and self-check a Sigstore trusted root.

    Raises:
        InputError: trustroot.* reasons for shape, media type, key type or log-id problems.
    """
    return _load_cached(bytes(data), limits)


@lru_cache(maxsize=8)
def _load_cached(data: bytes, limits: Limits) -> TrustedRoot:
    if len(data) > limits.max_trusted_root_bytes:
        raise InputError(Reason.INPUT_TOO_LARGE, "trusted root file is too large")
    root = Obj(
        load_json_object(data, what="trusted root", reason=_R),
        "trustedRoot",
        ("mediaType", "tlogs", "certificateAuthorities", "ctlogs", "timestampAuthorities"),
        _R,
    )
    media_type = root.raw("mediaType")
    if media_type not in TRUSTED_ROOT_MEDIA_TYPES:
        raise InputError(
            Reason.TRUSTROOT_UNSUPPORTED_MEDIA_TYPE, f"unsupported trusted root media type {media_type!r}"
        )
    return TrustedRoot(
        media_type=media_type,
        tlogs=tuple(_load_log(o, rekor=True) for o in root.objs("tlogs", _LOG_FIELDS)),
        certificate_authorities=tuple(
            _load_ca(o) for o in root.objs("certificateAuthorities", _CA_FIELDS)
        ),
        ctlogs=tuple(_load_log(o, rekor=False) for o in root.objs("ctlogs", _LOG_FIELDS)),
        timestamp_authorities=tuple(_load_ca(o) for o in root.objs("timestampAuthorities", _CA_FIELDS)),
    )


def _validity(obj: Obj | None, what: str, *, reason_no_start: Reason = _R) -> ValidityPeriod:
    if obj is None or obj.raw("start") is None:
        raise InputError(reason_no_start, f"{what} has no validFor.start")
    start = parse_rfc3339(obj.raw("start"), f"{what}.validFor.start")
    end = parse_rfc3339(obj.raw("end"), f"{what}.validFor.end") if obj.raw("end") is not None else None
    if end is not None and end <= start:
        # An inverted window would make every time invalid, an empty one all but one instant:
        # neither is a key or CA anyone meant to trust, so the file is refused (A2).
        raise InputError(
            Reason.TRUSTROOT_INVALID_VALIDITY,
            f"{what}.validFor ends {'before' if end < start else 'when'} it starts",
            context={"start": obj.raw("start"), "end": obj.raw("end")},
        )
    return ValidityPeriod(start=start, end=end)


def _load_log(obj: Obj, *, rekor: bool) -> TransparencyLog:
    what = obj.path
    base_url = obj.str("baseUrl", required=False)
    hash_algorithm = obj.str("hashAlgorithm", required=False, default="SHA2_256")
    if rekor and hash_algorithm != "SHA2_256":
        raise InputError(_R, f"{what}.hashAlgorithm {hash_algorithm!r} is not supported")
    pk = obj.obj("publicKey", ("rawBytes", "keyDetails", "validFor"))
    assert pk is not None
    spki = pk.bytes("rawBytes")
    key_details = pk.str("keyDetails")
    try:
        key = load_der_public_key(spki)
    except (ValueError, Exception) as exc:
        raise InputError(Reason.TRUSTROOT_KEY_TYPE_MISMATCH, f"{what}.publicKey is not a DER public key") from exc
    details = KEY_DETAILS.get(key_details)
    if details is None:
        raise InputError(Reason.TRUSTROOT_KEY_TYPE_MISMATCH, f"{what}: keyDetails {key_details!r} is not supported")
    if not details.matches(key):
        raise InputError(
            Reason.TRUSTROOT_KEY_TYPE_MISMATCH, f"{what}: the key does not match keyDetails {key_details}"
        )
    validity = _validity(
        pk.obj("validFor", ("start", "end"), required=False), what, reason_no_start=Reason.TRUSTROOT_LOG_NO_START
    )
    log_id_obj = obj.obj("logId", ("keyId",))
    assert log_id_obj is not None
    log_id = log_id_obj.bytes("keyId")
    cp = obj.obj("checkpointKeyId", ("keyId",), required=False)
    checkpoint_key_id = cp.bytes("keyId") if cp is not None else None
    # Legacy entries (staging's RSA CT log) carry a bare PKCS#1 key; ids are over the SPKI form.
    spki = spki_der(key)
    spki_hash = spki_sha256(spki)
    origins = log_origins(base_url)
    note_ids = {signed_note_key_id(origin, key, spki): origin for origin in origins}
    if log_id != spki_hash and (not rekor or log_id not in note_ids):
        # Not a v1/RFC 6962 id: it must be the signed-note key id of a Rekor v2 log (docs/verification.md A2).
        raise InputError(
            Reason.TRUSTROOT_LOG_ID_MISMATCH,
            f"{what}: logId does not match the log's public key",
            context={"declared": log_id.hex(), "sha256_spki": spki_hash.hex()},
        )
    if checkpoint_key_id is not None and checkpoint_key_id != spki_hash and checkpoint_key_id not in note_ids:
        raise InputError(Reason.TRUSTROOT_LOG_ID_MISMATCH, f"{what}: checkpointKeyId does not match the key")
    # A key id that commits to an origin (Ed25519, RSA) names the one origin this log signs under.
    pinned = note_ids.get(checkpoint_key_id or b"") or note_ids.get(log_id)
    if pinned is not None and note_ids and signed_note_key_id(pinned, key, spki) != spki_hash:
        origins = (pinned,)
    return TransparencyLog(
        base_url=base_url,
        key_details=key_details,
        public_key=key,
        spki_der=spki,
        valid_for=validity,
        log_id=log_id,
        checkpoint_key_id=checkpoint_key_id,
        operator=obj.str("operator", required=False) or None,
        origins=origins,
    )


def _load_ca(obj: Obj) -> CertificateAuthority:
    what = obj.path
    subject = obj.obj("subject", ("organization", "commonName"), required=False)
    chain_obj = obj.obj("certChain", ("certificates",))
    assert chain_obj is not None
    ders = tuple(c.bytes("rawBytes") for c in chain_obj.objs("certificates", ("rawBytes",)))
    if not ders:
        raise InputError(_R, f"{what}.certChain has no certificates")
    certs = []
    for i, der in enumerate(ders):
        try:
            cert = x509.load_der_x509_certificate(der)
            cert.extensions  # noqa: B018 - parse now, fail here
        except Exception as exc:
            raise InputError(_R, f"{what}.certChain.certificates[{i}] is not a valid certificate") from exc
        certs.append(cert)
    return CertificateAuthority(
        uri=obj.str("uri", required=False),
        subject_common_name=subject.str("commonName", required=False) if subject else "",
        subject_organization=subject.str("organization", required=False) if subject else "",
        chain=tuple(certs),
        chain_der=ders,
        valid_for=_validity(obj.obj("validFor", ("start", "end"), required=False), what),
        operator=obj.str("operator", required=False) or None,
    )
