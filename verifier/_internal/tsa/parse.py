"""RFC 3161 structure (docs/verification.md §5): a `TimeStampResp` DER blob into a typed `TimestampToken`.

Owns: the structural checks on a response (status granted, one CMS SignedData over a TSTInfo,
one SignerInfo with consistent signed attributes and a supported signature algorithm) and the
PKIStatusInfo reading shared with the signing-side TSA client. No trust decision is taken here:
`tsa/verify.py` checks the imprint, the CMS signature and the TSA chain.
Must not: import asn1crypto at module level. It is only needed when a bundle carries
timestamps, so every function imports it where it is used (a dictionary lookup once loaded).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Optional

from cryptography import x509

from verifier._internal.algorithms import HASH_NAMES
from verifier._internal.keyio import Encoding
from verifier._internal.limits import DEFAULT_LIMITS
from verifier._internal.record import Record
from verifier.errors import Reason, VerificationError

__all__ = [
    "CHECK",
    "GRANTED",
    "ResponseStatus",
    "TimestampToken",
    "matches_signer_id",
    "parse_response",
    "read_status",
    "tsa_error",
]

CHECK = "tsa"
"""`check` of every error raised for a timestamp."""

_OID_TST_INFO = "1.2.840.113549.1.9.16.1.4"
_OID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
_OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
_OID_SIGNING_CERTIFICATE = "1.2.840.113549.1.9.16.2.12"
_OID_SIGNING_CERTIFICATE_V2 = "1.2.840.113549.1.9.16.2.47"
GRANTED = ("granted", "granted_with_mods")
"""PKIStatus values that carry a token (asn1crypto's names for granted and grantedWithMods)."""
_SIGNATURE_ALGOS = ("rsassa_pkcs1v15", "rsassa_pss", "ecdsa", "ed25519")


ResponseStatus = tuple[str, tuple[str, ...], tuple[str, ...]]
"""(status, status_strings, fail_info) of a PKIStatusInfo: asn1crypto's PKIStatus name
("granted", "rejection", ...), the statusString texts in order, the PKIFailureInfo bit names
sorted. A plain tuple, not a NamedTuple: the class would cost every cold timestamped
verification ~0.1 ms of import for three names."""


class TimestampToken(Record):
    """What a TimeStampResp says after structural checks (no trust decisions yet)."""

    gen_time: datetime
    """genTime, tz-aware UTC."""
    imprint_algorithm: str
    hashed_message: bytes
    sid_kind: str
    """"issuer_and_serial_number" or "subject_key_identifier"."""
    sid_issuer: Any
    """asn1crypto x509.Name of the signer's issuer, or None."""
    sid_serial: Optional[int]
    sid_key_id: Optional[bytes]
    embedded: tuple[x509.Certificate, ...]
    signed_attrs: bytes
    """DER of the SET OF signed attributes, as signed."""
    signature: bytes
    digest_algorithm: str
    signature_algo: str
    """rsassa_pkcs1v15, rsassa_pss, ecdsa or ed25519."""
    signature_hash: Optional[str]
    """Hash named by the signature algorithm, if any."""
    pss_salt_length: Optional[int]
    pss_mgf_hash: Optional[str]
    ess_cert_ids: tuple[tuple[str, bytes], ...]
    """(hash name, certHash) from signingCertificate(V2)."""


# Intermediate values inside the parse are plain tuples, unpacked at once by
# `_parse_unchecked`: a NamedTuple class costs ~70 µs to create at import, which every cold
# verification of a timestamped bundle would pay for names nobody outside this module reads.
_SignatureAlgorithm = tuple[str, Optional[str], Optional[int], Optional[str]]
"""(algo, hash named by the algorithm, PSS salt length, PSS MGF1 hash)."""
_SignerId = tuple[str, Any, Optional[int], Optional[bytes]]
"""(sid kind, issuer Name, serial, subject key identifier)."""
_TstInfo = tuple[datetime, str, bytes]
"""(genTime in UTC, imprint hash name, hashedMessage)."""


class _NotAResponse(ValueError):
    """The outer SEQUENCE is not a status plus at most one token."""


def tsa_error(reason: Reason, detail: str, **context: Any) -> VerificationError:
    """A `VerificationError` for a timestamp, with `check="tsa"` and `context`."""
    return VerificationError(reason, detail, context=context, check=CHECK)


# --------------------------------------------------------------------------- status


def read_status(der: bytes) -> ResponseStatus:
    """The PKIStatusInfo of a TimeStampResp, readable whether or not it carries a token.

    Raises:
        ValueError: `der` is not a SEQUENCE of a PKIStatusInfo and at most one more element
            (asn1crypto may also raise TypeError on some malformed input).
    """
    return _split_response(der)[0]


def _split_response(der: bytes) -> tuple[ResponseStatus, int]:
    """(status, number of elements) of a TimeStampResp, read without asn1crypto's TimeStampResp.

    A refusal carries no timeStampToken, which asn1crypto's TimeStampResp (token not OPTIONAL
    there) cannot load; so the outer SEQUENCE and its PKIStatusInfo are read on their own.
    """
    from asn1crypto import core, tsp

    outer = core.Sequence.load(bytes(der), strict=True)
    if len(outer) not in (1, 2):
        raise _NotAResponse("TimeStampResp must have a status and at most a token")
    info = tsp.PKIStatusInfo.load(outer[0].dump(), strict=True)
    status = (
        str(info["status"].native),
        tuple(info["status_string"].native or ()),
        tuple(sorted(info["fail_info"].native or ())),
    )
    return status, len(outer)


def _check_granted(der: bytes) -> None:
    """Refuse a response that is not granted or carries no token.

    Raises:
        VerificationError: `tsa.invalid`.
    """
    try:
        (status, status_strings, fail_info), elements = _split_response(der)
    except _NotAResponse as exc:  # other decoding errors are mapped by parse_response
        raise tsa_error(Reason.TSA_INVALID, str(exc)) from exc
    if status not in GRANTED:
        raise tsa_error(
            Reason.TSA_INVALID,
            f"TimeStampResp status is {status!r}, not granted",
            status=status,
            status_string=list(status_strings) or None,
            fail_info=list(fail_info),
        )
    if elements != 2:
        raise tsa_error(Reason.TSA_INVALID, "granted TimeStampResp has no timeStampToken")


# --------------------------------------------------------------------------- the token


def parse_response(der: bytes) -> TimestampToken:
    """Structural parse of a TimeStampResp.

    Raises:
        VerificationError: `tsa.invalid` (malformed, not granted, inconsistent CMS attributes,
            unsupported signature algorithm), `tsa.weak_hash` (CMS digest not SHA-2).
    """
    try:
        return _parse_unchecked(der)
    except VerificationError:
        raise
    except Exception as exc:  # asn1crypto parses lazily and raises many types on bad input
        raise tsa_error(
            Reason.TSA_INVALID,
            f"malformed RFC 3161 TimeStampResp: {type(exc).__name__}: {exc}",
        ) from exc


def _parse_unchecked(der: bytes) -> TimestampToken:
    """`parse_response` without the mapping of asn1crypto's exceptions."""
    _check_granted(der)
    signed_data = _signed_data(der)
    econtent = _econtent(signed_data)
    gen_time, imprint_algorithm, hashed_message = _tst_info(econtent)
    signer_info = _signer_info(signed_data)
    digest_alg = _digest_algorithm(signer_info)
    signed_attrs, ess = _signed_attributes(signer_info, econtent, digest_alg)
    signature_algo, signature_hash, pss_salt_length, pss_mgf_hash = _signature_algorithm(signer_info, digest_alg)
    sid_kind, sid_issuer, sid_serial, sid_key_id = _signer_id(signer_info)
    return TimestampToken(
        gen_time=gen_time,
        imprint_algorithm=imprint_algorithm,
        hashed_message=hashed_message,
        sid_kind=sid_kind,
        sid_issuer=sid_issuer,
        sid_serial=sid_serial,
        sid_key_id=sid_key_id,
        embedded=_embedded_certificates(signed_data),
        signed_attrs=signed_attrs,
        signature=bytes(signer_info["signature"].native),
        digest_algorithm=digest_alg,
        signature_algo=signature_algo,
        signature_hash=signature_hash,
        pss_salt_length=pss_salt_length,
        pss_mgf_hash=pss_mgf_hash,
        ess_cert_ids=ess,
    )


def _signed_data(der: bytes) -> Any:
    """The CMS SignedData of a granted response's timeStampToken, with its lazy parts forced.

    Raises:
        VerificationError: `tsa.invalid`.
    """
    from asn1crypto import cms, core, tsp

    token = tsp.TimeStampResp.load(bytes(der), strict=True)["time_stamp_token"]
    if not isinstance(token, cms.ContentInfo) or isinstance(token, core.Void):
        raise tsa_error(Reason.TSA_INVALID, "TimeStampResp has no timeStampToken")
    if token["content_type"].native != "signed_data":
        raise tsa_error(
            Reason.TSA_INVALID,
            "timeStampToken is not CMS SignedData",
            content_type=token["content_type"].dotted,
        )
    signed_data = token["content"]
    # The signer ids leave parse_response (as `sid_issuer`): force them to parse here, inside
    # its error mapping. Nothing else is forced: the TSTInfo is parsed strictly from the
    # eContent bytes (`_tst_info`) and each embedded certificate by cryptography
    # (`_embedded_certificates`); converting those to native values as well cost ~0.3 ms a
    # token (converting the whole token, ~15 ms).
    for signer_info in signed_data["signer_infos"]:
        signer_info["sid"].native  # noqa: B018
    return signed_data


def _econtent(signed_data: Any) -> bytes:
    """The encapsulated TSTInfo DER (eContentType id-ct-TSTInfo, not detached).

    Raises:
        VerificationError: `tsa.invalid`.
    """
    from asn1crypto import core

    encap = signed_data["encap_content_info"]
    if encap["content_type"].dotted != _OID_TST_INFO:
        raise tsa_error(
            Reason.TSA_INVALID,
            "eContentType is not id-ct-TSTInfo",
            econtent_type=encap["content_type"].dotted,
        )
    if isinstance(encap["content"], core.Void) or encap["content"].contents is None:
        raise tsa_error(Reason.TSA_INVALID, "timeStampToken has no eContent (detached)")
    return bytes(encap["content"])


def _tst_info(econtent: bytes) -> _TstInfo:
    """genTime and the message imprint of a TSTInfo.

    Raises:
        VerificationError: `tsa.invalid` when genTime is not a UTC GeneralizedTime.
    """
    from asn1crypto import tsp

    tst_info = tsp.TSTInfo.load(econtent, strict=True)
    imprint = tst_info["message_imprint"]
    gen_time = tst_info["gen_time"].native
    if not isinstance(gen_time, datetime) or gen_time.tzinfo is None:
        raise tsa_error(Reason.TSA_INVALID, "genTime is not a UTC GeneralizedTime", gen_time=str(gen_time))
    return (
        gen_time.astimezone(timezone.utc),
        str(imprint["hash_algorithm"]["algorithm"].native),
        bytes(imprint["hashed_message"].native),
    )


def _signer_info(signed_data: Any) -> Any:
    """The one SignerInfo of the token.

    Raises:
        VerificationError: `tsa.invalid` for zero or several.
    """
    signer_infos = signed_data["signer_infos"]
    if len(signer_infos) != 1:
        raise tsa_error(
            Reason.TSA_INVALID,
            f"timeStampToken must have exactly one SignerInfo, has {len(signer_infos)}",
            signer_infos=len(signer_infos),
        )
    return signer_infos[0]


def _digest_algorithm(signer_info: Any) -> str:
    """The SignerInfo digest algorithm, one of HASH_NAMES.

    Raises:
        VerificationError: `tsa.weak_hash` for anything else.
    """
    digest_alg = signer_info["digest_algorithm"]["algorithm"].native
    if digest_alg not in HASH_NAMES:
        raise tsa_error(
            Reason.TSA_WEAK_HASH,
            f"SignerInfo digest algorithm {digest_alg!r} is not SHA-256/384/512",
            digest_algorithm=digest_alg,
        )
    return str(digest_alg)


# --------------------------------------------------------------------------- signed attributes


def _signed_attributes(
    signer_info: Any, econtent: bytes, digest_alg: str
) -> tuple[bytes, tuple[tuple[str, bytes], ...]]:
    """(the DER the signature covers, ESSCertIDs) after checking the signed attributes.

    Signed attributes are required because eContentType is not id-data (RFC 5652 §5.3); they
    must be unique, and content-type and message-digest must agree with the eContent.

    Raises:
        VerificationError: `tsa.invalid`.
    """
    from asn1crypto import core

    attrs = signer_info["signed_attrs"]
    # The exact bytes as signed, taken before reading any attribute: once children are parsed,
    # asn1crypto's dump() re-encodes the whole set (milliseconds per token).
    raw_attrs = attrs.dump()
    if isinstance(attrs, core.Void) or len(attrs) == 0:
        raise tsa_error(Reason.TSA_INVALID, "SignerInfo has no signed attributes")
    by_type = _attributes_by_type(attrs)
    _check_content_type(by_type)
    _check_message_digest(by_type, econtent, digest_alg)
    ess = _ess_cert_ids(by_type)
    if raw_attrs[:1] != b"\xa0":
        raise tsa_error(Reason.TSA_INVALID, "signed attributes are not [0] IMPLICIT")
    return b"\x31" + raw_attrs[1:], ess  # signature covers the SET OF encoding (RFC 5652 §5.4)


def _attributes_by_type(attrs: Any) -> dict[str, Any]:
    """Signed attributes keyed by dotted OID; content-type and message-digest must be present.

    Raises:
        VerificationError: `tsa.invalid` for a duplicate or a missing required attribute.
    """
    by_type: dict[str, Any] = {}
    for attr in attrs:
        oid = attr["type"].dotted
        if oid in by_type:
            raise tsa_error(Reason.TSA_INVALID, "duplicate signed attribute", attribute=oid)
        by_type[oid] = attr
    if _OID_CONTENT_TYPE not in by_type or _OID_MESSAGE_DIGEST not in by_type:
        raise tsa_error(
            Reason.TSA_INVALID,
            "signed attributes must include content-type and message-digest",
            attributes=sorted(by_type),
        )
    return by_type


def _check_content_type(by_type: dict[str, Any]) -> None:
    """The signed content-type attribute must be exactly id-ct-TSTInfo.

    Raises:
        VerificationError: `tsa.invalid`.
    """
    values = by_type[_OID_CONTENT_TYPE]["values"]
    if len(values) != 1 or values[0].dotted != _OID_TST_INFO:
        raise tsa_error(Reason.TSA_INVALID, "signed content-type attribute is not id-ct-TSTInfo")


def _check_message_digest(by_type: dict[str, Any], econtent: bytes, digest_alg: str) -> None:
    """The signed message-digest must be Hash(TSTInfo): otherwise the TSTInfo was altered.

    Raises:
        VerificationError: `tsa.invalid`.
    """
    values = by_type[_OID_MESSAGE_DIGEST]["values"]
    if len(values) != 1:
        raise tsa_error(Reason.TSA_INVALID, "message-digest attribute must have one value")
    declared = values[0].native
    actual = hashlib.new(digest_alg, econtent).digest()
    if declared != actual:
        raise tsa_error(
            Reason.TSA_INVALID,
            "message-digest attribute does not match Hash(TSTInfo): token altered",
            declared=declared.hex() if isinstance(declared, bytes) else str(declared),
            computed=actual.hex(),
            digest_algorithm=digest_alg,
        )


def _ess_cert_ids(by_type: dict[str, Any]) -> tuple[tuple[str, bytes], ...]:
    """(hash name, certHash) of the first ESSCertID of each signingCertificate(V2) value."""
    ess: list[tuple[str, bytes]] = []
    for oid, v2 in ((_OID_SIGNING_CERTIFICATE, False), (_OID_SIGNING_CERTIFICATE_V2, True)):
        attr = by_type.get(oid)
        if attr is None:
            continue
        for value in attr["values"]:
            certs = value["certs"]
            if len(certs) == 0:
                continue
            first = certs[0]  # the first ESSCertID identifies the signing certificate
            name = first["hash_algorithm"]["algorithm"].native if v2 else "sha1"
            ess.append((name, first["cert_hash"].native))
    return tuple(ess)


# --------------------------------------------------------------------------- signature algorithm


def _signature_algorithm(signer_info: Any, digest_alg: str) -> _SignatureAlgorithm:
    """The SignerInfo signature algorithm; any hash it names must be the digest algorithm.

    Raises:
        VerificationError: `tsa.invalid` (unsupported algorithm, hash differs), `tsa.weak_hash`
            (the algorithm names a hash outside SHA-256/384/512).
    """
    sig_alg = signer_info["signature_algorithm"]
    algo_name = sig_alg["algorithm"].native
    algo = _signature_algo_name(sig_alg)
    if algo not in _SIGNATURE_ALGOS:
        raise tsa_error(
            Reason.TSA_INVALID,
            f"unsupported CMS signature algorithm {algo_name!r}",
            signature_algorithm=sig_alg["algorithm"].dotted,
        )
    result: _SignatureAlgorithm
    if algo == "rsassa_pss":
        result = _pss_parameters(sig_alg)
    elif algo != "ed25519" and algo_name not in ("rsassa_pkcs1v15", "rsa", "ecdsa", "ec"):
        result = (algo, sig_alg.hash_algo, None, None)
    else:  # Ed25519 and bare key OIDs name no hash: the digest algorithm applies
        result = (algo, None, None, None)
    signature_hash = result[1]
    if signature_hash is not None and signature_hash != digest_alg:
        raise tsa_error(
            Reason.TSA_WEAK_HASH if signature_hash not in HASH_NAMES else Reason.TSA_INVALID,
            "signature algorithm hash differs from the SignerInfo digest algorithm",
            signature_hash=signature_hash,
            digest_algorithm=digest_alg,
        )
    return result


def _signature_algo_name(sig_alg: Any) -> str:
    """asn1crypto's signature scheme name, or "" when it names none."""
    try:
        return str(sig_alg.signature_algo)
    except ValueError:
        # Some signers write the bare key OID (ecPublicKey / rsaEncryption) here.
        return {"rsa": "rsassa_pkcs1v15", "ec": "ecdsa"}.get(sig_alg["algorithm"].native, "")


def _pss_parameters(sig_alg: Any) -> _SignatureAlgorithm:
    """Hash, salt length and MGF1 hash of an RSASSA-PSS AlgorithmIdentifier.

    Raises:
        VerificationError: `tsa.invalid` when the mask generation function is not MGF1.
    """
    params = sig_alg["parameters"]
    hash_name = params["hash_algorithm"]["algorithm"].native
    salt_length = int(params["salt_length"].native)
    mgf = params["mask_gen_algorithm"]
    if mgf["algorithm"].native != "mgf1":
        raise tsa_error(Reason.TSA_INVALID, "RSA-PSS mask generation is not MGF1")
    return ("rsassa_pss", hash_name, salt_length, mgf["parameters"]["algorithm"].native)


# --------------------------------------------------------------------------- signer


def _signer_id(signer_info: Any) -> _SignerId:
    """The SignerInfo `sid`: issuer and serial number, or subject key identifier."""
    sid = signer_info["sid"]
    if sid.name == "issuer_and_serial_number":
        return (sid.name, sid.chosen["issuer"], int(sid.chosen["serial_number"].native), None)
    return (sid.name, None, None, bytes(sid.chosen.native))


def _embedded_certificates(signed_data: Any) -> tuple[x509.Certificate, ...]:
    """The X.509 certificates the token carries (other choices play no part in path building).

    Raises:
        VerificationError: `tsa.invalid` for too many, or one cryptography cannot load.
    """
    from asn1crypto import core

    certificates = signed_data["certificates"]
    # Not `.native`: converting the certificates makes every later dump() re-encode them.
    if isinstance(certificates, core.Void):
        return ()
    if len(certificates) > DEFAULT_LIMITS.max_tsa_embedded_certificates:
        raise tsa_error(Reason.TSA_INVALID, "too many certificates in timeStampToken")
    embedded: list[x509.Certificate] = []
    for choice in certificates:
        if choice.name != "certificate":
            continue
        try:
            embedded.append(x509.load_der_x509_certificate(choice.chosen.dump()))
        except ValueError as exc:
            raise tsa_error(Reason.TSA_INVALID, f"embedded certificate is malformed: {exc}") from exc
    return tuple(embedded)


@lru_cache(maxsize=256)
def _sid_view(cert_der: bytes) -> tuple[Any, int, Optional[bytes]]:
    """(asn1crypto issuer Name, serial, subjectKeyIdentifier) of a certificate, for sid matching."""
    from asn1crypto import x509 as asn1_x509

    parsed = asn1_x509.Certificate.load(cert_der)
    issuer = parsed.issuer
    issuer.hashable  # noqa: B018 - parse the normalised name now, where failures are caught
    return issuer, parsed.serial_number, parsed.key_identifier


def matches_signer_id(cert: x509.Certificate, token: TimestampToken) -> bool:
    """True when the token's SignerInfo `sid` names `cert` (never raises)."""
    try:
        issuer, serial, key_id = _sid_view(cert.public_bytes(Encoding.DER))
    except Exception:  # a certificate asn1crypto cannot read never matches
        return False
    if token.sid_kind == "issuer_and_serial_number":
        try:
            if serial != token.sid_serial:
                return False
            # The same encoding is the same name; otherwise compare as RFC 5280 says (asn1crypto's
            # normalising comparison, about 0.25 ms a name).
            return bool(issuer.dump() == token.sid_issuer.dump() or issuer == token.sid_issuer)
        except Exception:  # asn1crypto normalises names lazily; unreadable never matches
            return False
    return key_id is not None and key_id == token.sid_key_id
