"""Fulcio certificates (docs/verification.md §7 and §9): summary, leaf profile, path, SCTs."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.support.virtual_sigstore import DEFAULT_IDENTITY, DEFAULT_ISSUER, DEFAULT_TIME, CTLog, LeafOptions, VirtualSigstore
from verifier import Reason, VerificationError, load_trusted_root
from verifier._internal.pki.chain import check_leaf_profile, verify_chain_at, verify_leaf_validity
from verifier._internal.pki.fulcio import summarize_certificate
from verifier._internal.pki.sct import verify_embedded_scts


@pytest.fixture(scope="module")
def vs() -> VirtualSigstore:
    return VirtualSigstore("pki", with_tsa=False)


def _leaf(vs: VirtualSigstore, **options: object):  # type: ignore[no-untyped-def]
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    return vs.ca.issue_leaf(
        key, identity=DEFAULT_IDENTITY, issuer=DEFAULT_ISSUER, at=DEFAULT_TIME, ctlog=vs.ctlog,
        foreign_ctlog=vs.foreign_ctlog, options=LeafOptions(**options),  # type: ignore[arg-type]
    )


def _root(vs: VirtualSigstore):  # type: ignore[no-untyped-def]
    import json

    return load_trusted_root(json.dumps(vs.trusted_root(tsas=False)).encode())


def test_summary_reads_sans_and_issuer(vs: VirtualSigstore) -> None:
    summary = summarize_certificate(_leaf(vs))
    assert summary.sans == (DEFAULT_IDENTITY,) and summary.issuer == DEFAULT_ISSUER


def test_two_different_issuers_are_a_conflict(vs: VirtualSigstore) -> None:
    with pytest.raises(VerificationError) as info:
        summarize_certificate(_leaf(vs, issuer_v1=b"https://accounts.google.com"))
    assert info.value.reason is Reason.IDENTITY_ISSUER_CONFLICT


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"key_usage_digital_signature": False}, Reason.CERT_KEY_USAGE),
        ({"eku": None}, Reason.CERT_EXT_KEY_USAGE),
        ({"is_ca": True}, Reason.CERT_CHAIN_INVALID),
    ],
    ids=["no digitalSignature", "no codeSigning", "a CA"],
)
def test_leaf_profile_rejections(vs: VirtualSigstore, options: dict, reason: Reason) -> None:
    with pytest.raises(VerificationError) as info:
        check_leaf_profile(_leaf(vs, **options))
    assert info.value.reason is reason


def test_path_at_a_verified_time(vs: VirtualSigstore) -> None:
    leaf, root = _leaf(vs), _root(vs)
    chain = verify_chain_at(leaf, root.certificate_authorities, DEFAULT_TIME)
    assert chain[0] is leaf and len(chain) == 3
    stranger = VirtualSigstore("stranger", with_tsa=False)
    with pytest.raises(VerificationError) as info:
        verify_chain_at(_leaf(stranger), root.certificate_authorities, DEFAULT_TIME)
    assert info.value.reason is Reason.CERT_CHAIN_INVALID


def _reissued(leaf, ca_key, ca_cert):  # type: ignore[no-untyped-def]
    """The same leaf (subject, key, extensions, window) signed by another certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    b = (
        x509.CertificateBuilder()
        .subject_name(leaf.subject).issuer_name(ca_cert.subject).public_key(leaf.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(leaf.not_valid_before_utc).not_valid_after(leaf.not_valid_after_utc)
    )
    for ext in leaf.extensions:
        if not isinstance(ext.value, (x509.AuthorityKeyIdentifier, x509.PrecertificateSignedCertificateTimestamps)):
            b = b.add_extension(ext.value, critical=ext.critical)
    return b.sign(ca_key, hashes.SHA384())


def test_path_from_a_later_certificate_of_a_trusted_chain(vs: VirtualSigstore) -> None:
    """RFC 5280 path building over the trusted chain, as sigstore-go: a leaf the root of a
    trusted chain signed directly has the path leaf -> root (GitHub's release attestations are
    signed under the second certificate of its chain; tests/vectors/sigstore-rust-github-release)."""
    leaf = _reissued(_leaf(vs), vs.ca.root_key, vs.ca.root)
    chain = verify_chain_at(leaf, _root(vs).certificate_authorities, DEFAULT_TIME)
    assert chain == (leaf, vs.ca.root)


def test_a_listed_root_does_not_vouch_for_unlisted_intermediates(vs: VirtualSigstore) -> None:
    rogue = vs.ca.rogue_intermediate()
    leaf = _reissued(_leaf(vs), rogue.intermediate_key, rogue.intermediate)
    with pytest.raises(VerificationError) as info:
        verify_chain_at(leaf, _root(vs).certificate_authorities, DEFAULT_TIME)
    assert info.value.reason is Reason.CERT_CHAIN_INVALID


def test_leaf_validity_at_every_time(vs: VirtualSigstore) -> None:
    leaf = _leaf(vs)
    verify_leaf_validity(leaf, [(DEFAULT_TIME, "tlog", "log")])
    with pytest.raises(VerificationError) as info:
        verify_leaf_validity(leaf, [(DEFAULT_TIME, "tlog", "log"), (DEFAULT_TIME + dt.timedelta(hours=1), "tsa", "tsa")])
    assert info.value.reason is Reason.TIME_OUTSIDE_CERT_VALIDITY and info.value.context["source"] == "tsa"


def test_scts_from_trusted_logs_count(vs: VirtualSigstore) -> None:
    root = _root(vs)
    leaf = _leaf(vs)
    issuer = verify_chain_at(leaf, root.certificate_authorities, DEFAULT_TIME)[1]
    assert len(verify_embedded_scts(leaf, issuer, root.ctlogs, 1)) == 1
    for sct in ("none", "bad_signature", "unknown_log"):
        bad = _leaf(vs, sct=sct)
        with pytest.raises(VerificationError) as info:
            verify_embedded_scts(bad, issuer, root.ctlogs, 1)
        assert info.value.reason is Reason.SCT_THRESHOLD_NOT_MET, sct


def test_one_log_counts_once(vs: VirtualSigstore) -> None:
    root = _root(vs)
    leaf = _leaf(vs, sct="valid+valid")
    issuer = verify_chain_at(leaf, root.certificate_authorities, DEFAULT_TIME)[1]
    with pytest.raises(VerificationError):
        verify_embedded_scts(leaf, issuer, root.ctlogs, 2)
    assert isinstance(vs.ctlog, CTLog)
