"""RFC 3161 signed timestamps (spec §3 Step 2): parse, imprint, CMS signature, TSA chain at genTime.

Owns: turning one `TimeStampResp` DER blob plus the bundle's raw signature bytes into a
`VerifiedTimestamp`, or a `VerificationError` whose reason and context say what disagreed.
Must not: do I/O, read the clock (only genTime is used), or know about bundles beyond the
signature bytes it is given.

Parsing goes through asn1crypto (imported lazily: it is only needed when a bundle carries
timestamps); signatures and certificate paths go through `cryptography`.

Why the chain checks are explicit rather than `cryptography.x509.verification.PolicyBuilder`:
the only verifiers it builds are WebPKI server/client verifiers, and the client verifier
requires every intermediate that carries an EKU extension to list clientAuth (or anyEKU).
TSA intermediates legitimately carry `EKU = timeStamping` (conformance case
`rekor2-timestamp-with-expired-cert-chain` fails with "Neither EKU nor anyEKU could be
found"), and there is no knob for that. The RFC 3161 / spec Step 2 profile is small, so the
checks below implement it directly: each certificate signed by the next, names chaining,
validity windows containing genTime, basicConstraints CA (and pathLen) plus keyCertSign (if
keyUsage is present) on issuers, no unknown critical extensions, and the TSA leaf profile.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, NamedTuple, Optional, Sequence, TYPE_CHECKING

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from verifier._internal.keyio import Encoding
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

from verifier._internal.algorithms import HASH_NAMES, hash_algorithm
from verifier.errors import InputError, Reason, VerificationError
from verifier._internal.limits import DEFAULT_LIMITS

if TYPE_CHECKING:
    from verifier._internal.trustroot.model import CertificateAuthority

__all__ = [
    "MAX_TIMESTAMPS",
    "VerifiedTimestamp",
    "verify_signed_timestamp",
    "verify_timestamps",
]

MAX_TIMESTAMPS = DEFAULT_LIMITS.max_rfc3161_timestamps
"""Spec Step 2 item 1 / §5 row 13: more timestamps than this is rejected as input.too_large."""

_CHECK = "tsa"
_DER = Encoding.DER
_MAX_EMBEDDED_CERTS = 16
_MAX_PATH_LEN = 6  # certificates between the signer and the anchor, inclusive of neither
_OID_TST_INFO = "1.2.840.113549.1.9.16.1.4"

_KNOWN_CRITICAL = frozenset(
    {
        ExtensionOID.BASIC_CONSTRAINTS,
        ExtensionOID.KEY_USAGE,
        ExtensionOID.EXTENDED_KEY_USAGE,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
        ExtensionOID.SUBJECT_KEY_IDENTIFIER,
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
    }
)


class VerifiedTimestamp(NamedTuple):
    """Evidence from one RFC 3161 token that verified against a trusted TSA."""

    time: datetime
    """genTime, tz-aware UTC."""
    authority_uri: str
    """`uri` of the trusted-root TSA entry that verified the token."""
    authority_name: str
    """Subject common name of that TSA entry (organization if the common name is empty)."""
    hash_algorithm: str
    """Message-imprint hash: "sha256", "sha384" or "sha512"."""
    signer_subject: str
    """RFC 4514 subject of the certificate whose key signed the token."""
    authority_operator: Optional[str] = None
    """`operator` of the TSA entry (trusted root v0.2), used to count TSAs; None if absent."""


# --------------------------------------------------------------------------- helpers


def _fail(reason: Reason, detail: str, **context: Any) -> VerificationError:
    return VerificationError(reason, detail, context=context, check=_CHECK)


def _iso(when: Optional[datetime]) -> Optional[str]:
    return None if when is None else when.astimezone(timezone.utc).isoformat()




# --------------------------------------------------------------------------- parsed token


class _Token(NamedTuple):
    """What we need from a TimeStampResp after structural checks (no trust decisions yet)."""

    gen_time: datetime
    imprint_algorithm: str
    hashed_message: bytes
    sid_kind: str  # "issuer_and_serial_number" | "subject_key_identifier"
    sid_issuer: Any  # asn1crypto x509.Name, or None
    sid_serial: Optional[int]
    sid_key_id: Optional[bytes]
    embedded: tuple[x509.Certificate, ...]
    signed_attrs: bytes  # DER of the SET OF signed attributes, as signed
    signature: bytes
    digest_algorithm: str
    signature_algo: str  # rsassa_pkcs1v15 | rsassa_pss | ecdsa | ed25519
    signature_hash: Optional[str]  # hash named by the signature algorithm, if any
    pss_salt_length: Optional[int]
    pss_mgf_hash: Optional[str]
    ess_cert_ids: tuple[tuple[str, bytes], ...]  # (hash name, certHash) from signingCertificate(V2)


def _parse(der: bytes) -> _Token:
    """Structural parse of a TimeStampResp. Raises TSA_INVALID / TSA_WEAK_HASH."""
    try:
        return _parse_unchecked(der)
    except VerificationError:
        raise
    except Exception as exc:  # asn1crypto parses lazily and raises many types on bad input
        raise _fail(
            Reason.TSA_INVALID,
            f"malformed RFC 3161 TimeStampResp: {type(exc).__name__}: {exc}",
        ) from exc


def _parse_unchecked(der: bytes) -> _Token:
    from asn1crypto import cms, core, tsp  # lazy: only bundles with timestamps pay for it

    # The status comes first and a refusal carries no token, which asn1crypto's TimeStampResp
    # (token not OPTIONAL there) cannot load: read the status on its own.
    outer = core.Sequence.load(bytes(der), strict=True)
    if len(outer) not in (1, 2):
        raise _fail(Reason.TSA_INVALID, "TimeStampResp must have a status and at most a token")
    status_info = tsp.PKIStatusInfo.load(outer[0].dump(), strict=True)
    status = status_info["status"].native
    if status not in ("granted", "granted_with_mods"):
        raise _fail(
            Reason.TSA_INVALID,
            f"TimeStampResp status is {status!r}, not granted",
            status=status,
            status_string=status_info["status_string"].native,
            fail_info=sorted(status_info["fail_info"].native or ()),
        )
    if len(outer) != 2:
        raise _fail(Reason.TSA_INVALID, "granted TimeStampResp has no timeStampToken")
    resp = tsp.TimeStampResp.load(bytes(der), strict=True)
    token = resp["time_stamp_token"]
    if not isinstance(token, cms.ContentInfo) or isinstance(token, core.Void):
        raise _fail(Reason.TSA_INVALID, "TimeStampResp has no timeStampToken")
    if token["content_type"].native != "signed_data":
        raise _fail(
            Reason.TSA_INVALID,
            "timeStampToken is not CMS SignedData",
            content_type=token["content_type"].dotted,
        )
    signed_data = token["content"]
    # Force the parts read later to parse here, inside _parse's error mapping; converting the
    # whole token to native values (the obvious way) costs ~15 ms a token.
    signed_data["certificates"].native  # noqa: B018
    for signer_info in signed_data["signer_infos"]:
        signer_info["sid"].native  # noqa: B018
    encap = signed_data["encap_content_info"]
    encap.native  # noqa: B018
    if encap["content_type"].dotted != _OID_TST_INFO:
        raise _fail(
            Reason.TSA_INVALID,
            "eContentType is not id-ct-TSTInfo",
            econtent_type=encap["content_type"].dotted,
        )
    if isinstance(encap["content"], core.Void) or encap["content"].contents is None:
        raise _fail(Reason.TSA_INVALID, "timeStampToken has no eContent (detached)")
    econtent = bytes(encap["content"])
    tst_info = tsp.TSTInfo.load(econtent, strict=True)

    imprint = tst_info["message_imprint"]
    imprint_alg = imprint["hash_algorithm"]["algorithm"].native
    hashed_message = imprint["hashed_message"].native
    gen_time = tst_info["gen_time"].native
    if not isinstance(gen_time, datetime) or gen_time.tzinfo is None:
        raise _fail(Reason.TSA_INVALID, "genTime is not a UTC GeneralizedTime", gen_time=str(gen_time))
    gen_time = gen_time.astimezone(timezone.utc)

    signer_infos = signed_data["signer_infos"]
    if len(signer_infos) != 1:
        raise _fail(
            Reason.TSA_INVALID,
            f"timeStampToken must have exactly one SignerInfo, has {len(signer_infos)}",
            signer_infos=len(signer_infos),
        )
    si = signer_infos[0]
    digest_alg = si["digest_algorithm"]["algorithm"].native
    if digest_alg not in HASH_NAMES:
        raise _fail(
            Reason.TSA_WEAK_HASH,
            f"SignerInfo digest algorithm {digest_alg!r} is not SHA-256/384/512",
            digest_algorithm=digest_alg,
        )

    # Signed attributes: required (eContentType is not id-data), unique, content-type and
    # message-digest consistent with the eContent.
    attrs = si["signed_attrs"]
    # The exact bytes as signed, taken before reading any attribute: once children are parsed,
    # asn1crypto's dump() re-encodes the whole set (milliseconds per token).
    raw_attrs = attrs.dump()
    if isinstance(attrs, core.Void) or len(attrs) == 0:
        raise _fail(Reason.TSA_INVALID, "SignerInfo has no signed attributes")
    by_type: dict[str, Any] = {}
    for attr in attrs:
        oid = attr["type"].dotted
        if oid in by_type:
            raise _fail(Reason.TSA_INVALID, "duplicate signed attribute", attribute=oid)
        by_type[oid] = attr
    ct_attr = by_type.get("1.2.840.113549.1.9.3")
    md_attr = by_type.get("1.2.840.113549.1.9.4")
    if ct_attr is None or md_attr is None:
        raise _fail(
            Reason.TSA_INVALID,
            "signed attributes must include content-type and message-digest",
            attributes=sorted(by_type),
        )
    if len(ct_attr["values"]) != 1 or ct_attr["values"][0].dotted != _OID_TST_INFO:
        raise _fail(Reason.TSA_INVALID, "signed content-type attribute is not id-ct-TSTInfo")
    if len(md_attr["values"]) != 1:
        raise _fail(Reason.TSA_INVALID, "message-digest attribute must have one value")
    declared = md_attr["values"][0].native
    actual = hashlib.new(digest_alg, econtent).digest()
    if declared != actual:
        raise _fail(
            Reason.TSA_INVALID,
            "message-digest attribute does not match Hash(TSTInfo): token altered",
            declared=declared.hex() if isinstance(declared, bytes) else str(declared),
            computed=actual.hex(),
            digest_algorithm=digest_alg,
        )

    ess: list[tuple[str, bytes]] = []
    for oid, v2 in (("1.2.840.113549.1.9.16.2.12", False), ("1.2.840.113549.1.9.16.2.47", True)):
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

    if raw_attrs[:1] != b"\xa0":
        raise _fail(Reason.TSA_INVALID, "signed attributes are not [0] IMPLICIT")
    signed_attrs = b"\x31" + raw_attrs[1:]  # signature covers the SET OF encoding (RFC 5652 §5.4)

    sig_alg = si["signature_algorithm"]
    algo_name = sig_alg["algorithm"].native
    try:
        signature_algo = sig_alg.signature_algo
    except ValueError:
        # Some signers write the bare key OID (ecPublicKey / rsaEncryption) here.
        signature_algo = {"rsa": "rsassa_pkcs1v15", "ec": "ecdsa"}.get(algo_name, "")
    if signature_algo not in ("rsassa_pkcs1v15", "rsassa_pss", "ecdsa", "ed25519"):
        raise _fail(
            Reason.TSA_INVALID,
            f"unsupported CMS signature algorithm {algo_name!r}",
            signature_algorithm=sig_alg["algorithm"].dotted,
        )
    signature_hash: Optional[str] = None
    pss_salt: Optional[int] = None
    pss_mgf: Optional[str] = None
    if signature_algo == "rsassa_pss":
        params = sig_alg["parameters"]
        signature_hash = params["hash_algorithm"]["algorithm"].native
        pss_salt = int(params["salt_length"].native)
        mgf = params["mask_gen_algorithm"]
        if mgf["algorithm"].native != "mgf1":
            raise _fail(Reason.TSA_INVALID, "RSA-PSS mask generation is not MGF1")
        pss_mgf = mgf["parameters"]["algorithm"].native
    elif signature_algo != "ed25519" and algo_name not in ("rsassa_pkcs1v15", "rsa", "ecdsa", "ec"):
        signature_hash = sig_alg.hash_algo
    if signature_hash is not None and signature_hash != digest_alg:
        reason = Reason.TSA_WEAK_HASH if signature_hash not in HASH_NAMES else Reason.TSA_INVALID
        raise _fail(
            reason,
            "signature algorithm hash differs from the SignerInfo digest algorithm",
            signature_hash=signature_hash,
            digest_algorithm=digest_alg,
        )

    sid = si["sid"]
    sid_issuer = None
    sid_serial = None
    sid_key_id = None
    if sid.name == "issuer_and_serial_number":
        sid_issuer = sid.chosen["issuer"]
        sid_serial = int(sid.chosen["serial_number"].native)
    else:
        sid_key_id = bytes(sid.chosen.native)

    embedded: list[x509.Certificate] = []
    certificates = signed_data["certificates"]
    # Not `.native`: converting the certificates makes every later dump() re-encode them.
    if not isinstance(certificates, core.Void):
        if len(certificates) > _MAX_EMBEDDED_CERTS:
            raise _fail(Reason.TSA_INVALID, "too many certificates in timeStampToken")
        for choice in certificates:
            if choice.name != "certificate":
                continue  # attribute certificates etc. play no part in path building
            try:
                embedded.append(x509.load_der_x509_certificate(choice.chosen.dump()))
            except ValueError as exc:
                raise _fail(Reason.TSA_INVALID, f"embedded certificate is malformed: {exc}") from exc

    return _Token(
        gen_time=gen_time,
        imprint_algorithm=str(imprint_alg),
        hashed_message=bytes(hashed_message),
        sid_kind=sid.name,
        sid_issuer=sid_issuer,
        sid_serial=sid_serial,
        sid_key_id=sid_key_id,
        embedded=tuple(embedded),
        signed_attrs=signed_attrs,
        signature=bytes(si["signature"].native),
        digest_algorithm=digest_alg,
        signature_algo=signature_algo,
        signature_hash=signature_hash,
        pss_salt_length=pss_salt,
        pss_mgf_hash=pss_mgf,
        ess_cert_ids=tuple(ess),
    )


# --------------------------------------------------------------------------- certificates


@lru_cache(maxsize=256)
def _sid_view(cert_der: bytes) -> tuple[Any, int, Optional[bytes]]:
    """(asn1crypto issuer Name, serial, subjectKeyIdentifier) of a certificate, for sid matching."""
    from asn1crypto import x509 as asn1_x509

    parsed = asn1_x509.Certificate.load(cert_der)
    issuer = parsed.issuer
    issuer.hashable  # noqa: B018 - parse the normalised name now, where failures are caught
    return issuer, parsed.serial_number, parsed.key_identifier


def _matches_sid(cert: x509.Certificate, token: _Token) -> bool:
    try:
        issuer, serial, key_id = _sid_view(cert.public_bytes(_DER))
    except Exception:  # a certificate asn1crypto cannot read never matches
        return False
    if token.sid_kind == "issuer_and_serial_number":
        try:
            return serial == token.sid_serial and issuer == token.sid_issuer
        except Exception:  # asn1crypto normalises names lazily; unreadable never matches
            return False
    return key_id is not None and key_id == token.sid_key_id


def _is_ca(cert: x509.Certificate) -> tuple[bool, Optional[int]]:
    try:
        bc = cert.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS).value
    except x509.ExtensionNotFound:
        return False, None
    return bool(bc.ca), bc.path_length


def _subject(cert: x509.Certificate) -> str:
    try:
        return cert.subject.rfc4514_string()
    except Exception:
        return "<unprintable subject>"


def _unknown_critical(cert: x509.Certificate) -> list[str]:
    return [e.oid.dotted_string for e in cert.extensions if e.critical and e.oid not in _KNOWN_CRITICAL]


def _leaf_profile_problem(cert: x509.Certificate) -> Optional[str]:
    """Spec Step 2 item 6 for the TSA signing certificate; None when it conforms."""
    try:
        if _is_ca(cert)[0]:
            return "TSA signing certificate is a CA (basicConstraints CA=true)"
        try:
            eku_ext = cert.extensions.get_extension_for_oid(ExtensionOID.EXTENDED_KEY_USAGE)
        except x509.ExtensionNotFound:
            return "TSA signing certificate has no extendedKeyUsage extension"
        if not eku_ext.critical:
            return "TSA signing certificate's extendedKeyUsage is not critical"
        ekus = list(eku_ext.value)
        if ekus != [ExtendedKeyUsageOID.TIME_STAMPING]:
            return (
                "TSA signing certificate's extendedKeyUsage must be exactly timeStamping, is "
                + ", ".join(o.dotted_string for o in ekus)
            )
        try:
            ku = cert.extensions.get_extension_for_oid(ExtensionOID.KEY_USAGE).value
        except x509.ExtensionNotFound:
            ku = None
        if ku is not None and not (ku.digital_signature or ku.content_commitment):
            return "TSA signing certificate's keyUsage allows neither digitalSignature nor nonRepudiation"
        unknown = _unknown_critical(cert)
        if unknown:
            return "TSA signing certificate has unknown critical extensions: " + ", ".join(unknown)
    except (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType) as exc:
        return f"TSA signing certificate has malformed extensions: {exc}"
    return None


def _issuer_profile_problem(cert: x509.Certificate, below: int) -> Optional[str]:
    """Checks on a certificate used as an issuer; `below` = CA certificates under it in the path."""
    try:
        is_ca, path_len = _is_ca(cert)
        if not is_ca:
            return f"issuer {_subject(cert)} is not a CA (basicConstraints)"
        if path_len is not None and below > path_len:
            return f"issuer {_subject(cert)} pathLenConstraint {path_len} exceeded"
        try:
            ku = cert.extensions.get_extension_for_oid(ExtensionOID.KEY_USAGE).value
        except x509.ExtensionNotFound:
            ku = None
        if ku is not None and not ku.key_cert_sign:
            return f"issuer {_subject(cert)} keyUsage lacks keyCertSign"
        try:
            ekus = list(cert.extensions.get_extension_for_oid(ExtensionOID.EXTENDED_KEY_USAGE).value)
        except x509.ExtensionNotFound:
            ekus = None
        if ekus is not None and not (
            ExtendedKeyUsageOID.TIME_STAMPING in ekus or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in ekus
        ):
            return f"issuer {_subject(cert)} extendedKeyUsage allows neither timeStamping nor anyExtendedKeyUsage"
        unknown = _unknown_critical(cert)
        if unknown:
            return f"issuer {_subject(cert)} has unknown critical extensions: " + ", ".join(unknown)
    except (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType) as exc:
        return f"issuer {_subject(cert)} has malformed extensions: {exc}"
    return None


@lru_cache(maxsize=512)
def _issued_by(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Issuer name matches and issuer's key verifies child's signature. Cached: trusted pairs recur."""
    try:
        child.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


