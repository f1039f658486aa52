"""Bundle parser: every strictness rule of spec §1 has a case that rejects with its code."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import CONFORMANCE_CASES
from verifier._internal.bundle.model import CertificateMaterial, DsseEnvelope, MessageSignature, PublicKeyMaterial
from verifier._internal.bundle.parse import load_bundle
from verifier.errors import InputError, Reason

V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
SIG = base64.b64encode(b"\x30\x06\x02\x01\x01\x02\x01\x01").decode()
BODY = base64.b64encode(b'{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{}}').decode()
HASH = base64.b64encode(b"\x00" * 32).decode()


def _entry(**overrides: Any) -> dict[str, Any]:
    entry = {
        "logIndex": "7",
        "logId": {"keyId": HASH},
        "kindVersion": {"kind": "hashedrekord", "version": "0.0.1"},
        "integratedTime": "1700000000",
        "inclusionPromise": {"signedEntryTimestamp": SIG},
        "inclusionProof": {
            "logIndex": "7",
            "rootHash": HASH,
            "treeSize": "8",
            "hashes": [HASH],
            "checkpoint": {"envelope": "o\n8\nAA==\n\n\u2014 o AAAAAAA=\n"},
        },
        "canonicalizedBody": BODY,
    }
    entry.update(overrides)
    return entry


def _bundle(media_type: str = V03) -> dict[str, Any]:
    return {
        "mediaType": media_type,
        "verificationMaterial": {"publicKey": {"hint": "abc"}, "tlogEntries": [_entry()]},
        "messageSignature": {"messageDigest": {"algorithm": "SHA2_256", "digest": HASH}, "signature": SIG},
    }


def _dsse(sigs: int = 1) -> dict[str, Any]:
    b = _bundle()
    del b["messageSignature"]
    b["dsseEnvelope"] = {
        "payload": base64.b64encode(b"{}").decode(),
        "payloadType": "application/vnd.in-toto+json",
        "signatures": [{"sig": SIG, "keyid": ""}] * sigs,
    }
    return b


def _load(doc: Any) -> Any:
    return load_bundle(json.dumps(doc).encode())


def _mut(fn: Callable[[dict[str, Any]], None], base: Callable[[], dict[str, Any]] = _bundle) -> dict[str, Any]:
    doc = copy.deepcopy(base())
    fn(doc)
    return doc


def test_minimal_key_bundle_parses() -> None:
    bundle = _load(_bundle())
    assert bundle.version == "0.3"
    assert isinstance(bundle.material, PublicKeyMaterial) and bundle.material.hint == "abc"
    assert isinstance(bundle.content, MessageSignature)
    assert bundle.tlog_entries[0].log_index == 7 and bundle.tlog_entries[0].inclusion_proof is not None


def test_dsse_bundle_parses() -> None:
    assert isinstance(_load(_dsse()).content, DsseEnvelope)


def test_integers_may_be_json_numbers() -> None:
    doc = _mut(lambda d: d["verificationMaterial"]["tlogEntries"][0].update(logIndex=7))
    assert _load(doc).tlog_entries[0].log_index == 7


REJECTIONS: list[tuple[str, Any, Reason]] = [
    ("trailing garbage", b'{"mediaType": "x"} {}', Reason.BUNDLE_MALFORMED_JSON),
    ("not an object", b"[]", Reason.BUNDLE_MALFORMED_JSON),
    ("duplicate key", b'{"mediaType": "a", "mediaType": "b"}', Reason.BUNDLE_MALFORMED_JSON),
    ("NaN", b'{"mediaType": NaN}', Reason.BUNDLE_MALFORMED_JSON),
    ("not utf-8", b'{"mediaType": "\xff"}', Reason.BUNDLE_MALFORMED_JSON),
    ("unknown top-level field", _mut(lambda d: d.update(extra=1)), Reason.BUNDLE_MALFORMED_JSON),
    (
        "snake_case alias",
        _mut(lambda d: d["verificationMaterial"].update(tlog_entries=[])),
        Reason.BUNDLE_MALFORMED_JSON,
    ),
    ("unknown media type", _bundle("application/vnd.dev.sigstore.bundle.v0.4+json"), Reason.BUNDLE_UNSUPPORTED_MEDIA_TYPE),
    ("missing media type", _mut(lambda d: d.pop("mediaType")), Reason.BUNDLE_UNSUPPORTED_MEDIA_TYPE),
    ("both contents", _mut(lambda d: d.update(dsseEnvelope=_dsse()["dsseEnvelope"])), Reason.BUNDLE_ONEOF),
    ("no content", _mut(lambda d: d.pop("messageSignature")), Reason.BUNDLE_MISSING_MATERIAL),
    (
        "key and certificate",
        _mut(lambda d: d["verificationMaterial"].update(certificate={"rawBytes": SIG})),
        Reason.BUNDLE_ONEOF,
    ),
    ("no material", _mut(lambda d: d["verificationMaterial"].pop("publicKey")), Reason.BUNDLE_MISSING_MATERIAL),
    ("url-safe base64", _mut(lambda d: d["messageSignature"].update(signature="-_-_")), Reason.BUNDLE_BAD_BASE64),
    ("unpadded base64", _mut(lambda d: d["messageSignature"].update(signature="YWJj" + "ZA")), Reason.BUNDLE_BAD_BASE64),
    ("base64 with newline", _mut(lambda d: d["messageSignature"].update(signature="YWJj\nZGVm")), Reason.BUNDLE_BAD_BASE64),
    ("negative log index", _mut(lambda d: d["verificationMaterial"]["tlogEntries"][0].update(logIndex="-1")), Reason.BUNDLE_BAD_INTEGER),
    ("exponent integer", _mut(lambda d: d["verificationMaterial"]["tlogEntries"][0].update(logIndex="1e3")), Reason.BUNDLE_BAD_INTEGER),
    ("plus-signed integer", _mut(lambda d: d["verificationMaterial"]["tlogEntries"][0].update(logIndex="+1")), Reason.BUNDLE_BAD_INTEGER),
    ("float integer", _mut(lambda d: d["verificationMaterial"]["tlogEntries"][0].update(logIndex=1.5)), Reason.BUNDLE_BAD_INTEGER),
    (
        "empty chain",
        _mut(
            lambda d: d["verificationMaterial"].update(publicKey=None, x509CertificateChain={"certificates": []}),
            lambda: _bundle("application/vnd.dev.sigstore.bundle+json;version=0.2"),
        ),
        Reason.BUNDLE_EMPTY_CHAIN,
    ),
    (
        "v0.3 with chain",
        _mut(lambda d: d["verificationMaterial"].update(publicKey=None, x509CertificateChain={"certificates": [{"rawBytes": SIG}]})),
        Reason.BUNDLE_V03_CHAIN,
    ),
    ("garbage certificate", _mut(lambda d: d["verificationMaterial"].update(publicKey=None, certificate={"rawBytes": SIG})), Reason.CERT_MALFORMED),
    (
        "v0.1 without promise",
        _mut(
            lambda d: d["verificationMaterial"]["tlogEntries"][0].pop("inclusionPromise"),
            lambda: _bundle("application/vnd.dev.sigstore.bundle+json;version=0.1"),
        ),
        Reason.BUNDLE_V01_NO_PROMISE,
    ),
    ("v0.3 without proof", _mut(lambda d: d["verificationMaterial"]["tlogEntries"][0].pop("inclusionProof")), Reason.BUNDLE_NO_INCLUSION_PROOF),
    (
        "proof without checkpoint",
        _mut(lambda d: d["verificationMaterial"]["tlogEntries"][0]["inclusionProof"].pop("checkpoint")),
        Reason.BUNDLE_CHECKPOINT_MISSING,
    ),
    ("entry without body", _mut(lambda d: d["verificationMaterial"]["tlogEntries"][0].pop("canonicalizedBody")), Reason.BUNDLE_TLOG_NO_BODY),
    ("33 tlog entries", _mut(lambda d: d["verificationMaterial"].update(tlogEntries=[_entry(logIndex=str(i)) for i in range(33)])), Reason.INPUT_TOO_LARGE),
    (
        "33 timestamps",
        _mut(lambda d: d["verificationMaterial"].update(timestampVerificationData={"rfc3161Timestamps": [{"signedTimestamp": SIG}] * 33})),
        Reason.INPUT_TOO_LARGE,
    ),
    ("null inside a list", _mut(lambda d: d["verificationMaterial"].update(tlogEntries=[None])), Reason.BUNDLE_MALFORMED_JSON),
    ("DSSE with no signature", _dsse(0), Reason.BUNDLE_DSSE_SIGNATURE_COUNT),
    ("DSSE with two signatures", _dsse(2), Reason.BUNDLE_DSSE_SIGNATURE_COUNT),
    ("DSSE without payload", _mut(lambda d: d["dsseEnvelope"].pop("payload"), _dsse), Reason.BUNDLE_DSSE_PAYLOAD),
    (
        "DSSE keyid differs from hint",
        _mut(lambda d: d["dsseEnvelope"]["signatures"][0].update(keyid="other"), _dsse),
        Reason.BUNDLE_KEY_HINT_MISMATCH,
    ),
    ("digest algorithm enum as number", _mut(lambda d: d["messageSignature"]["messageDigest"].update(algorithm=1)), Reason.BUNDLE_MALFORMED_JSON),
]


@pytest.mark.parametrize("doc, reason", [(d, r) for _, d, r in REJECTIONS], ids=[n for n, _, _ in REJECTIONS])
def test_rejects(doc: Any, reason: Reason) -> None:
    data = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    with pytest.raises(InputError) as info:
        load_bundle(data)
    assert info.value.reason is reason, info.value


def test_v01_proof_without_checkpoint_is_ignored() -> None:
    doc = _mut(
        lambda d: d["verificationMaterial"]["tlogEntries"][0]["inclusionProof"].pop("checkpoint"),
        lambda: _bundle("application/vnd.dev.sigstore.bundle+json;version=0.1"),
    )
    assert _load(doc).tlog_entries[0].inclusion_proof is None


def test_real_conformance_bundles_parse_to_typed_objects() -> None:
    case = CONFORMANCE_CASES / "happy-path-v0.1" / "bundle.sigstore.json"
    if not case.exists():
        pytest.skip("../shared/conformance is absent")
    bundle = load_bundle(case.read_bytes())
    assert isinstance(bundle.material, CertificateMaterial)
    assert bundle.version == "0.1" and len(bundle.tlog_entries) == 1


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_give_a_bundle_or_an_input_error(data: bytes) -> None:
    try:
        load_bundle(data)
    except InputError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["mediaType", "verificationMaterial", "messageSignature", "dsseEnvelope"]), json_values)
def test_any_field_value_gives_a_bundle_or_an_input_error(field: str, value: Any) -> None:
    doc = _bundle()
    doc[field] = value
    try:
        load_bundle(json.dumps(doc).encode())
    except InputError:
        pass
