"""The public library API (`verifier/__init__.py`), called directly, as a program would.

Each test goes through `verifier.verify_bundle` and friends with bundles from the virtual
Sigstore: the typed result on success, and on failure the reason code, the failed check and the
checks that passed before it. The CLI tests (tests/verify) stay as end-to-end proof.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import verifier
from tests.support.virtual_sigstore import DEFAULT_IDENTITY, DEFAULT_ISSUER, VirtualSigstore
from verifier import (
    ArtifactInput,
    CheckResult,
    Identity,
    InputError,
    Reason,
    VerificationError,
    VerificationPolicy,
    VerifiedSigner,
    load_bundle,
    load_pem_public_key,
    load_trusted_root,
    verify_bundle,
)

ARTIFACT = b"the library API's artifact\n"


@pytest.fixture(scope="module")
def vs() -> VirtualSigstore:
    return VirtualSigstore("api", with_tsa=False)


@pytest.fixture
def artifact(tmp_path: Path) -> ArtifactInput:
    path = tmp_path / "artifact.bin"
    path.write_bytes(ARTIFACT)
    return ArtifactInput(path=str(path))


def _load(vs: VirtualSigstore, bundle: dict) -> tuple[verifier.Bundle, verifier.TrustedRoot]:
    return load_bundle(json.dumps(bundle).encode()), load_trusted_root(json.dumps(vs.trusted_root(tsas=False)).encode())


def test_every_public_name_resolves_and_nothing_else_is_exported() -> None:
    for name in verifier.__all__:
        assert getattr(verifier, name) is not None
    with pytest.raises(AttributeError):
        verifier.not_a_name  # noqa: B018


def test_importing_the_package_loads_nothing_heavy() -> None:
    code = "import sys, verifier, verifier.errors; print(sorted(m for m in sys.modules if m.startswith(('verifier._internal', 'cryptography', 'click', 'tuf'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    # the errors' CheckResult is a Record: that small base (and its package) is all it loads
    assert out.strip() == "['verifier._internal', 'verifier._internal.record']"


def test_certificate_bundle_verifies_with_a_typed_result(vs: VirtualSigstore, artifact: ArtifactInput) -> None:
    bundle, root = _load(vs, vs.sign_artifact(ARTIFACT))
    result = verify_bundle(bundle, root, artifact, VerificationPolicy(identity=Identity(san=DEFAULT_IDENTITY, issuer=DEFAULT_ISSUER)))
    assert isinstance(result.signer, VerifiedSigner)
    assert (result.signer.kind, result.signer.identity, result.signer.issuer) == ("certificate", DEFAULT_IDENTITY, DEFAULT_ISSUER)
    assert result.signer.describe() == f"{DEFAULT_IDENTITY} (issuer {DEFAULT_ISSUER})"
    assert result.artifact_digest.startswith("sha256:")
    assert [t.kind for t in result.time_sources] == ["tlog"]
    assert result.thresholds["tlog_entries"] == verifier.Threshold(1, 1)
    assert all(isinstance(c, CheckResult) and c.ok for c in result.checks)
    names = [c.name for c in result.checks]
    # docs/verification.md order: digest, log, time, certificate, signature, identity
    assert names.index("artifact.digest") < names.index("tlog.entry") < names.index("certificate.chain")
    assert names.index("certificate.chain") < names.index("signature") < names.index("identity")
    doc = result.to_json()
    assert doc["verified"] is True and doc["signer"]["identity"] == DEFAULT_IDENTITY


def test_key_bundle_verifies_and_names_the_key(vs: VirtualSigstore, artifact: ArtifactInput) -> None:
    bundle, root = _load(vs, vs.sign_artifact(ARTIFACT, key_based=True))
    key = load_pem_public_key(vs.public_key_pem(), "test key")
    result = verify_bundle(bundle, root, artifact, VerificationPolicy(key=key))
    assert result.signer.kind == "key" and result.signer.key_id == key.key_id
    assert result.signer.to_json() == {"kind": "key", "key_id": key.key_id, "key_type": "ECDSA secp256r1", "hint": vs.key().hint}


def test_failure_carries_reason_check_and_the_checks_before_it(vs: VirtualSigstore, artifact: ArtifactInput) -> None:
    bundle, root = _load(vs, vs.sign_artifact(ARTIFACT))
    with pytest.raises(VerificationError) as info:
        verify_bundle(bundle, root, artifact, VerificationPolicy(identity=Identity(san="someone@else.example")))
    err = info.value
    assert err.reason is Reason.IDENTITY_MISMATCH and err.check == "identity" and err.exit_code == 1
    assert "signature" in [c.name for c in err.checks]  # everything before identity had passed


def test_a_changed_artifact_is_refused_first(vs: VirtualSigstore, tmp_path: Path) -> None:
    bundle, root = _load(vs, vs.sign_artifact(ARTIFACT))
    other = tmp_path / "other"
    other.write_bytes(ARTIFACT + b"!")
    with pytest.raises(VerificationError) as info:
        verify_bundle(bundle, root, ArtifactInput(path=str(other)), VerificationPolicy(identity=Identity(san=DEFAULT_IDENTITY)))
    assert info.value.reason is Reason.ARTIFACT_DIGEST_MISMATCH and info.value.checks == ()


def test_digest_input_needs_no_file(vs: VirtualSigstore) -> None:
    import hashlib

    bundle, root = _load(vs, vs.sign_artifact(ARTIFACT))
    given = ArtifactInput(given_digest=("sha256", hashlib.sha256(ARTIFACT).digest()))
    result = verify_bundle(bundle, root, given, VerificationPolicy(identity=Identity(san=DEFAULT_IDENTITY)))
    assert result.artifact_digest == "sha256:" + hashlib.sha256(ARTIFACT).hexdigest()


def test_certificate_bundle_without_identity_policy_is_refused(vs: VirtualSigstore, artifact: ArtifactInput) -> None:
    bundle, root = _load(vs, vs.sign_artifact(ARTIFACT))
    with pytest.raises(VerificationError) as info:
        verify_bundle(bundle, root, artifact, VerificationPolicy())
    assert info.value.reason is Reason.POLICY_INVALID


def test_policy_refuses_negative_thresholds_and_naive_clocks() -> None:
    import datetime as dt

    with pytest.raises(ValueError, match="min_tlog_entries"):
        VerificationPolicy(min_tlog_entries=-1)
    with pytest.raises(ValueError, match="timezone"):
        VerificationPolicy(now=dt.datetime(2026, 1, 1))


def test_load_bundle_refuses_with_an_input_error() -> None:
    with pytest.raises(InputError) as info:
        load_bundle(b"{}")
    assert info.value.reason is Reason.BUNDLE_UNSUPPORTED_MEDIA_TYPE and info.value.exit_code == 3
