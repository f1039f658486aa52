"""verifier._internal.pki.profile: the CA checks and critical-extension sets shared by Fulcio and TSA paths."""

from __future__ import annotations

import datetime as dt
from typing import Optional

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ObjectIdentifier

from verifier._internal.pki.profile import (
    KNOWN_CRITICAL_EXTENSIONS,
    TSA_KNOWN_CRITICAL_EXTENSIONS,
    ca_problem,
    is_ca,
    unknown_critical_extensions,
)

KEY = ec.generate_private_key(ec.SECP256R1())
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
PRIVATE_OID = ObjectIdentifier("1.3.6.1.4.1.99999.1")


def _cert(
    *,
    ca: Optional[bool] = True,
    path_length: Optional[int] = None,
    key_usage: Optional[bool] = True,
    extra_critical: Optional[x509.ExtensionType] = None,
) -> x509.Certificate:
    """A self-signed certificate with the CA-relevant extensions chosen by the caller."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ca")])
    b = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(KEY.public_key())
        .serial_number(1)
        .not_valid_before(T0)
        .not_valid_after(T0 + dt.timedelta(days=1))
    )
    if ca is not None:
        b = b.add_extension(x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), critical=True)
    if key_usage is not None:
        b = b.add_extension(
            x509.KeyUsage(False, False, False, False, False, key_usage, key_usage, False, False), critical=True
        )
    if extra_critical is not None:
        b = b.add_extension(extra_critical, critical=True)
    return b.sign(KEY, hashes.SHA256())


def test_a_proper_ca_has_no_problem_at_any_allowed_depth() -> None:
    cert = _cert(path_length=1)
    assert is_ca(cert)
    assert ca_problem(cert, 0) is None
    assert ca_problem(cert, 1) is None


@pytest.mark.parametrize(
    ("cert_options", "expected"),
    [
        ({"ca": False}, "is not a CA (basicConstraints CA=false)"),
        ({"ca": None}, "is not a CA (no basicConstraints)"),
        ({"key_usage": False}, "keyUsage lacks keyCertSign"),
        ({"key_usage": None}, "has no keyUsage"),
    ],
    ids=["not-a-ca", "no-basic-constraints", "no-key-cert-sign", "no-key-usage"],
)
def test_ca_rejections(cert_options: dict[str, object], expected: str) -> None:
    problem = ca_problem(_cert(**cert_options), 0)  # type: ignore[arg-type]
    assert problem is not None and expected in problem and "CN=ca" in problem


def test_path_length_exceeded() -> None:
    problem = ca_problem(_cert(path_length=0), 1)
    assert problem is not None and "pathLenConstraint 0 exceeded" in problem


def test_key_usage_may_be_optional_but_never_without_key_cert_sign() -> None:
    assert ca_problem(_cert(key_usage=None), 0, key_usage_required=False) is None
    assert "keyCertSign" in (ca_problem(_cert(key_usage=False), 0, key_usage_required=False) or "")


def test_unknown_critical_extension() -> None:
    cert = _cert(extra_critical=x509.UnrecognizedExtension(PRIVATE_OID, b"\x05\x00"))
    assert unknown_critical_extensions(cert) == [PRIVATE_OID.dotted_string]
    problem = ca_problem(cert, 0)
    assert problem is not None and "unknown critical extensions: " + PRIVATE_OID.dotted_string in problem


def test_critical_key_identifiers_are_known_to_the_tsa_profile_only() -> None:
    ski = x509.SubjectKeyIdentifier.from_public_key(KEY.public_key())
    cert = _cert(extra_critical=ski)
    assert unknown_critical_extensions(cert) == [ski.oid.dotted_string]
    assert unknown_critical_extensions(cert, TSA_KNOWN_CRITICAL_EXTENSIONS) == []
    assert KNOWN_CRITICAL_EXTENSIONS < TSA_KNOWN_CRITICAL_EXTENSIONS
    assert ca_problem(cert, 0, known_critical=TSA_KNOWN_CRITICAL_EXTENSIONS) is None
