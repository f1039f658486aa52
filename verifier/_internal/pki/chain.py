"""Fulcio certificate path validation at a verified time.

The path is never built from the bundle: a leaf must be issued directly by a certificate of a
trusted-root CA chain (normally the first), and the path is that certificate up to the anchor. Each trusted chain (signatures, and the CA profile of
`pki/profile.py`: basicConstraints, keyUsage keyCertSign, path lengths, no unknown critical
extensions) is checked once per process and cached, so verifying many
bundles costs one signature check per leaf; validity windows are checked at every verified
time. cryptography's `x509.verification` re-verifies the whole chain on every call (about
half of a warm verification) and its client profile wants clientAuth EKUs on Fulcio's CAs,
which is why the checks are spelled out here. The leaf profile (digitalSignature,
codeSigning, not a CA, no unknown critical extensions) is checked in `check_leaf_profile`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Optional

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.x509.oid import ExtendedKeyUsageOID

from verifier._internal.pki.profile import (
    MALFORMED_EXTENSION_ERRORS,
    ca_problem,
    is_ca,
    issuer,
    subject,
    unknown_critical_extensions,
)
from verifier._internal.record import Record
from verifier._internal.timefmt import iso
from verifier._internal.trustroot.model import CertificateAuthority
from verifier.errors import Reason, VerificationError

_CHECK = "certificate.chain"


class _CaChain(Record):
    """A trusted-root CA chain after its once-per-process checks."""

    certs: tuple[x509.Certificate, ...]
    """Issuing CA first, trust anchor last."""
    problem: Optional[str]
    """Why this trusted chain cannot issue anything, or None."""


@lru_cache(maxsize=64)
def _checked_ca_chain(chain_der: tuple[bytes, ...]) -> _CaChain:
    """Check a trusted-root CA chain once per process: CA profile and each link signed by the next.

    This is the "verified intermediate link" every bundle reuses; only the leaf's own link and
    the validity windows at each time are checked per bundle.
    """
    certs = tuple(x509.load_der_x509_certificate(der) for der in chain_der)
    for depth, cert in enumerate(certs):
        # Fulcio CAs must carry keyUsage (RFC 5280 §4.2.1.3 for CA certificates); the TSA
        # profile, which only checks it when present, passes key_usage_required=False.
        problem = ca_problem(cert, depth, key_usage_required=True)
        if problem is None:
            problem = _link_problem(cert, certs[depth + 1] if depth + 1 < len(certs) else cert)
        if problem is not None:
            return _CaChain(certs, problem)
    return _CaChain(certs, None)


def _link_problem(cert: x509.Certificate, issuer: x509.Certificate) -> Optional[str]:
    """Why `issuer` did not sign `cert` (the anchor is its own issuer), else None."""
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm) as exc:
        return f"{subject(cert)} is not signed by {subject(issuer)} ({exc or type(exc).__name__})"
    return None


def check_leaf_profile(leaf: x509.Certificate) -> None:
    """Fulcio leaf rules (docs/verification.md §7.2).

    Raises:
        VerificationError: cert.key_usage, cert.ext_key_usage, cert.chain_invalid.
    """
    try:
        exts = leaf.extensions
    except MALFORMED_EXTENSION_ERRORS as exc:  # parsed lazily (fuzz: a malformed or duplicated extension)
        raise VerificationError(
            Reason.CERT_CHAIN_INVALID, f"signing certificate has malformed extensions ({exc})", check=_CHECK
        ) from exc
    if is_ca(leaf):
        raise VerificationError(Reason.CERT_CHAIN_INVALID, "signing certificate is a CA certificate", check=_CHECK)
    try:
        ku = exts.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        ku = None
    if ku is None or not ku.digital_signature:
        raise VerificationError(
            Reason.CERT_KEY_USAGE, "signing certificate lacks the digitalSignature key usage", check="certificate.profile"
        )
    try:
        eku = exts.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        eku = None
    if eku is None or ExtendedKeyUsageOID.CODE_SIGNING not in eku:
        raise VerificationError(
            Reason.CERT_EXT_KEY_USAGE, "signing certificate lacks the codeSigning extended key usage",
            check="certificate.profile",
        )
    unknown = unknown_critical_extensions(leaf)
    if unknown:
        raise VerificationError(
            Reason.CERT_CHAIN_INVALID,
            f"signing certificate has an unknown critical extension {unknown[0]}",
            check="certificate.profile",
        )


def verify_leaf_validity(leaf: x509.Certificate, times: Sequence[tuple[datetime, str, str]]) -> None:
    """The signing certificate is valid at every verified time (docs/verification.md §7.1).

    `times` holds (time, kind, source) for each verified time.

    Raises:
        VerificationError: time.outside_certificate_validity.
    """
    not_before, not_after = leaf.not_valid_before_utc, leaf.not_valid_after_utc
    for when, kind, source in times:
        if not (not_before <= when <= not_after):
            raise VerificationError(
                Reason.TIME_OUTSIDE_CERT_VALIDITY,
                f"the signing certificate was not valid at the {kind} time {iso(when)}",
                context={"time": iso(when), "source": source, "certificate_valid": f"{iso(not_before)} .. {iso(not_after)}"},
                check="certificate.validity",
            )


def _issuer_index(leaf: x509.Certificate, chain: _CaChain) -> tuple[Optional[int], str]:
    """(position in the chain of the certificate that signed `leaf`, None if none did; why not).

    The issuing CA (first) is tried first. A later certificate of the same trusted chain may
    have issued the leaf directly (GitHub's release attestations are signed under its
    `Fulcio Intermediate l1`, the second certificate): the path is then that certificate up
    to the anchor, as RFC 5280 path building over the chain's intermediates finds it
    (sigstore-go, sigstore-python).
    """
    first = ""
    for index, cert in enumerate(chain.certs):
        try:
            leaf.verify_directly_issued_by(cert)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm) as exc:
            if index == 0:
                first = f"not issued by {subject(cert)} ({exc or 'bad signature'})"
            continue
        return index, ""
    return None, first


def _issue_problem(leaf: x509.Certificate, chain: _CaChain, at: datetime) -> tuple[Optional[str], int]:
    """(why this checked trusted chain did not issue `leaf` validly at `at`, else None; the
    position of the leaf's issuer in the chain)."""
    if chain.problem is not None:
        return chain.problem, 0
    index, why = _issuer_index(leaf, chain)
    if index is None:
        return why, 0
    expired = [c for c in chain.certs[index:] if not (c.not_valid_before_utc <= at <= c.not_valid_after_utc)]
    if expired:
        return f"{subject(expired[0])} not valid at {iso(at)}", index
    return None, index


def verify_chain_at(
    leaf: x509.Certificate, authorities: Sequence[CertificateAuthority], at: datetime
) -> tuple[x509.Certificate, ...]:
    """Validate leaf -> trusted intermediates -> trusted anchor at time `at`.

    Only trusted-root certificates are used; certificates shipped in a bundle never become
    anchors or intermediates (docs/verification.md §7.3). The leaf's own window is checked
    once, for every verified time, by `verify_leaf_validity`, which the caller runs first.

    Returns:
        The validated chain, leaf first.

    Raises:
        VerificationError: cert.chain_invalid.
    """
    candidates = [ca for ca in authorities if ca.valid_for.contains(at)]
    failures: list[str] = []
    for ca in candidates:
        chain = _checked_ca_chain(ca.chain_der)
        problem, index = _issue_problem(leaf, chain, at)
        if problem is None:
            return (leaf, *chain.certs[index:])
        failures.append(f"{ca.subject_common_name or ca.uri}: {problem}")
    raise VerificationError(
        Reason.CERT_CHAIN_INVALID,
        "signing certificate does not chain to a trusted Fulcio CA at the verified time",
        context={
            "time": iso(at),
            "certificate_valid": f"{iso(leaf.not_valid_before_utc)} .. {iso(leaf.not_valid_after_utc)}",
            "issuer": issuer(leaf),
            "authorities_valid_at_time": len(candidates),
            "failures": failures[:4],
        },
        check=_CHECK,
    )
