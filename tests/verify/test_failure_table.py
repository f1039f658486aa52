"""Spec §5 negative-test table: one test per row (and per variant), checked through the CLI.

Each case builds a bundle with VirtualSigstore (a faulty bundle is minted with the fault already
inside, so logs/CAs sign the faulty data and only the targeted check can fail), runs
`airseal verify --json`, and asserts the exit code (1 = rejected, 3 = malformed input) and the
JSON `reason_code`. Expected reasons are the `Reason` members whose comment names the row's
E-code in verifier/errors.py.

Where the spec itself allows two codes for one condition, the case lists both:
- row 33 (E-NO-TIME) has a parse-time form (`bundle.no_time_source`, exit 3) and a
  verification form (`time.no_verified_timestamp`, exit 1);
- row 24's `rekor2-checkpoint-missing-log-signature` case (a note with no signature line at all)
  is listed as E-CHECKPOINT-NOKEY by §5 but §3.2 step 2 calls an empty signature block
  malformed (E-NOTE-FORMAT);
- rows 55/56: the CLI refuses `--key` together with an identity (usage error), so "no key, an
  identity given, key-based bundle" is both E-KEY-UNKNOWN (conf managed-key-no-key_fail) and
  E-ID-NOCERT.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from tests.support.virtual_sigstore import (
    DEFAULT_IDENTITY,
    DEFAULT_ISSUER,
    DEFAULT_TIME,
    MEDIA_TYPES,
    CheckpointOptions,
    Faults,
    FulcioCA,
    LeafOptions,
    SigningKey,
    VirtualSigstore,
    b64,
    b64d,
    body_of,
    der_ia5,
    der_utf8,
    flip_b64,
    jcs,
    mutated,
    replace_note_signature_lines,
    tlog_entry,
)
from tests.verify._harness import ARTIFACT, Inv, expected_exit, run_inv
from verifier.errors import Reason

UTC = dt.timezone.utc
NO_TLOG = ["--min-tlog-entries", "0", "--min-timestamps", "0"]


@dataclass
class Ctx:
    vs: VirtualSigstore
    untrusted: VirtualSigstore
    tr: dict[str, Any]

    def good(self, **kw: Any) -> dict[str, Any]:
        return self.vs.sign_artifact(ARTIFACT, **kw)

    def good_dsse(self, **kw: Any) -> dict[str, Any]:
        return self.vs.attest(ARTIFACT, **kw)

    def inv(self, bundle: Union[dict, str, bytes], **kw: Any) -> Inv:
        return Inv(bundle, kw.pop("trusted_root", self.tr), **kw)


Builder = Callable[[Ctx], Inv]


@dataclass
class Case:
    row: int
    variant: str
    expected: tuple[Reason, ...]
    build: Builder
    tsa: bool = False

    @property
    def id(self) -> str:
        return f"row{self.row:02d}-{self.variant}"


CASES: list[Case] = []


def row(n: int, variant: str, *expected: Reason, tsa: bool = False) -> Callable[[Builder], Builder]:
    def deco(fn: Builder) -> Builder:
        CASES.append(Case(n, variant, tuple(expected), fn, tsa))
        return fn

    return deco


def _text(bundle: dict) -> str:
    return json.dumps(bundle)


def _dup_key_text(bundle: dict, path: Sequence[Union[str, int]], key: str) -> str:
    """Serialize `bundle` with `key` written twice in the object at `path`."""
    b = copy.deepcopy(bundle)
    target: Any = b
    for p in path:
        target = target[p]
    members = [json.dumps(k) + ":" + json.dumps(v) for k, v in target.items()]
    members.append(json.dumps(key) + ":" + json.dumps(target[key]))
    obj_text = "{" + ",".join(members) + "}"
    parent: Any = b
    for p in path[:-1]:
        parent = parent[p]
    if path:
        parent[path[-1]] = "__DUPLICATE_PLACEHOLDER__"
        return json.dumps(b).replace('"__DUPLICATE_PLACEHOLDER__"', obj_text)
    return obj_text


def _set(path: Sequence[Union[str, int]], value: Any) -> Callable[[dict], None]:
    def fn(b: dict) -> None:
        t: Any = b
        for p in path[:-1]:
            t = t[p]
        t[path[-1]] = value

    return fn


def _del(path: Sequence[Union[str, int]]) -> Callable[[dict], None]:
    def fn(b: dict) -> None:
        t: Any = b
        for p in path[:-1]:
            t = t[p]
        del t[path[-1]]

    return fn


VM = "verificationMaterial"
E0 = (VM, "tlogEntries", 0)


# ============================================================================ rows 1-13: parsing


@row(1, "truncated-json", Reason.BUNDLE_MALFORMED_JSON)
def _(c: Ctx) -> Inv:
    return c.inv(_text(c.good())[:-7])


@row(1, "trailing-garbage", Reason.BUNDLE_MALFORMED_JSON)
def _(c: Ctx) -> Inv:
    return c.inv(_text(c.good()) + " garbage")


@row(1, "trailing-second-object", Reason.BUNDLE_MALFORMED_JSON)
def _(c: Ctx) -> Inv:
    return c.inv(_text(c.good()) + "{}")


@row(1, "top-level-array", Reason.BUNDLE_MALFORMED_JSON)
def _(c: Ctx) -> Inv:
    return c.inv("[" + _text(c.good()) + "]")


@row(1, "not-utf8", Reason.BUNDLE_MALFORMED_JSON)
def _(c: Ctx) -> Inv:
    return c.inv(b"\xff\xfe" + _text(c.good()).encode())


@row(1, "empty-file", Reason.BUNDLE_MALFORMED_JSON)
def _(c: Ctx) -> Inv:
    return c.inv("")


@row(1, "null-in-list", Reason.BUNDLE_MALFORMED_JSON)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good(), lambda b: b[VM]["tlogEntries"].append(None)))


@row(2, "duplicate-top-level-key", Reason.BUNDLE_MALFORMED_JSON)
def _(c: Ctx) -> Inv:
    return c.inv(_dup_key_text(c.good(), [], "mediaType"))


@row(2, "duplicate-key-in-tlog-entry", Reason.BUNDLE_MALFORMED_JSON)
def _(c: Ctx) -> Inv:
    return c.inv(_dup_key_text(c.good(), list(E0), "logIndex"))


@row(2, "duplicate-key-in-message-signature", Reason.BUNDLE_MALFORMED_JSON)
def _(c: Ctx) -> Inv:
    return c.inv(_dup_key_text(c.good(), ["messageSignature"], "signature"))


@row(3, "unknown-top-level-field", Reason.BUNDLE_MALFORMED_JSON)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good(), _set(["extra"], 1)))


@row(3, "unknown-field-in-tlog-entry", Reason.BUNDLE_MALFORMED_JSON)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good(), _set([*E0, "unexpected"], "x")))


@row(3, "snake-case-alias-added", Reason.BUNDLE_MALFORMED_JSON)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good(), _set([*E0, "log_index"], tlog_entry(c.good())["logIndex"])))


@row(3, "snake-case-tlog_entries", Reason.BUNDLE_MALFORMED_JSON)
def _(c: Ctx) -> Inv:
    def fn(b: dict) -> None:
        b[VM]["tlog_entries"] = b[VM].pop("tlogEntries")

    return c.inv(mutated(c.good(), fn))


@row(3, "snake-case-in-inclusion-proof", Reason.BUNDLE_MALFORMED_JSON)
def _(c: Ctx) -> Inv:
    def fn(b: dict) -> None:
        p = tlog_entry(b)["inclusionProof"]
        p["root_hash"] = p["rootHash"]

    return c.inv(mutated(c.good(), fn))


@row(4, "v0.4-new-spelling", Reason.BUNDLE_UNSUPPORTED_MEDIA_TYPE)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good(), _set(["mediaType"], "application/vnd.dev.sigstore.bundle.v0.4+json")))


@row(4, "v0.4-legacy-spelling", Reason.BUNDLE_UNSUPPORTED_MEDIA_TYPE)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good(), _set(["mediaType"], "application/vnd.dev.sigstore.bundle+json;version=0.4")))


@row(4, "wrong-case", Reason.BUNDLE_UNSUPPORTED_MEDIA_TYPE)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good(), _set(["mediaType"], "application/vnd.dev.sigstore.bundle.V0.3+json")))


@row(4, "unknown-type", Reason.BUNDLE_UNSUPPORTED_MEDIA_TYPE)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good(), _set(["mediaType"], "application/json")))


@row(4, "missing-media-type", Reason.BUNDLE_UNSUPPORTED_MEDIA_TYPE)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good(), _del(["mediaType"])))


@row(4, "empty-media-type", Reason.BUNDLE_UNSUPPORTED_MEDIA_TYPE)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good(), _set(["mediaType"], "")))


@row(5, "both-content-kinds", Reason.BUNDLE_ONEOF)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good(), _set(["dsseEnvelope"], c.good_dsse()["dsseEnvelope"])))


@row(5, "neither-content-kind", Reason.BUNDLE_MISSING_MATERIAL)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good(), _del(["messageSignature"])))


@row(5, "certificate-and-chain", Reason.BUNDLE_ONEOF)
def _(c: Ctx) -> Inv:
    b = c.good(bundle_version="0.2")
    leaf = b[VM]["x509CertificateChain"]["certificates"][0]
    return c.inv(mutated(b, _set([VM, "certificate"], leaf)))


@row(5, "public-key-and-certificate", Reason.BUNDLE_ONEOF)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good(), _set([VM, "publicKey"], {"hint": c.vs.key().hint})))


@row(5, "no-verification-material-member", Reason.BUNDLE_MISSING_MATERIAL)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good(), _del([VM, "certificate"])))


@row(5, "verification-material-missing", Reason.BUNDLE_MISSING_MATERIAL)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good(), _del([VM])))


@row(6, "invalid-character-in-signature", Reason.BUNDLE_BAD_BASE64)
def _(c: Ctx) -> Inv:
    b = c.good()
    return c.inv(mutated(b, _set(["messageSignature", "signature"], "!" + b["messageSignature"]["signature"][1:])))


@row(6, "url-safe-alphabet", Reason.BUNDLE_BAD_BASE64)
def _(c: Ctx) -> Inv:
    b = c.good()
    raw = b[VM]["certificate"]["rawBytes"]
    assert "+" in raw or "/" in raw
    return c.inv(mutated(b, _set([VM, "certificate", "rawBytes"], raw.replace("+", "-").replace("/", "_"))))


@row(6, "unpadded", Reason.BUNDLE_BAD_BASE64)
def _(c: Ctx) -> Inv:
    b = c.good()
    key_id = tlog_entry(b)["logId"]["keyId"]
    assert key_id.endswith("=")
    return c.inv(mutated(b, _set([*E0, "logId", "keyId"], key_id.rstrip("="))))


@row(6, "embedded-newline", Reason.BUNDLE_BAD_BASE64)
def _(c: Ctx) -> Inv:
    b = c.good()
    raw = b[VM]["certificate"]["rawBytes"]
    return c.inv(mutated(b, _set([VM, "certificate", "rawBytes"], raw[:64] + "\n" + raw[64:])))


@row(6, "bad-base64-in-canonicalized-body", Reason.BUNDLE_BAD_BASE64)
def _(c: Ctx) -> Inv:
    b = c.good()
    body = tlog_entry(b)["canonicalizedBody"]
    return c.inv(mutated(b, _set([*E0, "canonicalizedBody"], body[:-4] + "%%%%")))


@row(7, "negative-log-index-string", Reason.BUNDLE_BAD_INTEGER)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good(), _set([*E0, "logIndex"], "-1")))


@row(7, "negative-log-index-number", Reason.BUNDLE_BAD_INTEGER)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good(), _set([*E0, "logIndex"], -1)))


@row(7, "exponent", Reason.BUNDLE_BAD_INTEGER)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good(), _set([*E0, "logIndex"], "1e3")))


@row(7, "leading-plus", Reason.BUNDLE_BAD_INTEGER)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good(), _set([*E0, "logIndex"], "+" + tlog_entry(c.good())["logIndex"])))


@row(7, "fraction-number", Reason.BUNDLE_BAD_INTEGER)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good(), _set([*E0, "inclusionProof", "treeSize"], 12.5)))


@row(7, "exponent-number", Reason.BUNDLE_BAD_INTEGER)
def _(c: Ctx) -> Inv:
    b = c.good()
    text = _text(mutated(b, _set([*E0, "integratedTime"], "__INT__")))
    return c.inv(text.replace('"__INT__"', "1.7e9"))


@row(7, "negative-proof-log-index", Reason.BUNDLE_BAD_INTEGER)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good(), _set([*E0, "inclusionProof", "logIndex"], "-5")))


@row(8, "v0.2-empty-chain", Reason.BUNDLE_EMPTY_CHAIN)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(bundle_version="0.2", faults=Faults(chain="empty")))


@row(8, "v0.1-empty-chain", Reason.BUNDLE_EMPTY_CHAIN)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(bundle_version="0.1", faults=Faults(chain="empty")))


@row(9, "v0.3-with-chain", Reason.BUNDLE_V03_CHAIN)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good(bundle_version="0.2"), _set(["mediaType"], MEDIA_TYPES["0.3"])))


@row(9, "v0.3-legacy-spelling-with-chain", Reason.BUNDLE_V03_CHAIN)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good(bundle_version="0.2"), _set(["mediaType"], MEDIA_TYPES["0.3-legacy"])))


@row(10, "v0.1-entry-without-promise", Reason.BUNDLE_V01_NO_PROMISE)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good(bundle_version="0.1"), _del([*E0, "inclusionPromise"])))


@row(11, "v0.2-without-proof", Reason.BUNDLE_NO_INCLUSION_PROOF)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good(bundle_version="0.2"), _del([*E0, "inclusionProof"])))


@row(11, "v0.3-without-proof", Reason.BUNDLE_NO_INCLUSION_PROOF)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good(), _del([*E0, "inclusionProof"])))


@row(11, "v0.3-dsse-without-proof", Reason.BUNDLE_NO_INCLUSION_PROOF)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good_dsse(), _del([*E0, "inclusionProof"])))


@row(11, "rekor2-without-proof", Reason.BUNDLE_NO_INCLUSION_PROOF, tsa=True)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good(log="v2", tsa=True), _del([*E0, "inclusionProof"])))


@row(12, "v0.3-proof-without-checkpoint", Reason.BUNDLE_CHECKPOINT_MISSING)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good(), _del([*E0, "inclusionProof", "checkpoint"])))


@row(12, "v0.2-proof-without-checkpoint", Reason.BUNDLE_CHECKPOINT_MISSING)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good(bundle_version="0.2"), _del([*E0, "inclusionProof", "checkpoint"])))


@row(12, "empty-checkpoint-envelope", Reason.BUNDLE_CHECKPOINT_MISSING)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good(), _set([*E0, "inclusionProof", "checkpoint", "envelope"], "")))


@row(13, "33-tlog-entries", Reason.INPUT_TOO_LARGE)
def _(c: Ctx) -> Inv:
    b = c.good()
    e = tlog_entry(b)

    def fn(x: dict) -> None:
        x[VM]["tlogEntries"] = [dict(copy.deepcopy(e), logIndex=str(int(e["logIndex"]) + i)) for i in range(33)]

    return c.inv(mutated(b, fn))


@row(13, "33-rfc3161-timestamps", Reason.INPUT_TOO_LARGE)
def _(c: Ctx) -> Inv:
    ts = [{"signedTimestamp": b64(os.urandom(64))} for _ in range(33)]
    return c.inv(mutated(c.good(), _set([VM, "timestampVerificationData"], {"rfc3161Timestamps": ts})))


@row(13, "1025-intoto-subjects", Reason.INPUT_TOO_LARGE)
def _(c: Ctx) -> Inv:
    subjects = [{"name": f"s{i}", "digest": {"sha256": hashlib.sha256(b"%d" % i).hexdigest()}} for i in range(1024)]
    subjects.append({"name": "a", "digest": {"sha256": hashlib.sha256(ARTIFACT).hexdigest()}})
    st = {"_type": "https://in-toto.io/Statement/v1", "subject": subjects, "predicateType": "x", "predicate": {}}
    return c.inv(c.vs.attest(ARTIFACT, statement=st))


@row(13, "subject-with-33-digests", Reason.INPUT_TOO_LARGE)
def _(c: Ctx) -> Inv:
    digest = {f"alg{i}": "00" for i in range(32)}
    digest["sha256"] = hashlib.sha256(ARTIFACT).hexdigest()
    st = {"_type": "https://in-toto.io/Statement/v1", "subject": [{"name": "a", "digest": digest}], "predicateType": "x", "predicate": {}}
    return c.inv(c.vs.attest(ARTIFACT, statement=st))


@row(13, "checkpoint-with-65-signature-lines", Reason.INPUT_TOO_LARGE, Reason.TLOG_NOTE_MALFORMED)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(faults=Faults(checkpoint=CheckpointOptions(witnesses=64))))


# ============================================================================ rows 14-32: tlog


@row(14, "same-entry-twice", Reason.TLOG_DUPLICATE_ENTRY)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good(), lambda b: b[VM]["tlogEntries"].append(copy.deepcopy(tlog_entry(b)))))


@row(14, "rekor2-same-entry-twice", Reason.TLOG_DUPLICATE_ENTRY, tsa=True)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good(log="v2", tsa=True), lambda b: b[VM]["tlogEntries"].append(copy.deepcopy(tlog_entry(b)))))


@row(15, "kind-differs", Reason.TLOG_KIND_VERSION_MISMATCH)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good(), _set([*E0, "kindVersion"], {"kind": "dsse", "version": "0.0.1"})))


@row(15, "version-differs", Reason.TLOG_KIND_VERSION_MISMATCH)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good(), _set([*E0, "kindVersion", "version"], "0.0.2")))


@row(15, "dsse-kind-differs", Reason.TLOG_KIND_VERSION_MISMATCH)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good_dsse(), _set([*E0, "kindVersion"], {"kind": "intoto", "version": "0.0.2"})))


@row(16, "rekor-v1-rekord-kind", Reason.TLOG_UNSUPPORTED_KIND)
def _(c: Ctx) -> Inv:
    body = {
        "apiVersion": "0.0.1",
        "kind": "rekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hashlib.sha256(ARTIFACT).hexdigest()}},
            "signature": {"content": "AA==", "format": "x509", "publicKey": {"content": "AA=="}},
        },
    }
    return c.inv(c.good(faults=Faults(body_override=jcs(body), kind_version=("rekord", "0.0.1"))))


@row(16, "rekor2-dsse-0.0.2", Reason.TLOG_UNSUPPORTED_KIND, tsa=True)
def _(c: Ctx) -> Inv:
    b = c.good_dsse(log="v2", tsa=True)
    env = b["dsseEnvelope"]
    cert = b[VM]["certificate"]["rawBytes"]
    body = {
        "apiVersion": "0.0.2",
        "kind": "dsse",
        "spec": {
            "dsseV002": {
                "payloadHash": {"algorithm": "SHA2_256", "digest": b64(hashlib.sha256(b64d(env["payload"])).digest())},
                "signatures": [
                    {
                        "content": env["signatures"][0]["sig"],
                        "verifier": {"keyDetails": "PKIX_ECDSA_P256_SHA_256", "x509Certificate": {"rawBytes": cert}},
                    }
                ],
            }
        },
    }
    entry = c.vs.rekor_v2.log(jcs(body))
    entry["kindVersion"] = {"kind": "dsse", "version": "0.0.2"}
    return c.inv(mutated(b, _set([VM, "tlogEntries"], [entry])))


@row(16, "rekor-v1-hashedrekord-0.0.9", Reason.TLOG_UNSUPPORTED_KIND)
def _(c: Ctx) -> Inv:
    def bump(body: dict) -> dict:
        body["apiVersion"] = "0.0.9"
        return body

    return c.inv(c.good(faults=Faults(body_mutator=bump)))


@row(17, "log-missing-from-trusted-root", Reason.TLOG_THRESHOLD_NOT_MET)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(), trusted_root=c.vs.trusted_root(tlogs=("v2", "v2-ecdsa")))


@row(17, "bundle-from-other-instance", Reason.TLOG_THRESHOLD_NOT_MET)
def _(c: Ctx) -> Inv:
    return c.inv(c.untrusted.sign_artifact(ARTIFACT))


@row(17, "unknown-log-id", Reason.TLOG_THRESHOLD_NOT_MET)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good(), _set([*E0, "logId", "keyId"], b64(os.urandom(32)))))


@row(17, "min-tlog-entries-2-with-one-log", Reason.TLOG_THRESHOLD_NOT_MET)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(), args=["--min-tlog-entries", "2"])


@row(18, "set-signed-by-other-key", Reason.TLOG_SET_INVALID)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(faults=Faults(set_key=ec.generate_private_key(ec.SECP256R1()))))


@row(18, "set-over-proof-local-index", Reason.TLOG_SET_INVALID)
def _(c: Ctx) -> Inv:
    # a SET over the shard-local index instead of the global one
    def local(p: dict) -> dict:
        p["logIndex"] = p["logIndex"] - c.vs.rekor_v1.global_offset
        return p

    return c.inv(c.good(faults=Faults(set_payload_mutator=local)))


@row(18, "integrated-time-changed-after-signing", Reason.TLOG_SET_INVALID)
def _(c: Ctx) -> Inv:
    b = c.good()
    return c.inv(mutated(b, _set([*E0, "integratedTime"], str(int(tlog_entry(b)["integratedTime"]) - 1))))


@row(18, "set-bit-flipped", Reason.TLOG_SET_INVALID)
def _(c: Ctx) -> Inv:
    b = c.good()
    set_b64 = tlog_entry(b)["inclusionPromise"]["signedEntryTimestamp"]
    return c.inv(mutated(b, _set([*E0, "inclusionPromise", "signedEntryTimestamp"], flip_b64(set_b64))))


@row(19, "integrated-time-after-log-key-end", Reason.TLOG_KEY_VALIDITY)
def _(c: Ctx) -> Inv:
    tr = c.vs.trusted_root(tlog_validity=(dt.datetime(2020, 1, 1, tzinfo=UTC), DEFAULT_TIME - dt.timedelta(seconds=1)))
    return c.inv(c.good(at=DEFAULT_TIME), trusted_root=tr)


@row(19, "integrated-time-before-log-key-start", Reason.TLOG_KEY_VALIDITY)
def _(c: Ctx) -> Inv:
    tr = c.vs.trusted_root(tlog_validity=(DEFAULT_TIME + dt.timedelta(seconds=1), None))
    return c.inv(c.good(at=DEFAULT_TIME), trusted_root=tr)


@row(20, "integrated-time-after-leaf-not-after", Reason.TIME_OUTSIDE_CERT_VALIDITY)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(faults=Faults(integrated_time=DEFAULT_TIME + dt.timedelta(minutes=30))))


@row(20, "integrated-time-in-verifier-future", Reason.TIME_IN_FUTURE)
def _(c: Ctx) -> Inv:
    future = dt.datetime.now(UTC).replace(microsecond=0) + dt.timedelta(days=2)
    return c.inv(c.good(at=future))


@row(20, "integrated-time-ten-minutes-ahead", Reason.TIME_IN_FUTURE)
def _(c: Ctx) -> Inv:
    future = dt.datetime.now(UTC).replace(microsecond=0) + dt.timedelta(minutes=10)
    return c.inv(c.good(at=future))


@row(21, "corrupted-proof-hash", Reason.TLOG_INCLUSION_PROOF_INVALID)
def _(c: Ctx) -> Inv:
    b = c.good()
    h = tlog_entry(b)["inclusionProof"]["hashes"]
    return c.inv(mutated(b, _set([*E0, "inclusionProof", "hashes", 0], flip_b64(h[0]))))


@row(21, "wrong-proof-index", Reason.TLOG_INCLUSION_PROOF_INVALID)
def _(c: Ctx) -> Inv:
    b = c.good()
    i = int(tlog_entry(b)["inclusionProof"]["logIndex"])
    return c.inv(mutated(b, _set([*E0, "inclusionProof", "logIndex"], str(i + 1))))


@row(21, "proof-missing-last-hash", Reason.TLOG_INCLUSION_PROOF_INVALID)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good(), lambda b: tlog_entry(b)["inclusionProof"]["hashes"].pop()))


@row(21, "proof-extra-hash", Reason.TLOG_INCLUSION_PROOF_INVALID)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good(), lambda b: tlog_entry(b)["inclusionProof"]["hashes"].append(b64(os.urandom(32)))))


@row(21, "proof-hash-31-bytes", Reason.TLOG_INCLUSION_PROOF_INVALID)
def _(c: Ctx) -> Inv:
    b = c.good()
    h = b64d(tlog_entry(b)["inclusionProof"]["hashes"][0])
    return c.inv(mutated(b, _set([*E0, "inclusionProof", "hashes", 0], b64(h[:31]))))


@row(21, "index-not-below-tree-size", Reason.TLOG_INCLUSION_PROOF_INVALID)
def _(c: Ctx) -> Inv:
    b = c.good()
    n = int(tlog_entry(b)["inclusionProof"]["treeSize"])
    return c.inv(mutated(b, _set([*E0, "inclusionProof", "logIndex"], str(n))))


@row(21, "rekor2-corrupted-proof-hash", Reason.TLOG_INCLUSION_PROOF_INVALID, tsa=True)
def _(c: Ctx) -> Inv:
    b = c.good(log="v2", tsa=True)
    h = tlog_entry(b)["inclusionProof"]["hashes"]
    return c.inv(mutated(b, _set([*E0, "inclusionProof", "hashes", len(h) - 1], flip_b64(h[-1]))))


@row(21, "rekor2-body-logged-differs-from-reconstruction-leaf", Reason.TLOG_INCLUSION_PROOF_INVALID, tsa=True)
def _(c: Ctx) -> Inv:
    # canonicalizedBody == reconstruction, but the log's leaf is other bytes: proof cannot verify
    def other(body: dict) -> dict:
        body["spec"]["hashedRekordV002"]["data"]["digest"] = b64(os.urandom(32))
        return body

    return c.inv(c.good(log="v2", tsa=True, faults=Faults(body_mutator=other)))


@row(22, "proof-root-hash-differs-from-checkpoint", Reason.TLOG_CHECKPOINT_ROOT_MISMATCH)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good(), _set([*E0, "inclusionProof", "rootHash"], b64(os.urandom(32)))))


@row(22, "proof-tree-size-differs-from-checkpoint", Reason.TLOG_CHECKPOINT_ROOT_MISMATCH)
def _(c: Ctx) -> Inv:
    b = c.good()
    n = int(tlog_entry(b)["inclusionProof"]["treeSize"])
    return c.inv(mutated(b, _set([*E0, "inclusionProof", "treeSize"], str(n + 1))))


@row(22, "rekor2-proof-root-hash-differs", Reason.TLOG_CHECKPOINT_ROOT_MISMATCH, tsa=True)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good(log="v2", tsa=True), _set([*E0, "inclusionProof", "rootHash"], b64(os.urandom(32)))))


def _other_key_like(vs_log: Any) -> Any:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    if isinstance(vs_log.private, ed25519.Ed25519PrivateKey):
        return ed25519.Ed25519PrivateKey.generate()
    return ec.generate_private_key(ec.SECP256R1())


@row(23, "v1-checkpoint-signed-by-other-key", Reason.TLOG_CHECKPOINT_SIGNATURE_INVALID)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(faults=Faults(checkpoint=CheckpointOptions(signing_key=_other_key_like(c.vs.rekor_v1)))))


@row(23, "v1-checkpoint-text-changed-after-signing", Reason.TLOG_CHECKPOINT_SIGNATURE_INVALID)
def _(c: Ctx) -> Inv:
    b = c.good()

    def fn(x: dict) -> None:
        cp = tlog_entry(x)["inclusionProof"]["checkpoint"]
        text, sep, sigs = cp["envelope"].rpartition("\n\n")
        cp["envelope"] = text + "\nTimestamp: 1" + sep + sigs

    return c.inv(mutated(b, fn))


@row(23, "rekor2-ed25519-checkpoint-signed-by-other-key", Reason.TLOG_CHECKPOINT_SIGNATURE_INVALID, tsa=True)
def _(c: Ctx) -> Inv:
    f = Faults(checkpoint=CheckpointOptions(signing_key=_other_key_like(c.vs.rekor_v2)))
    return c.inv(c.good(log="v2", tsa=True, faults=f))


@row(23, "rekor2-ecdsa-checkpoint-signed-by-other-key", Reason.TLOG_CHECKPOINT_SIGNATURE_INVALID, tsa=True)
def _(c: Ctx) -> Inv:
    f = Faults(checkpoint=CheckpointOptions(signing_key=_other_key_like(c.vs.rekor_v2_ecdsa)))
    return c.inv(c.good(log="v2-ecdsa", tsa=True, faults=f))


@row(23, "rekor2-second-matching-line-invalid", Reason.TLOG_CHECKPOINT_SIGNATURE_INVALID, tsa=True)
def _(c: Ctx) -> Inv:
    b = c.good(log="v2", tsa=True)
    log = c.vs.rekor_v2

    def fn(x: dict) -> None:
        cp = tlog_entry(x)["inclusionProof"]["checkpoint"]
        bogus = "\u2014 " + log.origin + " " + b64(log.log_id[:4] + os.urandom(64)) + "\n"
        cp["envelope"] = cp["envelope"] + bogus

    return c.inv(mutated(b, fn))


@row(24, "v1-wrong-key-hint", Reason.TLOG_CHECKPOINT_NO_MATCHING_KEY)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(faults=Faults(checkpoint=CheckpointOptions(hint=b"\x00\x01\x02\x03"))))


@row(24, "rekor2-wrong-key-hint", Reason.TLOG_CHECKPOINT_NO_MATCHING_KEY, tsa=True)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(log="v2", tsa=True, faults=Faults(checkpoint=CheckpointOptions(hint=b"\xde\xad\xbe\xef"))))


@row(24, "rekor2-wrong-key-name", Reason.TLOG_CHECKPOINT_NO_MATCHING_KEY, tsa=True)
def _(c: Ctx) -> Inv:
    f = Faults(checkpoint=CheckpointOptions(name="log2026-9.rekor.elsewhere.test"))
    return c.inv(c.good(log="v2", tsa=True, faults=f))


@row(24, "rekor2-only-witness-lines", Reason.TLOG_CHECKPOINT_NO_MATCHING_KEY, tsa=True)
def _(c: Ctx) -> Inv:
    f = Faults(checkpoint=CheckpointOptions(omit_log_signature=True, witnesses=2))
    return c.inv(c.good(log="v2", tsa=True, faults=f))


@row(24, "rekor2-no-signature-lines", Reason.TLOG_CHECKPOINT_NO_MATCHING_KEY, Reason.TLOG_NOTE_MALFORMED, tsa=True)
def _(c: Ctx) -> Inv:
    # conformance rekor2-checkpoint-missing-log-signature_fail: "text\n\n" and nothing else
    f = Faults(checkpoint=CheckpointOptions(omit_log_signature=True))
    return c.inv(c.good(log="v2", tsa=True, faults=f))


def _drop_line(n: int) -> Callable[[str], str]:
    def fn(text: str) -> str:
        lines = text.split("\n")
        del lines[n]
        return "\n".join(lines)

    return fn


def _replace_line(n: int, value: str) -> Callable[[str], str]:
    def fn(text: str) -> str:
        lines = text.split("\n")
        lines[n] = value
        return "\n".join(lines)

    return fn


for _log in ("v2", "v1"):
    for _name, _mut in (
        ("missing-origin", _drop_line(0)),
        ("missing-size", _drop_line(1)),
        ("missing-root-hash", _drop_line(2)),
        ("size-not-decimal", _replace_line(1, "0x10")),
        ("size-leading-zero", None),
        ("root-hash-31-bytes", _replace_line(2, b64(os.urandom(31)))),
    ):
        if _log == "v1" and _name not in ("missing-size", "missing-root-hash", "size-leading-zero"):
            continue

        def _ck(c: Ctx, _l: str = _log, _m: Any = _mut) -> Inv:
            if _m is None:
                def _m(text: str) -> str:
                    lines = text.split("\n")
                    lines[1] = "0" + lines[1]
                    return "\n".join(lines)
            f = Faults(checkpoint=CheckpointOptions(text_mutator=_m))
            return c.inv(c.good(log=_l, tsa=(_l == "v2"), faults=f))

        row(25, f"{'rekor2' if _log == 'v2' else 'v1'}-{_name}", Reason.TLOG_CHECKPOINT_MALFORMED, tsa=(_log == "v2"))(_ck)


@row(26, "control-char-in-note-text", Reason.TLOG_NOTE_MALFORMED)
def _(c: Ctx) -> Inv:
    f = Faults(checkpoint=CheckpointOptions(extension_lines=["Timestamp: \x07123"]))
    return c.inv(c.good(faults=f))


@row(26, "crlf-line-endings", Reason.TLOG_NOTE_MALFORMED)
def _(c: Ctx) -> Inv:
    b = c.good()

    def fn(x: dict) -> None:
        cp = tlog_entry(x)["inclusionProof"]["checkpoint"]
        cp["envelope"] = cp["envelope"].replace("\n", "\r\n")

    return c.inv(mutated(b, fn))


@row(26, "hyphen-instead-of-em-dash", Reason.TLOG_NOTE_MALFORMED)
def _(c: Ctx) -> Inv:
    b = c.good()

    def fn(x: dict) -> None:
        cp = tlog_entry(x)["inclusionProof"]["checkpoint"]
        cp["envelope"] = cp["envelope"].replace("\u2014 ", "- ")

    return c.inv(mutated(b, fn))


@row(26, "signature-shorter-than-5-bytes", Reason.TLOG_NOTE_MALFORMED)
def _(c: Ctx) -> Inv:
    b = c.good()
    log = c.vs.rekor_v1

    def fn(x: dict) -> None:
        cp = tlog_entry(x)["inclusionProof"]["checkpoint"]
        cp["envelope"] = replace_note_signature_lines(cp["envelope"], [f"\u2014 {log.host} {b64(log.log_id[:4])}\n"])

    return c.inv(mutated(b, fn))


@row(26, "signature-not-base64", Reason.TLOG_NOTE_MALFORMED)
def _(c: Ctx) -> Inv:
    b = c.good()
    log = c.vs.rekor_v1

    def fn(x: dict) -> None:
        cp = tlog_entry(x)["inclusionProof"]["checkpoint"]
        cp["envelope"] = replace_note_signature_lines(cp["envelope"], [f"\u2014 {log.host} not*base64*at*all\n"])

    return c.inv(mutated(b, fn))


@row(26, "signature-block-without-final-newline", Reason.TLOG_NOTE_MALFORMED)
def _(c: Ctx) -> Inv:
    b = c.good()

    def fn(x: dict) -> None:
        cp = tlog_entry(x)["inclusionProof"]["checkpoint"]
        cp["envelope"] = cp["envelope"].rstrip("\n")

    return c.inv(mutated(b, fn))


@row(26, "no-blank-line-separator", Reason.TLOG_NOTE_MALFORMED)
def _(c: Ctx) -> Inv:
    b = c.good()

    def fn(x: dict) -> None:
        cp = tlog_entry(x)["inclusionProof"]["checkpoint"]
        cp["envelope"] = cp["envelope"].replace("\n\n", "\n")

    return c.inv(mutated(b, fn))


@row(26, "rekor2-signature-line-missing-name", Reason.TLOG_NOTE_MALFORMED, tsa=True)
def _(c: Ctx) -> Inv:
    b = c.good(log="v2", tsa=True)

    def fn(x: dict) -> None:
        cp = tlog_entry(x)["inclusionProof"]["checkpoint"]
        text, sep, sigs = cp["envelope"].rpartition("\n\n")
        first = sigs.split("\n")[0]
        parts = first.split(" ")
        cp["envelope"] = text + sep + parts[0] + " " + parts[2] + "\n"

    return c.inv(mutated(b, fn))


# ---- body <-> bundle consistency (rows 27-32)


@row(27, "hashedrekord-digest-of-other-artifact", Reason.TLOG_ENTRY_MISMATCH)
def _(c: Ctx) -> Inv:
    def other(body: dict) -> dict:
        body["spec"]["data"]["hash"]["value"] = hashlib.sha256(b"other artifact").hexdigest()
        return body

    return c.inv(c.good(faults=Faults(body_mutator=other)))


@row(27, "hashedrekord-algorithm-sha512", Reason.TLOG_ENTRY_MISMATCH)
def _(c: Ctx) -> Inv:
    def other(body: dict) -> dict:
        body["spec"]["data"]["hash"] = {"algorithm": "sha512", "value": hashlib.sha512(ARTIFACT).hexdigest()}
        return body

    return c.inv(c.good(faults=Faults(body_mutator=other)))


@row(27, "verify-other-artifact-no-message-digest", Reason.TLOG_ENTRY_MISMATCH)
def _(c: Ctx) -> Inv:
    b = c.vs.sign_artifact(b"the signed artifact", faults=Faults(message_digest=False))
    return c.inv(b, artifact=ARTIFACT)


@row(28, "hashedrekord-other-signature", Reason.TLOG_ENTRY_MISMATCH)
def _(c: Ctx) -> Inv:
    def other(body: dict) -> dict:
        k = SigningKey.generate()
        body["spec"]["signature"]["content"] = b64(k.sign(ARTIFACT))
        return body

    return c.inv(c.good(faults=Faults(body_mutator=other)))


@row(28, "hashedrekord-other-certificate", Reason.TLOG_ENTRY_MISMATCH)
def _(c: Ctx) -> Inv:
    other_cert = c.vs.sign_artifact(ARTIFACT)[VM]["certificate"]["rawBytes"]
    pem = x509.load_der_x509_certificate(b64d(other_cert)).public_bytes(
        __import__("cryptography.hazmat.primitives.serialization", fromlist=["Encoding"]).Encoding.PEM
    )

    def other(body: dict) -> dict:
        body["spec"]["signature"]["publicKey"]["content"] = b64(pem)
        return body

    return c.inv(c.good(faults=Faults(body_mutator=other)))


@row(28, "hashedrekord-bundle-signature-replaced", Reason.TLOG_ENTRY_MISMATCH)
def _(c: Ctx) -> Inv:
    # bundle carries a different (also valid) signature than the logged one
    b = c.good()
    leaf_key_sig = c.good()["messageSignature"]["signature"]
    return c.inv(mutated(b, _set(["messageSignature", "signature"], leaf_key_sig)))


def _dsse_body_fault(fn: Callable[[dict], None]) -> Callable[[dict], dict]:
    def mut(body: dict) -> dict:
        fn(body)
        return body

    return mut


@row(29, "dsse-payload-hash-differs", Reason.TLOG_ENTRY_MISMATCH)
def _(c: Ctx) -> Inv:
    f = Faults(body_mutator=_dsse_body_fault(lambda b: b["spec"]["payloadHash"].update(value=hashlib.sha256(b"x").hexdigest())))
    return c.inv(c.good_dsse(faults=f))


@row(29, "dsse-signature-differs", Reason.TLOG_ENTRY_MISMATCH)
def _(c: Ctx) -> Inv:
    sig = b64(SigningKey.generate().sign(b"x"))
    f = Faults(body_mutator=_dsse_body_fault(lambda b: b["spec"]["signatures"][0].update(signature=sig)))
    return c.inv(c.good_dsse(faults=f))


@row(29, "dsse-verifier-differs", Reason.TLOG_ENTRY_MISMATCH)
def _(c: Ctx) -> Inv:
    other_pem = SigningKey.generate().public_key_pem()
    f = Faults(body_mutator=_dsse_body_fault(lambda b: b["spec"]["signatures"][0].update(verifier=b64(other_pem))))
    return c.inv(c.good_dsse(faults=f))


@row(29, "dsse-two-signatures-in-body", Reason.TLOG_ENTRY_MISMATCH)
def _(c: Ctx) -> Inv:
    f = Faults(body_mutator=_dsse_body_fault(lambda b: b["spec"]["signatures"].append(copy.deepcopy(b["spec"]["signatures"][0]))))
    return c.inv(c.good_dsse(faults=f))


@row(29, "dsse-envelope-payload-changed-in-bundle", Reason.TLOG_ENTRY_MISMATCH)
def _(c: Ctx) -> Inv:
    b = c.good_dsse()
    st = json.loads(b64d(b["dsseEnvelope"]["payload"]))
    st["predicate"] = {"changed": True}
    return c.inv(mutated(b, _set(["dsseEnvelope", "payload"], b64(json.dumps(st).encode()))))


@row(30, "intoto-payload-hash-differs", Reason.TLOG_ENTRY_MISMATCH, tsa=True)
def _(c: Ctx) -> Inv:
    f = Faults(body_mutator=_dsse_body_fault(lambda b: b["spec"]["content"]["payloadHash"].update(value=hashlib.sha256(b"x").hexdigest())))
    return c.inv(c.good_dsse(kind="intoto", tsa=True, faults=f))


@row(30, "intoto-signature-differs", Reason.TLOG_ENTRY_MISMATCH, tsa=True)
def _(c: Ctx) -> Inv:
    sig = b64(b64(SigningKey.generate().sign(b"x")).encode())
    f = Faults(body_mutator=_dsse_body_fault(lambda b: b["spec"]["content"]["envelope"]["signatures"][0].update(sig=sig)))
    return c.inv(c.good_dsse(kind="intoto", tsa=True, faults=f))


@row(30, "intoto-public-key-differs", Reason.TLOG_ENTRY_MISMATCH, tsa=True)
def _(c: Ctx) -> Inv:
    pem = b64(SigningKey.generate().public_key_pem())
    f = Faults(body_mutator=_dsse_body_fault(lambda b: b["spec"]["content"]["envelope"]["signatures"][0].update(publicKey=pem)))
    return c.inv(c.good_dsse(kind="intoto", tsa=True, faults=f))


@row(31, "rekor2-canonicalized-body-reformatted", Reason.TLOG_ENTRY_MISMATCH, tsa=True)
def _(c: Ctx) -> Inv:
    b = c.good(log="v2", tsa=True)
    pretty = json.dumps(body_of(tlog_entry(b)), indent=1).encode()
    return c.inv(mutated(b, _set([*E0, "canonicalizedBody"], b64(pretty))))


@row(31, "rekor2-dsse-envelope-payload-changed", Reason.TLOG_ENTRY_MISMATCH, tsa=True)
def _(c: Ctx) -> Inv:
    b = c.good_dsse(log="v2", tsa=True)
    st = json.loads(b64d(b["dsseEnvelope"]["payload"]))
    st["predicate"] = {"changed": True}
    return c.inv(mutated(b, _set(["dsseEnvelope", "payload"], b64(json.dumps(st).encode()))))


@row(31, "rekor2-dsse-signature-replaced", Reason.TLOG_ENTRY_MISMATCH, tsa=True)
def _(c: Ctx) -> Inv:
    b = c.good_dsse(log="v2", tsa=True)
    other = c.good_dsse(log="v2", tsa=True)["dsseEnvelope"]["signatures"][0]["sig"]
    return c.inv(mutated(b, _set(["dsseEnvelope", "signatures", 0, "sig"], other)))


@row(31, "rekor2-canonicalized-body-other-digest", Reason.TLOG_ENTRY_MISMATCH, tsa=True)
def _(c: Ctx) -> Inv:
    b = c.good(log="v2", tsa=True)
    body = body_of(tlog_entry(b))
    body["spec"]["hashedRekordV002"]["data"]["digest"] = b64(hashlib.sha256(b"x").digest())
    return c.inv(mutated(b, _set([*E0, "canonicalizedBody"], b64(jcs(body)))))


@row(31, "rekor2-logged-body-other-artifact-digest", Reason.TLOG_ENTRY_MISMATCH, tsa=True)
def _(c: Ctx) -> Inv:
    # logged and shipped body (inclusion verifies) names another artifact; signature is valid
    def other(body: dict) -> dict:
        body["spec"]["hashedRekordV002"]["data"]["digest"] = b64(hashlib.sha256(b"other artifact").digest())
        return body

    f = Faults(body_mutator=other, v2_mutated_body_is_canonical=True)
    return c.inv(c.good(log="v2", tsa=True, faults=f))


@row(31, "rekor2-logged-body-other-certificate", Reason.TLOG_ENTRY_MISMATCH, tsa=True)
def _(c: Ctx) -> Inv:
    other_cert = c.vs.sign_artifact(ARTIFACT)[VM]["certificate"]["rawBytes"]

    def other(body: dict) -> dict:
        body["spec"]["hashedRekordV002"]["signature"]["verifier"]["x509Certificate"]["rawBytes"] = other_cert
        return body

    f = Faults(body_mutator=other, v2_mutated_body_is_canonical=True)
    return c.inv(c.good(log="v2", tsa=True, faults=f))


@row(31, "rekor2-logged-body-other-signature", Reason.TLOG_ENTRY_MISMATCH, tsa=True)
def _(c: Ctx) -> Inv:
    def other(body: dict) -> dict:
        body["spec"]["hashedRekordV002"]["signature"]["content"] = b64(SigningKey.generate().sign(ARTIFACT))
        return body

    f = Faults(body_mutator=other, v2_mutated_body_is_canonical=True)
    return c.inv(c.good(log="v2", tsa=True, faults=f))


@row(31, "rekor2-logged-body-key-details-differ", Reason.TLOG_ENTRY_MISMATCH, tsa=True)
def _(c: Ctx) -> Inv:
    def other(body: dict) -> dict:
        body["spec"]["hashedRekordV002"]["signature"]["verifier"]["keyDetails"] = "PKIX_ECDSA_P384_SHA_384"
        return body

    f = Faults(body_mutator=other, v2_mutated_body_is_canonical=True)
    return c.inv(c.good(log="v2", tsa=True, faults=f))


@row(31, "rekor2-dsse-logged-body-other-digest", Reason.TLOG_ENTRY_MISMATCH, tsa=True)
def _(c: Ctx) -> Inv:
    def other(body: dict) -> dict:
        body["spec"]["hashedRekordV002"]["data"]["digest"] = b64(hashlib.sha256(b"other envelope").digest())
        return body

    f = Faults(body_mutator=other, v2_mutated_body_is_canonical=True)
    return c.inv(c.good_dsse(log="v2", tsa=True, faults=f))


@row(32, "dsse-content-with-hashedrekord-entry", Reason.TLOG_KIND_CONTENT_MISMATCH)
def _(c: Ctx) -> Inv:
    return c.inv(c.good_dsse(faults=Faults(v1_log_kind="hashedrekord")))


@row(32, "message-content-with-dsse-entry", Reason.TLOG_KIND_CONTENT_MISMATCH)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(faults=Faults(v1_log_kind="dsse")))


@row(32, "message-content-with-intoto-entry", Reason.TLOG_KIND_CONTENT_MISMATCH)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(faults=Faults(v1_log_kind="intoto")))


# ============================================================================ rows 33-40: time, TSA

NO_TIME = (Reason.TIME_NO_VERIFIED_TIMESTAMP,)


@row(33, "rekor2-without-timestamp", *NO_TIME)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(log="v2"))


@row(33, "v1-entry-without-set-and-no-tsa", *NO_TIME)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good(), _del([*E0, "inclusionPromise"])))


@row(33, "intoto-0.0.2-without-set", *NO_TIME)
def _(c: Ctx) -> Inv:
    # a verified SET on an intoto 0.0.2 entry is a verified time (docs/verification.md §4.4);
    # without the SET its integratedTime is only a claim
    return c.inv(mutated(c.good_dsse(kind="intoto"), _del([*E0, "inclusionPromise"])))


@row(33, "no-tlog-no-tsa-certificate", *NO_TIME)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(log=None), args=["--min-tlog-entries", "0"])


@row(34, "imprint-over-other-bytes", Reason.TSA_IMPRINT_MISMATCH, tsa=True)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(log="v2", tsa=True, faults=Faults(tsa_over=b"not the signature")))


@row(34, "imprint-over-artifact", Reason.TSA_IMPRINT_MISMATCH, tsa=True)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(log="v2", tsa=True, faults=Faults(tsa_over=ARTIFACT)))


@row(34, "dsse-imprint-over-payload", Reason.TSA_IMPRINT_MISMATCH, tsa=True)
def _(c: Ctx) -> Inv:
    b = c.good_dsse(log="v2")
    payload = b64d(b["dsseEnvelope"]["payload"])
    der = c.vs.tsa.timestamp(payload, at=DEFAULT_TIME)
    return c.inv(mutated(b, _set([VM, "timestampVerificationData"], {"rfc3161Timestamps": [{"signedTimestamp": b64(der)}]})))


@row(35, "untrusted-tsa-with-embedded-cert", Reason.TSA_UNTRUSTED, tsa=True)
def _(c: Ctx) -> Inv:
    twin = c.vs.tsa.untrusted_twin()
    return c.inv(c.good(log="v2", tsa=True, faults=Faults(tsa_authority=twin)))


@row(35, "untrusted-tsa-without-embedded-cert", Reason.TSA_UNTRUSTED, tsa=True)
def _(c: Ctx) -> Inv:
    twin = c.vs.tsa.untrusted_twin()
    return c.inv(c.good(log="v2", tsa=True, faults=Faults(tsa_authority=twin, tsa_kwargs={"embed_cert": False})))


@row(35, "no-tsa-in-trusted-root", Reason.TSA_UNTRUSTED, tsa=True)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(log="v2", tsa=True), trusted_root=c.vs.trusted_root(tsas=False))


@row(35, "other-instance-tsa", Reason.TSA_UNTRUSTED, tsa=True)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(log="v2", tsa=True, faults=Faults(tsa_authority=c.untrusted.tsa)))


@row(36, "gen-time-after-trust-root-tsa-end", Reason.TSA_VALIDITY, tsa=True)
def _(c: Ctx) -> Inv:
    tr = c.vs.trusted_root(tsa_entry_options={"valid_until": DEFAULT_TIME - dt.timedelta(seconds=1)})
    return c.inv(c.good(log="v2", tsa=True), trusted_root=tr)


@row(36, "gen-time-before-trust-root-tsa-start", Reason.TSA_VALIDITY, tsa=True)
def _(c: Ctx) -> Inv:
    tr = c.vs.trusted_root(tsa_entry_options={"valid_from": DEFAULT_TIME + dt.timedelta(seconds=1)})
    return c.inv(c.good(log="v2", tsa=True), trusted_root=tr)


@row(36, "gen-time-after-tsa-leaf-not-after", Reason.TSA_VALIDITY, tsa=True)
def _(c: Ctx) -> Inv:
    tsa = c.vs.make_tsa(leaf_not_after=DEFAULT_TIME - dt.timedelta(days=1))
    tr = c.vs.trusted_root(tsas=False, extra_tsas=[tsa])
    return c.inv(c.good(log="v2", tsa=True, faults=Faults(tsa_authority=tsa)), trusted_root=tr)


@row(37, "sha1-imprint", Reason.TSA_WEAK_HASH, tsa=True)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(log="v2", tsa=True, faults=Faults(tsa_kwargs={"hash_name": "sha1"})))


for _variant, _opts in (
    ("leaf-eku-not-critical", {"leaf_eku_critical": False}),
    ("leaf-extra-eku", {"leaf_extra_eku": True}),
    ("leaf-without-eku", {"leaf_without_eku": True}),
    ("leaf-is-ca", {"leaf_is_ca": True}),
):

    def _tsa_profile(c: Ctx, _o: dict = _opts) -> Inv:
        tsa = c.vs.make_tsa(**_o)
        tr = c.vs.trusted_root(tsas=False, extra_tsas=[tsa])
        return c.inv(c.good(log="v2", tsa=True, faults=Faults(tsa_authority=tsa)), trusted_root=tr)

    row(38, _variant, Reason.TSA_UNTRUSTED, tsa=True)(_tsa_profile)


@row(39, "same-token-twice", Reason.TSA_DUPLICATE, tsa=True)
def _(c: Ctx) -> Inv:
    b = c.good(log="v2", tsa=True)
    tok = b[VM]["timestampVerificationData"]["rfc3161Timestamps"][0]
    return c.inv(mutated(b, lambda x: x[VM]["timestampVerificationData"]["rfc3161Timestamps"].append(dict(tok))))


@row(40, "rekor2-tsa-time-after-leaf-not-after", Reason.TIME_OUTSIDE_CERT_VALIDITY, tsa=True)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(log="v2", tsa=True, faults=Faults(tsa_at=DEFAULT_TIME + dt.timedelta(minutes=30))))


@row(40, "rekor2-tsa-time-before-leaf-not-before", Reason.TIME_OUTSIDE_CERT_VALIDITY, tsa=True)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(log="v2", tsa=True, faults=Faults(tsa_at=DEFAULT_TIME - dt.timedelta(minutes=30))))


@row(40, "dsse-set-time-before-leaf-not-before", Reason.TIME_OUTSIDE_CERT_VALIDITY)
def _(c: Ctx) -> Inv:
    return c.inv(c.good_dsse(faults=Faults(integrated_time=DEFAULT_TIME - dt.timedelta(minutes=30))))


@row(40, "v1-tsa-outside-while-set-inside", Reason.TIME_OUTSIDE_CERT_VALIDITY, tsa=True)
def _(c: Ctx) -> Inv:
    # every verified time must be inside the leaf validity, not just one
    return c.inv(c.good(tsa=True, faults=Faults(tsa_at=DEFAULT_TIME + dt.timedelta(minutes=30))))


# ============================================================================ rows 41-46: certificate


@row(41, "ca-validity-ends-before-signing", Reason.CERT_CHAIN_INVALID)
def _(c: Ctx) -> Inv:
    tr = c.vs.trusted_root(ca_validity=(dt.datetime(2020, 1, 1, tzinfo=UTC), DEFAULT_TIME - dt.timedelta(days=1)))
    return c.inv(c.good(), trusted_root=tr)


@row(41, "ca-validity-starts-after-signing", Reason.CERT_CHAIN_INVALID)
def _(c: Ctx) -> Inv:
    tr = c.vs.trusted_root(ca_validity=(DEFAULT_TIME + dt.timedelta(days=1), None))
    return c.inv(c.good(), trusted_root=tr)


@row(41, "leaf-from-untrusted-ca", Reason.CERT_CHAIN_INVALID)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(faults=Faults(ca=c.untrusted.ca)))


@row(41, "no-ca-in-trusted-root", Reason.CERT_CHAIN_INVALID)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(), trusted_root=c.vs.trusted_root(cas=False))


@row(41, "intermediate-expired-at-signing-time", Reason.CERT_CHAIN_INVALID)
def _(c: Ctx) -> Inv:
    expired = FulcioCA.create(
        "expired", not_before=dt.datetime(2021, 1, 1, tzinfo=UTC), not_after=DEFAULT_TIME - dt.timedelta(days=1)
    )
    tr = copy.deepcopy(c.tr)
    tr["certificateAuthorities"].append(
        {
            "subject": {"organization": "expired.dev", "commonName": "expired"},
            "uri": "https://fulcio.expired.test",
            "certChain": {"certificates": [{"rawBytes": b64(x.public_bytes(__import__("cryptography.hazmat.primitives.serialization", fromlist=["Encoding"]).Encoding.DER))} for x in expired.chain]},
            "validFor": {"start": "2020-01-01T00:00:00Z"},
        }
    )
    return c.inv(c.good(faults=Faults(ca=expired)), trusted_root=tr)


@row(42, "bundle-ships-untrusted-chain-with-root", Reason.CERT_CHAIN_INVALID)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(bundle_version="0.2", faults=Faults(ca=c.untrusted.ca, chain="full")))


@row(42, "untrusted-intermediate-under-trusted-root", Reason.CERT_CHAIN_INVALID)
def _(c: Ctx) -> Inv:
    rogue = c.vs.ca.rogue_intermediate()
    return c.inv(c.good(bundle_version="0.2", faults=Faults(ca=rogue, chain="leaf+intermediate")))


@row(42, "v0.1-untrusted-intermediate-under-trusted-root", Reason.CERT_CHAIN_INVALID)
def _(c: Ctx) -> Inv:
    rogue = c.vs.ca.rogue_intermediate()
    return c.inv(c.good(bundle_version="0.1", faults=Faults(ca=rogue, chain="full")))


@row(43, "no-key-usage", Reason.CERT_KEY_USAGE)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(faults=Faults(leaf=LeafOptions(key_usage=False))))


@row(43, "key-usage-without-digital-signature", Reason.CERT_KEY_USAGE)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(faults=Faults(leaf=LeafOptions(key_usage_digital_signature=False))))


@row(43, "no-extended-key-usage", Reason.CERT_EXT_KEY_USAGE)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(faults=Faults(leaf=LeafOptions(eku=None))))


@row(43, "eku-without-code-signing", Reason.CERT_EXT_KEY_USAGE)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(faults=Faults(leaf=LeafOptions(eku=[ExtendedKeyUsageOID.SERVER_AUTH]))))


@row(44, "no-sct", Reason.SCT_THRESHOLD_NOT_MET)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(faults=Faults(leaf=LeafOptions(sct="none"))))


@row(44, "sct-from-unknown-log", Reason.SCT_THRESHOLD_NOT_MET)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(faults=Faults(leaf=LeafOptions(sct="unknown_log"))))


@row(44, "sct-bad-signature", Reason.SCT_THRESHOLD_NOT_MET)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(faults=Faults(leaf=LeafOptions(sct="bad_signature"))))


@row(44, "no-ctlog-in-trusted-root", Reason.SCT_THRESHOLD_NOT_MET)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(), trusted_root=c.vs.trusted_root(ctlogs=False))


@row(44, "min-scts-2-with-one-sct", Reason.SCT_THRESHOLD_NOT_MET)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(), args=["--min-scts", "2"])


@row(44, "sct-before-ctlog-validity", Reason.SCT_THRESHOLD_NOT_MET)
def _(c: Ctx) -> Inv:
    tr = copy.deepcopy(c.tr)
    tr["ctlogs"][0]["publicKey"]["validFor"] = {"start": "2027-01-01T00:00:00Z"}
    return c.inv(c.good(), trusted_root=tr)


@row(45, "identity-mismatch", Reason.IDENTITY_MISMATCH)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(), identity="https://github.com/someone-else/repo/.github/workflows/x.yml@refs/heads/main")


@row(45, "issuer-mismatch", Reason.IDENTITY_MISMATCH)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(), issuer="https://accounts.google.com")


@row(45, "identity-regexp-partial-match", Reason.IDENTITY_MISMATCH)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(), identity_regexp=r"https://github\.com/airseal-test")


@row(45, "issuer-regexp-partial-match", Reason.IDENTITY_MISMATCH)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(), issuer_regexp=r"token\.actions")


@row(45, "identity-prefix-of-san", Reason.IDENTITY_MISMATCH)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(), identity=DEFAULT_IDENTITY[:-5])


@row(45, "email-identity-case-differs", Reason.IDENTITY_MISMATCH)
def _(c: Ctx) -> Inv:
    b = c.vs.sign_artifact(ARTIFACT, identity="signer@example.com", faults=Faults(leaf=LeafOptions(san="email")))
    return c.inv(b, identity="Signer@example.com")


@row(46, "issuer-oids-disagree", Reason.IDENTITY_ISSUER_CONFLICT)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(faults=Faults(leaf=LeafOptions(issuer_v1=b"https://accounts.google.com"))))


@row(46, "issuer-v8-not-utf8string", Reason.IDENTITY_ISSUER_CONFLICT)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(faults=Faults(leaf=LeafOptions(issuer_v8=der_ia5(DEFAULT_ISSUER)))))


@row(46, "issuer-v8-trailing-bytes", Reason.IDENTITY_ISSUER_CONFLICT)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(faults=Faults(leaf=LeafOptions(issuer_v8=der_utf8(DEFAULT_ISSUER) + b"\x00"))))


@row(46, "issuer-v8-raw-bytes-no-tag", Reason.IDENTITY_ISSUER_CONFLICT)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(faults=Faults(leaf=LeafOptions(issuer_v8=DEFAULT_ISSUER.encode()))))


# ============================================================================ rows 47-56: signature, content


@row(47, "signature-over-other-bytes", Reason.SIGNATURE_INVALID)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(faults=Faults(sign_over=b"something else")))


@row(47, "signed-by-key-other-than-certificate", Reason.SIGNATURE_INVALID)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(faults=Faults(signing_key=SigningKey.generate())))


@row(47, "rekor2-signature-over-other-bytes", Reason.SIGNATURE_INVALID, tsa=True)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(log="v2", tsa=True, faults=Faults(sign_over=b"something else")))


@row(48, "message-digest-differs", Reason.ARTIFACT_DIGEST_MISMATCH)
def _(c: Ctx) -> Inv:
    b = c.good()
    d = b["messageSignature"]["messageDigest"]["digest"]
    return c.inv(mutated(b, _set(["messageSignature", "messageDigest", "digest"], flip_b64(d))))


@row(48, "message-digest-of-other-artifact", Reason.ARTIFACT_DIGEST_MISMATCH)
def _(c: Ctx) -> Inv:
    d = b64(hashlib.sha256(b"other").digest())
    return c.inv(mutated(c.good(), _set(["messageSignature", "messageDigest", "digest"], d)))


@row(49, "dsse-signature-over-other-pae", Reason.SIGNATURE_INVALID)
def _(c: Ctx) -> Inv:
    return c.inv(c.good_dsse(faults=Faults(sign_over=b"DSSEv1 4 text 2 {}")))


@row(49, "dsse-signed-by-other-key", Reason.SIGNATURE_INVALID)
def _(c: Ctx) -> Inv:
    return c.inv(c.good_dsse(faults=Faults(signing_key=SigningKey.generate())))


@row(49, "rekor2-dsse-signature-over-payload-not-pae", Reason.SIGNATURE_INVALID, tsa=True)
def _(c: Ctx) -> Inv:
    st = json.dumps(c.vs.statement(ARTIFACT), separators=(",", ":")).encode()
    return c.inv(c.good_dsse(log="v2", tsa=True, statement=st, faults=Faults(sign_over=st)))


@row(50, "dsse-zero-signatures", Reason.BUNDLE_DSSE_SIGNATURE_COUNT)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good_dsse(), _set(["dsseEnvelope", "signatures"], [])))


@row(50, "dsse-two-signatures", Reason.BUNDLE_DSSE_SIGNATURE_COUNT)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good_dsse(), lambda b: b["dsseEnvelope"]["signatures"].append(dict(b["dsseEnvelope"]["signatures"][0]))))


@row(51, "subject-digest-of-other-artifact", Reason.DSSE_SUBJECT_MISMATCH)
def _(c: Ctx) -> Inv:
    return c.inv(c.vs.attest(ARTIFACT, statement=c.vs.statement(b"other artifact")))


@row(51, "digest-input-not-a-subject", Reason.DSSE_SUBJECT_MISMATCH)
def _(c: Ctx) -> Inv:
    return c.inv(c.good_dsse(), digest="sha256", digest_value=hashlib.sha256(b"other").hexdigest())


@row(51, "subject-only-unknown-algorithm", Reason.DSSE_SUBJECT_MISMATCH)
def _(c: Ctx) -> Inv:
    st = {"_type": "https://in-toto.io/Statement/v1", "subject": [{"name": "a", "digest": {"md5": hashlib.md5(ARTIFACT).hexdigest()}}], "predicateType": "x", "predicate": {}}
    return c.inv(c.vs.attest(ARTIFACT, statement=st))


@row(51, "rekor2-subject-digest-of-other-artifact", Reason.DSSE_SUBJECT_MISMATCH, tsa=True)
def _(c: Ctx) -> Inv:
    return c.inv(c.vs.attest(ARTIFACT, log="v2", tsa=True, statement=c.vs.statement(b"other artifact")))


@row(52, "payload-type-application-json", Reason.DSSE_PAYLOAD_TYPE)
def _(c: Ctx) -> Inv:
    return c.inv(c.good_dsse(payload_type="application/json"))


@row(52, "payload-type-wrong-case", Reason.DSSE_PAYLOAD_TYPE)
def _(c: Ctx) -> Inv:
    return c.inv(c.good_dsse(payload_type="application/vnd.in-toto+JSON"))


@row(53, "ed25519-key-with-sha256-digest-input", Reason.ED25519_NEEDS_ARTIFACT)
def _(c: Ctx) -> Inv:
    b = c.vs.sign_artifact(ARTIFACT, key_based=True, keytype="ed25519", log=None)
    return c.inv(b, key_pem=c.vs.key("ed25519").public_key_pem(), args=list(NO_TLOG), digest="sha256")


@row(54, "rekor2-ed25519ph-hashedrekord", Reason.ALGORITHM_UNSUPPORTED, tsa=True)
def _(c: Ctx) -> Inv:
    b = c.vs.sign_artifact(ARTIFACT, key_based=True, keytype="ed25519", log="v2", tsa=True)
    return c.inv(b, key_pem=c.vs.key("ed25519").public_key_pem())


@row(54, "secp256k1-key", Reason.ALGORITHM_UNSUPPORTED)
def _(c: Ctx) -> Inv:
    b = c.vs.sign_artifact(ARTIFACT, key_based=True, keytype="ecdsa-secp256k1", log=None)
    return c.inv(b, key_pem=c.vs.key("ecdsa-secp256k1").public_key_pem(), args=list(NO_TLOG))


@row(54, "message-digest-algorithm-unknown", Reason.ALGORITHM_UNSUPPORTED, Reason.BUNDLE_MALFORMED_JSON)
def _(c: Ctx) -> Inv:
    return c.inv(mutated(c.good(), _set(["messageSignature", "messageDigest", "algorithm"], "SHA3_256")))


@row(55, "no-key-for-key-based-bundle", Reason.KEY_UNKNOWN, Reason.IDENTITY_NO_CERTIFICATE)
def _(c: Ctx) -> Inv:
    # conformance managed-key-no-key_fail: an identity is given, no --key
    return c.inv(c.vs.sign_artifact(ARTIFACT, key_based=True))


@row(55, "wrong-key", Reason.SIGNATURE_INVALID)
def _(c: Ctx) -> Inv:
    b = c.vs.sign_artifact(ARTIFACT, key_based=True, log=None)
    return c.inv(b, key_pem=SigningKey.generate().public_key_pem(), args=list(NO_TLOG))


@row(55, "wrong-key-type", Reason.SIGNATURE_INVALID)
def _(c: Ctx) -> Inv:
    b = c.vs.sign_artifact(ARTIFACT, key_based=True, log=None)
    return c.inv(b, key_pem=c.vs.key("ed25519").public_key_pem(), args=list(NO_TLOG))


@row(56, "identity-policy-for-key-based-bundle", Reason.IDENTITY_NO_CERTIFICATE, Reason.KEY_UNKNOWN)
def _(c: Ctx) -> Inv:
    return c.inv(c.vs.sign_artifact(ARTIFACT, key_based=True, log=None), args=list(NO_TLOG))


# ============================================================================ row 57: trusted root


@row(57, "bad-media-type", Reason.TRUSTROOT_UNSUPPORTED_MEDIA_TYPE)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(), trusted_root=dict(copy.deepcopy(c.tr), mediaType="application/vnd.dev.sigstore.trustedroot+json;version=0.9"))


@row(57, "tlog-without-validity-start", Reason.TRUSTROOT_LOG_NO_START)
def _(c: Ctx) -> Inv:
    tr = copy.deepcopy(c.tr)
    del tr["tlogs"][0]["publicKey"]["validFor"]["start"]
    return c.inv(c.good(), trusted_root=tr)


@row(57, "tlog-without-validity", Reason.TRUSTROOT_LOG_NO_START)
def _(c: Ctx) -> Inv:
    tr = copy.deepcopy(c.tr)
    del tr["tlogs"][0]["publicKey"]["validFor"]
    return c.inv(c.good(), trusted_root=tr)


@row(57, "ctlog-without-validity-start", Reason.TRUSTROOT_LOG_NO_START)
def _(c: Ctx) -> Inv:
    tr = copy.deepcopy(c.tr)
    del tr["ctlogs"][0]["publicKey"]["validFor"]["start"]
    return c.inv(c.good(), trusted_root=tr)


@row(57, "v1-log-id-not-sha256-of-spki", Reason.TRUSTROOT_LOG_ID_MISMATCH)
def _(c: Ctx) -> Inv:
    tr = copy.deepcopy(c.tr)
    tr["tlogs"][0]["logId"]["keyId"] = b64(os.urandom(32))
    return c.inv(c.good(), trusted_root=tr)


@row(57, "ctlog-id-not-sha256-of-spki", Reason.TRUSTROOT_LOG_ID_MISMATCH)
def _(c: Ctx) -> Inv:
    tr = copy.deepcopy(c.tr)
    tr["ctlogs"][0]["logId"]["keyId"] = b64(os.urandom(32))
    return c.inv(c.good(), trusted_root=tr)


@row(57, "rekor2-ed25519-log-id-wrong", Reason.TRUSTROOT_LOG_ID_MISMATCH)
def _(c: Ctx) -> Inv:
    tr = copy.deepcopy(c.tr)
    (v2,) = [t for t in tr["tlogs"] if t["publicKey"]["keyDetails"] == "PKIX_ED25519"]
    v2["logId"]["keyId"] = b64(os.urandom(32))
    return c.inv(c.good(), trusted_root=tr)


@row(57, "key-details-ed25519-for-ecdsa-key", Reason.TRUSTROOT_KEY_TYPE_MISMATCH)
def _(c: Ctx) -> Inv:
    tr = copy.deepcopy(c.tr)
    tr["tlogs"][0]["publicKey"]["keyDetails"] = "PKIX_ED25519"
    return c.inv(c.good(), trusted_root=tr)


@row(57, "key-details-p384-for-p256-key", Reason.TRUSTROOT_KEY_TYPE_MISMATCH)
def _(c: Ctx) -> Inv:
    tr = copy.deepcopy(c.tr)
    tr["tlogs"][0]["publicKey"]["keyDetails"] = "PKIX_ECDSA_P384_SHA_384"
    return c.inv(c.good(), trusted_root=tr)


@row(57, "trusted-root-unknown-field", Reason.TRUSTROOT_MALFORMED)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(), trusted_root=dict(copy.deepcopy(c.tr), extra=True))


@row(57, "trusted-root-duplicate-key", Reason.TRUSTROOT_MALFORMED)
def _(c: Ctx) -> Inv:
    return c.inv(c.good(), trusted_root=_dup_key_text(c.tr, [], "mediaType"))


# ============================================================================ the test


@pytest.fixture(scope="module")
def ctx(vs: VirtualSigstore, untrusted: VirtualSigstore, trusted_root: dict) -> Ctx:
    return Ctx(vs, untrusted, trusted_root)


def test_every_row_has_a_case() -> None:
    assert {c.row for c in CASES} == set(range(1, 58))
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_failure_row(case: Case, ctx: Ctx, has_tsa: bool, tmp_path: Path) -> None:
    if case.tsa and not has_tsa:
        pytest.skip("tests/support/tsa.py needs openssl and faketime")
    out = run_inv(case.build(ctx), tmp_path)
    want = [r.value for r in case.expected]
    assert out.reason in want, f"row {case.row} ({case.variant}): expected {want}, got\n{out.describe()}"
    assert out.exit_code == expected_exit(Reason(out.reason)), out.describe()
    assert out.report is not None and out.report.get("verified") in (False, None)
