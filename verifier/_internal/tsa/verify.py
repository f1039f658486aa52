"""RFC 3161 signed timestamps (spec §3 Step 2): imprint, CMS signature, TSA chain at genTime.

Owns: turning one `TimeStampResp` DER blob plus the bundle's raw signature bytes into a
`VerifiedTimestamp`, or a `VerificationError` whose reason and context say what disagreed.
Must not: do I/O, read the clock (only genTime is used), or know about bundles beyond the
signature bytes it is given.

The structure is read by `tsa/parse.py` (asn1crypto, imported lazily there: it is only needed
when a bundle carries timestamps); signatures and certificate paths go through `cryptography`,
and the CA checks shared with the Fulcio path come from `pki/profile.py`.

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
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Optional

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID

from verifier._internal.algorithms import HASH_NAMES, hash_algorithm
from verifier._internal.keyio import Encoding
from verifier._internal.limits import DEFAULT_LIMITS
from verifier._internal.pki.profile import (
    MALFORMED_EXTENSION_ERRORS,
    TSA_KNOWN_CRITICAL_EXTENSIONS,
    ca_problem,
    is_ca,
    subject,
    unknown_critical_extensions,
)
from verifier._internal.record import Record
from verifier._internal.timefmt import iso
from verifier._internal.tsa.parse import CHECK, TimestampToken, matches_signer_id, parse_response, tsa_error
from verifier.errors import InputError, Reason, VerificationError

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

_DER = Encoding.DER


class VerifiedTimestamp(Record):
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


def _iso_or_none(when: Optional[datetime]) -> Optional[str]:
    """`iso(when)`, keeping None for an open-ended validity window."""
    return None if when is None else iso(when)


# --------------------------------------------------------------------------- imprint


def _check_imprint(token: TimestampToken, signature: bytes) -> None:
    """The token's message imprint must be a SHA-2 hash of the timestamped signature bytes.

    Raises:
        VerificationError: `tsa.weak_hash`, `tsa.imprint_mismatch`.
    """
    if token.imprint_algorithm not in HASH_NAMES:
        raise tsa_error(
            Reason.TSA_WEAK_HASH,
            f"message imprint uses {token.imprint_algorithm}, not SHA-256/384/512",
            hash_algorithm=token.imprint_algorithm,
        )
    expected = hashlib.new(token.imprint_algorithm, signature).digest()
    if expected != token.hashed_message:
        raise tsa_error(
            Reason.TSA_IMPRINT_MISMATCH,
            "timestamp imprint is not the hash of the signature",
            hash_algorithm=token.imprint_algorithm,
            hashed_message=token.hashed_message.hex(),
            expected=expected.hex(),
        )


# --------------------------------------------------------------------------- CMS signature


def _verify_ed25519(token: TimestampToken, key: PublicKeyTypes) -> Optional[str]:
    """Ed25519 over the signed attributes; None when it verifies."""
    if not isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519 signature but signer key is not Ed25519"
    key.verify(token.signature, token.signed_attrs)
    return None


def _verify_ecdsa(token: TimestampToken, key: PublicKeyTypes) -> Optional[str]:
    """ECDSA with the digest algorithm over the signed attributes; None when it verifies."""
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return "ECDSA signature but signer key is not EC"
    key.verify(token.signature, token.signed_attrs, ec.ECDSA(hash_algorithm(token.digest_algorithm)))
    return None


def _verify_pkcs1v15(token: TimestampToken, key: PublicKeyTypes) -> Optional[str]:
    """RSA PKCS#1 v1.5 over the signed attributes; None when it verifies."""
    if not isinstance(key, rsa.RSAPublicKey):
        return "RSA signature but signer key is not RSA"
    key.verify(token.signature, token.signed_attrs, padding.PKCS1v15(), hash_algorithm(token.digest_algorithm))
    return None


