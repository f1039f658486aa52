"""Trusted-root loader: both media types, self-checks of §2.3, and every rejection of row 57."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import REPO
from verifier._internal.algorithms import signed_note_key_id
from verifier._internal.trustroot.load import load_trusted_root
from verifier.errors import InputError, Reason

PUBLIC_GOOD = (REPO / "trust-root" / "public-good" / "trusted_root.json").read_bytes()
STAGING = (REPO / "trust-root" / "staging" / "trusted_root.json").read_bytes()


def _doc() -> dict[str, Any]:
    return json.loads(PUBLIC_GOOD)


def _mut(fn: Callable[[dict[str, Any]], None]) -> bytes:
    doc = copy.deepcopy(_doc())
    fn(doc)
    return json.dumps(doc).encode()


def test_shipped_roots_load() -> None:
    root = load_trusted_root(PUBLIC_GOOD)
    assert {log.base_url for log in root.tlogs} == {"https://rekor.sigstore.dev", "https://log2025-1.rekor.sigstore.dev"}
    assert len(root.certificate_authorities) == 2 and len(root.timestamp_authorities) == 1
    load_trusted_root(STAGING)


def test_log_ids_match_the_spec_test_vectors() -> None:
    root = load_trusted_root(PUBLIC_GOOD)
    v1 = next(log for log in root.tlogs if log.base_url == "https://rekor.sigstore.dev")
    assert v1.log_id.hex() == "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d"
    v2 = next(log for log in root.tlogs if "log2025-1" in log.base_url)
    assert base64.b64encode(v2.log_id).decode() == "zxGZFVvd0FEmjR8WrFwMdcAJ9vtaY/QXf44Y1wUeP6A="
    assert v2.origin == "log2025-1.rekor.sigstore.dev"


def test_v02_media_type_is_accepted() -> None:
    load_trusted_root(_mut(lambda d: d.update(mediaType="application/vnd.dev.sigstore.trustedroot.v0.2+json")))


def test_validity_end_is_inclusive() -> None:
    root = load_trusted_root(PUBLIC_GOOD)
    ca = root.certificate_authorities[0]
    assert ca.valid_for.end is not None and ca.valid_for.contains(ca.valid_for.end)
    assert ca.valid_for.contains(ca.valid_for.start)


def _swap_log_key(doc: dict[str, Any]) -> None:
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    spki = other.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    doc["tlogs"][0]["publicKey"]["rawBytes"] = base64.b64encode(spki).decode()


def _ed25519_key_declared_as_ecdsa(doc: dict[str, Any]) -> None:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    doc["tlogs"][0]["publicKey"]["rawBytes"] = base64.b64encode(spki).decode()
    doc["tlogs"][0]["logId"]["keyId"] = base64.b64encode(hashlib.sha256(spki).digest()).decode()


REJECTIONS = [
    ("bad media type", _mut(lambda d: d.update(mediaType="application/json")), Reason.TRUSTROOT_UNSUPPORTED_MEDIA_TYPE),
    ("tlog without validFor.start", _mut(lambda d: d["tlogs"][0]["publicKey"]["validFor"].pop("start")), Reason.TRUSTROOT_LOG_NO_START),
    ("ctlog without validFor", _mut(lambda d: d["ctlogs"][0]["publicKey"].pop("validFor")), Reason.TRUSTROOT_LOG_NO_START),
    ("logId is not SHA-256(SPKI)", _mut(_swap_log_key), Reason.TRUSTROOT_LOG_ID_MISMATCH),
    ("key type differs from keyDetails", _mut(_ed25519_key_declared_as_ecdsa), Reason.TRUSTROOT_KEY_TYPE_MISMATCH),
    ("unknown keyDetails", _mut(lambda d: d["tlogs"][0]["publicKey"].update(keyDetails="ML_DSA_65")), Reason.TRUSTROOT_KEY_TYPE_MISMATCH),
    ("unknown field", _mut(lambda d: d.update(extra=True)), Reason.TRUSTROOT_MALFORMED),
    ("bad timestamp", _mut(lambda d: d["tlogs"][0]["publicKey"]["validFor"].update(start="yesterday")), Reason.TRUSTROOT_MALFORMED),
    ("garbage CA certificate", _mut(lambda d: d["certificateAuthorities"][0]["certChain"]["certificates"][0].update(rawBytes="AAAA")), Reason.TRUSTROOT_MALFORMED),
    ("non-SHA-256 log", _mut(lambda d: d["tlogs"][0].update(hashAlgorithm="SHA2_384")), Reason.TRUSTROOT_MALFORMED),
    ("duplicate key", b'{"mediaType": "a", "mediaType": "b"}', Reason.TRUSTROOT_MALFORMED),
]


@pytest.mark.parametrize("data, reason", [(d, r) for _, d, r in REJECTIONS], ids=[n for n, _, _ in REJECTIONS])
def test_rejects(data: bytes, reason: Reason) -> None:
    with pytest.raises(InputError) as info:
        load_trusted_root(data)
    assert info.value.reason is reason


def test_signed_note_key_id_for_ed25519_matches_the_spec_vector() -> None:
    spki = bytes.fromhex("302a300506032b6570032100b7cae5a759271b08df6dc5c060f600927d1788bcf5c7c3b8b7462412189edb8e")
    key = serialization.load_der_public_key(spki)
    key_id = signed_note_key_id("log2025-1.rekor.sigstore.dev", key, spki)
    assert key_id[:4].hex() == "cf119915"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_give_a_root_or_an_input_error(data: bytes) -> None:
    try:
        load_trusted_root(data)
    except InputError:
        pass
