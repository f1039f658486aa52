"""The VirtualSigstore fixture checked against independent code, so its output can be trusted.

Everything here re-derives the fixture's claims without calling the fixture's own helpers for the
property under test: Merkle inclusion with the spec's iterative algorithm (the fixture uses the
recursive RFC 6962 PATH), SCT/SET/checkpoint signatures with plain `cryptography`, key ids from
the spec formulas, and (when installed) a cross-check with sigstore-python.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from tests.support._merkle import MerkleTree
from tests.support.virtual_sigstore import (
    DEFAULT_IDENTITY,
    DEFAULT_ISSUER,
    KEY_KINDS,
    VirtualSigstore,
    leaf_certificate,
    pae,
    tlog_entry,
)


def _b(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def _lh(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def _nh(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _root_from_proof(index: int, size: int, leaf: bytes, proof: list[bytes]) -> bytes:
    """Spec §3.2 algorithm, written independently of tests/support/_merkle.py."""
    assert index < size
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        assert sn != 0
        if fn % 2 == 1 or fn == sn:
            r = _nh(p, r)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _nh(r, p)
        fn >>= 1
        sn >>= 1
    assert sn == 0
    return r


@pytest.fixture(scope="module")
def vs() -> VirtualSigstore:
    return VirtualSigstore(with_tsa=False)


def test_merkle_spec_vectors() -> None:
    assert _lh(b"").hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    t = MerkleTree()
    t.append(b"a")
    t.append(b"b")
    assert t.root().hex() == "b137985ff484fb600db93107c77b0365c80d78f5b429ded0fd97361d077999eb"
    assert t.inclusion_proof(0) == [_lh(b"b")]
    assert t.inclusion_proof(1) == [_lh(b"a")]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 8, 9, 16, 17, 31])
def test_merkle_proofs_verify_independently(size: int) -> None:
    t = MerkleTree()
    leaves = [bytes([i]) * (i + 1) for i in range(size)]
    for leaf in leaves:
        t.append(leaf)
    for sub in range(1, size + 1):
        root = t.root(sub)
        for i in range(sub):
            assert _root_from_proof(i, sub, _lh(leaves[i]), t.inclusion_proof(i, sub)) == root


def _check_entry_proof(entry: dict, leaf_bytes: bytes, spki: bytes, *, v2: bool) -> None:
    proof = entry["inclusionProof"]
    index, size = int(proof["logIndex"]), int(proof["treeSize"])
    root = _root_from_proof(index, size, _lh(leaf_bytes), [_b(h) for h in proof["hashes"]])
    assert root == _b(proof["rootHash"])
    note = proof["checkpoint"]["envelope"]
    text, _, sigs = note.rpartition("\n\n")
    text += "\n"
    lines = text.split("\n")
    assert lines[1] == str(size) and _b(lines[2]) == root
    key = serialization.load_der_public_key(spki)
    key_id = _b(entry["logId"]["keyId"])
    name, sig_b64 = sigs.strip("\n").split("\n")[0].split(" ")[1:]
    assert sigs.startswith("\u2014 ")
    raw = _b(sig_b64)
    assert raw[:4] == key_id[:4]
    if isinstance(key, ed25519.Ed25519PublicKey):
        key.verify(raw[4:], text.encode())
    else:
        key.verify(raw[4:], text.encode(), ec.ECDSA(hashes.SHA256()))
    if v2:
        assert name == lines[0]
        assert entry["logIndex"] == proof["logIndex"]
    else:
        assert lines[0].startswith(name + " - ")
        assert int(entry["logIndex"]) != index  # global vs shard-local index


def _tlog(tr: dict, key_id_b64: str) -> dict:
    (log,) = [t for t in tr["tlogs"] if t["logId"]["keyId"] == key_id_b64]
    return log


def test_v1_entry_set_and_proof(vs: VirtualSigstore) -> None:
    bundle = vs.sign_artifact(b"hello")
    tr = vs.trusted_root(tsas=False)
    e = tlog_entry(bundle)
    log = _tlog(tr, e["logId"]["keyId"])
    spki = _b(log["publicKey"]["rawBytes"])
    assert _b(e["logId"]["keyId"]) == hashlib.sha256(spki).digest()
    body = _b(e["canonicalizedBody"])
    _check_entry_proof(e, body, spki, v2=False)
    body_b64, log_id_hex = e["canonicalizedBody"], _b(e["logId"]["keyId"]).hex()
    payload = (
        f'{{"body":"{body_b64}","integratedTime":{int(e["integratedTime"])},'
        f'"logID":"{log_id_hex}","logIndex":{int(e["logIndex"])}}}'
    ).encode()
    key = serialization.load_der_public_key(spki)
    key.verify(_b(e["inclusionPromise"]["signedEntryTimestamp"]), payload, ec.ECDSA(hashes.SHA256()))
    obj = json.loads(body)
    assert obj["spec"]["data"]["hash"] == {"algorithm": "sha256", "value": hashlib.sha256(b"hello").hexdigest()}
    assert _b(obj["spec"]["signature"]["content"]) == _b(bundle["messageSignature"]["signature"])


@pytest.mark.parametrize("log", ["v2", "v2-ecdsa"])
def test_v2_entry_key_id_and_proof(vs: VirtualSigstore, log: str) -> None:
    bundle = vs.sign_artifact(b"hello", log=log)
    tr = vs.trusted_root(tsas=False)
    e = tlog_entry(bundle)
    inst = _tlog(tr, e["logId"]["keyId"])
    spki = _b(inst["publicKey"]["rawBytes"])
    origin = inst["baseUrl"].split("://")[1]
    if log == "v2":
        expected = hashlib.sha256(origin.encode() + b"\n\x01" + spki[-32:]).digest()
    else:
        expected = hashlib.sha256(spki).digest()
    assert _b(e["logId"]["keyId"]) == expected
    assert "integratedTime" not in e and "inclusionPromise" not in e
    _check_entry_proof(e, _b(e["canonicalizedBody"]), spki, v2=True)
    cert = leaf_certificate(bundle)
    recon = {
        "apiVersion": "0.0.2",
        "kind": "hashedrekord",
        "spec": {
            "hashedRekordV002": {
                "data": {"algorithm": "SHA2_256", "digest": bundle["messageSignature"]["messageDigest"]["digest"]},
                "signature": {
                    "content": bundle["messageSignature"]["signature"],
                    "verifier": {
                        "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                        "x509Certificate": {
                            "rawBytes": base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
                        },
                    },
                },
            }
        },
    }
    assert _b(e["canonicalizedBody"]) == json.dumps(recon, sort_keys=True, separators=(",", ":")).encode()


def test_ed25519_key_id_spec_vector() -> None:
    spki = bytes.fromhex("302a300506032b6570032100b7cae5a759271b08df6dc5c060f600927d1788bcf5c7c3b8b7462412189edb8e")
    kid = hashlib.sha256(b"log2025-1.rekor.sigstore.dev\n\x01" + spki[-32:]).digest()
    assert base64.b64encode(kid).decode() == "zxGZFVvd0FEmjR8WrFwMdcAJ9vtaY/QXf44Y1wUeP6A="


def test_leaf_profile_and_sct(vs: VirtualSigstore) -> None:
    bundle = vs.sign_artifact(b"hello")
    tr = vs.trusted_root(tsas=False)
    leaf = leaf_certificate(bundle)
    chain = [x509.load_der_x509_certificate(_b(c["rawBytes"])) for c in tr["certificateAuthorities"][0]["certChain"]["certificates"]]
    inter, root = chain
    inter.public_key().verify(leaf.signature, leaf.tbs_certificate_bytes, ec.ECDSA(hashes.SHA384()))
    root.public_key().verify(inter.signature, inter.tbs_certificate_bytes, ec.ECDSA(hashes.SHA384()))
    assert leaf.subject == x509.Name([])
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.critical and san.value.get_values_for_type(x509.UniformResourceIdentifier) == [DEFAULT_IDENTITY]
    ku = leaf.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.oid.ExtendedKeyUsageOID.CODE_SIGNING in eku
    v1 = leaf.extensions.get_extension_for_oid(x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")).value.value
    v8 = leaf.extensions.get_extension_for_oid(x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")).value.value
    assert v1 == DEFAULT_ISSUER.encode()
    assert v8 == b"\x0c" + bytes([len(DEFAULT_ISSUER)]) + DEFAULT_ISSUER.encode()
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == __import__("datetime").timedelta(minutes=10)
    # SCT, checked through cryptography's own parser of the extension
    scts = leaf.extensions.get_extension_for_class(x509.PrecertificateSignedCertificateTimestamps).value
    assert len(scts) == 1
    sct = scts[0]
    (ctlog,) = tr["ctlogs"]
    ct_spki = _b(ctlog["publicKey"]["rawBytes"])
    assert sct.log_id == hashlib.sha256(ct_spki).digest() == _b(ctlog["logId"]["keyId"])
    ts_ms = int(sct.timestamp.replace(tzinfo=__import__("datetime").timezone.utc).timestamp() * 1000)
    tbs = leaf.tbs_precertificate_bytes
    ikh = hashlib.sha256(inter.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).digest()
    signed = b"\x00\x00" + struct.pack(">Q", ts_ms) + b"\x00\x01" + ikh + len(tbs).to_bytes(3, "big") + tbs + b"\x00\x00"
    serialization.load_der_public_key(ct_spki).verify(sct.signature, signed, ec.ECDSA(hashes.SHA256()))


def test_dsse_signature_and_bodies(vs: VirtualSigstore) -> None:
    for kind in ("dsse", "intoto"):
        bundle = vs.attest(b"hello", kind=kind)
        env = bundle["dsseEnvelope"]
        payload = _b(env["payload"])
        stmt = json.loads(payload)
        assert stmt["subject"][0]["digest"]["sha256"] == hashlib.sha256(b"hello").hexdigest()
        leaf = leaf_certificate(bundle)
        sig = _b(env["signatures"][0]["sig"])
        leaf.public_key().verify(sig, pae(env["payloadType"], payload), ec.ECDSA(hashes.SHA256()))
        body = json.loads(_b(tlog_entry(bundle)["canonicalizedBody"]))
        if kind == "dsse":
            assert body["spec"]["payloadHash"]["value"] == hashlib.sha256(payload).hexdigest()
            assert _b(body["spec"]["signatures"][0]["signature"]) == sig
        else:
            s = body["spec"]["content"]["envelope"]["signatures"][0]
            assert _b(_b(s["sig"]).decode()) == sig
            assert body["spec"]["content"]["payloadHash"]["value"] == hashlib.sha256(payload).hexdigest()


def test_pae_spec_vector() -> None:
    data = pae("application/vnd.in-toto+json", b"{}")
    assert data == b"DSSEv1 28 application/vnd.in-toto+json 2 {}"
    assert hashlib.sha256(data).hexdigest() == "4842cb1ba6fed6e460d8a0d56f6b64ccf1f1e11f7714a7f282080d5780251b63"


@pytest.mark.parametrize("kind", [k for k in KEY_KINDS if k != "ecdsa-secp256k1"])
def test_key_based_signatures_verify(vs: VirtualSigstore, kind: str) -> None:
    bundle = vs.sign_artifact(b"hello", key_based=True, keytype=kind, log=None)
    key = vs.key(kind)
    assert bundle["verificationMaterial"]["publicKey"]["hint"] == base64.b64encode(
        hashlib.sha256(key.spki_der).digest()
    ).decode()
    pub = serialization.load_pem_public_key(key.public_key_pem())
    sig = _b(bundle["messageSignature"]["signature"])
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    if isinstance(pub, ec.EllipticCurvePublicKey):
        h = {256: hashes.SHA256, 384: hashes.SHA384, 521: hashes.SHA512}[pub.curve.key_size]()
        pub.verify(sig, b"hello", ec.ECDSA(h))
    elif isinstance(pub, rsa.RSAPublicKey):
        pad = (
            padding.PKCS1v15()
            if kind == "rsa-pkcs1"
            else padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
        )
        pub.verify(sig, b"hello", pad, hashes.SHA256())
    else:
        pub.verify(sig, b"hello")


def test_cross_check_with_sigstore_python(vs: VirtualSigstore, tmp_path) -> None:
    """sigstore-python (a test-only dependency) accepts the fixture's v1 bundles."""
    sig_models = pytest.importorskip("sigstore.models")
    sig_verify = pytest.importorskip("sigstore.verify")
    tr_path = tmp_path / "trusted_root.json"
    tr_path.write_text(json.dumps(vs.trusted_root(tsas=False)))
    verifier = sig_verify.Verifier(trusted_root=sig_models.TrustedRoot.from_file(str(tr_path)))
    pol = sig_verify.policy.Identity(identity=DEFAULT_IDENTITY, issuer=DEFAULT_ISSUER)
    for version in ("0.1", "0.2", "0.3", "0.3-legacy"):
        b = vs.sign_artifact(b"hello", bundle_version=version)
        verifier.verify_artifact(b"hello", sig_models.Bundle.from_json(json.dumps(b)), pol)
    b = vs.attest(b"hello")
    verifier.verify_dsse(sig_models.Bundle.from_json(json.dumps(b)), pol)


