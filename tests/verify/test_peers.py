"""Peers agree: what pypi-attestations and sigstore-python accept, airseal accepts, and both
reject the same tampered copies (airseal with its reason code).

Peers run offline against the virtual Sigstore's trusted root (sigstore-python's `Verifier`
takes any trusted root; pypi-attestations' `Attestation.verify` is pointed at it).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.support.virtual_sigstore import (
    DEFAULT_IDENTITY,
    DEFAULT_ISSUER,
    VirtualSigstore,
    flip_b64,
    github_jsonl,
)
from tests.verify._harness import Inv, run_inv
from tests.verify.test_evidence_formats import _statement
from verifier.errors import Reason

pypi_attestations = pytest.importorskip("pypi_attestations")
sigstore_models = pytest.importorskip("sigstore.models")
from sigstore.verify import Verifier, policy  # noqa: E402

VECTOR = REPO / "tests" / "vectors" / "pep740-pypi-attestations"
WHEEL = "airseal_demo-1.0-py3-none-any.whl"
WRONG_IDENTITY = "https://github.com/evil/repo/.github/workflows/release.yml@refs/heads/main"


def _peer_verifier(trusted_root: bytes, tmp_path: Path) -> Any:
    path = tmp_path / "peer_trusted_root.json"
    path.write_bytes(trusted_root)
    return Verifier(trusted_root=sigstore_models.TrustedRoot.from_file(str(path)))


def _peer_pep740(att_json: str, wheel: bytes, identity: str, trusted_root: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> bool:
    """pypi-attestations' full verification (statement, subject name and digest) on our root."""
    from pypi_attestations import _impl

    verifier = _peer_verifier(trusted_root, tmp_path)
    monkeypatch.setattr(_impl.Verifier, "production", classmethod(lambda cls, offline=False: verifier))
    att = pypi_attestations.Attestation.model_validate_json(att_json)
    dist = pypi_attestations.Distribution(name=WHEEL, digest=hashlib.sha256(wheel).hexdigest())
    try:
        att.verify(policy.Identity(identity=identity, issuer=DEFAULT_ISSUER), dist, offline=True)
    except pypi_attestations.AttestationError:
        return False
    return True


def _airseal(evidence: bytes, wheel: bytes, identity: str, trusted_root: bytes, tmp_path: Path) -> Any:
    return run_inv(Inv(evidence, trusted_root, artifact=wheel, artifact_name=WHEEL, identity=identity), tmp_path)


def _vector() -> tuple[str, bytes, bytes]:
    return (
        (VECTOR / (WHEEL + ".publish.attestation")).read_text(),
        (VECTOR / WHEEL).read_bytes(),
        (VECTOR / "trusted_root.json").read_bytes(),
    )


def test_vector_provenance_is_what_source_md_says() -> None:
    source = (VECTOR / "SOURCE.md").read_text()
    for f in sorted(VECTOR.iterdir()):
        if f.name != "SOURCE.md":
            assert f"{hashlib.sha256(f.read_bytes()).hexdigest()}  {f.name}" in source


