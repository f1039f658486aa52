"""Signing helpers (bundle building, PAE, hashing, atomic writes) and the RFC 3161 client:
RFC 3161 request/response checks. Pure parts: no token. The Signer used here is a software
key, standing in for the token only where the bundle code is under test."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils

from verifier._internal import atomic, encoding, intoto
from verifier._internal.artifact import read_whole
from verifier._internal.bundle import build
from verifier._internal.limits import DEFAULT_LIMITS
from verifier._internal.signing import sign
from verifier.errors import InputError, Reason, ServiceError


class SoftwareSigner:
    """An in-memory P-256 signer with the same surface as hsm.signer.HsmSigner."""

    key_type = "ec-p256"
    hash_name = "sha256"
    prehashed = True

    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())

    def public_key(self) -> Any:
        return self._key.public_key()

    def sign_digest(self, digest: bytes, hash_name: str) -> bytes:
        return self._key.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))

    def sign_message(self, message: bytes) -> bytes:
        return self._key.sign(message, ec.ECDSA(hashes.SHA256()))


def test_pae_matches_dsse_spec_example() -> None:
    # DSSE protocol.md's worked example: type "http://example.com/HelloWorld", body "hello world".
    assert encoding.pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_pae_counts_bytes_not_characters() -> None:
    assert encoding.pae("t", "\u00e9".encode()) == b"DSSEv1 1 t 2 \xc3\xa9"


def test_statement_shape() -> None:
    statement = json.loads(intoto.build_statement("a.tar.gz", "ab" * 32, "https://p/v1", {"x": [1]}))
    assert statement == {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "a.tar.gz", "digest": {"sha256": "ab" * 32}}],
        "predicateType": "https://p/v1",
        "predicate": {"x": [1]},
    }


def test_message_bundle_shape(tmp_path: Path) -> None:
    artifact = tmp_path / "a"
    artifact.write_bytes(b"data")
    signer = SoftwareSigner()
    digest, signature = sign.sign_artifact(signer, artifact)
    bundle = build.message_signature_bundle(digest, signature, build.verification_material(key_hint="HINT="))
    assert bundle == {
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"publicKey": {"hint": "HINT="}, "tlogEntries": []},
        "messageSignature": {
            "messageDigest": {"algorithm": "SHA2_256", "digest": base64.b64encode(hashlib.sha256(b"data").digest()).decode()},
            "signature": base64.b64encode(signature).decode(),
        },
    }
    signer.public_key().verify(signature, b"data", ec.ECDSA(hashes.SHA256()))


def test_material_with_certificate_and_timestamps() -> None:
    material = build.verification_material(certificate_der=b"\x30\x00", rfc3161_responses=[b"\x01", b"\x02"])
    assert material == {
        "certificate": {"rawBytes": "MAA="},
        "tlogEntries": [],
        "timestampVerificationData": {"rfc3161Timestamps": [{"signedTimestamp": "AQ=="}, {"signedTimestamp": "Ag=="}]},
    }
    with pytest.raises(ValueError):
        build.verification_material()


def test_dsse_bundle_signs_pae() -> None:
    signer = SoftwareSigner()
    payload = b'{"_type":"x"}'
    signature = sign.sign_pae(signer, intoto.PAYLOAD_TYPE, payload)
    bundle = build.dsse_bundle(payload, intoto.PAYLOAD_TYPE, signature, build.verification_material(key_hint="h"))
    envelope = bundle["dsseEnvelope"]
    assert base64.b64decode(envelope["payload"]) == payload
    assert envelope["signatures"] == [{"sig": base64.b64encode(signature).decode(), "keyid": ""}]
    signer.public_key().verify(signature, encoding.pae(intoto.PAYLOAD_TYPE, payload), ec.ECDSA(hashes.SHA256()))


def test_hash_streams_in_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chunk = DEFAULT_LIMITS.hash_chunk_bytes
    artifact = tmp_path / "big"
    data = os.urandom(3 * chunk + 17)
    artifact.write_bytes(data)
    reads: list[int] = []
    real_read = os.read

    def spy(fd: int, n: int) -> bytes:
        reads.append(n)
        return real_read(fd, n)

    monkeypatch.setattr("verifier._internal.artifact.os.read", spy)
    digest = sign.digest_artifact(artifact, "sha384")
    assert digest.digest == hashlib.sha384(data).digest()
    assert set(reads) == {chunk} and len(reads) == 5


def test_ed25519_size_cap(tmp_path: Path) -> None:
    artifact = tmp_path / "a"
    artifact.write_bytes(b"x" * 11)
    with pytest.raises(InputError) as info:
        read_whole(artifact, "sha256", DEFAULT_LIMITS._replace(max_ed25519_message_bytes=10))
    assert info.value.reason is Reason.INPUT_TOO_LARGE and "Ed25519" in info.value.detail
    assert read_whole(artifact, "sha256") == (hashlib.sha256(b"x" * 11).digest(), b"x" * 11)


def test_unreadable_artifact(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        sign.digest_artifact(tmp_path / "missing", "sha256")
    assert info.value.reason is Reason.ARTIFACT_UNREADABLE


def test_write_atomic_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "b.json"
    target.write_text("old")
    atomic.write_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.json"]


def test_write_atomic_into_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        atomic.write_atomic(tmp_path / "no" / "b.json", b"x")


# ----------------------------------------------------------------- RFC 3161 client


def _authority(tmp_path: Path) -> Any:
    tsa = pytest.importorskip("tests.support.tsa")
    import shutil

    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed by the test TSA")
    return tsa.TimestampAuthority.create(tmp_path / "tsa")


def test_tsa_request_fields() -> None:
    from asn1crypto import tsp

    from verifier._internal.signing.timestamp_client import build_request

    request = build_request(b"signature bytes")
    parsed = tsp.TimeStampReq.load(request.der)
    assert parsed["message_imprint"]["hashed_message"].native == hashlib.sha256(b"signature bytes").digest()
    assert parsed["message_imprint"]["hash_algorithm"]["algorithm"].native == "sha256"
    assert parsed["cert_req"].native is True
    assert parsed["nonce"].native == request.nonce > 0
    assert build_request(b"x").nonce != build_request(b"x").nonce


def test_tsa_response_checks(tmp_path: Path) -> None:
    from verifier._internal.signing.timestamp_client import build_request, check_response

    authority = _authority(tmp_path)
    request = build_request(b"sig")
    reply = authority.reply(request.der)
    assert check_response(request, reply) == reply
    other = build_request(b"sig")  # same imprint, different nonce
    with pytest.raises(ServiceError) as info:
        check_response(other, reply)
    assert info.value.reason is Reason.TSA_REQUEST_FAILED and "nonce" in info.value.detail
    forged = type(request)(request.der, request.nonce, hashlib.sha256(b"other").digest())
    with pytest.raises(ServiceError, match="something other"):
        check_response(forged, reply)
    with pytest.raises(ServiceError, match="not a valid TimeStampResp"):
        check_response(request, b"\x30\x03\x02\x01\x00")


def test_tsa_rejection_status() -> None:
    from verifier._internal.signing.timestamp_client import build_request, check_response

    # TimeStampResp { status PKIStatusInfo { status rejection(2) } } with no token; written out
    # because asn1crypto will not build a response without timeStampToken.
    refused = bytes.fromhex("3005" "3003" "020102")
    with pytest.raises(ServiceError, match="rejection"):
        check_response(build_request(b"s"), refused)


@pytest.mark.loopback
def test_tsa_http_error(tmp_path: Path) -> None:
    from verifier._internal.signing.timestamp_client import request_timestamp

    tsa = pytest.importorskip("tests.support.tsa")
    authority = _authority(tmp_path)
    with tsa.serve_tsa(authority) as server:
        good = request_timestamp(server.url, b"sig")
        assert good
        with pytest.raises(ServiceError, match="HTTP 404"):
            request_timestamp(server.url + "/wrong", b"sig")
    with pytest.raises(ServiceError, match="http"):
        request_timestamp("ftp://example/tsa", b"sig")
