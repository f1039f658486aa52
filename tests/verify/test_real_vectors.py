"""Real production evidence, taken from package registries (tests/vectors/*/SOURCE.md): each
vector verifies through the CLI with the identity its producer's own tests expect, and tampered
copies are refused with the right reason code.

The vectors are years old in places: airseal judges each certificate at the bundle's verified
times (a log's SET, an RFC 3161 genTime), never at this machine's clock.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path
from typing import Any, NamedTuple, Optional

import pytest
from click.testing import CliRunner

from tests.conftest import REPO
from verifier.errors import Reason

VEC = REPO / "tests" / "vectors"
GH = VEC / "gh-cli-v2.63.0"
GITHUB_ROOT = VEC / "github-trusted-root" / "trusted_root_github.json"
NPM = VEC / "sigstore-go-v1.2.1-npm"
PYPI = VEC / "pypi-attestations-0.0.31-assets"
RUST = VEC / "sigstore-rust-verify-0.15.1"
PUBLIC_GOOD = REPO / "trust-root" / "public-good" / "trusted_root.json"
STAGING = REPO / "trust-root" / "staging" / "trusted_root.json"
VECTOR_DIRS = [GH, VEC / "github-trusted-root", NPM, PYPI, RUST]

ACTIONS = "https://token.actions.githubusercontent.com"
SIGSTORE_JS = "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main"
GH_DEMO = "https://github.com/actions/attest-demo/.github/workflows/build-python.yml@refs/heads/main"
GITHUB_RELEASES = "https://dotcom.releases.github.com"
NPM_SHA512 = (
    "sha512:76176ffa33808b54602c7c35de5c6e9a4deb96066dba6533f50ac234f4f1f4c6"
    "b3527515dc17c06fbe2860030f410eee69ea20079bd3a2c6f3dcf3b329b10751"
)
RELEASE_DIGEST = "sha256:76f1fe8593bf227cca2c089e3c16dc95014a8d3e89c5dd220530469ca043c428"
WRONG_IDENTITY = "https://github.com/someone-else/repo/.github/workflows/release.yml@refs/heads/main"


class Vector(NamedTuple):
    evidence: Path
    artifact: str
    """A path under tests/vectors, or `<alg>:<hex>`."""
    trusted_root: Path
    identity: Optional[str]
    issuer: Optional[str]
    fmt: str
    extra: tuple[str, ...] = ()
    key: Optional[Path] = None


VECTORS: dict[str, Vector] = {
    "gh-sigstore-js-v0.3": Vector(GH / "sigstore-js-2.1.0-bundle.json", str(GH / "sigstore-js-2.1.0.tgz"), PUBLIC_GOOD,
                                  SIGSTORE_JS, ACTIONS, "sigstore-bundle"),
    "gh-sigstore-js-v0.1": Vector(GH / "sigstore-js-2.1.0-bundle-v0.1.json", str(GH / "sigstore-js-2.1.0.tgz"), PUBLIC_GOOD,
                                  SIGSTORE_JS, ACTIONS, "sigstore-bundle"),
    "gh-sigstore-js-jsonl": Vector(GH / "sigstore-js-2.1.0_with_2_bundles.jsonl", str(GH / "sigstore-js-2.1.0.tgz"),
                                   PUBLIC_GOOD, SIGSTORE_JS, ACTIONS, "github-attestations-jsonl"),
    "gh-sigstore-js-jsonl-gh-root": Vector(GH / "sigstore-js-2.1.0_with_2_bundles.jsonl", str(GH / "sigstore-js-2.1.0.tgz"),
                                           GH / "trusted_root.json", SIGSTORE_JS, ACTIONS, "github-attestations-jsonl"),
    # GitHub's instance: a TSA timestamp, no log, no SCT (its root lists no CT log). One line
    # of JSON Lines is byte for byte a bundle, and is read as one.
    "gh-github-instance-jsonl": Vector(GH / "github_provenance_demo-0.0.12-py3-none-any-bundle.jsonl",
                                       str(GH / "github_provenance_demo-0.0.12-py3-none-any.whl"), GITHUB_ROOT,
                                       GH_DEMO, ACTIONS, "sigstore-bundle"),
    "gh-custom-issuer": Vector(GH / "custom-issuer.sigstore.json", str(GH / "custom-issuer-artifact"), PUBLIC_GOOD,
                               "https://github.com/too-legit/attest/.github/workflows/integration.yml@refs/heads/main",
                               ACTIONS + "/hammer-time", "sigstore-bundle"),
    "gh-reusable-workflow": Vector(GH / "reusable-workflow-attestation.sigstore.json", str(GH / "reusable-workflow-artifact"),
                                   PUBLIC_GOOD,
                                   "https://github.com/github/artifact-attestations-workflows/.github/workflows/attest.yml"
                                   "@09b495c3f12c7881b3cc17209a327792065c1a1d", ACTIONS, "sigstore-bundle"),
    "npm-publish-registry-key": Vector(NPM / "bundle-publish.json", NPM_SHA512, PUBLIC_GOOD, None, None, "sigstore-bundle",
                                       key=NPM / "publish_key.pub"),
    "npm-provenance": Vector(NPM / "bundle-provenance.json", NPM_SHA512, PUBLIC_GOOD, SIGSTORE_JS, ACTIONS, "sigstore-bundle"),
    "pypi-github-provenance": Vector(PYPI / "pypi_attestations-0.0.19.tar.gz.provenance",
                                     str(PYPI / "pypi_attestations-0.0.19.tar.gz"), PUBLIC_GOOD,
                                     "https://github.com/trailofbits/pypi-attestations/.github/workflows/release.yml@refs/tags/v0.0.19",
                                     ACTIONS, "pep740-provenance"),
    "pypi-github-publish": Vector(PYPI / "pypi_attestations-0.0.19.tar.gz.publish.attestation",
                                  str(PYPI / "pypi_attestations-0.0.19.tar.gz"), PUBLIC_GOOD,
                                  "https://github.com/trailofbits/pypi-attestations/.github/workflows/release.yml@refs/tags/v0.0.19",
                                  ACTIONS, "pep740-attestation"),
    "pypi-github-slsa": Vector(PYPI / "pypi_attestations-0.0.19.tar.gz.slsa.attestation",
                               str(PYPI / "pypi_attestations-0.0.19.tar.gz"), PUBLIC_GOOD,
                               "https://github.com/trailofbits/pypi-attestations/.github/workflows/release.yml@refs/tags/v0.0.19",
                               ACTIONS, "pep740-attestation"),
    "pypi-gitlab": Vector(PYPI / "gitlab_oidc_project-0.0.3.tar.gz.publish.attestation",
                          str(PYPI / "gitlab_oidc_project-0.0.3.tar.gz"), PUBLIC_GOOD,
                          "https://gitlab.com/facutuesca/gitlab-oidc-project//.gitlab-ci.yml@refs/heads/main",
                          "https://gitlab.com", "pep740-attestation"),
    "pypi-google": Vector(PYPI / "gcb_attestation_test-0.0.0.tar.gz.provenance", str(PYPI / "gcb_attestation_test-0.0.0.tar.gz"),
                          PUBLIC_GOOD, "919436158236-compute@developer.gserviceaccount.com", "https://accounts.google.com",
                          "pep740-provenance"),
    "pypi-circleci": Vector(PYPI / "circleci_sign_publish_example-0.0.1.dev137-py3-none-any.whl.provenance",
                            str(PYPI / "circleci_sign_publish_example-0.0.1.dev137-py3-none-any.whl"), PUBLIC_GOOD,
                            "https://circleci.com/api/v2/projects/fdd9283f-e619-46af-8f9c-851f7d3e8b2b/pipeline-definitions/"
                            "8e4f8ab2-8d7c-4827-9f15-de076d6d647f", "https://oidc.circleci.com", "pep740-provenance"),
    # Issued by the second certificate of GitHub's trusted chain (Fulcio Intermediate l1).
    "github-release-attestation": Vector(RUST / "github-private-attestation.sigstore.json", RELEASE_DIGEST, GITHUB_ROOT,
                                         GITHUB_RELEASES, None, "sigstore-bundle"),
    "conda-rekor-v2-staging": Vector(RUST / "conda-attestation-rekor2.sigstore.json",
                                     str(RUST / "signed-package-2.1.0-hb0f4dca_0.conda"), STAGING,
                                     "jku@goto.fi", "https://github.com/login/oauth", "sigstore-bundle"),
    "conda-rekor-v1": Vector(RUST / "conda-attestation.sigstore.json", str(RUST / "signed-package-2.1.0-hb0f4dca_0.conda"),
                             PUBLIC_GOOD,
                             "https://github.com/prefix-dev/sigstore-example/.github/workflows/action.yaml@refs/heads/main",
                             ACTIONS, "sigstore-bundle"),
}


class Run(NamedTuple):
    exit_code: int
    report: Optional[dict[str, Any]]
    output: str

    @property
    def reason(self) -> Optional[str]:
        return None if self.report is None else self.report.get("reason_code")


def _verify(v: Vector, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    from verifier.cli.app import main

    monkeypatch.setenv("AIRSEAL_HOME", str(tmp_path / "home"))
    args = ["verify", "--bundle", str(v.evidence), "--trusted-root", str(v.trusted_root), "--json", *v.extra]
    if v.key is not None:
        args += ["--key", str(v.key)]
    if v.identity is not None:
        args += ["--certificate-identity", v.identity]
    if v.issuer is not None:
        args += ["--certificate-oidc-issuer", v.issuer]
    result = CliRunner().invoke(main, [*args, v.artifact], catch_exceptions=True)
    try:
        report = json.loads(result.stdout)
    except ValueError:
        report = None
    return Run(result.exit_code, report, result.stdout[-2000:] + result.stderr[-2000:])


def _copy(tmp_path: Path, src: Path, data: bytes) -> Path:
    """A tampered copy under the vector's own file name (PEP 740 evidence names the file)."""
    d = tmp_path / "tampered"
    d.mkdir(exist_ok=True)
    out = d / src.name
    out.write_bytes(data)
    return out