def test_cross_check_rekor_v2_with_sigstore_python(tmp_path) -> None:
    """sigstore-python accepts the fixture's Rekor v2 + RFC 3161 bundles (Ed25519 and ECDSA logs).

    The TSA tokens are minted without embedded certificates: rfc3161-client insists on DER
    ordering of the SignedData `certificates` SET, which `openssl ts -reply` does not produce.
    """
    sig_models = pytest.importorskip("sigstore.models")
    sig_verify = pytest.importorskip("sigstore.verify")
    from tests.support.virtual_sigstore import Faults

    vs2 = VirtualSigstore("selfcheck-v2")
    if not vs2.tsa_available():
        pytest.skip("tests/support/tsa.py (openssl + faketime) unavailable")
    tr_path = tmp_path / "trusted_root.json"
    tr_path.write_text(json.dumps(vs2.trusted_root()))
    verifier = sig_verify.Verifier(trusted_root=sig_models.TrustedRoot.from_file(str(tr_path)))
    pol = sig_verify.policy.Identity(identity=DEFAULT_IDENTITY, issuer=DEFAULT_ISSUER)
    no_cert = Faults(tsa_kwargs={"embed_cert": False})
    for log in ("v2", "v2-ecdsa"):
        b = vs2.sign_artifact(b"hello", log=log, tsa=True, faults=no_cert)
        verifier.verify_artifact(b"hello", sig_models.Bundle.from_json(json.dumps(b)), pol)
        b = vs2.attest(b"hello", log=log, tsa=True, faults=Faults(tsa_kwargs={"embed_cert": False}))
        verifier.verify_dsse(sig_models.Bundle.from_json(json.dumps(b)), pol)