class _TsaMaterial(NamedTuple):
    """Parsed, checked form of one trusted-root TSA chain. Built once per chain DER."""

    leaf: Optional[x509.Certificate]
    leaf_der: Optional[bytes]
    intermediates: tuple[x509.Certificate, ...]
    anchor: x509.Certificate
    chain: tuple[x509.Certificate, ...]


@lru_cache(maxsize=64)
def _material(chain_der: tuple[bytes, ...]) -> _TsaMaterial:
    certs = tuple(x509.load_der_x509_certificate(d) for d in chain_der)
    if not certs:
        raise ValueError("empty TSA certificate chain")
    leaf: Optional[x509.Certificate] = None
    rest = certs
    if len(certs) > 1 and not _is_ca(certs[0])[0]:
        leaf, rest = certs[0], certs[1:]
    return _TsaMaterial(
        leaf=leaf,
        leaf_der=chain_der[0] if leaf is not None else None,
        intermediates=rest[:-1],
        anchor=rest[-1],
        chain=certs,
    )


def _material_for(ca: CertificateAuthority) -> _TsaMaterial:
    return _material(tuple(ca.chain_der))


# --------------------------------------------------------------------------- CMS signature


def _verify_cms_signature(token: _Token, cert: x509.Certificate) -> Optional[str]:
    """None if `cert`'s key verifies the SignerInfo signature, else a description."""
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        return f"signer public key unusable: {exc}"
    data = token.signed_attrs
    sig = token.signature
    try:
        if token.signature_algo == "ed25519":
            if not isinstance(key, ed25519.Ed25519PublicKey):
                return "Ed25519 signature but signer key is not Ed25519"
            key.verify(sig, data)
        elif token.signature_algo == "ecdsa":
            if not isinstance(key, ec.EllipticCurvePublicKey):
                return "ECDSA signature but signer key is not EC"
            key.verify(sig, data, ec.ECDSA(hash_algorithm(token.digest_algorithm)))
        elif token.signature_algo == "rsassa_pkcs1v15":
            if not isinstance(key, rsa.RSAPublicKey):
                return "RSA signature but signer key is not RSA"
            key.verify(sig, data, padding.PKCS1v15(), hash_algorithm(token.digest_algorithm))
        elif token.signature_algo == "rsassa_pss":
            if not isinstance(key, rsa.RSAPublicKey):
                return "RSA-PSS signature but signer key is not RSA"
            if token.pss_mgf_hash not in HASH_NAMES or token.pss_salt_length is None:
                return "RSA-PSS parameters unsupported"
            pad = padding.PSS(mgf=padding.MGF1(hash_algorithm(token.pss_mgf_hash)), salt_length=token.pss_salt_length)
            key.verify(sig, data, pad, hash_algorithm(token.digest_algorithm))
        else:  # pragma: no cover - _parse only lets the four above through
            return f"unsupported signature algorithm {token.signature_algo}"
    except InvalidSignature:
        return "CMS signature does not verify with the signer certificate's key"
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        return f"CMS signature could not be checked: {exc}"
    return None


