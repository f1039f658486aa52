"""Classes of real bundles that failed (or passed when they must not), minted in the virtual Sigstore.

Each class has a positive case (what real producers make, must verify) and negative cases
(the same evidence with the one thing wrong that the fix is about, refused with its code).
docs/verification.md names the rule each class tests.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import pytest

from tests.support.virtual_sigstore import (
    DEFAULT_TIME,
    TRUST_START,
    CheckpointOptions,
    Faults,
    SigningKey,
    VirtualSigstore,
    b64,
    mutated,
    tlog_entry,
)
from tests.verify._harness import ARTIFACT, Inv, expected_exit, run_inv
from verifier.errors import Reason

UTC = dt.timezone.utc
NO_TLOG = ["--min-tlog-entries", "0", "--min-timestamps", "0"]

Builder = Callable[[VirtualSigstore, dict], Inv]
POSITIVE: dict[str, tuple[Builder, bool]] = {}
NEGATIVE: dict[str, tuple[Builder, Reason, bool]] = {}


def ok(name: str, *, tsa: bool = False) -> Callable[[Builder], Builder]:
    def deco(fn: Builder) -> Builder:
        POSITIVE[name] = (fn, tsa)
        return fn

    return deco


def bad(name: str, reason: Reason, *, tsa: bool = False) -> Callable[[Builder], Builder]:
    def deco(fn: Builder) -> Builder:
        NEGATIVE[name] = (fn, reason, tsa)
        return fn

    return deco


# ---- intoto 0.0.2: a verified SET is a verified time (§4.4) ---------------------------------


@ok("intoto-0.0.2-set-is-the-verified-time")
def _(vs: VirtualSigstore, tr: dict) -> Inv:
    return Inv(vs.attest(ARTIFACT, kind="intoto", bundle_version="0.2"), tr)


@bad("intoto-0.0.2-set-time-outside-certificate", Reason.TIME_OUTSIDE_CERT_VALIDITY)
def _(vs: VirtualSigstore, tr: dict) -> Inv:
    # the SET now vouches for the time, so the certificate is judged at it
    f = Faults(integrated_time=DEFAULT_TIME + dt.timedelta(hours=1))
    return Inv(vs.attest(ARTIFACT, kind="intoto", faults=f), tr)


@bad("intoto-0.0.2-set-over-other-time", Reason.TLOG_SET_INVALID)
def _(vs: VirtualSigstore, tr: dict) -> Inv:
    b = vs.attest(ARTIFACT, kind="intoto")
    return Inv(mutated(b, lambda x: tlog_entry(x).update(integratedTime=str(int(DEFAULT_TIME.timestamp()) + 60))), tr)


# ---- Rekor v1 checkpoints of private deployments (§4.6) ----------------------------------------

PRIVATE_HOST = "rekor.internal.example"


def _private_checkpoint(vs: VirtualSigstore, **extra: Any) -> CheckpointOptions:
    host = vs.rekor_v1.host
    return CheckpointOptions(
        name=extra.pop("name", PRIVATE_HOST),
        text_mutator=lambda text: text.replace(host + " - ", PRIVATE_HOST + " - ", 1),
        **extra,
    )


@ok("rekor1-private-host-checkpoint")
def _(vs: VirtualSigstore, tr: dict) -> Inv:
    return Inv(vs.sign_artifact(ARTIFACT, faults=Faults(checkpoint=_private_checkpoint(vs))), tr)


@ok("rekor1-private-host-checkpoint-with-witness")
def _(vs: VirtualSigstore, tr: dict) -> Inv:
    f = Faults(checkpoint=_private_checkpoint(vs, witnesses=2, witnesses_first=True))
    return Inv(vs.attest(ARTIFACT, faults=f), tr)


@bad("rekor1-private-host-signed-by-another-key", Reason.TLOG_CHECKPOINT_SIGNATURE_INVALID)
def _(vs: VirtualSigstore, tr: dict) -> Inv:
    from cryptography.hazmat.primitives.asymmetric import ec

    f = Faults(checkpoint=_private_checkpoint(vs, signing_key=ec.generate_private_key(ec.SECP256R1())))
    return Inv(vs.sign_artifact(ARTIFACT, faults=f), tr)


@bad("rekor1-private-host-wrong-key-hint", Reason.TLOG_CHECKPOINT_NO_MATCHING_KEY)
def _(vs: VirtualSigstore, tr: dict) -> Inv:
    f = Faults(checkpoint=_private_checkpoint(vs, hint=b"\x00\x01\x02\x03"))
    return Inv(vs.sign_artifact(ARTIFACT, faults=f), tr)


@bad("rekor1-line-named-after-another-host", Reason.TLOG_CHECKPOINT_NO_MATCHING_KEY)
def _(vs: VirtualSigstore, tr: dict) -> Inv:
    f = Faults(checkpoint=_private_checkpoint(vs, name="witness.example.org"))
    return Inv(vs.sign_artifact(ARTIFACT, faults=f), tr)


# ---- Rekor v2: one log index (§4.6) -------------------------------------------------------------


@bad("rekor2-proof-log-index-differs", Reason.TLOG_LOG_INDEX_MISMATCH, tsa=True)
def _(vs: VirtualSigstore, tr: dict) -> Inv:
    b = vs.sign_artifact(ARTIFACT, log="v2", tsa=True)
    e = tlog_entry(b)
    return Inv(mutated(b, lambda x: tlog_entry(x)["inclusionProof"].update(logIndex=str(int(e["logIndex"]) + 1))), tr)


@bad("rekor2-entry-log-index-differs", Reason.TLOG_LOG_INDEX_MISMATCH, tsa=True)
def _(vs: VirtualSigstore, tr: dict) -> Inv:
    b = vs.sign_artifact(ARTIFACT, log="v2", tsa=True)
    return Inv(mutated(b, lambda x: tlog_entry(x).update(logIndex="0")), tr)


@ok("rekor2-log-index-equal", tsa=True)
def _(vs: VirtualSigstore, tr: dict) -> Inv:
    return Inv(vs.sign_artifact(ARTIFACT, log="v2", tsa=True), tr)


# ---- log key validity for every entry (§6.2) --------------------------------------------------


def _root_with_log_validity(vs: VirtualSigstore, log: str, start: dt.datetime, end: Optional[dt.datetime]) -> dict:
    tr = vs.trusted_root()
    target = vs.log_for(log).base_url
    for t in tr["tlogs"]:
        if t["baseUrl"] == target:
            t["publicKey"]["validFor"] = {"start": start.strftime("%Y-%m-%dT%H:%M:%SZ")}
            if end is not None:
                t["publicKey"]["validFor"]["end"] = end.strftime("%Y-%m-%dT%H:%M:%SZ")
    return tr


@bad("rekor2-log-key-expired-before-timestamp", Reason.TLOG_KEY_VALIDITY, tsa=True)
def _(vs: VirtualSigstore, tr: dict) -> Inv:
    tr2 = _root_with_log_validity(vs, "v2", TRUST_START, DEFAULT_TIME - dt.timedelta(days=1))
    return Inv(vs.sign_artifact(ARTIFACT, log="v2", tsa=True), tr2)


@bad("rekor2-log-key-not-yet-valid-at-timestamp", Reason.TLOG_KEY_VALIDITY, tsa=True)
def _(vs: VirtualSigstore, tr: dict) -> Inv:
    tr2 = _root_with_log_validity(vs, "v2-ecdsa", DEFAULT_TIME + dt.timedelta(days=1), None)
    return Inv(vs.attest(ARTIFACT, log="v2-ecdsa", tsa=True), tr2)


@bad("rekor1-proof-only-entry-log-key-expired", Reason.TLOG_KEY_VALIDITY, tsa=True)
def _(vs: VirtualSigstore, tr: dict) -> Inv:
    tr2 = _root_with_log_validity(vs, "v1", TRUST_START, DEFAULT_TIME - dt.timedelta(days=1))
    b = vs.sign_artifact(ARTIFACT, tsa=True)
    return Inv(mutated(b, lambda x: tlog_entry(x).pop("inclusionPromise")), tr2)


@bad("key-rekor2-entry-without-any-verified-time", Reason.TLOG_KEY_VALIDITY)
def _(vs: VirtualSigstore, tr: dict) -> Inv:
    b = vs.sign_artifact(ARTIFACT, key_based=True, log="v2-ecdsa")
    return Inv(b, tr, key_pem=vs.public_key_pem(), args=["--min-timestamps", "0"])


@ok("rekor2-log-key-validity-ends-at-timestamp", tsa=True)
def _(vs: VirtualSigstore, tr: dict) -> Inv:
    tr2 = _root_with_log_validity(vs, "v2", TRUST_START, DEFAULT_TIME + dt.timedelta(seconds=5))
    return Inv(vs.sign_artifact(ARTIFACT, log="v2", tsa=True), tr2)


# ---- keyDetails fixes the scheme (§4.4, §4.6) -------------------------------------------------


def _rsa_root(vs: VirtualSigstore, log: str) -> dict:
    return vs.trusted_root(tlogs=("v1", log))


@ok("rekor2-rsa-pkcs1v15-checkpoint", tsa=True)
def _(vs: VirtualSigstore, tr: dict) -> Inv:
    return Inv(vs.sign_artifact(ARTIFACT, log="v2-rsa-pkcs1", tsa=True), _rsa_root(vs, "v2-rsa-pkcs1"))


@ok("rekor2-rsa-pss-checkpoint", tsa=True)
def _(vs: VirtualSigstore, tr: dict) -> Inv:
    return Inv(vs.sign_artifact(ARTIFACT, log="v2-rsa-pss", tsa=True), _rsa_root(vs, "v2-rsa-pss"))


def _signed_in(vs: VirtualSigstore, log: str, padding_name: str) -> dict:
    target = vs.log_for(log)
    saved = target.rsa_padding
    target.rsa_padding = padding_name
    try:
        return vs.sign_artifact(ARTIFACT, log=log, tsa=True)
    finally:
        target.rsa_padding = saved


@bad("rekor2-pkcs1v15-log-checkpoint-signed-pss", Reason.TLOG_CHECKPOINT_SIGNATURE_INVALID, tsa=True)
def _(vs: VirtualSigstore, tr: dict) -> Inv:
    return Inv(_signed_in(vs, "v2-rsa-pkcs1", "pss"), _rsa_root(vs, "v2-rsa-pkcs1"))


@bad("rekor2-pss-log-checkpoint-signed-pkcs1v15", Reason.TLOG_CHECKPOINT_SIGNATURE_INVALID, tsa=True)
def _(vs: VirtualSigstore, tr: dict) -> Inv:
    return Inv(_signed_in(vs, "v2-rsa-pss", "pkcs1v15"), _rsa_root(vs, "v2-rsa-pss"))


@bad("rekor2-ed25519-log-declared-ed25519ph", Reason.TLOG_CHECKPOINT_SIGNATURE_INVALID, tsa=True)
def _(vs: VirtualSigstore, tr: dict) -> Inv:
    tr2 = copy.deepcopy(tr)
    for t in tr2["tlogs"]:
        if t["publicKey"]["keyDetails"] == "PKIX_ED25519":
            t["publicKey"]["keyDetails"] = "PKIX_ED25519_PH"
    return Inv(vs.sign_artifact(ARTIFACT, log="v2", tsa=True), tr2)


@ok("key-rsa-pss-artifact-signature-still-accepted")
def _(vs: VirtualSigstore, tr: dict) -> Inv:
    # user keys: the bundle does not say the padding, so both stay accepted (§8.1)
    b = vs.sign_artifact(ARTIFACT, key_based=True, keytype="rsa-pss", log=None)
    return Inv(b, tr, key_pem=vs.public_key_pem("rsa-pss"), args=list(NO_TLOG))


# ---- trusted-root validity windows (A2) --------------------------------------------------------


@bad("trusted-root-inverted-tlog-window", Reason.TRUSTROOT_INVALID_VALIDITY)
def _(vs: VirtualSigstore, tr: dict) -> Inv:
    tr2 = vs.trusted_root(tlog_validity=(DEFAULT_TIME, DEFAULT_TIME - dt.timedelta(days=1)))
    return Inv(vs.sign_artifact(ARTIFACT), tr2)


@bad("trusted-root-empty-ca-window", Reason.TRUSTROOT_INVALID_VALIDITY)
def _(vs: VirtualSigstore, tr: dict) -> Inv:
    tr2 = vs.trusted_root(ca_validity=(DEFAULT_TIME, DEFAULT_TIME))
    return Inv(vs.sign_artifact(ARTIFACT), tr2)


@ok("trusted-root-window-of-one-second")
def _(vs: VirtualSigstore, tr: dict) -> Inv:
    tr2 = vs.trusted_root(ca_validity=(DEFAULT_TIME, DEFAULT_TIME + dt.timedelta(seconds=1)))
    return Inv(vs.sign_artifact(ARTIFACT), tr2)


# ---- key names in the bundle (§3.1) -------------------------------------------------------------


def _hint(b: dict, value: str) -> dict:
    return mutated(b, lambda x: x["verificationMaterial"].update(publicKey={"hint": value}))


@ok("key-hint-sha256-colon-unpadded")
def _(vs: VirtualSigstore, tr: dict) -> Inv:
    key = vs.key()
    hint = "SHA256:" + b64(hashlib.sha256(key.spki_der).digest()).rstrip("=")
    b = _hint(vs.sign_artifact(ARTIFACT, key_based=True, log=None), hint)
    return Inv(b, tr, key_pem=key.public_key_pem(), args=list(NO_TLOG))


def _ssh_fingerprint(public_key_pem: bytes) -> str:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_public_key(public_key_pem)
    line = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return "SHA256:" + b64(hashlib.sha256(base64.b64decode(line.split()[1])).digest()).rstrip("=")


@ok("key-hint-ssh-fingerprint")
def _(vs: VirtualSigstore, tr: dict) -> Inv:
    """OpenSSH's fingerprint, as npm's registry names its key (tests/vectors/sigstore-go-npm-publish)."""
    b = _hint(vs.sign_artifact(ARTIFACT, key_based=True, log=None), _ssh_fingerprint(vs.public_key_pem()))
    return Inv(b, tr, key_pem=vs.public_key_pem(), args=list(NO_TLOG))


@bad("key-hint-ssh-fingerprint-of-another-key", Reason.KEY_HINT_NOT_THIS_KEY)
def _(vs: VirtualSigstore, tr: dict) -> Inv:
    other = SigningKey.generate().public_key_pem()
    b = _hint(vs.sign_artifact(ARTIFACT, key_based=True, log=None), _ssh_fingerprint(other))
    return Inv(b, tr, key_pem=vs.public_key_pem(), args=list(NO_TLOG))


@ok("key-hint-opaque-name")
def _(vs: VirtualSigstore, tr: dict) -> Inv:
    b = _hint(vs.sign_artifact(ARTIFACT, key_based=True, log=None), "release-key-2026")
    return Inv(b, tr, key_pem=vs.public_key_pem(), args=list(NO_TLOG))


@bad("key-hint-names-another-key", Reason.KEY_HINT_NOT_THIS_KEY)
def _(vs: VirtualSigstore, tr: dict) -> Inv:
    b = _hint(vs.sign_artifact(ARTIFACT, key_based=True, log=None), SigningKey.generate().hint)
    return Inv(b, tr, key_pem=vs.public_key_pem(), args=list(NO_TLOG))


@bad("key-dsse-keyid-names-another-key-hex", Reason.KEY_HINT_NOT_THIS_KEY)
def _(vs: VirtualSigstore, tr: dict) -> Inv:
    other = hashlib.sha256(SigningKey.generate().spki_der).hexdigest()
    b = vs.attest(ARTIFACT, key_based=True, log=None, keyid=other)
    b["verificationMaterial"]["publicKey"] = {"hint": other}
    return Inv(b, tr, key_pem=vs.public_key_pem(), args=list(NO_TLOG))


# ---- the tests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(POSITIVE))
def test_verifies(name: str, vs: VirtualSigstore, trusted_root: dict, has_tsa: bool, tmp_path: Path) -> None:
    build, tsa = POSITIVE[name]
    if tsa and not has_tsa:
        pytest.skip("tests/support/tsa.py needs openssl and faketime")
    out = run_inv(build(vs, trusted_root), tmp_path)
    assert out.exit_code == 0 and out.report and out.report["verified"] is True, out.describe()


@pytest.mark.parametrize("name", sorted(NEGATIVE))
def test_refused(name: str, vs: VirtualSigstore, trusted_root: dict, has_tsa: bool, tmp_path: Path) -> None:
    build, reason, tsa = NEGATIVE[name]
    if tsa and not has_tsa:
        pytest.skip("tests/support/tsa.py needs openssl and faketime")
    out = run_inv(build(vs, trusted_root), tmp_path)
    assert out.reason == reason.value, out.describe()
    assert out.exit_code == expected_exit(reason), out.describe()
