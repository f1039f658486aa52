"""The consistency audit (docs/verification.md, "Values a bundle states twice"): one test per row.

Every value a bundle states twice must agree, or the bundle is refused with the row's reason
code. Each row mints a bundle in the virtual Sigstore whose two statements disagree (the
logs sign whatever the fault produced, so only the comparison under test can catch it).
`ROWS` mirrors the table; a test keeps the two in step.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.support.virtual_sigstore import (
    Faults,
    SigningKey,
    VirtualSigstore,
    b64,
    flip_b64,
    mutated,
    npm_attestations,
    tlog_entry,
)
from tests.verify._harness import ARTIFACT, Inv, expected_exit, run_inv
from verifier.errors import Reason

Builder = Callable[[VirtualSigstore, dict], Inv]
ROWS: dict[str, tuple[Reason, Builder, bool]] = {}


def row(name: str, reason: Reason, *, tsa: bool = False) -> Callable[[Builder], Builder]:
    def deco(fn: Builder) -> Builder:
        ROWS[name] = (reason, fn, tsa)
        return fn

    return deco


def _entry(b: dict, **changes: object) -> dict:
    return mutated(b, lambda x: tlog_entry(x).update(changes))


def _proof(b: dict, **changes: object) -> dict:
    return mutated(b, lambda x: tlog_entry(x)["inclusionProof"].update(changes))


@row("log index: entry vs inclusion proof (Rekor v2)", Reason.TLOG_LOG_INDEX_MISMATCH, tsa=True)
def _(vs, tr):
    b = vs.sign_artifact(ARTIFACT, log="v2", tsa=True)
    return Inv(_proof(b, logIndex=str(int(tlog_entry(b)["logIndex"]) + 1)), tr)


@row("log index: entry vs SET (Rekor v1)", Reason.TLOG_SET_INVALID)
def _(vs, tr):
    b = vs.sign_artifact(ARTIFACT)
    return Inv(_entry(b, logIndex=str(int(tlog_entry(b)["logIndex"]) + 1)), tr)


@row("log index: inclusion proof vs tree (Rekor v1)", Reason.TLOG_INCLUSION_PROOF_INVALID)
def _(vs, tr):
    b = vs.sign_artifact(ARTIFACT)
    return Inv(_proof(b, logIndex=str(int(tlog_entry(b)["inclusionProof"]["logIndex"]) + 1)), tr)


@row("log id: entry vs SET signer (Rekor v1)", Reason.TLOG_SET_INVALID)
def _(vs, tr):
    return Inv(_entry(vs.sign_artifact(ARTIFACT), logId={"keyId": b64(vs.rekor_v2_ecdsa.log_id)}), tr)


@row("log id: entry vs checkpoint signer (Rekor v2)", Reason.TLOG_CHECKPOINT_NO_MATCHING_KEY, tsa=True)
def _(vs, tr):
    b = vs.sign_artifact(ARTIFACT, log="v2", tsa=True)
    return Inv(_entry(b, logId={"keyId": b64(vs.rekor_v2_ecdsa.log_id)}), tr)


@row("tree size: inclusion proof vs checkpoint", Reason.TLOG_CHECKPOINT_ROOT_MISMATCH)
def _(vs, tr):
    b = vs.sign_artifact(ARTIFACT)
    return Inv(_proof(b, treeSize=str(int(tlog_entry(b)["inclusionProof"]["treeSize"]) + 1)), tr)


@row("root hash: inclusion proof vs checkpoint", Reason.TLOG_CHECKPOINT_ROOT_MISMATCH)
def _(vs, tr):
    b = vs.sign_artifact(ARTIFACT)
    return Inv(_proof(b, rootHash=flip_b64(tlog_entry(b)["inclusionProof"]["rootHash"])), tr)


@row("integrated time: entry vs SET", Reason.TLOG_SET_INVALID)
def _(vs, tr):
    b = vs.sign_artifact(ARTIFACT)
    return Inv(_entry(b, integratedTime=str(int(tlog_entry(b)["integratedTime"]) - 30)), tr)


@row("kind/version: kindVersion vs body", Reason.TLOG_KIND_VERSION_MISMATCH)
def _(vs, tr):
    return Inv(vs.sign_artifact(ARTIFACT, faults=Faults(kind_version=("hashedrekord", "0.0.2"))), tr)


@row("digest: messageDigest vs artifact (and so vs the body)", Reason.ARTIFACT_DIGEST_MISMATCH)
def _(vs, tr):
    b = vs.sign_artifact(ARTIFACT)
    return Inv(mutated(b, lambda x: x["messageSignature"]["messageDigest"].update(digest=flip_b64(x["messageSignature"]["messageDigest"]["digest"]))), tr)


@row("digest: hashedrekord body vs artifact (and so vs messageDigest)", Reason.TLOG_ENTRY_MISMATCH)
def _(vs, tr):
    def change(body: dict) -> dict:
        body["spec"]["data"]["hash"]["value"] = "00" * 32
        return body

    return Inv(vs.sign_artifact(ARTIFACT, faults=Faults(body_mutator=change)), tr)


@row("digest algorithm: hashedrekord body vs key", Reason.TLOG_ENTRY_MISMATCH)
def _(vs, tr):
    def change(body: dict) -> dict:
        body["spec"]["data"]["hash"]["algorithm"] = "sha512"
        return body

    return Inv(vs.sign_artifact(ARTIFACT, faults=Faults(body_mutator=change)), tr)


@row("key hint vs verifying key", Reason.KEY_HINT_NOT_THIS_KEY)
def _(vs, tr):
    b = vs.sign_artifact(ARTIFACT, key_based=True)
    b["verificationMaterial"]["publicKey"]["hint"] = SigningKey.generate().hint
    return Inv(b, tr, key_pem=vs.public_key_pem())


@row("DSSE keyid vs key hint", Reason.BUNDLE_KEY_HINT_MISMATCH)
def _(vs, tr):
    return Inv(vs.attest(ARTIFACT, key_based=True, keyid=SigningKey.generate().hint), tr, key_pem=vs.public_key_pem())


@row("DSSE payload vs dsse body payloadHash", Reason.TLOG_ENTRY_MISMATCH)
def _(vs, tr):
    def change(body: dict) -> dict:
        body["spec"]["payloadHash"]["value"] = "11" * 32
        return body

    return Inv(vs.attest(ARTIFACT, faults=Faults(body_mutator=change)), tr)


@row("DSSE payload vs intoto body payload", Reason.TLOG_ENTRY_MISMATCH)
def _(vs, tr):
    def change(body: dict) -> dict:
        env = body["spec"]["content"]["envelope"]
        env["payload"] = b64(b64(b'{"_type":"other"}').encode())
        return body

    return Inv(vs.attest(ARTIFACT, kind="intoto", faults=Faults(body_mutator=change)), tr)


@row("DSSE payloadType vs intoto body", Reason.TLOG_ENTRY_MISMATCH)
def _(vs, tr):
    def change(body: dict) -> dict:
        body["spec"]["content"]["envelope"]["payloadType"] = "text/plain"
        return body

    return Inv(vs.attest(ARTIFACT, kind="intoto", faults=Faults(body_mutator=change)), tr)


@row("signature: bundle vs body", Reason.TLOG_ENTRY_MISMATCH)
def _(vs, tr):
    b = vs.sign_artifact(ARTIFACT)
    return Inv(mutated(b, lambda x: x["messageSignature"].update(signature=flip_b64(x["messageSignature"]["signature"]))), tr)


@row("certificate: bundle vs body", Reason.TLOG_ENTRY_MISMATCH)
def _(vs, tr):
    b = vs.sign_artifact(ARTIFACT)
    other = vs.sign_artifact(ARTIFACT)
    return Inv(mutated(b, lambda x: x["verificationMaterial"].update(certificate=other["verificationMaterial"]["certificate"])), tr)


@row("Rekor v2 body vs the body rebuilt from the bundle", Reason.TLOG_ENTRY_MISMATCH, tsa=True)
def _(vs, tr):
    def change(body: dict) -> dict:
        body["spec"]["hashedRekordV002"]["data"]["digest"] = b64(b"\x00" * 32)
        return body

    f = Faults(body_mutator=change, v2_mutated_body_is_canonical=True)
    return Inv(vs.sign_artifact(ARTIFACT, log="v2", tsa=True, faults=f), tr)


@row("checkpoint origin vs trusted log (Rekor v2)", Reason.TLOG_CHECKPOINT_MALFORMED, tsa=True)
def _(vs, tr):
    from tests.support.virtual_sigstore import CheckpointOptions

    origin = vs.rekor_v2.origin
    f = Faults(checkpoint=CheckpointOptions(text_mutator=lambda t: t.replace(origin, origin + ".evil", 1)))
    return Inv(vs.sign_artifact(ARTIFACT, log="v2", tsa=True, faults=f), tr)


@row("timestamp imprint vs signature", Reason.TSA_IMPRINT_MISMATCH, tsa=True)
def _(vs, tr):
    return Inv(vs.sign_artifact(ARTIFACT, log="v2", tsa=True, faults=Faults(tsa_over=b"other signature")), tr)


@row("predicate type: npm wrapper vs statement", Reason.DSSE_PREDICATE_TYPE)
def _(vs, tr):
    return Inv(npm_attestations([("https://slsa.dev/provenance/v0.2", vs.attest(ARTIFACT))]), tr)


# ---- the tests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ROWS))
def test_audit_row(name: str, vs: VirtualSigstore, trusted_root: dict, has_tsa: bool, tmp_path: Path) -> None:
    reason, build, tsa = ROWS[name]
    if tsa and not has_tsa:
        pytest.skip("tests/support/tsa.py needs openssl and faketime")
    out = run_inv(build(vs, trusted_root), tmp_path)
    assert out.reason == reason.value, out.describe()
    assert out.exit_code == expected_exit(reason), out.describe()


def test_the_table_in_the_doc_matches_these_rows() -> None:
    doc = (REPO / "docs" / "verification.md").read_text()
    section = doc[doc.index("### Values a bundle states twice") :]
    section = section[: section.index("\n## ")] if "\n## " in section else section
    documented = dict(re.findall(r"^\| ([^|]+?) \| `([a-z0-9_.]+)` \|", section, re.M))
    assert documented == {name: reason.value for name, (reason, _, _) in ROWS.items()}
