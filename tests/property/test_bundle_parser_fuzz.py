"""Property tests: arbitrary JSON-ish mutations of valid bundles never crash the verifier.

Each example mutates a deep copy of a VirtualSigstore bundle (replace/delete/insert a member,
mangle a string, duplicate a list element, or damage the raw JSON text), runs
`airseal verify --json` through CliRunner and requires a clean outcome: exit code 0, 1 or 3,
never a traceback or 70, and a `reason_code` on every rejection. A second property flips one
bit in a security-relevant bytes field and requires a rejection.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.virtual_sigstore import VirtualSigstore, b64, b64d
from tests.verify._harness import ARTIFACT, Inv, run_inv

pytestmark = [pytest.mark.slow]  # hypothesis-heavy: hundreds of examples over full verifications

_CACHE: dict[str, Any] = {}
_SCALE = max(1, int(os.environ.get("AIRSEAL_FUZZ_SCALE", "1")))
"""Multiply example counts (e.g. AIRSEAL_FUZZ_SCALE=20 for a longer local campaign)."""


def _material() -> dict[str, Any]:
    if not _CACHE:
        vs = VirtualSigstore("fuzz")
        bundles = {
            "message-v1": vs.sign_artifact(ARTIFACT),
            "message-v0.1": vs.sign_artifact(ARTIFACT, bundle_version="0.1"),
            "dsse-v1": vs.attest(ARTIFACT),
            "intoto-v1": vs.attest(ARTIFACT, kind="intoto", bundle_version="0.2"),
        }
        if vs.tsa_available():
            bundles["message-v2-tsa"] = vs.sign_artifact(ARTIFACT, log="v2", tsa=True)
            bundles["dsse-v2-tsa"] = vs.attest(ARTIFACT, log="v2-ecdsa", tsa=True)
        _CACHE["vs"] = vs
        _CACHE["bundles"] = bundles
        _CACHE["tr"] = vs.trusted_root()
    return _CACHE


def _paths(obj: Any, prefix: tuple = ()) -> Iterator[tuple]:
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


def _get(obj: Any, path: tuple) -> Any:
    for p in path:
        obj = obj[p]
    return obj


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.binary(max_size=40).map(b64)
    | st.sampled_from(["", "0", "-1", "1e3", "SHA2_256", "hashedrekord", "0.0.1", "0.0.2", "=", "AA"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=6,
)

MUTATIONS = ["replace", "delete", "insert", "string", "duplicate", "rawtext"]


def _mutate(data: st.DataObject, bundle: dict[str, Any]) -> str | dict[str, Any]:
    b = copy.deepcopy(bundle)
    kind = data.draw(st.sampled_from(MUTATIONS), label="mutation")
    paths = list(_paths(b))
    if kind == "rawtext":
        text = json.dumps(b)
        pos = data.draw(st.integers(0, len(text) - 1), label="pos")
        op = data.draw(st.sampled_from(["cut", "insert", "replace"]), label="op")
        piece = data.draw(st.text(alphabet='{}[]",:0123456789abcAZ=/+ \\\n\x00é', max_size=4), label="piece")
        if op == "cut":
            return text[:pos]
        if op == "insert":
            return text[:pos] + piece + text[pos:]
        return text[:pos] + piece + text[pos + 1 :]
    if kind == "replace":
        path = data.draw(st.sampled_from(paths[1:]), label="path")
        _get(b, path[:-1])[path[-1]] = data.draw(json_values, label="value")
    elif kind == "delete":
        candidates = list(paths[1:])
        path = data.draw(st.sampled_from(candidates), label="path")
        del _get(b, path[:-1])[path[-1]]
    elif kind == "insert":
        dict_paths = [p for p in paths if isinstance(_get(b, p), dict)]
        path = data.draw(st.sampled_from(dict_paths), label="path")
        key = data.draw(st.text(max_size=12) | st.sampled_from(["certificate", "publicKey", "dsseEnvelope", "messageSignature", "inclusionPromise", "checkpoint", "log_index"]), label="key")
        _get(b, path)[key] = data.draw(json_values, label="value")
    elif kind == "string":
        str_paths = [p for p in paths[1:] if isinstance(_get(b, p), str)]
        path = data.draw(st.sampled_from(str_paths), label="path")
        s = _get(b, path)
        i = data.draw(st.integers(0, max(len(s) - 1, 0)), label="index")
        repl = data.draw(st.text(max_size=3), label="repl")
        _get(b, path[:-1])[path[-1]] = s[:i] + repl + s[i + 1 :]
    elif kind == "duplicate":
        list_paths = [p for p in paths if isinstance(_get(b, p), list) and _get(b, p)]
        if list_paths:
            path = data.draw(st.sampled_from(list_paths), label="path")
            lst = _get(b, path)
            lst.append(copy.deepcopy(lst[data.draw(st.integers(0, len(lst) - 1), label="i")]))
    return b


def _check_clean(inv: Inv) -> Any:
    with tempfile.TemporaryDirectory(prefix="airseal-fuzz-") as d:
        out = run_inv(inv, Path(d))
    exc = out.result.exception
    assert exc is None or isinstance(exc, SystemExit), f"uncaught {exc!r}\n{out.describe()}"
    assert out.exit_code in (0, 1, 3), out.describe()
    if out.exit_code != 0:
        assert out.report is not None and out.report.get("reason_code"), out.describe()
    return out


@settings(max_examples=250 * _SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_mutated_bundle_never_crashes(data: st.DataObject) -> None:
    m = _material()
    name = data.draw(st.sampled_from(sorted(m["bundles"])), label="bundle")
    mutated = _mutate(data, m["bundles"][name])
    _check_clean(Inv(mutated, m["tr"]))


def _bytes_fields(bundle: dict[str, Any]) -> list[tuple]:
    """Paths of b64 fields whose every bit is covered by a signature, a hash or a comparison."""
    out: list[tuple] = []
    vm = bundle["verificationMaterial"]
    if "certificate" in vm:
        out.append(("verificationMaterial", "certificate", "rawBytes"))
    if "x509CertificateChain" in vm:
        out.append(("verificationMaterial", "x509CertificateChain", "certificates", 0, "rawBytes"))
    for i, e in enumerate(vm.get("tlogEntries", [])):
        base = ("verificationMaterial", "tlogEntries", i)
        out.append(base + ("canonicalizedBody",))
        out.append(base + ("logId", "keyId"))
        if "inclusionPromise" in e:
            out.append(base + ("inclusionPromise", "signedEntryTimestamp"))
        if "inclusionProof" in e:
            out.append(base + ("inclusionProof", "rootHash"))
            for j in range(len(e["inclusionProof"]["hashes"])):
                out.append(base + ("inclusionProof", "hashes", j))
    for i, _ in enumerate(vm.get("timestampVerificationData", {}).get("rfc3161Timestamps", [])):
        out.append(("verificationMaterial", "timestampVerificationData", "rfc3161Timestamps", i, "signedTimestamp"))
    if "messageSignature" in bundle:
        out.append(("messageSignature", "signature"))
        out.append(("messageSignature", "messageDigest", "digest"))
    else:
        out.append(("dsseEnvelope", "signatures", 0, "sig"))
        out.append(("dsseEnvelope", "payload"))
    return out


def _signed_token_ranges(der: bytes) -> list[tuple[int, int]]:
    """Byte ranges of a TimeStampResp that are covered by the CMS signature: the TSTInfo, the
    signed attributes, and the signature value itself.

    Not included: the SignedData `certificates` (unsigned; an embedded copy of a trusted
    certificate may legitimately be ignored) and the SignerInfo `sid` (unsigned; a case flip in
    its issuer name still matches under RFC 5280 name comparison).
    """
    from asn1crypto import tsp

    sd = tsp.TimeStampResp.load(der)["time_stamp_token"]["content"]
    signer = sd["signer_infos"][0]
    out = []
    for part in (sd["encap_content_info"]["content"], signer["signed_attrs"], signer["signature"]):
        blob = part.dump()
        start = der.find(blob)
        assert start >= 0
        out.append((start, start + len(blob)))
    return out


@settings(max_examples=120 * _SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_one_bit_flip_in_signed_bytes_is_rejected(data: st.DataObject) -> None:
    m = _material()
    name = data.draw(st.sampled_from(sorted(m["bundles"])), label="bundle")
    b = copy.deepcopy(m["bundles"][name])
    path = data.draw(st.sampled_from(_bytes_fields(b)), label="field")
    raw = bytearray(b64d(_get(b, path)))
    lo, hi = 0, len(raw)
    if path[-1] == "signedTimestamp":
        lo, hi = data.draw(st.sampled_from(_signed_token_ranges(bytes(raw))), label="range")
    bit = data.draw(st.integers(lo * 8, hi * 8 - 1), label="bit")
    raw[bit // 8] ^= 1 << (bit % 8)
    _get(b, path[:-1])[path[-1]] = b64(bytes(raw))
    out = _check_clean(Inv(b, m["tr"]))
    assert out.exit_code != 0, f"{name}: flipping bit {bit} of {'/'.join(map(str, path))} was accepted"


@settings(max_examples=60 * _SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_one_bit_flip_in_checkpoint_is_rejected(data: st.DataObject) -> None:
    m = _material()
    name = data.draw(st.sampled_from(sorted(m["bundles"])), label="bundle")
    b = copy.deepcopy(m["bundles"][name])
    cp = b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"].get("checkpoint")
    if cp is None:
        return
    raw = bytearray(cp["envelope"].encode("utf-8"))
    bit = data.draw(st.integers(0, len(raw) * 8 - 1), label="bit")
    raw[bit // 8] ^= 1 << (bit % 8)
    try:
        cp["envelope"] = raw.decode("utf-8")
    except UnicodeDecodeError:
        return
    out = _check_clean(Inv(b, m["tr"]))
    if name.startswith("message-v0.1"):
        return  # v0.1 may ignore a proof's checkpoint and rely on the SET
    assert out.exit_code != 0, f"{name}: flipping bit {bit} of the checkpoint was accepted: {cp['envelope']!r}"


@settings(max_examples=150 * _SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_mutated_trusted_root_never_crashes(data: st.DataObject) -> None:
    m = _material()
    name = data.draw(st.sampled_from(sorted(m["bundles"])), label="bundle")
    tr = _mutate(data, m["tr"])
    _check_clean(Inv(m["bundles"][name], tr))