def test_vectors_are_what_source_md_says() -> None:
    for d in VECTOR_DIRS:
        source = (d / "SOURCE.md").read_text()
        for f in sorted(d.iterdir()):
            if f.name != "SOURCE.md":
                assert f"{hashlib.sha256(f.read_bytes()).hexdigest()}  {f.name}" in source, f
        assert "Registry:" in source and "License:" in source and "Captured:" in source


@pytest.mark.parametrize("name", list(VECTORS))
def test_real_vector_verifies(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    v = VECTORS[name]
    out = _verify(v, tmp_path, monkeypatch)
    assert out.exit_code == 0, out.output
    assert out.report is not None and out.report["verified"] is True
    assert out.report["format"] == v.fmt
    assert out.report["trusted_root_sha256"] == hashlib.sha256(v.trusted_root.read_bytes()).hexdigest()
    signer = out.report["signer"]
    if v.key is not None:
        assert signer["kind"] == "key"
    else:
        assert signer["identity"] == v.identity
        assert signer["issuer"] == v.issuer


# --- tampered copies -------------------------------------------------------------------------


def _flip_artifact(v: Vector, tmp_path: Path) -> Vector:
    src = Path(v.artifact)
    data = bytearray(src.read_bytes())
    data[len(data) // 2] ^= 0x01
    return v._replace(artifact=str(_copy(tmp_path, src, bytes(data))))


def _flip_digest(v: Vector, tmp_path: Path) -> Vector:
    alg, hexdigest = v.artifact.split(":")
    return v._replace(artifact=f"{alg}:{hexdigest[:-1]}{'0' if hexdigest[-1] != '0' else '1'}")


def _flip_b64(value: str) -> str:
    raw = bytearray(base64.b64decode(value))
    raw[len(raw) // 2] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def _edit_bundles(v: Vector, tmp_path: Path, edit: Any) -> Vector:
    """Apply `edit` to every bundle of the evidence file (JSON Lines: each line)."""
    text = v.evidence.read_text()
    if v.evidence.suffix == ".jsonl":
        lines = [json.dumps(edit(json.loads(line))) for line in text.splitlines() if line.strip()]
        data = "\n".join(lines) + "\n"
    else:
        data = json.dumps(edit(json.loads(text)))
    return v._replace(evidence=_copy(tmp_path, v.evidence, data.encode()))


def _envelope(doc: dict[str, Any]) -> dict[str, Any]:
    if "dsseEnvelope" in doc:
        return doc["dsseEnvelope"]
    if "envelope" in doc:  # PEP 740 attestation
        return doc["envelope"]
    return doc["attestation_bundles"][0]["attestations"][0]["envelope"]  # PEP 740 provenance


def _flip_signature(doc: dict[str, Any]) -> dict[str, Any]:
    env = _envelope(doc)
    if "signatures" in env:
        env["signatures"][0]["sig"] = _flip_b64(env["signatures"][0]["sig"])
    else:
        env["signature"] = _flip_b64(env["signature"])
    return doc


def _subject_digest(doc: dict[str, Any]) -> dict[str, Any]:
    """Point the statement's first sha256 subject at other bytes (signature left as it was)."""
    env = _envelope(doc)
    field = "payload" if "payload" in env else "statement"
    statement = json.loads(base64.b64decode(env[field]))
    for subject in statement["subject"]:
        if "sha256" in subject["digest"]:
            subject["digest"]["sha256"] = hashlib.sha256(b"other bytes").hexdigest()
            break
    env[field] = base64.b64encode(json.dumps(statement).encode()).decode()
    return doc


TAMPERED = [
    ("gh-sigstore-js-v0.3", "artifact-byte", Reason.DSSE_SUBJECT_MISMATCH),
    ("gh-sigstore-js-v0.3", "signature-bit", Reason.TLOG_ENTRY_MISMATCH),
    ("gh-sigstore-js-v0.3", "wrong-identity", Reason.IDENTITY_MISMATCH),
    ("gh-sigstore-js-jsonl", "signature-bit", Reason.TLOG_ENTRY_MISMATCH),
    ("gh-github-instance-jsonl", "artifact-byte", Reason.DSSE_SUBJECT_MISMATCH),
    ("gh-github-instance-jsonl", "signature-bit", Reason.TSA_IMPRINT_MISMATCH),
    ("gh-github-instance-jsonl", "subject-digest", Reason.SIGNATURE_INVALID),
    ("gh-github-instance-jsonl", "wrong-identity", Reason.IDENTITY_MISMATCH),
    ("gh-custom-issuer", "wrong-issuer", Reason.IDENTITY_MISMATCH),
    ("npm-publish-registry-key", "artifact-digest", Reason.DSSE_SUBJECT_MISMATCH),
    ("npm-publish-registry-key", "signature-bit", Reason.SIGNATURE_INVALID),
    ("npm-publish-registry-key", "other-key", Reason.SIGNATURE_INVALID),
    ("pypi-github-provenance", "artifact-byte", Reason.DSSE_SUBJECT_MISMATCH),
    ("pypi-github-provenance", "signature-bit", Reason.TLOG_ENTRY_MISMATCH),
    ("pypi-github-publish", "subject-digest", Reason.TLOG_ENTRY_MISMATCH),
    ("pypi-gitlab", "wrong-identity", Reason.IDENTITY_MISMATCH),
    ("pypi-circleci", "artifact-byte", Reason.DSSE_SUBJECT_MISMATCH),
    ("github-release-attestation", "artifact-digest", Reason.DSSE_SUBJECT_MISMATCH),
    ("github-release-attestation", "signature-bit", Reason.TSA_IMPRINT_MISMATCH),
    ("github-release-attestation", "wrong-identity", Reason.IDENTITY_MISMATCH),
    ("conda-rekor-v2-staging", "artifact-byte", Reason.DSSE_SUBJECT_MISMATCH),
    ("conda-rekor-v2-staging", "signature-bit", Reason.TLOG_ENTRY_MISMATCH),
    ("conda-rekor-v2-staging", "subject-digest", Reason.TLOG_ENTRY_MISMATCH),
    ("conda-rekor-v2-staging", "public-good-root", Reason.TLOG_THRESHOLD_NOT_MET),
    ("conda-rekor-v1", "wrong-identity", Reason.IDENTITY_MISMATCH),
]


def _tamper(v: Vector, kind: str, tmp_path: Path) -> Vector:
    if kind == "artifact-byte":
        return _flip_artifact(v, tmp_path)
    if kind == "artifact-digest":
        return _flip_digest(v, tmp_path)
    if kind == "signature-bit":
        return _edit_bundles(v, tmp_path, _flip_signature)
    if kind == "subject-digest":
        return _edit_bundles(v, tmp_path, _subject_digest)
    if kind == "wrong-identity":
        return v._replace(identity=WRONG_IDENTITY)
    if kind == "wrong-issuer":
        return v._replace(issuer=ACTIONS)
    if kind == "other-key":
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        pem = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return v._replace(key=_copy(tmp_path, Path("other.pub"), pem))
    assert kind == "public-good-root"
    return v._replace(trusted_root=PUBLIC_GOOD)


@pytest.mark.parametrize(("name", "kind", "reason"), TAMPERED, ids=[f"{n}-{k}" for n, k, _ in TAMPERED])
def test_tampered_real_vector_refused(name: str, kind: str, reason: Reason, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = _verify(_tamper(VECTORS[name], kind, tmp_path), tmp_path, monkeypatch)
    assert out.exit_code == 1, out.output
    assert out.reason == reason.value, out.output


def test_gh_invalid_signature_bundle_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """gh's own negative vector: the envelope's signature is not the one the log recorded."""
    v = VECTORS["gh-sigstore-js-v0.3"]._replace(evidence=GH / "sigstoreBundle-invalid-signature.json", identity=None)
    out = _verify(v._replace(extra=("--certificate-identity-regexp", ".*")), tmp_path, monkeypatch)
    assert out.reason == Reason.TLOG_ENTRY_MISMATCH.value, out.output


def test_github_instance_needs_no_sct_by_default_but_an_explicit_threshold_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GitHub's trusted root lists no log and no CT log, and its certificates carry no SCT: the
    default asks for none there (a signed timestamp stands in, as sigstore-go's GitHub verifier
    does), but `--min-scts 1`, asked for, still refuses."""
    out = _verify(VECTORS["gh-github-instance-jsonl"], tmp_path, monkeypatch)
    assert out.exit_code == 0, out.output
    out = _verify(VECTORS["gh-github-instance-jsonl"]._replace(extra=("--min-scts", "1")), tmp_path, monkeypatch)
    assert out.reason == Reason.SCT_THRESHOLD_NOT_MET.value, out.output
    assert re.search(r"0 verified SCT", out.report["message"] if out.report else "")