def _ess_matches(token: _Token, cert_der: bytes) -> bool:
    """signingCertificate(V2) ESSCertID hashes, when present, must name this certificate."""
    for name, digest in token.ess_cert_ids:
        try:
            if hashlib.new(name, cert_der).digest() != digest:
                return False
        except (ValueError, TypeError):
            return False
    return True


# --------------------------------------------------------------------------- chain


def _build_path(
    signer: x509.Certificate, pool: Sequence[x509.Certificate], anchor: x509.Certificate
) -> Optional[list[x509.Certificate]]:
    """Depth-first: signer → pool certificates → anchor, each signed by the next. Path excludes signer."""

    def walk(current: x509.Certificate, used: tuple[x509.Certificate, ...]) -> Optional[list[x509.Certificate]]:
        if _issued_by(current, anchor):
            return [*used, anchor]
        if len(used) >= _MAX_PATH_LEN:
            return None
        for cand in pool:
            if cand in used or cand == current or cand == anchor or cand == signer:
                continue
            if _issued_by(current, cand):
                found = walk(cand, (*used, cand))
                if found is not None:
                    return found
        return None

    if signer == anchor:
        return None  # a trust anchor cannot sign timestamps itself (and would be a CA leaf)
    return walk(signer, ())


class _Candidate(Exception):
    """Internal: why one trusted TSA did not verify the token."""

    def __init__(self, error: VerificationError) -> None:
        super().__init__(error.detail)
        self.error = error