def _verify_pss(token: TimestampToken, key: PublicKeyTypes) -> Optional[str]:
    """RSASSA-PSS with the token's MGF1 hash and salt length; None when it verifies."""
    if not isinstance(key, rsa.RSAPublicKey):
        return "RSA-PSS signature but signer key is not RSA"
    if token.pss_mgf_hash not in HASH_NAMES or token.pss_salt_length is None:
        return "RSA-PSS parameters unsupported"
    pad = padding.PSS(mgf=padding.MGF1(hash_algorithm(token.pss_mgf_hash)), salt_length=token.pss_salt_length)
    key.verify(token.signature, token.signed_attrs, pad, hash_algorithm(token.digest_algorithm))
    return None


_VERIFIERS: dict[str, Callable[[TimestampToken, PublicKeyTypes], Optional[str]]] = {
    "ed25519": _verify_ed25519,
    "ecdsa": _verify_ecdsa,
    "rsassa_pkcs1v15": _verify_pkcs1v15,
    "rsassa_pss": _verify_pss,
}
"""One per signature algorithm `tsa/parse.py` lets through."""


def _verify_cms_signature(token: TimestampToken, cert: x509.Certificate) -> Optional[str]:
    """None if `cert`'s key verifies the SignerInfo signature, else a description."""
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        return f"signer public key unusable: {exc}"
    verifier = _VERIFIERS.get(token.signature_algo)
    if verifier is None:  # pragma: no cover - parse_response only lets the four above through
        return f"unsupported signature algorithm {token.signature_algo}"
    try:
        return verifier(token, key)
    except InvalidSignature:
        return "CMS signature does not verify with the signer certificate's key"
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        return f"CMS signature could not be checked: {exc}"


def _ess_matches(token: TimestampToken, cert_der: bytes) -> bool:
    """signingCertificate(V2) ESSCertID hashes, when present, must name this certificate."""
    for name, digest in token.ess_cert_ids:
        try:
            if hashlib.new(name, cert_der).digest() != digest:
                return False
        except (ValueError, TypeError):
            return False
    return True


def _embedded_signer(token: TimestampToken) -> Optional[x509.Certificate]:
    """The embedded certificate the SignerInfo names, checked against the token; None if absent.

    It is checked once, independently of trust: if its own key does not verify the signature,
    the token is broken whichever TSA is tried.

    Raises:
        VerificationError: `tsa.invalid`.
    """
    signer = next((cert for cert in token.embedded if matches_signer_id(cert, token)), None)
    if signer is None:
        return None
    problem = _verify_cms_signature(token, signer)
    if problem is not None:
        raise tsa_error(Reason.TSA_INVALID, problem, signer=subject(signer))
    if not _ess_matches(token, signer.public_bytes(_DER)):
        raise tsa_error(
            Reason.TSA_INVALID,
            "signingCertificate attribute does not identify the embedded signer certificate",
            signer=subject(signer),
        )
    return signer


# --------------------------------------------------------------------------- certificate profile


def _leaf_profile_problem(cert: x509.Certificate) -> Optional[str]:
    """Spec Step 2 item 6 for the TSA signing certificate; None when it conforms."""
    try:
        return _leaf_profile_unchecked(cert)
    except MALFORMED_EXTENSION_ERRORS as exc:
        return f"TSA signing certificate has malformed extensions: {exc}"


def _leaf_profile_unchecked(cert: x509.Certificate) -> Optional[str]:
    """`_leaf_profile_problem` without the mapping of extension decoding errors."""
    if is_ca(cert):
        return "TSA signing certificate is a CA (basicConstraints CA=true)"
    try:
        eku_ext = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        return "TSA signing certificate has no extendedKeyUsage extension"
    if not eku_ext.critical:
        return "TSA signing certificate's extendedKeyUsage is not critical"
    ekus = list(eku_ext.value)
    if ekus != [ExtendedKeyUsageOID.TIME_STAMPING]:
        return "TSA signing certificate's extendedKeyUsage must be exactly timeStamping, is " + ", ".join(
            o.dotted_string for o in ekus
        )
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        ku = None
    if ku is not None and not (ku.digital_signature or ku.content_commitment):
        return "TSA signing certificate's keyUsage allows neither digitalSignature nor nonRepudiation"
    unknown = unknown_critical_extensions(cert, TSA_KNOWN_CRITICAL_EXTENSIONS)
    if unknown:
        return "TSA signing certificate has unknown critical extensions: " + ", ".join(unknown)
    return None