# ---- shape parity with real bundles (sigstore-conformance copies in ../shared) ----------------

from pathlib import Path  # noqa: E402

_SHARED = Path(__file__).resolve().parents[2].parent / "shared"
_CASES = _SHARED / "conformance" / "cases"


def _real(case: str) -> dict:
    if not _CASES.is_dir():
        pytest.skip(f"conformance cases not found at {_CASES} (the shared folder beside the repo)")
    return json.loads((_CASES / case / "bundle.sigstore.json").read_text())


def _shape(obj: object) -> object:
    """Key structure of a JSON value (lists collapsed to their first element)."""
    if isinstance(obj, dict):
        return {k: _shape(v) for k, v in sorted(obj.items())}
    if isinstance(obj, list):
        return [_shape(obj[0])] if obj else []
    return type(obj).__name__


@pytest.mark.parametrize(
    ("case", "make"),
    [
        ("happy-path-v0.3", lambda vs: vs.sign_artifact(b"a", bundle_version="0.3-legacy")),
        ("happy-path-intoto-in-dsse-v3", lambda vs: vs.attest(b"a")),
        ("rekor2-happy-path", lambda vs: vs.sign_artifact(b"a", log="v2", tsa=True)),
        ("managed-key-happy-path", lambda vs: vs.sign_artifact(b"a", key_based=True, tsa=True)),
    ],
)
def test_bundle_and_body_shapes_match_real_bundles(case: str, make) -> None:
    real = _real(case)
    vs = VirtualSigstore("shape")
    if "timestampVerificationData" in real["verificationMaterial"] and not vs.tsa_available():
        pytest.skip("tests/support/tsa.py unavailable")
    ours = make(vs)
    if "timestampVerificationData" not in real["verificationMaterial"]:
        ours["verificationMaterial"].pop("timestampVerificationData", None)
    assert ours["mediaType"] == real["mediaType"]
    assert _shape(ours) == _shape(real)
    real_body = json.loads(_b(real["verificationMaterial"]["tlogEntries"][0]["canonicalizedBody"]))
    our_body = json.loads(_b(tlog_entry(ours)["canonicalizedBody"]))
    assert _shape(our_body) == _shape(real_body)
    # canonical (sorted, compact) serialization, like Rekor's
    raw = _b(tlog_entry(ours)["canonicalizedBody"])
    assert raw == json.dumps(our_body, sort_keys=True, separators=(",", ":")).encode()


