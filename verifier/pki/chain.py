"""Fulcio certificate path validation at a verified time. The only user of x509.verification.

cryptography's verifier does RFC 5280 path building (signatures, name chaining, validity at
`t`, basicConstraints and keyUsage on CAs). Its client profile wants clientAuth EKUs on the CA
chain, which Fulcio's do not carry, so the CA EKU rule is relaxed; the leaf profile
(digitalSignature, codeSigning, not a CA, no unknown critical extensions) is checked
explicitly here, where a failure can name its reason.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Sequence

from cryptography import x509
from cryptography.x509 import verification as xv
from cryptography.x509.oid import ExtendedKeyUsageOID

from verifier._time import iso
from verifier.errors import Reason, VerificationError
from verifier.trustroot.model import CertificateAuthority

_CHECK = "certificate.chain"
_KNOWN_CRITICAL = {
    x509.SubjectAlternativeName.oid,
    x509.KeyUsage.oid,
    x509.ExtendedKeyUsage.oid,
    x509.BasicConstraints.oid,
}


@lru_cache(maxsize=32)
def _store(anchor_der: bytes) -> xv.Store:
    return xv.Store([x509.load_der_x509_certificate(anchor_der)])


@lru_cache(maxsize=1)
def _policies() -> tuple[xv.ExtensionPolicy, xv.ExtensionPolicy]:
    ca = xv.ExtensionPolicy.webpki_defaults_ca().may_be_present(
        x509.ExtendedKeyUsage, xv.Criticality.AGNOSTIC, None
    )
    return ca, xv.ExtensionPolicy.permit_all()


def check_leaf_profile(leaf: x509.Certificate) -> None:
    """Fulcio leaf rules (spec Step 4.3).

    Raises:
        VerificationError: cert.key_usage, cert.ext_key_usage, cert.chain_invalid.
    """
    exts = leaf.extensions
    try:
        bc = exts.get_extension_for_class(x509.BasicConstraints).value
        if bc.ca:
            raise VerificationError(Reason.CERT_CHAIN_INVALID, "signing certificate is a CA certificate", check=_CHECK)
    except x509.ExtensionNotFound:
        pass
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
    for ext in exts:
        if ext.critical and ext.oid not in _KNOWN_CRITICAL:
            raise VerificationError(
                Reason.CERT_CHAIN_INVALID,
                f"signing certificate has an unknown critical extension {ext.oid.dotted_string}",
                check="certificate.profile",
            )


def verify_chain_at(
    leaf: x509.Certificate, authorities: Sequence[CertificateAuthority], at: datetime
) -> tuple[x509.Certificate, ...]:
    """Validate leaf -> trusted intermediates -> trusted anchor at time `at`.

    Only trusted-root certificates are used; certificates shipped in a bundle never become
    anchors or intermediates (spec §1.4).

    Returns:
        The validated chain, leaf first.

    Raises:
        VerificationError: cert.chain_invalid.
    """
    candidates = [ca for ca in authorities if ca.valid_for.contains(at)]
    failures: list[str] = []
    ca_policy, ee_policy = _policies()
    for ca in candidates:
        builder = (
            xv.PolicyBuilder()
            .store(_store(ca.chain_der[-1]))
            .time(at)
            .extension_policies(ca_policy=ca_policy, ee_policy=ee_policy)
        )
        try:
            verified = builder.build_client_verifier().verify(leaf, list(ca.chain[:-1]))
        except xv.VerificationError as exc:
            failures.append(f"{ca.subject_common_name or ca.uri}: {exc}")
            continue
        return tuple(verified.chain)
    raise VerificationError(
        Reason.CERT_CHAIN_INVALID,
        "signing certificate does not chain to a trusted Fulcio CA at the verified time",
        context={
            "time": iso(at),
            "certificate_valid": f"{iso(leaf.not_valid_before_utc)} .. {iso(leaf.not_valid_after_utc)}",
            "issuer": leaf.issuer.rfc4514_string(),
            "authorities_valid_at_time": len(candidates),
            "failures": failures[:4],
        },
        check=_CHECK,
    )