def _issuer_profile_problem(cert: x509.Certificate, below: int) -> Optional[str]:
    """Checks on a certificate used as an issuer; `below` = CA certificates under it in the path."""
    # keyUsage is checked only when present: the spec's TSA profile does not require it on
    # issuers, unlike the Fulcio path.
    problem = ca_problem(cert, below, key_usage_required=False, known_critical=TSA_KNOWN_CRITICAL_EXTENSIONS)
    if problem is None:
        problem = _issuer_eku_problem(cert)
    return None if problem is None else f"issuer {problem}"


def _issuer_eku_problem(cert: x509.Certificate) -> Optional[str]:
    """An issuer's extendedKeyUsage, when present, must allow timeStamping or anyExtendedKeyUsage."""
    try:
        ekus = list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return None
    except MALFORMED_EXTENSION_ERRORS as exc:
        return f"{subject(cert)} has malformed extensions: {exc}"
    if ExtendedKeyUsageOID.TIME_STAMPING in ekus or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in ekus:
        return None
    return f"{subject(cert)} extendedKeyUsage allows neither timeStamping nor anyExtendedKeyUsage"


# --------------------------------------------------------------------------- trusted material


@lru_cache(maxsize=512)
def _issued_by(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Issuer name matches and issuer's key verifies child's signature. Cached: trusted pairs recur."""
    try:
        child.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


class _TsaMaterial(Record):
    """Parsed, checked form of one trusted-root TSA chain. Built once per chain DER."""

    leaf: Optional[x509.Certificate]
    leaf_der: Optional[bytes]
    intermediates: tuple[x509.Certificate, ...]
    anchor: x509.Certificate
    chain: tuple[x509.Certificate, ...]


@lru_cache(maxsize=64)
def _material(chain_der: tuple[bytes, ...]) -> _TsaMaterial:
    """Split a trusted TSA chain into optional leaf, intermediates and anchor (cached per DER).

    Raises:
        ValueError: the chain is empty or a certificate cannot be loaded.
    """
    certs = tuple(x509.load_der_x509_certificate(d) for d in chain_der)
    if not certs:
        raise ValueError("empty TSA certificate chain")
    leaf: Optional[x509.Certificate] = None
    rest = certs
    if len(certs) > 1 and not is_ca(certs[0]):
        leaf, rest = certs[0], certs[1:]
    return _TsaMaterial(
        leaf=leaf,
        leaf_der=chain_der[0] if leaf is not None else None,
        intermediates=rest[:-1],
        anchor=rest[-1],
        chain=certs,
    )


# --------------------------------------------------------------------------- one authority


class _Candidate(Exception):
    """Internal: why one trusted TSA did not verify the token."""

    def __init__(self, error: VerificationError) -> None:
        """Wrap the error that would be reported if no other TSA verifies the token."""
        super().__init__(error.detail)
        self.error = error


def _untrusted(detail: str, **context: Any) -> _Candidate:
    """A `_Candidate` carrying a `tsa.untrusted` error."""
    return _Candidate(tsa_error(Reason.TSA_UNTRUSTED, detail, **context))


def _signer_for(
    token: TimestampToken,
    material: _TsaMaterial,
    embedded_signer: Optional[x509.Certificate],
    ctx: dict[str, Any],
) -> x509.Certificate:
    """The certificate whose key signed the token, as this TSA would vouch for it.

    Raises:
        _Candidate: the signer is not this TSA's pinned leaf, or the leaf did not sign.
    """
    if embedded_signer is not None:
        if material.leaf is not None and embedded_signer.public_bytes(_DER) != material.leaf_der:
            raise _untrusted(
                "token signer is not the TSA leaf listed in the trusted root",
                signer=subject(embedded_signer),
                trusted_leaf=subject(material.leaf),
                **ctx,
            )
        return embedded_signer
    if material.leaf is None:
        raise _untrusted("token embeds no certificate and the trusted root lists no TSA leaf", **ctx)
    signer = material.leaf
    if not matches_signer_id(signer, token) or not _ess_matches(token, material.leaf_der or b""):
        raise _untrusted(
            "token's signer identifier does not name the trusted TSA leaf", trusted_leaf=subject(signer), **ctx
        )
    problem = _verify_cms_signature(token, signer)
    if problem is not None:
        raise _untrusted(f"trusted TSA leaf: {problem}", **ctx)
    return signer


def _build_path(
    signer: x509.Certificate, pool: Sequence[x509.Certificate], anchor: x509.Certificate
) -> Optional[list[x509.Certificate]]:
    """Depth-first: signer → pool certificates → anchor, each signed by the next. Path excludes signer."""
    max_between = DEFAULT_LIMITS.max_tsa_path_length

    def walk(current: x509.Certificate, used: tuple[x509.Certificate, ...]) -> Optional[list[x509.Certificate]]:
        """Extend the path from `current`; `used` are the pool certificates already on it."""
        if _issued_by(current, anchor):
            return [*used, anchor]
        if len(used) >= max_between:
            return None
        for cand in pool:
            if cand in used or cand in (current, anchor, signer):
                continue
            if _issued_by(current, cand):
                found = walk(cand, (*used, cand))
                if found is not None:
                    return found
        return None

    if signer == anchor:
        return None  # a trust anchor cannot sign timestamps itself (and would be a CA leaf)
    return walk(signer, ())


def _trusted_path(
    token: TimestampToken, signer: x509.Certificate, material: _TsaMaterial, ctx: dict[str, Any]
) -> list[x509.Certificate]:
    """The issuers from `signer` up to this TSA's anchor, each with a valid CA profile.

    Trusted intermediates come first; certificates embedded in the token may complete the path
    but never become anchors.

    Raises:
        _Candidate: no path, or an issuer on it fails the CA profile.
    """
    trusted_pool = list(material.intermediates)
    extra = [c for c in token.embedded if c != signer and c not in trusted_pool and c != material.anchor]
    path = _build_path(signer, trusted_pool + extra, material.anchor)
    if path is None:
        raise _untrusted(
            "TSA signing certificate does not chain to this trusted TSA",
            signer=subject(signer),
            signer_issuer=signer.issuer.rfc4514_string(),
            anchor=subject(material.anchor),
            **ctx,
        )
    for below, issuer in enumerate(path):
        problem = _issuer_profile_problem(issuer, below)
        if problem is not None:
            raise _untrusted(problem, **ctx)
    return path


def _check_times(
    token: TimestampToken,
    ca: CertificateAuthority,
    certs: Sequence[x509.Certificate],
    ctx: dict[str, Any],
) -> None:
    """genTime must lie in the TSA entry's validFor and in every certificate's validity (item 7).

    Raises:
        _Candidate: carrying `tsa.not_valid_at_time`.
    """
    if not ca.valid_for.contains(token.gen_time):
        raise _Candidate(
            tsa_error(
                Reason.TSA_VALIDITY,
                "genTime is outside the trusted root's validFor for this TSA",
                valid_from=iso(ca.valid_for.start),
                valid_until=_iso_or_none(ca.valid_for.end),
                **ctx,
            )
        )
    for cert in certs:
        if not (cert.not_valid_before_utc <= token.gen_time <= cert.not_valid_after_utc):
            raise _Candidate(
                tsa_error(
                    Reason.TSA_VALIDITY,
                    f"genTime is outside the validity of TSA certificate {subject(cert)}",
                    certificate=subject(cert),
                    valid_from=iso(cert.not_valid_before_utc),
                    valid_until=iso(cert.not_valid_after_utc),
                    **ctx,
                )
            )


def _try_authority(
    token: TimestampToken,
    ca: CertificateAuthority,
    embedded_signer: Optional[x509.Certificate],
) -> x509.Certificate:
    """The signer if `ca` vouches for the token at genTime.

    Raises:
        _Candidate: why this TSA does not.
    """
    ctx: dict[str, Any] = {"authority_uri": ca.uri, "gen_time": iso(token.gen_time)}
    try:
        material = _material(tuple(ca.chain_der))
    except ValueError as exc:
        raise _untrusted(f"trusted TSA chain unusable: {exc}", **ctx) from exc
    signer = _signer_for(token, material, embedded_signer, ctx)
    leaf_problem = _leaf_profile_problem(signer)
    if leaf_problem is not None:
        raise _untrusted(leaf_problem, signer=subject(signer), **ctx)
    path = _trusted_path(token, signer, material, ctx)
    # The token is cryptographically from this TSA; only now do the time windows decide.
    _check_times(token, ca, (signer, *path), ctx)
    return signer


# --------------------------------------------------------------------------- public


# Priority when no TSA verifies: a TSA that cryptographically matched but whose time window
# excluded genTime says more than "some other TSA did not match".
_PRIORITY = {Reason.TSA_VALIDITY: 2, Reason.TSA_UNTRUSTED: 1}


def _first_vouching_authority(
    token: TimestampToken,
    authorities: Sequence[CertificateAuthority],
    embedded_signer: Optional[x509.Certificate],
) -> VerifiedTimestamp:
    """The first trusted TSA that vouches for the token.

    Raises:
        VerificationError: the most telling `tsa.untrusted` / `tsa.not_valid_at_time` otherwise.
    """
    best: Optional[VerificationError] = None
    for ca in authorities:
        try:
            signer = _try_authority(token, ca, embedded_signer)
        except _Candidate as cand:
            if best is None or _PRIORITY.get(cand.error.reason, 0) > _PRIORITY.get(best.reason, 0):
                best = cand.error
            continue
        return VerifiedTimestamp(
            time=token.gen_time,
            authority_uri=ca.uri,
            authority_name=ca.subject_common_name or ca.subject_organization,
            hash_algorithm=token.imprint_algorithm,
            signer_subject=subject(signer),
            authority_operator=ca.operator,
        )
    if best is None:
        best = tsa_error(
            Reason.TSA_UNTRUSTED, "the trusted root lists no timestamp authorities", gen_time=iso(token.gen_time)
        )
    if len(authorities) > 1:
        best.context.setdefault("authorities_tried", len(authorities))
    raise best


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
    token = parse_response(bytes(signed_timestamp_der))
    _check_imprint(token, bytes(signature))
    return _first_vouching_authority(token, authorities, _embedded_signer(token))


def _reject_duplicates(timestamps: Sequence[bytes]) -> None:
    """Two byte-identical tokens are one TSA's evidence counted twice: refuse the bundle.

    Raises:
        VerificationError: `tsa.duplicate_timestamp`.
    """
    first_seen: dict[bytes, int] = {}
    for index, der in enumerate(timestamps):
        key = bytes(der)
        if key in first_seen:
            raise tsa_error(
                Reason.TSA_DUPLICATE,
                "the bundle carries the same RFC 3161 timestamp twice",
                index=index,
                first_index=first_seen[key],
            )
        first_seen[key] = index


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
            check=CHECK,
        )
    _reject_duplicates(timestamps)
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
        if tsa_key not in counted:
            counted.add(tsa_key)
            verified.append(result)
    return verified, failures
