"""`verify --bundle` with evidence in the ecosystems' formats, minted in the virtual Sigstore.

Each format: positive cases (the format named in `--json`, the bundle's place in the file)
and tampered copies (artifact byte, signature bit, subject digest, wrong identity) refused
with their reason codes. docs/verify.md describes the formats; docs/verification.md §0 and
§8.3 the rules.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import pytest

from tests.support.virtual_sigstore import (
    NPM_PUBLISH_PREDICATE,
    SLSA_PROVENANCE_V1,
    VirtualSigstore,
    b64,
    cosign_bundle,
    flip_b64,
    github_jsonl,
    mutated,
    npm_attestations,
    pep740_attestation,
    pep740_provenance,
)
from tests.verify._harness import ARTIFACT, Inv, expected_exit, run_inv
from verifier.errors import Reason

WHEEL = "airseal_demo-1.0-py3-none-any.whl"
TARBALL = b"npm tarball bytes\n"


def _statement(subjects: list[tuple[str, bytes]], predicate_type: str = "https://docs.pypi.org/attestations/publish/v1",
               algs: tuple[str, ...] = ("sha256",)) -> dict[str, Any]:
    return {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": n, "digest": {a: hashlib.new(a, d).hexdigest() for a in algs}} for n, d in subjects],
        "predicateType": predicate_type,
        "predicate": None,
    }


def _flip_dsse_sig(b: dict) -> dict:
    return mutated(b, lambda x: x["dsseEnvelope"]["signatures"][0].update(sig=flip_b64(x["dsseEnvelope"]["signatures"][0]["sig"])))


# ---- builders -----------------------------------------------------------------------------------

Case = tuple[Callable[[VirtualSigstore, dict], Inv], Optional[Reason], Optional[str], Optional[str]]
"""builder, expected reason (None: verifies), expected format, expected location (on success)."""
CASES: dict[str, Case] = {}


def case(name: str, reason: Optional[Reason] = None, fmt: Optional[str] = None, location: Optional[str] = None):
    def deco(fn: Callable[[VirtualSigstore, dict], Inv]) -> Callable[[VirtualSigstore, dict], Inv]:
        CASES[name] = (fn, reason, fmt, location)
        return fn

    return deco


# GitHub attestations JSON Lines


def _gh_lines(vs: VirtualSigstore, *, tamper: bool = False, include_ours: bool = True) -> bytes:
    others = [vs.attest(b"other artifact %d" % i) for i in range(2)]
    ours = vs.attest(ARTIFACT)
    if tamper:
        ours = _flip_dsse_sig(ours)
    lines = [others[0]] + ([ours] if include_ours else []) + [others[1]]
    return github_jsonl(lines, blank_lines=True)


@case("gh-jsonl-third-line-verifies", fmt="github-attestations-jsonl", location="line 3")
def _(vs, tr):
    return Inv(_gh_lines(vs), tr)


@case("gh-jsonl-single-line-is-a-plain-bundle", fmt="sigstore-bundle", location="")
def _(vs, tr):
    return Inv(github_jsonl([vs.attest(ARTIFACT)]), tr)


@case("gh-jsonl-no-line-about-this-artifact", Reason.DSSE_SUBJECT_MISMATCH)
def _(vs, tr):
    return Inv(_gh_lines(vs, include_ours=False), tr)


@case("gh-jsonl-our-line-signature-bit", Reason.TLOG_ENTRY_MISMATCH)
def _(vs, tr):
    return Inv(_gh_lines(vs, tamper=True), tr)


@case("gh-jsonl-artifact-byte", Reason.DSSE_SUBJECT_MISMATCH)
def _(vs, tr):
    return Inv(_gh_lines(vs), tr, artifact=ARTIFACT[:-1] + b"?")


@case("gh-jsonl-wrong-identity", Reason.IDENTITY_MISMATCH)
def _(vs, tr):
    return Inv(_gh_lines(vs), tr, identity="https://github.com/someone/else/.github/workflows/x.yml@refs/heads/main")


@case("gh-jsonl-malformed-line", Reason.BUNDLE_UNSUPPORTED_MEDIA_TYPE)
def _(vs, tr):
    return Inv(_gh_lines(vs) + b'{"mediaType": 1}\n', tr)


# PyPI PEP 740


def _pep740(vs: VirtualSigstore, name: str = WHEEL, data: bytes = ARTIFACT, **kw: Any) -> dict:
    return pep740_attestation(vs.attest(ARTIFACT, statement=_statement([(name, data)]), **kw))


@case("pep740-attestation", fmt="pep740-attestation")
def _(vs, tr):
    return Inv(_pep740(vs), tr, artifact_name=WHEEL)


@case("pep740-attestation-unnormalised-subject-name", fmt="pep740-attestation")
def _(vs, tr):
    return Inv(_pep740(vs, name="Airseal.Demo-1.0.0-py3-none-any.whl"), tr, artifact_name=WHEEL)


@case("pep740-sdist", fmt="pep740-attestation")
def _(vs, tr):
    return Inv(_pep740(vs, name="airseal-demo-1.0.tar.gz"), tr, artifact_name="airseal_demo-1.0.tar.gz")


@case("pep740-provenance", fmt="pep740-provenance", location="attestation_bundles[0].attestations[0] (publisher GitHub repository=airseal-test/repo workflow=release.yml)")
def _(vs, tr):
    return Inv(pep740_provenance([_pep740(vs)]), tr, artifact_name=WHEEL)


@case("pep740-subject-names-another-file", Reason.DSSE_SUBJECT_NAME)
def _(vs, tr):
    return Inv(_pep740(vs, name="other-1.0-py3-none-any.whl"), tr, artifact_name=WHEEL)


@case("pep740-subject-digest", Reason.DSSE_SUBJECT_MISMATCH)
def _(vs, tr):
    return Inv(_pep740(vs, data=b"another file"), tr, artifact_name=WHEEL)


@case("pep740-artifact-byte", Reason.DSSE_SUBJECT_MISMATCH)
def _(vs, tr):
    return Inv(_pep740(vs), tr, artifact_name=WHEEL, artifact=ARTIFACT + b"x")


@case("pep740-signature-bit", Reason.TLOG_ENTRY_MISMATCH)
def _(vs, tr):
    att = _pep740(vs)
    att["envelope"]["signature"] = flip_b64(att["envelope"]["signature"])
    return Inv(att, tr, artifact_name=WHEEL)


@case("pep740-wrong-identity", Reason.IDENTITY_MISMATCH)
def _(vs, tr):
    return Inv(pep740_provenance([_pep740(vs)]), tr, artifact_name=WHEEL, identity="https://github.com/evil/repo/.github/workflows/release.yml@refs/heads/main")


@case("pep740-version-2", Reason.EVIDENCE_MALFORMED)
def _(vs, tr):
    return Inv(dict(_pep740(vs), version=2), tr, artifact_name=WHEEL)


# npm attestations


def _npm(vs: VirtualSigstore, *, publish_statement_type: Optional[str] = None, tamper_publish: bool = False,
         wrapper_type: str = SLSA_PROVENANCE_V1) -> dict:
    subject = [("pkg:npm/airseal-demo@1.0.0", TARBALL)]
    slsa = vs.attest(TARBALL, statement=_statement(subject, SLSA_PROVENANCE_V1, ("sha512",)))
    key = vs.key()
    hint = "SHA256:" + b64(hashlib.sha256(key.spki_der).digest()).rstrip("=")
    publish = vs.attest(
        TARBALL,
        key_based=True,
        kind="intoto",
        bundle_version="0.2",
        keyid=hint,
        statement=_statement(subject, publish_statement_type or NPM_PUBLISH_PREDICATE, ("sha512",)),
    )
    publish["verificationMaterial"]["publicKey"] = {"hint": hint}
    if tamper_publish:
        publish = _flip_dsse_sig(publish)
    return npm_attestations([(NPM_PUBLISH_PREDICATE, publish), (wrapper_type, slsa)])


@case("npm-key-and-identity-both-verify", fmt="npm-attestations", location=f"attestations[1] ({SLSA_PROVENANCE_V1})")
def _(vs, tr):
    return Inv(_npm(vs), tr, artifact=TARBALL, key_pem=vs.public_key_pem(), keep_identity=True)


@case("npm-identity-only", fmt="npm-attestations", location=f"attestations[1] ({SLSA_PROVENANCE_V1})")
def _(vs, tr):
    return Inv(_npm(vs), tr, artifact=TARBALL)


@case("npm-key-only-publish-attestation", fmt="npm-attestations", location=f"attestations[0] ({NPM_PUBLISH_PREDICATE})")
def _(vs, tr):
    return Inv(_npm(vs), tr, artifact=TARBALL, key_pem=vs.public_key_pem())


@case("npm-both-given-publish-signature-bit", Reason.SIGNATURE_INVALID)
def _(vs, tr):
    return Inv(_npm(vs, tamper_publish=True), tr, artifact=TARBALL, key_pem=vs.public_key_pem(), keep_identity=True)


@case("npm-wrapper-predicate-type-differs", Reason.DSSE_PREDICATE_TYPE)
def _(vs, tr):
    return Inv(_npm(vs, wrapper_type="https://slsa.dev/provenance/v0.2"), tr, artifact=TARBALL)


@case("npm-tarball-byte", Reason.DSSE_SUBJECT_MISMATCH)
def _(vs, tr):
    return Inv(_npm(vs), tr, artifact=TARBALL + b"\0")


@case("npm-wrong-key", Reason.SIGNATURE_INVALID)
def _(vs, tr):
    from tests.support.virtual_sigstore import SigningKey

    return Inv(_npm(vs), tr, artifact=TARBALL, key_pem=SigningKey.generate().public_key_pem())


# cosign's older bundle file


@case("cosign-bundle-certificate", fmt="cosign-bundle")
def _(vs, tr):
    return Inv(cosign_bundle(vs.sign_artifact(ARTIFACT, bundle_version="0.1")), tr)


@case("cosign-bundle-key", fmt="cosign-bundle")
def _(vs, tr):
    return Inv(cosign_bundle(vs.sign_artifact(ARTIFACT, key_based=True)), tr, key_pem=vs.public_key_pem())


@case("cosign-bundle-set-time-changed", Reason.TLOG_SET_INVALID)
def _(vs, tr):
    doc = cosign_bundle(vs.sign_artifact(ARTIFACT))
    doc["rekorBundle"]["Payload"]["integratedTime"] += 1
    return Inv(doc, tr)


@case("cosign-bundle-signature-bit", Reason.TLOG_ENTRY_MISMATCH)
def _(vs, tr):
    doc = cosign_bundle(vs.sign_artifact(ARTIFACT))
    doc["base64Signature"] = flip_b64(doc["base64Signature"])
    return Inv(doc, tr)


@case("cosign-bundle-artifact-byte", Reason.TLOG_ENTRY_MISMATCH)
def _(vs, tr):
    return Inv(cosign_bundle(vs.sign_artifact(ARTIFACT)), tr, artifact=b"X" + ARTIFACT[1:])


@case("cosign-bundle-wrong-identity", Reason.IDENTITY_MISMATCH)
def _(vs, tr):
    return Inv(cosign_bundle(vs.sign_artifact(ARTIFACT)), tr, identity="someone@example.com")


@case("cosign-bundle-unknown-field", Reason.EVIDENCE_MALFORMED)
def _(vs, tr):
    return Inv(dict(cosign_bundle(vs.sign_artifact(ARTIFACT)), extra=1), tr)


# one DSSE attestation covering many files


@case("dsse-many-subjects-one-of-them")
def _(vs, tr):
    files = [(f"dist/file{i}.bin", b"content %d" % i) for i in range(50)] + [("dist/artifact.bin", ARTIFACT)]
    return Inv(vs.attest(ARTIFACT, statement=_statement(files)), tr)


@case("dsse-many-subjects-not-among-them", Reason.DSSE_SUBJECT_MISMATCH)
def _(vs, tr):
    files = [(f"dist/file{i}.bin", b"content %d" % i) for i in range(50)]
    return Inv(vs.attest(ARTIFACT, statement=_statement(files)), tr)


# ---- the test ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_evidence_format(name: str, vs: VirtualSigstore, trusted_root: dict, tmp_path: Path) -> None:
    build, reason, fmt, location = CASES[name]
    out = run_inv(build(vs, trusted_root), tmp_path)
    if reason is None:
        assert out.exit_code == 0 and out.report and out.report["verified"] is True, out.describe()
        if fmt is not None:
            assert out.report["format"] == fmt, out.describe()
        if location is not None:
            assert out.report["evidence_location"] == location, out.describe()
    else:
        assert out.reason == reason.value, out.describe()
        assert out.exit_code == expected_exit(reason), out.describe()
