"""Bundles that must verify (exit 0, `verified: true`), minted by VirtualSigstore.

Mirrors the positive conformance cases listed at the end of spec §5 with private material:
every bundle version and media-type spelling, DSSE (dsse 0.0.1, intoto 0.0.2, Rekor v2),
key-based bundles for each key type, Rekor v2 with RFC 3161 timestamps (Ed25519 and ECDSA
checkpoints, witness cosignatures), regexp identities, digest input, inclusive validity ends.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.virtual_sigstore import (
    DEFAULT_EMAIL,
    DEFAULT_TIME,
    CheckpointOptions,
    Faults,
    LeafOptions,
    VirtualSigstore,
    b64,
    b64d,
    mutated,
    tlog_entry,
)
from tests.verify._harness import ARTIFACT, Inv, run_inv

Builder = Callable[[VirtualSigstore, dict], Inv]
NO_TLOG = ["--min-tlog-entries", "0", "--min-timestamps", "0"]

CASES: dict[str, tuple[Builder, bool]] = {}
"""id -> (builder, needs TSA)."""


def case(name: str, *, tsa: bool = False) -> Callable[[Builder], Builder]:
    def deco(fn: Builder) -> Builder:
        CASES[name] = (fn, tsa)
        return fn

    return deco


# ---- message signatures, every bundle version ------------------------------------------------

for _version in ("0.1", "0.2", "0.3", "0.3-legacy"):

    def _make(vs: VirtualSigstore, tr: dict, _v: str = _version) -> Inv:
        return Inv(vs.sign_artifact(ARTIFACT, bundle_version=_v), tr)

    case(f"message-v1log-bundle-{_version}")(_make)


@case("message-v0.1-chain-with-trusted-root-cert")
def _v01_full_chain(vs: VirtualSigstore, tr: dict) -> Inv:
    # a self-signed root shipped in the bundle is ignored; the intermediate is byte-identical
    return Inv(vs.sign_artifact(ARTIFACT, bundle_version="0.1", faults=Faults(chain="full")), tr)


@case("message-v0.2-chain-leaf-and-trusted-intermediate")
def _v02_inter(vs: VirtualSigstore, tr: dict) -> Inv:
    return Inv(vs.sign_artifact(ARTIFACT, bundle_version="0.2", faults=Faults(chain="leaf+intermediate")), tr)


@case("message-v0.1-without-checkpoint-in-proof")
def _v01_no_ckpt(vs: VirtualSigstore, tr: dict) -> Inv:
    # v0.1: a proof without checkpoint is ignored; the SET carries the entry
    b = vs.sign_artifact(ARTIFACT, bundle_version="0.1")
    return Inv(mutated(b, lambda x: tlog_entry(x)["inclusionProof"].pop("checkpoint")), tr)


@case("message-v0.1-without-inclusion-proof")
def _v01_no_proof(vs: VirtualSigstore, tr: dict) -> Inv:
    b = vs.sign_artifact(ARTIFACT, bundle_version="0.1")
    return Inv(mutated(b, lambda x: tlog_entry(x).pop("inclusionProof")), tr)


@case("message-without-messageDigest")
def _no_md(vs: VirtualSigstore, tr: dict) -> Inv:
    return Inv(vs.sign_artifact(ARTIFACT, faults=Faults(message_digest=False)), tr)


@case("message-integers-as-json-numbers")
def _int_numbers(vs: VirtualSigstore, tr: dict) -> Inv:
    def fix(b: dict) -> None:
        e = tlog_entry(b)
        e["logIndex"] = int(e["logIndex"])
        e["integratedTime"] = int(e["integratedTime"])
        p = e["inclusionProof"]
        p["logIndex"], p["treeSize"] = int(p["logIndex"]), int(p["treeSize"])

    return Inv(mutated(vs.sign_artifact(ARTIFACT), fix), tr)


@case("message-v1-checkpoint-with-timestamp-extension-line")
def _ckpt_ext(vs: VirtualSigstore, tr: dict) -> Inv:
    f = Faults(checkpoint=CheckpointOptions(extension_lines=["Timestamp: 1780315200000000000"]))
    return Inv(vs.sign_artifact(ARTIFACT, faults=f), tr)


@case("message-body-pem-rewrapped")
def _pem_rewrap(vs: VirtualSigstore, tr: dict) -> Inv:
    # the body's PEM differs in line wrapping from ours: DER comparison must still match
    def rewrap(body: dict) -> dict:
        pem = b64d(body["spec"]["signature"]["publicKey"]["content"]).decode()
        lines = pem.strip().splitlines()
        inner = "".join(lines[1:-1])
        pem2 = lines[0] + "\n" + "\n".join(inner[i : i + 76] for i in range(0, len(inner), 76)) + "\n" + lines[-1] + "\n"
        body["spec"]["signature"]["publicKey"]["content"] = b64(pem2.encode())
        return body

    return Inv(vs.sign_artifact(ARTIFACT, faults=Faults(body_mutator=rewrap)), tr)


@case("message-sct-with-extensions")
def _sct_ext(vs: VirtualSigstore, tr: dict) -> Inv:
    f = Faults(leaf=LeafOptions(sct_extensions=b"\x00\x00\x05\x00\x00\x00\x00\x2a"))
    return Inv(vs.sign_artifact(ARTIFACT, faults=f), tr)


@case("message-email-identity")
def _email(vs: VirtualSigstore, tr: dict) -> Inv:
    b = vs.sign_artifact(ARTIFACT, identity=DEFAULT_EMAIL, issuer="https://accounts.example.com",
                         faults=Faults(leaf=LeafOptions(san="email")))
    return Inv(b, tr, identity=DEFAULT_EMAIL, issuer="https://accounts.example.com")


@case("message-issuer-only-legacy-oid-1.1")
def _issuer_v1_only(vs: VirtualSigstore, tr: dict) -> Inv:
    return Inv(vs.sign_artifact(ARTIFACT, faults=Faults(leaf=LeafOptions(issuer_v8=b""))), tr)


@case("message-issuer-only-oid-1.8")
def _issuer_v8_only(vs: VirtualSigstore, tr: dict) -> Inv:
    return Inv(vs.sign_artifact(ARTIFACT, faults=Faults(leaf=LeafOptions(issuer_v1=b""))), tr)


@case("message-identity-regexp-full-match")
def _regexp(vs: VirtualSigstore, tr: dict) -> Inv:
    return Inv(
        vs.sign_artifact(ARTIFACT),
        tr,
        identity_regexp=r"https://github\.com/airseal-test/.+@refs/heads/main",
        issuer_regexp=r"https://token\.actions\.githubusercontent\.com",
    )


@case("message-digest-input-sha256")
def _digest(vs: VirtualSigstore, tr: dict) -> Inv:
    return Inv(vs.sign_artifact(ARTIFACT), tr, digest="sha256")


@case("message-v1-log-plus-tsa", tsa=True)
def _v1_tsa(vs: VirtualSigstore, tr: dict) -> Inv:
    return Inv(vs.sign_artifact(ARTIFACT, tsa=True), tr)


@case("message-min-tlog-2-not-needed-min-timestamps-1")
def _thresholds(vs: VirtualSigstore, tr: dict) -> Inv:
    return Inv(vs.sign_artifact(ARTIFACT), tr, args=["--min-tlog-entries", "1", "--min-timestamps", "1", "--min-scts", "1"])


@case("message-trusted-root-v0.2-media-type")
def _tr_v02(vs: VirtualSigstore, tr: dict) -> Inv:
    tr2 = dict(tr, mediaType="application/vnd.dev.sigstore.trustedroot.v0.2+json")
    return Inv(vs.sign_artifact(ARTIFACT), tr2)


@case("message-tlog-validity-end-inclusive")
def _tlog_end_inclusive(vs: VirtualSigstore, tr: dict) -> Inv:
    tr2 = vs.trusted_root(tlog_validity=(dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc), DEFAULT_TIME))
    return Inv(vs.sign_artifact(ARTIFACT, at=DEFAULT_TIME), tr2)


@case("message-two-logs-v1-and-v2", tsa=True)
def _two_logs(vs: VirtualSigstore, tr: dict) -> Inv:
    a = vs.sign_artifact(ARTIFACT, tsa=True)
    # a second entry for the same signature+cert in the v2 log (reconstructed body)
    import hashlib

    from tests.support.virtual_sigstore import cert_der, hashedrekord_v002, leaf_certificate

    cert = leaf_certificate(a)
    sig = b64d(a["messageSignature"]["signature"])
    body = hashedrekord_v002("SHA2_256", hashlib.sha256(ARTIFACT).digest(), sig, "PKIX_ECDSA_P256_SHA_256",
                             cert_der_bytes=cert_der(cert), spki=None)
    from tests.support.virtual_sigstore import jcs

    a["verificationMaterial"]["tlogEntries"].append(vs.rekor_v2.log(jcs(body)))
    return Inv(a, tr, args=["--min-tlog-entries", "2"])


# ---- DSSE ------------------------------------------------------------------------------------


@case("dsse-v1-dsse-0.0.1")
def _dsse(vs: VirtualSigstore, tr: dict) -> Inv:
    return Inv(vs.attest(ARTIFACT), tr)


@case("dsse-v1-dsse-0.0.1-bundle-0.2")
def _dsse02(vs: VirtualSigstore, tr: dict) -> Inv:
    return Inv(vs.attest(ARTIFACT, bundle_version="0.2"), tr)


@case("dsse-v1-intoto-0.0.2-with-tsa", tsa=True)
def _intoto(vs: VirtualSigstore, tr: dict) -> Inv:
    # intoto 0.0.2 integrated time is not a verified time (spec step 1.9), so add a TSA token
    return Inv(vs.attest(ARTIFACT, kind="intoto", tsa=True, bundle_version="0.2"), tr)


@case("dsse-digest-input-matches-subject")
def _dsse_digest(vs: VirtualSigstore, tr: dict) -> Inv:
    return Inv(vs.attest(ARTIFACT), tr, digest="sha256")


def _statement(subjects: list, type_: str = "https://in-toto.io/Statement/v1") -> dict:
    return {"_type": type_, "subject": subjects, "predicateType": "https://example.com/p", "predicate": {}}


@case("dsse-statement-type-v0.1")
def _dsse_v01(vs: VirtualSigstore, tr: dict) -> Inv:
    import hashlib

    st = _statement([{"name": "a", "digest": {"sha256": hashlib.sha256(ARTIFACT).hexdigest()}}],
                    "https://in-toto.io/Statement/v0.1")
    return Inv(vs.attest(ARTIFACT, statement=st), tr)


@case("dsse-second-subject-matches")
def _dsse_second(vs: VirtualSigstore, tr: dict) -> Inv:
    import hashlib

    st = _statement([
        {"name": "other", "digest": {"sha256": hashlib.sha256(b"other").hexdigest()}},
        {"name": "a", "digest": {"sha256": hashlib.sha256(ARTIFACT).hexdigest()}},
    ])
    return Inv(vs.attest(ARTIFACT, statement=st), tr)


@case("dsse-subject-sha512-only")
def _dsse_sha512(vs: VirtualSigstore, tr: dict) -> Inv:
    import hashlib

    st = _statement([{"name": "a", "digest": {"sha512": hashlib.sha512(ARTIFACT).hexdigest()}}])
    return Inv(vs.attest(ARTIFACT, statement=st), tr)


@case("dsse-subject-uppercase-hex-and-unknown-alg")
def _dsse_upper(vs: VirtualSigstore, tr: dict) -> Inv:
    import hashlib

    st = _statement([{"name": "a", "digest": {"md5": "00", "sha256": hashlib.sha256(ARTIFACT).hexdigest().upper()}}])
    return Inv(vs.attest(ARTIFACT, statement=st), tr)


@case("dsse-rekor-v2-with-tsa", tsa=True)
def _dsse_v2(vs: VirtualSigstore, tr: dict) -> Inv:
    return Inv(vs.attest(ARTIFACT, log="v2", tsa=True), tr)


# ---- Rekor v2 ---------------------------------------------------------------------------------


@case("rekor2-ed25519-checkpoint-with-tsa", tsa=True)
def _r2(vs: VirtualSigstore, tr: dict) -> Inv:
    return Inv(vs.sign_artifact(ARTIFACT, log="v2", tsa=True), tr)


@case("rekor2-ecdsa-checkpoint-with-tsa", tsa=True)
def _r2e(vs: VirtualSigstore, tr: dict) -> Inv:
    return Inv(vs.sign_artifact(ARTIFACT, log="v2-ecdsa", tsa=True), tr)


@case("rekor2-tsa-without-embedded-cert", tsa=True)
def _r2_noembed(vs: VirtualSigstore, tr: dict) -> Inv:
    return Inv(vs.sign_artifact(ARTIFACT, log="v2", tsa=True, faults=Faults(tsa_kwargs={"embed_cert": False})), tr)


@case("rekor2-checkpoint-cosigned", tsa=True)
def _r2_cosig(vs: VirtualSigstore, tr: dict) -> Inv:
    f = Faults(checkpoint=CheckpointOptions(witnesses=3))
    return Inv(vs.sign_artifact(ARTIFACT, log="v2", tsa=True, faults=f), tr)


@case("rekor2-checkpoint-origin-not-first", tsa=True)
def _r2_notfirst(vs: VirtualSigstore, tr: dict) -> Inv:
    f = Faults(checkpoint=CheckpointOptions(witnesses=2, witnesses_first=True))
    return Inv(vs.sign_artifact(ARTIFACT, log="v2", tsa=True, faults=f), tr)


@case("rekor2-checkpoint-two-sigs-from-origin", tsa=True)
def _r2_two(vs: VirtualSigstore, tr: dict) -> Inv:
    f = Faults(checkpoint=CheckpointOptions(duplicate_log_signature=True, witnesses=1))
    return Inv(vs.sign_artifact(ARTIFACT, log="v2-ecdsa", tsa=True, faults=f), tr)


@case("rekor2-tsa-validity-end-inclusive", tsa=True)
def _r2_tsa_end(vs: VirtualSigstore, tr: dict) -> Inv:
    tr2 = vs.trusted_root(tsa_entry_options={"valid_until": DEFAULT_TIME})
    return Inv(vs.sign_artifact(ARTIFACT, log="v2", tsa=True, at=DEFAULT_TIME), tr2)


@case("rekor2-tsa-cert-chain-expired-now", tsa=True)
def _r2_expired_tsa(vs: VirtualSigstore, tr: dict) -> Inv:
    # TSA certificates expired long ago: only genTime matters
    old = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    tsa = vs.make_tsa(leaf_not_after=dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc),
                      root_not_after=dt.datetime(2025, 6, 1, tzinfo=dt.timezone.utc))
    tr2 = copy.deepcopy(tr)
    tr2["timestampAuthorities"].append(tsa.trusted_root_entry())
    return Inv(vs.sign_artifact(ARTIFACT, log="v2", tsa=True, at=old, faults=Faults(tsa_authority=tsa)), tr2)


# ---- key-based ------------------------------------------------------------------------------

for _kind in ("ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "rsa-pkcs1", "rsa-pss", "ed25519"):

    def _kb(vs: VirtualSigstore, tr: dict, _k: str = _kind) -> Inv:
        b = vs.sign_artifact(ARTIFACT, key_based=True, keytype=_k, log=None)
        return Inv(b, tr, key_pem=vs.key(_k).public_key_pem(), args=list(NO_TLOG))

    case(f"key-{_kind}-no-tlog")(_kb)


for _kind in ("ecdsa-p256", "ecdsa-p384", "rsa-pkcs1"):

    def _kb_log(vs: VirtualSigstore, tr: dict, _k: str = _kind) -> Inv:
        b = vs.sign_artifact(ARTIFACT, key_based=True, keytype=_k, log="v1")
        return Inv(b, tr, key_pem=vs.key(_k).public_key_pem())

    case(f"key-{_kind}-rekor-v1")(_kb_log)


@case("key-ecdsa-p256-dsse-no-tlog")
def _kb_dsse(vs: VirtualSigstore, tr: dict) -> Inv:
    b = vs.attest(ARTIFACT, key_based=True, log=None)
    return Inv(b, tr, key_pem=vs.key("ecdsa-p256").public_key_pem(), args=list(NO_TLOG))


@case("key-ed25519-dsse-no-tlog")
def _kb_dsse_ed(vs: VirtualSigstore, tr: dict) -> Inv:
    b = vs.attest(ARTIFACT, key_based=True, keytype="ed25519", log=None)
    return Inv(b, tr, key_pem=vs.key("ed25519").public_key_pem(), args=list(NO_TLOG))


@case("key-ecdsa-p256-rekor-v2-with-tsa", tsa=True)
def _kb_v2(vs: VirtualSigstore, tr: dict) -> Inv:
    b = vs.sign_artifact(ARTIFACT, key_based=True, log="v2", tsa=True)
    return Inv(b, tr, key_pem=vs.key("ecdsa-p256").public_key_pem())


@case("key-digest-input-ecdsa")
def _kb_digest(vs: VirtualSigstore, tr: dict) -> Inv:
    b = vs.sign_artifact(ARTIFACT, key_based=True, log=None)
    return Inv(b, tr, key_pem=vs.key("ecdsa-p256").public_key_pem(), args=list(NO_TLOG), digest="sha256")


# ---- more TSA / identity shapes ---------------------------------------------------------------

for _tsa_name, _tsa_opts in (
    ("tsa-with-intermediate", {"intermediate": True}),
    ("tsa-rsa-key", {"key_type": "rsa"}),
    ("tsa-p384-key", {"key_type": "ec384"}),
):

    def _tsa_variant(vs: VirtualSigstore, tr: dict, _o: dict = _tsa_opts) -> Inv:
        tsa = vs.make_tsa(**_o)
        tr2 = vs.trusted_root(tsas=False, extra_tsas=[tsa])
        return Inv(vs.sign_artifact(ARTIFACT, log="v2", tsa=True, faults=Faults(tsa_authority=tsa)), tr2)

    case(f"rekor2-{_tsa_name}", tsa=True)(_tsa_variant)


@case("rekor2-tsa-trusted-root-without-leaf-embedded-cert", tsa=True)
def _tsa_no_leaf(vs: VirtualSigstore, tr: dict) -> Inv:
    tr2 = vs.trusted_root(tsa_entry_options={"include_leaf": False})
    return Inv(vs.sign_artifact(ARTIFACT, log="v2", tsa=True), tr2)


@case("message-othername-username-identity")
def _othername(vs: VirtualSigstore, tr: dict) -> Inv:
    b = vs.sign_artifact(ARTIFACT, identity="alice!example.com", issuer="https://example.com/oidc",
                         faults=Faults(leaf=LeafOptions(san="othername")))
    return Inv(b, tr, identity="alice!example.com", issuer="https://example.com/oidc")


@case("verify-bundle-command-v1")
def _verify_bundle_cmd(vs: VirtualSigstore, tr: dict) -> Inv:
    return Inv(vs.sign_artifact(ARTIFACT), tr, command="verify-bundle")


@case("verify-bundle-command-key")
def _verify_bundle_key(vs: VirtualSigstore, tr: dict) -> Inv:
    b = vs.sign_artifact(ARTIFACT, key_based=True)
    return Inv(b, tr, key_pem=vs.public_key_pem(), command="verify-bundle")


# ---- multi-element lists where only some elements count ---------------------------------------


@case("sct-list-bad-then-valid")
def _sct_bad_valid(vs: VirtualSigstore, tr: dict) -> Inv:
    return Inv(vs.sign_artifact(ARTIFACT, faults=Faults(leaf=LeafOptions(sct="bad_signature+valid"))), tr)


@case("sct-list-unknown-log-then-valid")
def _sct_unknown_valid(vs: VirtualSigstore, tr: dict) -> Inv:
    return Inv(vs.sign_artifact(ARTIFACT, faults=Faults(leaf=LeafOptions(sct="unknown_log+valid"))), tr)


@case("extra-entry-from-unknown-log-is-skipped")
def _unknown_extra(vs: VirtualSigstore, tr: dict) -> Inv:
    from tests.support.virtual_sigstore import RekorV1Log, b64d

    a = vs.sign_artifact(ARTIFACT)
    stranger = RekorV1Log("https://rekor.stranger.test")
    body = b64d(tlog_entry(a)["canonicalizedBody"])
    a["verificationMaterial"]["tlogEntries"].append(
        stranger.log(body, "hashedrekord", "0.0.1", integrated_time=int(DEFAULT_TIME.timestamp()))
    )
    return Inv(a, tr)


# ---- inclusive validity boundaries (±0 s) -----------------------------------------------------


@case("ca-validity-end-equals-signing-time")
def _ca_end(vs: VirtualSigstore, tr: dict) -> Inv:
    # every verified time (the SET's integrated time) equals the CA entry's validFor.end
    tr2 = vs.trusted_root(ca_validity=(dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc), DEFAULT_TIME))
    return Inv(vs.sign_artifact(ARTIFACT, at=DEFAULT_TIME), tr2)


@case("tlog-validity-start-equals-integrated-time")
def _tlog_start(vs: VirtualSigstore, tr: dict) -> Inv:
    return Inv(vs.sign_artifact(ARTIFACT, at=DEFAULT_TIME), vs.trusted_root(tlog_validity=(DEFAULT_TIME, None)))


@case("tsa-validity-start-equals-gen-time", tsa=True)
def _tsa_start(vs: VirtualSigstore, tr: dict) -> Inv:
    tr2 = vs.trusted_root(tsa_entry_options={"valid_from": DEFAULT_TIME})
    return Inv(vs.sign_artifact(ARTIFACT, log="v2", tsa=True, at=DEFAULT_TIME), tr2)


@case("integrated-time-equals-leaf-not-before")
def _nb(vs: VirtualSigstore, tr: dict) -> Inv:
    f = Faults(integrated_time=DEFAULT_TIME - dt.timedelta(minutes=2))
    return Inv(vs.sign_artifact(ARTIFACT, faults=f), tr)


@case("tsa-time-equals-leaf-not-after", tsa=True)
def _tsa_na(vs: VirtualSigstore, tr: dict) -> Inv:
    f = Faults(tsa_at=DEFAULT_TIME + dt.timedelta(minutes=8))
    return Inv(vs.sign_artifact(ARTIFACT, log="v2", tsa=True, faults=f), tr)


# ---- digest input with other hashes ----------------------------------------------------------


@case("key-p384-digest-input-sha384")
def _p384_digest(vs: VirtualSigstore, tr: dict) -> Inv:
    b = vs.sign_artifact(ARTIFACT, key_based=True, keytype="ecdsa-p384", log=None)
    return Inv(b, tr, key_pem=vs.public_key_pem("ecdsa-p384"), args=list(NO_TLOG), digest="sha384")


@case("dsse-digest-input-sha512-subject")
def _dsse_512(vs: VirtualSigstore, tr: dict) -> Inv:
    st = vs.statement(ARTIFACT, algs=("sha512",))
    return Inv(vs.attest(ARTIFACT, statement=st), tr, digest="sha512")


# ---- encodings and compatibility ------------------------------------------------------------


@case("json-with-escaped-solidus")
def _escaped(vs: VirtualSigstore, tr: dict) -> Inv:
    import json

    text = json.dumps(vs.sign_artifact(ARTIFACT)).replace("/", "\\/")
    return Inv(text, tr)


@case("v1-checkpoint-with-foreign-cosignature-line")
def _v1_cosig(vs: VirtualSigstore, tr: dict) -> Inv:
    return Inv(vs.sign_artifact(ARTIFACT, faults=Faults(checkpoint=CheckpointOptions(witnesses=1))), tr)


@case("key-p384-signed-with-sha256-compat")
def _p384_sha256(vs: VirtualSigstore, tr: dict) -> Inv:
    import hashlib

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    b = vs.sign_artifact(ARTIFACT, key_based=True, keytype="ecdsa-p384", log=None)
    sig = vs.key("ecdsa-p384").private.sign(ARTIFACT, ec.ECDSA(hashes.SHA256()))
    b["messageSignature"] = {
        "messageDigest": {"algorithm": "SHA2_256", "digest": b64(hashlib.sha256(ARTIFACT).digest())},
        "signature": b64(sig),
    }
    return Inv(b, tr, key_pem=vs.public_key_pem("ecdsa-p384"), args=list(NO_TLOG))


@case("key-ed25519-dsse-digest-input")
def _ed_dsse_digest(vs: VirtualSigstore, tr: dict) -> Inv:
    b = vs.attest(ARTIFACT, key_based=True, keytype="ed25519", log=None)
    return Inv(b, tr, key_pem=vs.public_key_pem("ed25519"), args=list(NO_TLOG), digest="sha256")


@case("two-observers-set-and-tsa-min-timestamps-2", tsa=True)
def _two_obs(vs: VirtualSigstore, tr: dict) -> Inv:
    return Inv(vs.sign_artifact(ARTIFACT, tsa=True), tr, args=["--min-timestamps", "2"])


@case("identity-matches-second-san")
def _second_san(vs: VirtualSigstore, tr: dict) -> Inv:
    from cryptography import x509

    f = Faults(leaf=LeafOptions(extra_sans=[x509.RFC822Name("second@example.com")]))
    return Inv(vs.sign_artifact(ARTIFACT, faults=f), tr, identity="second@example.com")


@case("unverified-integrated-time-is-ignored", tsa=True)
def _unverified_it(vs: VirtualSigstore, tr: dict) -> Inv:
    # v0.3 entry without SET: its integratedTime (far outside the leaf validity) is not a time
    b = vs.sign_artifact(ARTIFACT, tsa=True)
    return Inv(mutated(b, lambda x: (tlog_entry(x).pop("inclusionPromise"), tlog_entry(x).update(integratedTime="1600000000"))), tr)


# ---- the tests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_happy_path(name: str, vs: VirtualSigstore, trusted_root: dict, has_tsa: bool, tmp_path: Path) -> None:
    builder, needs_tsa = CASES[name]
    if needs_tsa and not has_tsa:
        pytest.skip("tests/support/tsa.py needs openssl and faketime")
    out = run_inv(builder(vs, trusted_root), tmp_path)
    assert out.exit_code == 0, out.describe()
    assert out.report is not None and out.report.get("verified") is True, out.describe()
    assert out.report.get("reason_code") is None


def test_warn_mode_reports_but_exits_zero(vs: VirtualSigstore, trusted_root: dict, tmp_path: Path) -> None:
    b = vs.sign_artifact(b"other")
    out = run_inv(Inv(b, trusted_root, args=["--mode", "warn"]), tmp_path)
    assert out.exit_code == 0, out.describe()
    assert out.report is not None and out.report["verified"] is False and out.report["reason_code"]