def test_intoto_body_shape_matches_real_bundle() -> None:
    real = _real("intoto-with-custom-trust-root")
    ours = VirtualSigstore("shape").attest(b"a", kind="intoto")
    real_body = json.loads(_b(real["verificationMaterial"]["tlogEntries"][0]["canonicalizedBody"]))
    our_body = json.loads(_b(tlog_entry(ours)["canonicalizedBody"]))
    # the real envelope has keyid-less signatures and the same double encoding
    assert _shape(our_body) == _shape(real_body)
    real_sig = real_body["spec"]["content"]["envelope"]["signatures"][0]["sig"]
    our_sig = our_body["spec"]["content"]["envelope"]["signatures"][0]["sig"]
    assert _b(_b(real_sig).decode()) and _b(_b(our_sig).decode())


def test_checkpoint_formats_match_real_bundles() -> None:
    import re

    v1 = _real("happy-path-v0.3")["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["checkpoint"]["envelope"]
    v2 = _real("rekor2-happy-path")["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["checkpoint"]["envelope"]
    v1_re = re.compile(r"^(\S+) - \d+\n\d+\n[A-Za-z0-9+/]{43}=\n\n\u2014 \1 [A-Za-z0-9+/=]+\n$")
    v2_re = re.compile(r"^(\S+)\n\d+\n[A-Za-z0-9+/]{43}=\n\n\u2014 \1 [A-Za-z0-9+/=]+\n$")
    assert v1_re.match(v1) and v2_re.match(v2)
    vs = VirtualSigstore("shape", with_tsa=False)
    assert v1_re.match(tlog_entry(vs.sign_artifact(b"a"))["inclusionProof"]["checkpoint"]["envelope"])
    assert v2_re.match(tlog_entry(vs.sign_artifact(b"a", log="v2"))["inclusionProof"]["checkpoint"]["envelope"])