@pytest.mark.parametrize("evidence", [WHEEL + ".publish.attestation", WHEEL + ".provenance"])
def test_vector_verifies_in_airseal_and_peer(evidence: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    att, wheel, root = _vector()
    out = _airseal((VECTOR / evidence).read_bytes(), wheel, DEFAULT_IDENTITY, root, tmp_path)
    assert out.exit_code == 0, out.describe()
    assert _peer_pep740(att, wheel, DEFAULT_IDENTITY, root, tmp_path, monkeypatch)


def _tampered(kind: str, vs: VirtualSigstore) -> tuple[str, bytes, str, bytes]:
    """(attestation JSON, wheel, identity, trusted root) for one tampering."""
    att, wheel, root = _vector()
    if kind == "artifact-byte":
        return att, wheel[:-1] + b"?", DEFAULT_IDENTITY, root
    if kind == "signature-bit":
        doc = json.loads(att)
        doc["envelope"]["signature"] = flip_b64(doc["envelope"]["signature"])
        return json.dumps(doc), wheel, DEFAULT_IDENTITY, root
    if kind == "wrong-identity":
        return att, wheel, WRONG_IDENTITY, root
    assert kind == "subject-digest"  # a genuine signature over a statement about other bytes
    b = vs.attest(wheel, statement=_statement([(WHEEL, b"other bytes")]))
    made = pypi_attestations.Attestation.from_bundle(sigstore_models.Bundle.from_json(json.dumps(b)))
    return made.model_dump_json(), wheel, DEFAULT_IDENTITY, json.dumps(vs.trusted_root(tlogs=("v1",))).encode()


@pytest.mark.parametrize(
    "kind,reason",
    [
        ("artifact-byte", Reason.DSSE_SUBJECT_MISMATCH),
        ("signature-bit", Reason.TLOG_ENTRY_MISMATCH),
        ("subject-digest", Reason.DSSE_SUBJECT_MISMATCH),
        ("wrong-identity", Reason.IDENTITY_MISMATCH),
    ],
)
def test_tampered_pep740_rejected_by_both(kind: str, reason: Reason, vs: VirtualSigstore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    att, wheel, identity, root = _tampered(kind, vs)
    out = _airseal(att.encode(), wheel, identity, root, tmp_path)
    assert out.reason == reason.value, out.describe()
    assert not _peer_pep740(att, wheel, identity, root, tmp_path, monkeypatch)


def test_publisher_reading_agrees_with_pypi_attestations() -> None:
    from verifier._internal.formats.pep740 import describe_publisher

    prov_json = (VECTOR / (WHEEL + ".provenance")).read_text()
    theirs = pypi_attestations.Provenance.model_validate_json(prov_json).attestation_bundles[0].publisher
    ours = describe_publisher(json.loads(prov_json)["attestation_bundles"][0]["publisher"])
    assert ours == f"{theirs.kind} repository={theirs.repository} workflow={theirs.workflow}"


@pytest.mark.parametrize("good", [True, False], ids=["line-verifies", "signature-bit"])
def test_github_jsonl_line_agrees_with_sigstore_python(good: bool, vs: VirtualSigstore, tmp_path: Path) -> None:
    artifact = b"gh artifact\n"
    ours = vs.attest(artifact, statement=_statement([("gh.bin", artifact)]))
    if not good:
        ours["dsseEnvelope"]["signatures"][0]["sig"] = flip_b64(ours["dsseEnvelope"]["signatures"][0]["sig"])
    root = json.dumps(vs.trusted_root(tlogs=("v1",))).encode()
    out = run_inv(Inv(github_jsonl([vs.attest(b"x"), ours]), root, artifact=artifact), tmp_path)
    verifier = _peer_verifier(root, tmp_path)
    try:
        verifier.verify_dsse(sigstore_models.Bundle.from_json(json.dumps(ours)), policy.Identity(identity=DEFAULT_IDENTITY, issuer=DEFAULT_ISSUER))
        peer_ok = True
    except Exception:
        peer_ok = False
    assert peer_ok is good
    assert (out.exit_code == 0) is good, out.describe()
    if good:
        assert out.report["evidence_location"] == "line 2"
    else:
        assert out.reason == Reason.TLOG_ENTRY_MISMATCH.value


# --- npm attestations: sigstore-python verifies the provenance bundle the response carries -------


@pytest.mark.parametrize("good", [True, False], ids=["provenance-verifies", "signature-bit"])
def test_npm_provenance_agrees_with_sigstore_python(good: bool, vs: VirtualSigstore, tmp_path: Path) -> None:
    from tests.support.virtual_sigstore import SLSA_PROVENANCE_V1, npm_attestations
    from tests.verify.test_evidence_formats import TARBALL

    slsa = vs.attest(TARBALL, statement=_statement([("pkg:npm/airseal-demo@1.0.0", TARBALL)], SLSA_PROVENANCE_V1, ("sha512",)))
    if not good:
        slsa["dsseEnvelope"]["signatures"][0]["sig"] = flip_b64(slsa["dsseEnvelope"]["signatures"][0]["sig"])
    root = json.dumps(vs.trusted_root(tlogs=("v1",))).encode()
    out = run_inv(Inv(npm_attestations([(SLSA_PROVENANCE_V1, slsa)]), root, artifact=TARBALL), tmp_path)
    try:
        _peer_verifier(root, tmp_path).verify_dsse(
            sigstore_models.Bundle.from_json(json.dumps(slsa)), policy.Identity(identity=DEFAULT_IDENTITY, issuer=DEFAULT_ISSUER)
        )
        peer_ok = True
    except Exception:
        peer_ok = False
    assert peer_ok is good
    assert (out.exit_code == 0) is good, out.describe()
    if good:
        assert out.report["format"] == "npm-attestations"


# --- cosign's older bundle file: cosign itself verifies it offline --------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("tamper", ["none", "artifact-byte", "set-bit"])
def test_cosign_older_bundle_agrees_with_cosign(tamper: str, vs: VirtualSigstore, tmp_path: Path) -> None:
    import os
    import subprocess

    from tests.support import services
    from tests.support.virtual_sigstore import cosign_bundle, public_pem

    try:
        cosign = services.tool("cosign")
    except services.ServiceUnavailable as exc:
        services.skip_or_fail(str(exc))
    artifact = b"cosign older bundle artifact\n"
    old = cosign_bundle(vs.sign_artifact(artifact, key_based=True))
    given = artifact
    if tamper == "artifact-byte":
        given = b"C" + artifact[1:]
    elif tamper == "set-bit":
        old["rekorBundle"]["SignedEntryTimestamp"] = flip_b64(old["rekorBundle"]["SignedEntryTimestamp"])
    root = json.dumps(vs.trusted_root(tlogs=("v1",))).encode()
    out = run_inv(Inv(old, root, artifact=given, key_pem=vs.public_key_pem()), tmp_path / "airseal")
    (tmp_path / "a.bin").write_bytes(given)
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "k.pub").write_bytes(vs.public_key_pem())
    (tmp_path / "rekor.pub").write_bytes(public_pem(vs.rekor_v1.private.public_key()))
    peer = subprocess.run(
        [str(cosign), "verify-blob", "--key", "k.pub", "--bundle", "old.json", "--new-bundle-format=false", "--offline", "a.bin"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env={**os.environ, "SIGSTORE_REKOR_PUBLIC_KEY": str(tmp_path / "rekor.pub")},
    )
    good = tamper == "none"
    assert (peer.returncode == 0) is good, peer.stderr[-500:]
    assert (out.exit_code == 0) is good, out.describe()
    if good:
        assert out.report["format"] == "cosign-bundle"
    else:
        # a key bundle's signature is checked first (docs/verification.md §3); then the SET (§4.4)
        expected = Reason.SIGNATURE_INVALID if tamper == "artifact-byte" else Reason.TLOG_SET_INVALID
        assert out.reason == expected.value, out.describe()
