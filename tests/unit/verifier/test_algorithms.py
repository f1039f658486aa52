"""The one table of hashes, curves, keyDetails and key ids."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from verifier._internal import algorithms
from verifier._internal.keyio import spki_der


@pytest.mark.parametrize(
    ("key", "hash_name", "type_name"),
    [
        (ec.generate_private_key(ec.SECP256R1()).public_key(), "sha256", "ec-p256"),
        (ec.generate_private_key(ec.SECP384R1()).public_key(), "sha384", "ec-p384"),
        (ed25519.Ed25519PrivateKey.generate().public_key(), None, "ed25519"),
        (rsa.generate_private_key(65537, 2048).public_key(), "sha256", "rsa-2048"),
    ],
)
def test_key_tables(key: object, hash_name: str | None, type_name: str) -> None:
    assert algorithms.key_hash_name(key) == hash_name  # type: ignore[arg-type]
    assert algorithms.key_type_name(key) == type_name  # type: ignore[arg-type]
    assert algorithms.is_supported_key(key)  # type: ignore[arg-type]


def test_small_rsa_and_other_curves_are_unsupported() -> None:
    assert not algorithms.is_supported_key(rsa.generate_private_key(65537, 1024).public_key())
    assert not algorithms.is_supported_key(ec.generate_private_key(ec.SECP256K1()).public_key())


def test_key_id_is_base64_sha256_of_the_spki() -> None:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    spki = spki_der(key)
    assert algorithms.key_id(spki) == base64.b64encode(hashlib.sha256(spki).digest()).decode()


def test_enum_tables_are_inverse() -> None:
    assert {algorithms.HASH_FROM_ENUM[e]: e for e in algorithms.HASH_FROM_ENUM} == algorithms.ENUM_FROM_HASH
    assert set(algorithms.HASH_FROM_ENUM.values()) == set(algorithms.HASH_NAMES)


def test_key_details_fix_shape_hash_and_scheme() -> None:
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    details = algorithms.KEY_DETAILS["PKIX_ECDSA_P384_SHA_384"]
    assert details.matches(p384) and details.hash_name == "sha384" and details.scheme == "ecdsa"
    assert not algorithms.KEY_DETAILS["PKIX_ECDSA_P256_SHA_256"].matches(p384)
    assert algorithms.KEY_DETAILS["PKIX_RSA_PSS_2048_SHA256"].scheme == "rsa-pss"
    assert algorithms.KEY_DETAILS["PKIX_ED25519_PH"].scheme == "ed25519ph"


def test_hashedrekord_v2_key_details() -> None:
    assert algorithms.hashedrekord_v2_key_details(ec.generate_private_key(ec.SECP384R1()).public_key()) == (
        "PKIX_ECDSA_P384_SHA_384",
        "sha384",
    )
    assert algorithms.hashedrekord_v2_key_details(ed25519.Ed25519PrivateKey.generate().public_key()) is None

