"""Attacks and threshold semantics beyond the §5 table, minted with VirtualSigstore.

These cases have no single listed reason code; the contract checked is "rejected" (exit 1 or 3
with a reason code) or "accepted" (exit 0), plus the reason when the spec pins one down.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from tests.support.virtual_sigstore import (
    DEFAULT_TIME,
    Faults,
    LeafOptions,
    SigningKey,
    VirtualSigstore,
    b64,
    mutated,
    tlog_entry,
)
from tests.verify._harness import ARTIFACT, Inv, run_inv
from verifier.errors import Reason

VM = "verificationMaterial"
NO_TLOG = ["--min-tlog-entries", "0", "--min-timestamps", "0"]


class C:
    def __init__(self, vs: VirtualSigstore, untrusted: VirtualSigstore, tr: dict) -> None:
        self.vs, self.untrusted, self.tr = vs, untrusted, tr


# name -> (builder, expectation, needs_tsa); expectation: "accept", "reject", or a Reason
CASES: dict[str, tuple[Callable[[C], Inv], Any, bool]] = {}


def case(name: str, expect: Any, *, tsa: bool = False) -> Callable:
    def deco(fn: Callable[[C], Inv]) -> Callable[[C], Inv]:
        CASES[name] = (fn, expect, tsa)
        return fn

    return deco


@case("two-entries-same-log-count-once", Reason.TLOG_THRESHOLD_NOT_MET)
def _(c: C) -> Inv:
    # the same signature logged twice in one log: still one distinct log
    a = c.vs.sign_artifact(ARTIFACT)
    body = tlog_entry(a)["canonicalizedBody"]
    from tests.support.virtual_sigstore import b64d

    second = c.vs.rekor_v1.log(b64d(body), "hashedrekord", "0.0.1", integrated_time=int(DEFAULT_TIME.timestamp()))
    a[VM]["tlogEntries"].append(second)
    return Inv(a, c.tr, args=["--min-tlog-entries", "2"])


@case("two-tokens-same-tsa-count-once", "reject", tsa=True)
def _(c: C) -> Inv:
    b = c.vs.sign_artifact(ARTIFACT, log="v2", tsa=True)
    from tests.support.virtual_sigstore import b64d

    sig = b64d(b["messageSignature"]["signature"])
    extra = c.vs.tsa.timestamp(sig, at=DEFAULT_TIME)
    b[VM]["timestampVerificationData"]["rfc3161Timestamps"].append({"signedTimestamp": b64(extra)})
    return Inv(b, c.tr, args=["--min-timestamps", "2"])


@case("v1-set-plus-untrusted-tsa-token-accepted", "accept", tsa=True)
def _(c: C) -> Inv:
    # a failing TSA token is reported but ignored when the SET meets the thresholds (spec Step 2.10)
    return Inv(c.vs.sign_artifact(ARTIFACT, tsa=True, faults=Faults(tsa_authority=c.vs.tsa.untrusted_twin())), c.tr)


@case("leaf-is-a-ca", "reject")
def _(c: C) -> Inv:
    return Inv(c.vs.sign_artifact(ARTIFACT, faults=Faults(leaf=LeafOptions(is_ca=True))), c.tr)


@case("leaf-with-unknown-critical-extension", "reject")
def _(c: C) -> Inv:
    ext = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00")
    return Inv(c.vs.sign_artifact(ARTIFACT, faults=Faults(leaf=LeafOptions(extra_extensions=[(ext, True)]))), c.tr)


@case("leaf-without-san", "reject")
def _(c: C) -> Inv:
    return Inv(c.vs.sign_artifact(ARTIFACT, faults=Faults(leaf=LeafOptions(san="none"))), c.tr)


@case("key-based-body-names-other-key", "reject")
def _(c: C) -> Inv:
    other = SigningKey.generate().public_key_pem()

    def swap(body: dict) -> dict:
        body["spec"]["signature"]["publicKey"]["content"] = b64(other)
        return body

    b = c.vs.sign_artifact(ARTIFACT, key_based=True, faults=Faults(body_mutator=swap))
    return Inv(b, c.tr, key_pem=c.vs.key().public_key_pem())


@case("key-based-rekor2-body-names-other-key", "reject", tsa=True)
def _(c: C) -> Inv:
    other = SigningKey.generate()

    def swap(body: dict) -> dict:
        body["spec"]["hashedRekordV002"]["signature"]["verifier"]["publicKey"]["rawBytes"] = b64(other.spki_der)
        return body

    b = c.vs.sign_artifact(ARTIFACT, key_based=True, log="v2", tsa=True,
                           faults=Faults(body_mutator=swap, v2_mutated_body_is_canonical=True))
    return Inv(b, c.tr, key_pem=c.vs.key().public_key_pem())


@case("message-digest-input-differs", Reason.ARTIFACT_DIGEST_MISMATCH)
def _(c: C) -> Inv:
    return Inv(c.vs.sign_artifact(ARTIFACT), c.tr, digest="sha256", digest_value=hashlib.sha256(b"other").hexdigest())


@case("tlog-hash-algorithm-not-sha256", "reject")
def _(c: C) -> Inv:
    tr = copy.deepcopy(c.tr)
    tr["tlogs"][0]["hashAlgorithm"] = "SHA2_384"
    return Inv(c.vs.sign_artifact(ARTIFACT), tr)


@case("entry-log-id-of-other-trusted-log", "reject")
def _(c: C) -> Inv:
    # v1 entry relabelled with the (trusted) v2-ecdsa log's id: SET/checkpoint keys differ
    b = c.vs.sign_artifact(ARTIFACT)
    return Inv(mutated(b, lambda x: tlog_entry(x)["logId"].update(keyId=b64(c.vs.rekor_v2_ecdsa.log_id))), c.tr)


@case("rekor2-entry-relabelled-to-other-v2-log", "reject", tsa=True)
def _(c: C) -> Inv:
    b = c.vs.sign_artifact(ARTIFACT, log="v2", tsa=True)
    return Inv(mutated(b, lambda x: tlog_entry(x)["logId"].update(keyId=b64(c.vs.rekor_v2_ecdsa.log_id))), c.tr)


@case("whole-bundle-from-untrusted-instance-with-its-tsa", "reject", tsa=True)
def _(c: C) -> Inv:
    return Inv(c.untrusted.sign_artifact(ARTIFACT, log="v2", tsa=True), c.tr)


@case("untrusted-instance-trusted-root-cannot-vouch", "reject")
def _(c: C) -> Inv:
    # our bundle against the other instance's root
    return Inv(c.vs.sign_artifact(ARTIFACT), c.untrusted.trusted_root(tsas=False))


@case("dsse-bundle-as-message-artifact-bytes", Reason.DSSE_SUBJECT_MISMATCH)
def _(c: C) -> Inv:
    # verifying the DSSE payload bytes themselves as the "artifact" must not pass
    b = c.vs.attest(ARTIFACT)
    from tests.support.virtual_sigstore import b64d

    return Inv(b, c.tr, artifact=b64d(b["dsseEnvelope"]["payload"]))


@case("sct-timestamp-after-integrated-time-still-ok", "accept")
def _(c: C) -> Inv:
    # integrated time just inside the leaf validity end (inclusive)
    f = Faults(integrated_time=DEFAULT_TIME + __import__("datetime").timedelta(minutes=8))
    return Inv(c.vs.sign_artifact(ARTIFACT, faults=f), c.tr)


@case("integrated-time-one-second-after-not-after", Reason.TIME_OUTSIDE_CERT_VALIDITY)
def _(c: C) -> Inv:
    f = Faults(integrated_time=DEFAULT_TIME + __import__("datetime").timedelta(minutes=8, seconds=1))
    return Inv(c.vs.sign_artifact(ARTIFACT, faults=f), c.tr)


@case("valid-entry-plus-entry-with-bad-set-from-trusted-log", Reason.TLOG_SET_INVALID)
def _(c: C) -> Inv:
    # spec step 1.5: an invalid SET from a trusted log fails hard even if another entry verifies
    from cryptography.hazmat.primitives.asymmetric import ec

    a = c.vs.sign_artifact(ARTIFACT)
    bad = c.vs.sign_artifact(ARTIFACT, faults=Faults(set_key=ec.generate_private_key(ec.SECP256R1())))
    a[VM]["tlogEntries"].append(tlog_entry(bad))
    return Inv(a, c.tr)


@case("integrated-time-one-second-before-not-before", Reason.TIME_OUTSIDE_CERT_VALIDITY)
def _(c: C) -> Inv:
    f = Faults(integrated_time=DEFAULT_TIME - __import__("datetime").timedelta(minutes=2, seconds=1))
    return Inv(c.vs.sign_artifact(ARTIFACT, faults=f), c.tr)


@case("tlog-validity-start-one-second-after-integrated-time", Reason.TLOG_KEY_VALIDITY)
def _(c: C) -> Inv:
    tr = c.vs.trusted_root(tlog_validity=(DEFAULT_TIME + __import__("datetime").timedelta(seconds=1), None))
    return Inv(c.vs.sign_artifact(ARTIFACT), tr)


@case("message-digest-input-sha512-for-p256", "reject")
def _(c: C) -> Inv:
    return Inv(c.vs.sign_artifact(ARTIFACT), c.tr, digest="sha512")


@case("rekor2-checkpoint-body-origin-of-other-log", "reject", tsa=True)
def _(c: C) -> Inv:
    # the log's key signs a note whose origin line names another log; the signature line is
    # named after the right origin. A checkpoint for another origin must not prove inclusion.
    def other_origin(text: str) -> str:
        lines = text.split("\n")
        lines[0] = "log2026-9.rekor.elsewhere.test"
        return "\n".join(lines)

    from tests.support.virtual_sigstore import CheckpointOptions

    f = Faults(checkpoint=CheckpointOptions(text_mutator=other_origin))
    return Inv(c.vs.sign_artifact(ARTIFACT, log="v2", tsa=True, faults=f), c.tr)


@case("dsse-ed25519-not-rejected-for-digest-input-but-payload-type-checked", Reason.DSSE_PAYLOAD_TYPE)
def _(c: C) -> Inv:
    b = c.vs.attest(ARTIFACT, key_based=True, keytype="ed25519", log=None, payload_type="text/plain")
    return Inv(b, c.tr, key_pem=c.vs.public_key_pem("ed25519"), args=list(NO_TLOG), digest="sha256")


@case("key-based-no-time-without-explicit-opt-out", "reject")
def _(c: C) -> Inv:
    # spec §3.7: with no times at all, a key-based bundle may verify only if the policy
    # explicitly says "no observer timestamps". airseal's opt-out is --min-tlog-entries 0
    # (docs/verify.md); asking for a time explicitly keeps the requirement.
    b = c.vs.sign_artifact(ARTIFACT, key_based=True, log=None)
    return Inv(b, c.tr, key_pem=c.vs.public_key_pem(), args=["--min-tlog-entries", "0", "--min-timestamps", "1"])


@case("key-based-no-log-no-time-default-policy", "reject")
def _(c: C) -> Inv:
    # the default policy wants a log entry and a verified time even for bare keys
    b = c.vs.sign_artifact(ARTIFACT, key_based=True, log=None)
    return Inv(b, c.tr, key_pem=c.vs.public_key_pem())


@case("key-based-rekor2-entry-without-tsa-default-policy", "reject", tsa=True)
def _(c: C) -> Inv:
    # Rekor v2 entries carry no time; no TSA token and no explicit opt-out (spec §3.7, §4)
    b = c.vs.sign_artifact(ARTIFACT, key_based=True, log="v2")
    return Inv(b, c.tr, key_pem=c.vs.public_key_pem())


@case("certificate-from-untrusted-ca-with-all-thresholds-zero", "reject")
def _(c: C) -> Inv:
    # spec Step 3: a certificate bundle needs >= 1 verified time whatever the thresholds; the
    # chain must still be validated. Lowering every threshold must not skip the chain.
    b = c.untrusted.sign_artifact(ARTIFACT, log=None)
    return Inv(b, c.tr, args=["--min-tlog-entries", "0", "--min-timestamps", "0", "--min-scts", "0"])


@case("certificate-from-untrusted-ca-logged-in-trusted-rekor2-min-timestamps-0", "reject", tsa=True)
def _(c: C) -> Inv:
    # an attacker's own CA, a genuine entry in our Rekor v2 (anyone may submit), no TSA token
    b = c.vs.sign_artifact(ARTIFACT, log="v2", faults=Faults(ca=c.untrusted.ca))
    return Inv(b, c.tr, args=["--min-timestamps", "0", "--min-scts", "0"])


@case("certificate-no-time-min-timestamps-0", "reject")
def _(c: C) -> Inv:
    # our own CA, but no verified time at all: the verifier clock is never used for Fulcio certs
    b = c.vs.sign_artifact(ARTIFACT, log=None)
    return Inv(b, c.tr, args=["--min-tlog-entries", "0", "--min-timestamps", "0"])


# ---- spec MUST items with their own codes but no §5 row -------------------------------------


@case("dsse-keyid-differs-from-hint", Reason.BUNDLE_KEY_HINT_MISMATCH)
def _(c: C) -> Inv:
    b = c.vs.attest(ARTIFACT, key_based=True, log=None, keyid="some-other-key")
    return Inv(b, c.tr, key_pem=c.vs.key().public_key_pem(), args=list(NO_TLOG))


@case("dsse-empty-keyid-with-hint-ok", "accept")
def _(c: C) -> Inv:
    b = c.vs.attest(ARTIFACT, key_based=True, log=None, keyid="")
    return Inv(b, c.tr, key_pem=c.vs.key().public_key_pem(), args=list(NO_TLOG))


@case("ecdsa-signature-trailing-byte", Reason.SIGNATURE_ENCODING)
def _(c: C) -> Inv:
    from tests.support.virtual_sigstore import b64d

    b = c.vs.sign_artifact(ARTIFACT, key_based=True, log=None)
    sig = b64d(b["messageSignature"]["signature"]) + b"\x00"
    return Inv(mutated(b, lambda x: x["messageSignature"].update(signature=b64(sig))), c.tr,
               key_pem=c.vs.key().public_key_pem(), args=list(NO_TLOG))


@case("ecdsa-signature-raw-r-s", Reason.SIGNATURE_ENCODING)
def _(c: C) -> Inv:
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    from tests.support.virtual_sigstore import b64d

    b = c.vs.sign_artifact(ARTIFACT, key_based=True, log=None)
    r, s_ = decode_dss_signature(b64d(b["messageSignature"]["signature"]))
    raw = r.to_bytes(32, "big") + s_.to_bytes(32, "big")
    return Inv(mutated(b, lambda x: x["messageSignature"].update(signature=b64(raw))), c.tr,
               key_pem=c.vs.key().public_key_pem(), args=list(NO_TLOG))


@case("tlog-entry-without-canonicalized-body", Reason.BUNDLE_TLOG_NO_BODY)
def _(c: C) -> Inv:
    return Inv(mutated(c.vs.sign_artifact(ARTIFACT), lambda x: tlog_entry(x).pop("canonicalizedBody")), c.tr)


@case("dsse-without-payload", Reason.BUNDLE_DSSE_PAYLOAD)
def _(c: C) -> Inv:
    return Inv(mutated(c.vs.attest(ARTIFACT), lambda x: x["dsseEnvelope"].pop("payload")), c.tr)


@case("dsse-intoto-payload-not-json", Reason.BUNDLE_DSSE_PAYLOAD)
def _(c: C) -> Inv:
    return Inv(c.vs.attest(ARTIFACT, statement=b"not json at all"), c.tr)


@case("certificate-not-der", Reason.CERT_MALFORMED)
def _(c: C) -> Inv:
    return Inv(mutated(c.vs.sign_artifact(ARTIFACT), lambda x: x[VM]["certificate"].update(rawBytes=b64(b"\x30\x03abc"))), c.tr)


@case("chain-element-not-der", Reason.CERT_MALFORMED)
def _(c: C) -> Inv:
    b = c.vs.sign_artifact(ARTIFACT, bundle_version="0.2", faults=Faults(chain="leaf+intermediate"))
    return Inv(mutated(b, lambda x: x[VM]["x509CertificateChain"]["certificates"][1].update(rawBytes=b64(b"junk"))), c.tr)


@pytest.fixture(scope="module")
def c(vs: VirtualSigstore, untrusted: VirtualSigstore, trusted_root: dict) -> C:
    return C(vs, untrusted, trusted_root)


@pytest.mark.parametrize("name", sorted(CASES))
def test_adversarial(name: str, c: C, has_tsa: bool, tmp_path: Path) -> None:
    build, expect, tsa = CASES[name]
    if tsa and not has_tsa:
        pytest.skip("tests/support/tsa.py needs openssl and faketime")
    out = run_inv(build(c), tmp_path)
    exc = out.result.exception
    assert exc is None or isinstance(exc, SystemExit), out.describe()
    if expect == "accept":
        assert out.exit_code == 0, out.describe()
    elif expect == "reject":
        assert out.exit_code in (1, 3) and out.reason, out.describe()
    else:
        assert out.reason == expect.value, out.describe()