def _try_authority(
    token: _Token,
    ca: CertificateAuthority,
    embedded_signer: Optional[x509.Certificate],
) -> tuple[x509.Certificate, list[x509.Certificate]]:
    """Return (signer, path) if `ca` vouches for the token at genTime; raise _Candidate otherwise."""
    ctx: dict[str, Any] = {"authority_uri": ca.uri, "gen_time": _iso(token.gen_time)}
    try:
        material = _material_for(ca)
    except ValueError as exc:
        raise _Candidate(_fail(Reason.TSA_UNTRUSTED, f"trusted TSA chain unusable: {exc}", **ctx)) from exc

    if embedded_signer is not None:
        signer = embedded_signer
        if material.leaf is not None and signer.public_bytes(_DER) != material.leaf_der:
            raise _Candidate(
                _fail(
                    Reason.TSA_UNTRUSTED,
                    "token signer is not the TSA leaf listed in the trusted root",
                    signer=_subject(signer),
                    trusted_leaf=_subject(material.leaf),
                    **ctx,
                )
            )
    else:
        if material.leaf is None:
            raise _Candidate(
                _fail(
                    Reason.TSA_UNTRUSTED,
                    "token embeds no certificate and the trusted root lists no TSA leaf",
                    **ctx,
                )
            )
        signer = material.leaf
        if not _matches_sid(signer, token) or not _ess_matches(token, material.leaf_der or b""):
            raise _Candidate(
                _fail(
                    Reason.TSA_UNTRUSTED,
                    "token's signer identifier does not name the trusted TSA leaf",
                    trusted_leaf=_subject(signer),
                    **ctx,
                )
            )
        problem = _verify_cms_signature(token, signer)
        if problem is not None:
            raise _Candidate(_fail(Reason.TSA_UNTRUSTED, f"trusted TSA leaf: {problem}", **ctx))

    leaf_problem = _leaf_profile_problem(signer)
    if leaf_problem is not None:
        raise _Candidate(_fail(Reason.TSA_UNTRUSTED, leaf_problem, signer=_subject(signer), **ctx))

    trusted_pool = list(material.intermediates)
    extra = [c for c in token.embedded if c != signer and c not in trusted_pool and c != material.anchor]
    path = _build_path(signer, trusted_pool + extra, material.anchor)
    if path is None:
        raise _Candidate(
            _fail(
                Reason.TSA_UNTRUSTED,
                "TSA signing certificate does not chain to this trusted TSA",
                signer=_subject(signer),
                signer_issuer=signer.issuer.rfc4514_string(),
                anchor=_subject(material.anchor),
                **ctx,
            )
        )
    for below, issuer in enumerate(path):
        problem = _issuer_profile_problem(issuer, below)
        if problem is not None:
            raise _Candidate(_fail(Reason.TSA_UNTRUSTED, problem, **ctx))

    # The token is cryptographically from this TSA; now the time windows (spec item 7).
    if not ca.valid_for.contains(token.gen_time):
        raise _Candidate(
            _fail(
                Reason.TSA_VALIDITY,
                "genTime is outside the trusted root's validFor for this TSA",
                valid_from=_iso(ca.valid_for.start),
                valid_until=_iso(ca.valid_for.end),
                **ctx,
            )
        )
    for cert in (signer, *path):
        if not (cert.not_valid_before_utc <= token.gen_time <= cert.not_valid_after_utc):
            raise _Candidate(
                _fail(
                    Reason.TSA_VALIDITY,
                    f"genTime is outside the validity of TSA certificate {_subject(cert)}",
                    certificate=_subject(cert),
                    valid_from=_iso(cert.not_valid_before_utc),
                    valid_until=_iso(cert.not_valid_after_utc),
                    **ctx,
                )
            )
    return signer, path


