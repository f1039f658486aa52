"""The signature seam: verify-or-raise with reason codes for every key type."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils

from verifier import Reason, VerificationError
from verifier._internal.crypto import verify_over_data, verify_over_digest

MESSAGE = b"signed bytes"


def test_ecdsa_over_data_and_digest() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    signature = private.sign(MESSAGE, ec.ECDSA(hashes.SHA256()))
    verify_over_data(private.public_key(), signature, MESSAGE)
    verify_over_digest(private.public_key(), signature, hashlib.sha256(MESSAGE).digest(), "sha256")
    with pytest.raises(VerificationError) as info:
        verify_over_data(private.public_key(), signature, MESSAGE + b"!")
    assert info.value.reason is Reason.SIGNATURE_INVALID


def test_ecdsa_signature_must_be_strict_der() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    signature = private.sign(MESSAGE, ec.ECDSA(hashes.SHA256())) + b"\x00"
    with pytest.raises(VerificationError) as info:
        verify_over_data(private.public_key(), signature, MESSAGE)
    assert info.value.reason is Reason.SIGNATURE_ENCODING


@pytest.mark.parametrize("scheme", ["pkcs1v15", "pss"])
def test_rsa_user_signatures_in_either_padding(scheme: str) -> None:
    private = rsa.generate_private_key(65537, 2048)
    pad = padding.PKCS1v15() if scheme == "pkcs1v15" else padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    signature = private.sign(MESSAGE, pad, hashes.SHA256())
    verify_over_data(private.public_key(), signature, MESSAGE)
    digest = hashlib.sha256(MESSAGE).digest()
    verify_over_digest(private.public_key(), private.sign(digest, pad, utils.Prehashed(hashes.SHA256())), digest, "sha256")


def test_ed25519_over_data_only() -> None:
    private = ed25519.Ed25519PrivateKey.generate()
    verify_over_data(private.public_key(), private.sign(MESSAGE), memoryview(MESSAGE))
    with pytest.raises(VerificationError) as info:
        verify_over_digest(private.public_key(), private.sign(MESSAGE), hashlib.sha256(MESSAGE).digest(), "sha256")
    assert info.value.reason is Reason.ED25519_NEEDS_ARTIFACT


def test_a_digest_of_the_wrong_size_never_verifies() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    signature = private.sign(MESSAGE, ec.ECDSA(hashes.SHA256()))
    with pytest.raises(VerificationError):
        verify_over_digest(private.public_key(), signature, hashlib.sha256(MESSAGE).digest()[:31], "sha256")


@pytest.mark.parametrize(
    ("key_details", "signed_with", "verifies"),
    [
        ("PKIX_RSA_PKCS1V15_2048_SHA256", "pkcs1v15", True),
        ("PKIX_RSA_PKCS1V15_2048_SHA256", "pss", False),
        ("PKIX_RSA_PSS_2048_SHA256", "pss", True),
        ("PKIX_RSA_PSS_2048_SHA256", "pkcs1v15", False),
    ],
)
def test_a_trusted_keys_details_fix_its_scheme(key_details: str, signed_with: str, verifies: bool) -> None:
    """Log, checkpoint and SCT signatures: the trusted root's keyDetails decides the padding,
    never "whichever verifies" (docs/verification.md §4.4, §4.6, §7.4)."""
    from verifier._internal.crypto import verify_with_key_details

    private = rsa.generate_private_key(65537, 2048)
    pad = padding.PKCS1v15() if signed_with == "pkcs1v15" else padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    signature = private.sign(MESSAGE, pad, hashes.SHA256())
    if verifies:
        verify_with_key_details(private.public_key(), key_details, signature, MESSAGE, what="log signature", check="t")
    else:
        with pytest.raises(VerificationError) as info:
            verify_with_key_details(private.public_key(), key_details, signature, MESSAGE, what="log signature", check="t")
        assert info.value.reason is Reason.SIGNATURE_INVALID


def test_key_details_that_do_not_describe_the_key_are_refused() -> None:
    from verifier._internal.crypto import verify_with_key_details

    private = ec.generate_private_key(ec.SECP256R1())
    signature = private.sign(MESSAGE, ec.ECDSA(hashes.SHA256()))
    with pytest.raises(VerificationError) as info:
        verify_with_key_details(private.public_key(), "PKIX_ED25519", signature, MESSAGE, what="log signature", check="t")
    assert info.value.reason is Reason.ALGORITHM_UNSUPPORTED
