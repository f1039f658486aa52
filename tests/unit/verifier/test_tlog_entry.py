"""Log entry bodies (docs/verification.md §4.2, §4.5): each kind commits to this bundle, or not."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from tests.support.virtual_sigstore import VirtualSigstore
from verifier import Reason, VerificationError, load_bundle
from verifier._internal.keyio import spki_der
from verifier._internal.tlog.entry import SUPPORTED_KINDS, SigningMaterial, parse_body, verify_entry_body

ARTIFACT = b"logged artifact"


@pytest.fixture(scope="module")
def vs() -> VirtualSigstore:
    return VirtualSigstore("tlog-entry", with_tsa=False)


def _parts(bundle_dict: dict):  # type: ignore[no-untyped-def]
    bundle = load_bundle(json.dumps(bundle_dict).encode())
    leaf = bundle.material.leaf  # type: ignore[union-attr]
    key = leaf.public_key()
    material = SigningMaterial(key=key, certificate_der=bundle.material.leaf_der, spki_der=spki_der(key))  # type: ignore[union-attr]
    return bundle, material


def _with_body(bundle_dict: dict, mutate) -> dict:  # type: ignore[no-untyped-def]
    entry = bundle_dict["verificationMaterial"]["tlogEntries"][0]
    body = json.loads(base64.b64decode(entry["canonicalizedBody"]))
    mutate(body)
    entry["canonicalizedBody"] = base64.b64encode(json.dumps(body).encode()).decode()
    return bundle_dict


def test_supported_kinds() -> None:
    assert {("hashedrekord", "0.0.1"), ("dsse", "0.0.1"), ("intoto", "0.0.2"), ("hashedrekord", "0.0.2")} == SUPPORTED_KINDS


@pytest.mark.parametrize("log", ["v1", "v2"])
def test_a_matching_body_passes(vs: VirtualSigstore, log: str) -> None:
    bundle, material = _parts(vs.sign_artifact(ARTIFACT, log=log))
    entry = bundle.tlog_entries[0]
    verify_entry_body(entry, bundle.content, material, {"sha256": hashlib.sha256(ARTIFACT).digest()}, parse_body(entry))


def test_another_artifact_is_an_entry_mismatch(vs: VirtualSigstore) -> None:
    bundle, material = _parts(vs.sign_artifact(ARTIFACT))
    entry = bundle.tlog_entries[0]
    with pytest.raises(VerificationError) as info:
        verify_entry_body(entry, bundle.content, material, {"sha256": hashlib.sha256(b"other").digest()})
    assert info.value.reason is Reason.TLOG_ENTRY_MISMATCH


def test_a_v2_body_is_rebuilt_byte_for_byte(vs: VirtualSigstore) -> None:
    bundle, material = _parts(vs.sign_artifact(ARTIFACT, log="v2"))
    entry = bundle.tlog_entries[0]._replace(canonicalized_body=bundle.tlog_entries[0].canonicalized_body + b" ")
    with pytest.raises(VerificationError) as info:
        verify_entry_body(entry, bundle.content, material, {"sha256": hashlib.sha256(ARTIFACT).digest()})
    assert info.value.reason is Reason.TLOG_ENTRY_MISMATCH


def test_kind_version_must_match_the_body(vs: VirtualSigstore) -> None:
    bundle, _ = _parts(_with_body(vs.sign_artifact(ARTIFACT), lambda b: b.update(apiVersion="0.0.9")))
    with pytest.raises(VerificationError) as info:
        parse_body(bundle.tlog_entries[0])
    assert info.value.reason is Reason.TLOG_KIND_VERSION_MISMATCH


def test_an_unsupported_kind_is_refused(vs: VirtualSigstore) -> None:
    bundle, _ = _parts(vs.sign_artifact(ARTIFACT))
    entry = bundle.tlog_entries[0]
    body = json.dumps({"kind": "rekord", "apiVersion": "0.0.1", "spec": {}}).encode()
    with pytest.raises(VerificationError) as info:
        parse_body(entry._replace(kind="rekord", canonicalized_body=body))
    assert info.value.reason is Reason.TLOG_UNSUPPORTED_KIND


def test_a_hashedrekord_cannot_prove_a_dsse_envelope(vs: VirtualSigstore) -> None:
    message, material = _parts(vs.sign_artifact(ARTIFACT))
    dsse, _ = _parts(vs.attest(ARTIFACT))
    entry = message.tlog_entries[0]
    with pytest.raises(VerificationError) as info:
        verify_entry_body(entry, dsse.content, material, {"sha256": hashlib.sha256(ARTIFACT).digest()})
    assert info.value.reason is Reason.TLOG_KIND_CONTENT_MISMATCH