# Priority when no TSA verifies: a TSA that cryptographically matched but whose time window
# excluded genTime says more than "some other TSA did not match".
_PRIORITY = {Reason.TSA_VALIDITY: 2, Reason.TSA_UNTRUSTED: 1}


def verify_signed_timestamp(
    signed_timestamp_der: bytes,
    signature: bytes,
    authorities: Sequence[CertificateAuthority],
) -> VerifiedTimestamp:
    """Verify one RFC 3161 TimeStampResp over `signature` against the trusted TSAs (spec Step 2).

    Args:
        signed_timestamp_der: DER `TimeStampResp` from `rfc3161Timestamps[i].signedTimestamp`.
        signature: the raw signature bytes that were timestamped (message signature, or the
            DSSE `signatures[0].sig`), not the artifact.
        authorities: the trusted root's `timestampAuthorities`; the first that fully verifies wins.

    Returns:
        The genTime and the TSA that vouches for it.

    Raises:
        VerificationError: `tsa.invalid` (malformed, not granted, CMS attributes or signature
            wrong), `tsa.weak_hash` (imprint or CMS digest not SHA-256/384/512),
            `tsa.imprint_mismatch` (hashedMessage != Hash(signature)), `tsa.untrusted` (no
            trusted TSA signed it, or the TSA certificate profile is wrong), `tsa.not_valid_at_time`
            (genTime outside the TSA's validFor or its certificates' validity). All carry
            `check="tsa"` and a `context` with the values that disagreed.
    """
    if not isinstance(signed_timestamp_der, (bytes, bytearray, memoryview)):
        raise TypeError("signed_timestamp_der must be bytes")
    if not isinstance(signature, (bytes, bytearray, memoryview)):
        raise TypeError("signature must be bytes")
    token = _parse(bytes(signed_timestamp_der))

    if token.imprint_algorithm not in HASH_NAMES:
        raise _fail(
            Reason.TSA_WEAK_HASH,
            f"message imprint uses {token.imprint_algorithm}, not SHA-256/384/512",
            hash_algorithm=token.imprint_algorithm,
        )
    expected = hashlib.new(token.imprint_algorithm, bytes(signature)).digest()
    if expected != token.hashed_message:
        raise _fail(
            Reason.TSA_IMPRINT_MISMATCH,
            "timestamp imprint is not the hash of the signature",
            hash_algorithm=token.imprint_algorithm,
            hashed_message=token.hashed_message.hex(),
            expected=expected.hex(),
        )

    # An embedded signer certificate is checked once, independently of trust: if its own key
    # does not verify the signature, the token is broken whichever TSA we try.
    embedded_signer: Optional[x509.Certificate] = None
    for cert in token.embedded:
        if _matches_sid(cert, token):
            embedded_signer = cert
            break
    if embedded_signer is not None:
        problem = _verify_cms_signature(token, embedded_signer)
        if problem is not None:
            raise _fail(Reason.TSA_INVALID, problem, signer=_subject(embedded_signer))
        if not _ess_matches(token, embedded_signer.public_bytes(_DER)):
            raise _fail(
                Reason.TSA_INVALID,
                "signingCertificate attribute does not identify the embedded signer certificate",
                signer=_subject(embedded_signer),
            )

    best: Optional[VerificationError] = None
    for ca in authorities:
        try:
            signer, _path = _try_authority(token, ca, embedded_signer)
        except _Candidate as cand:
            err = cand.error
            if best is None or _PRIORITY.get(err.reason, 0) > _PRIORITY.get(best.reason, 0):
                best = err
            continue
        return VerifiedTimestamp(
            time=token.gen_time,
            authority_uri=ca.uri,
            authority_name=ca.subject_common_name or ca.subject_organization,
            hash_algorithm=token.imprint_algorithm,
            signer_subject=_subject(signer),
            authority_operator=ca.operator,
        )
    if best is None:
        best = _fail(
            Reason.TSA_UNTRUSTED,
            "the trusted root lists no timestamp authorities",
            gen_time=_iso(token.gen_time),
        )
    if len(authorities) > 1:
        best.context.setdefault("authorities_tried", len(authorities))
    raise best


