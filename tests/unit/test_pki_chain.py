"""Fulcio path validation: trusted CA chains checked once, the leaf link at every time."""

from __future__ import annotations

import datetime as dt
from typing import Optional

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from verifier._internal.pki.chain import check_leaf_profile, verify_chain_at
from verifier._internal.trustroot.model import CertificateAuthority, ValidityPeriod
from verifier.errors import Reason, VerificationError

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 1, 1, tzinfo=UTC)
AT = T0 + dt.timedelta(days=10)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: Optional[tuple[str, ec.EllipticCurvePrivateKey]] = None,
    *,
    ca: Optional[bool] = True,
    path_length: Optional[int] = None,
    cert_sign: bool = True,
    leaf: bool = False,
    days: int = 365,
) -> x509.Certificate:
    issuer_name, issuer_key = issuer or (subject, key)
    b = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]) if leaf else _name(subject))
        .issuer_name(_name(issuer_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(T0)
        .not_valid_after(T0 + dt.timedelta(days=days))
    )
    if leaf:
        b = b.add_extension(x509.SubjectAlternativeName([x509.RFC822Name("a@example.com")]), critical=True)
        b = b.add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
    else:
        if ca is not None:
            b = b.add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
        b = b.add_extension(
            x509.KeyUsage(False, False, False, False, False, cert_sign, cert_sign, False, False), critical=True
        )
    return b.sign(issuer_key, hashes.SHA256())


ROOT_KEY, INT_KEY, LEAF_KEY = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))


def _ca(*certs: x509.Certificate, start: dt.datetime = T0) -> CertificateAuthority:
    ders = tuple(c.public_bytes(serialization.Encoding.DER) for c in certs)
    return CertificateAuthority("https://ca.test", "ca", "test", tuple(certs), ders, ValidityPeriod(start, None), None)


def _good() -> tuple[x509.Certificate, CertificateAuthority]:
    root = _cert("root", ROOT_KEY, path_length=1)
    inter = _cert("int", INT_KEY, ("root", ROOT_KEY), path_length=0)
    leaf = _cert("leaf", LEAF_KEY, ("int", INT_KEY), leaf=True, days=30)
    return leaf, _ca(inter, root)


def test_good_chain() -> None:
    leaf, ca = _good()
    chain = verify_chain_at(leaf, [ca], AT)
    assert [c.subject for c in chain[1:]] == [_name("int"), _name("root")]
    check_leaf_profile(leaf)


def _rejects(leaf: x509.Certificate, ca: CertificateAuthority, at: dt.datetime = AT) -> None:
    with pytest.raises(VerificationError) as info:
        verify_chain_at(leaf, [ca], at)
    assert info.value.reason is Reason.CERT_CHAIN_INVALID


def test_untrusted_issuer() -> None:
    leaf, ca = _good()
    other = ec.generate_private_key(ec.SECP256R1())
    forged = _cert("leaf", LEAF_KEY, ("int", other), leaf=True)  # same issuer name, other key
    _rejects(forged, ca)


def test_leaf_of_the_root_takes_the_path_leaf_to_root() -> None:
    """RFC 5280 path building over the trusted chain (as sigstore-go and sigstore-python do):
    a leaf the anchor issued directly chains to it; the intermediate is not on its path."""
    _, ca = _good()
    leaf = _cert("leaf", LEAF_KEY, ("root", ROOT_KEY), leaf=True)
    chain = verify_chain_at(leaf, [ca], AT)
    assert [c.subject for c in chain] == [leaf.subject, _name("root")]


def test_leaf_of_the_root_needs_the_root_valid_not_the_intermediate() -> None:
    root = _cert("root", ROOT_KEY)
    leaf = _cert("leaf", LEAF_KEY, ("root", ROOT_KEY), leaf=True)
    expired_inter = _cert("int", INT_KEY, ("root", ROOT_KEY), days=5)
    assert len(verify_chain_at(leaf, [_ca(expired_inter, root)], AT)) == 2
    _rejects(leaf, _ca(_cert("int", INT_KEY, ("root", ROOT_KEY)), _cert("root", ROOT_KEY, days=5)))


def test_time_outside_the_ca_validity_window() -> None:
    leaf, ca = _good()
    _rejects(leaf, _ca(*ca.chain, start=AT + dt.timedelta(days=1)))


def test_time_outside_the_intermediate_validity() -> None:
    root = _cert("root", ROOT_KEY)
    inter = _cert("int", INT_KEY, ("root", ROOT_KEY), days=5)
    leaf = _cert("leaf", LEAF_KEY, ("int", INT_KEY), leaf=True)
    _rejects(leaf, _ca(inter, root))


@pytest.mark.parametrize(
    "make_inter",
    [
        lambda: _cert("int", INT_KEY, ("root", ROOT_KEY), ca=False),
        lambda: _cert("int", INT_KEY, ("root", ROOT_KEY), ca=None),
        lambda: _cert("int", INT_KEY, ("root", ROOT_KEY), cert_sign=False),
        lambda: _cert("int", INT_KEY, ("root", ec.generate_private_key(ec.SECP256R1()))),
    ],
    ids=["intermediate not a CA", "no basicConstraints", "no keyCertSign", "intermediate not signed by root"],
)
def test_broken_trusted_chain_issues_nothing(make_inter: object) -> None:
    root = _cert("root", ROOT_KEY)
    inter = make_inter()  # type: ignore[operator]
    leaf = _cert("leaf", LEAF_KEY, ("int", INT_KEY), leaf=True)
    _rejects(leaf, _ca(inter, root))


def test_root_path_length_zero_forbids_an_intermediate() -> None:
    root = _cert("root", ROOT_KEY, path_length=0)
    inter = _cert("int", INT_KEY, ("root", ROOT_KEY))
    leaf = _cert("leaf", LEAF_KEY, ("int", INT_KEY), leaf=True)
    _rejects(leaf, _ca(inter, root))


def test_trusted_ca_with_an_unknown_critical_extension_issues_nothing() -> None:
    """The shared CA profile (pki/profile.py) applies to Fulcio's trusted chains too."""
    root = _cert("root", ROOT_KEY)
    inter = (
        x509.CertificateBuilder()
        .subject_name(_name("int"))
        .issuer_name(_name("root"))
        .public_key(INT_KEY.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(T0)
        .not_valid_after(T0 + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00"), critical=True)
        .sign(ROOT_KEY, hashes.SHA256())
    )
    leaf = _cert("leaf", LEAF_KEY, ("int", INT_KEY), leaf=True)
    with pytest.raises(VerificationError) as info:
        verify_chain_at(leaf, [_ca(inter, root)], AT)
    assert info.value.reason is Reason.CERT_CHAIN_INVALID
    assert "unknown critical extensions: 1.3.6.1.4.1.99999.1" in info.value.context["failures"][0]