def verify_timestamps(
    timestamps: Sequence[bytes],
    signature: bytes,
    authorities: Sequence[CertificateAuthority],
) -> tuple[list[VerifiedTimestamp], list[VerificationError]]:
    """Verify all of a bundle's RFC 3161 timestamps (spec Step 2 items 1, 9, 10).

    Returns:
        (verified, failures): at most one verified timestamp per TSA (keyed by the entry's
        `operator` when the trusted root gives one, else its `uri`; the first in bundle order
        is kept), and one error per token that failed, with `context["index"]` set. Failures
        are collected, not raised: thresholds decide (spec §4).

    Raises:
        InputError: `input.too_large` for more than `MAX_TIMESTAMPS` tokens.
        VerificationError: `tsa.duplicate_timestamp` for two byte-identical tokens.
    """
    if len(timestamps) > MAX_TIMESTAMPS:
        raise InputError(
            Reason.INPUT_TOO_LARGE,
            f"{len(timestamps)} RFC 3161 timestamps; at most {MAX_TIMESTAMPS} are accepted",
            context={"count": len(timestamps), "limit": MAX_TIMESTAMPS},
            check=_CHECK,
        )
    first_seen: dict[bytes, int] = {}
    for index, der in enumerate(timestamps):
        key = bytes(der)
        if key in first_seen:
            raise _fail(
                Reason.TSA_DUPLICATE,
                "the bundle carries the same RFC 3161 timestamp twice",
                index=index,
                first_index=first_seen[key],
            )
        first_seen[key] = index

    verified: list[VerifiedTimestamp] = []
    failures: list[VerificationError] = []
    counted: set[str] = set()
    for index, der in enumerate(timestamps):
        try:
            result = verify_signed_timestamp(der, signature, authorities)
        except VerificationError as err:
            err.context.setdefault("index", index)
            failures.append(err)
            continue
        tsa_key = result.authority_operator or result.authority_uri
        if tsa_key in counted:
            continue
        counted.add(tsa_key)
        verified.append(result)
    return verified, failures
