"""Smoke tests: each loopback Sigstore service starts, answers one real request in the shape
airseal's verifier expects, and stops. They skip (with the reason) when scripts/services.sh has
not built the binaries."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from tests.support import services
from tests.support._merkle import leaf_hash, node_hash


def _client_key() -> tuple[ec.EllipticCurvePrivateKey, bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    pub = key.public_key()
    der = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    pem = pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return key, der, pem


def _root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: list[bytes]) -> bytes:
    """RFC 9162 section 2.1.3.2: the root hash an inclusion proof leads to."""
    assert 0 <= index < size
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        assert sn != 0, "proof too long"
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    assert sn == 0, "proof too short"
    return r


def _split_checkpoint(envelope: str) -> tuple[str, list[tuple[str, bytes]]]:
    """(signed note text, [(signer name, key hint + signature)]) of a signed note."""
    text, _, sigs = envelope.partition("\n\n")
    lines = [line for line in sigs.split("\n") if line]
    out = []
    for line in lines:
        assert line.startswith("\u2014 "), line
        name, blob = line[2:].rsplit(" ", 1)
        out.append((name, base64.b64decode(blob)))
    return text + "\n", out


def _check_v2_entry(log: services.RekorV2, status: int, body: object, digest: bytes) -> None:
    assert status == 201, (status, body, log.log_tail())
    assert isinstance(body, dict)
    assert body["logId"]["keyId"] == services.b64(log.log_id)
    assert body["kindVersion"] == {"kind": "hashedrekord", "version": "0.0.2"}
    assert body["integratedTime"] == "0"  # v2 has no integrated time; a TSA gives the time
    assert body.get("inclusionPromise") is None  # and no SET
    canonical = base64.b64decode(body["canonicalizedBody"])
    entry = json.loads(canonical)
    assert entry["kind"] == "hashedrekord" and entry["apiVersion"] == "0.0.2"
    assert entry["spec"]["hashedRekordV002"]["data"] == {"algorithm": "SHA2_256", "digest": services.b64(digest)}

    proof = body["inclusionProof"]
    index, size = int(proof["logIndex"]), int(proof["treeSize"])
    assert index == int(body["logIndex"])
    root = _root_from_inclusion_proof(
        index, size, leaf_hash(canonical), [base64.b64decode(h) for h in proof["hashes"]]
    )
    assert root == base64.b64decode(proof["rootHash"])

    note, sigs = _split_checkpoint(proof["checkpoint"]["envelope"])
    origin, size_line, root_line = note.split("\n")[:3]
    assert (origin, int(size_line), base64.b64decode(root_line)) == (log.origin, size, root)
    (name, blob), *_ = sigs
    assert name == log.origin and blob[:4] == log.log_id[:4]
    pub = log.private_key.public_key()
    if isinstance(pub, ed25519.Ed25519PublicKey):
        pub.verify(blob[4:], note.encode())
    else:
        pub.verify(blob[4:], note.encode(), ec.ECDSA(hashes.SHA256()))


@pytest.mark.parametrize("log_fixture", ["rekor_v2", "rekor_v2_ecdsa"])
def test_rekor_v2_hashedrekord_entry_has_proof_and_signed_checkpoint(request, log_fixture):
    log: services.RekorV2 = request.getfixturevalue(log_fixture)
    key, der, _ = _client_key()
    artifact = b"airseal rekor v2 smoke\n"
    digest = hashlib.sha256(artifact).digest()
    sig = key.sign(artifact, ec.ECDSA(hashes.SHA256()))
    req = services.hashedrekord_v002_request(digest, sig, der, "PKIX_ECDSA_P256_SHA_256")
    status, body = log.create_entry(req)
    _check_v2_entry(log, status, body, digest)

    tlog = log.tlog_entry()
    assert tlog["baseUrl"] == log.url and tlog["hashAlgorithm"] == "SHA2_256"
    assert base64.b64decode(tlog["publicKey"]["rawBytes"]) == log.public_key_der
    assert tlog["logId"]["keyId"] == body["logId"]["keyId"]


def test_rekor_v2_rejects_a_bad_signature(rekor_v2):
    key, der, _ = _client_key()
    digest = hashlib.sha256(b"one").digest()
    sig = key.sign(b"another", ec.ECDSA(hashes.SHA256()))
    status, body = rekor_v2.create_entry(services.hashedrekord_v002_request(digest, sig, der, "PKIX_ECDSA_P256_SHA_256"))
    assert status == 400, (status, body)


def test_tsa_answers_an_rfc3161_query_and_serves_its_chain(tsa, tmp_path):
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    assert len(tsa.chain) == 3  # leaf, intermediate, root
    leaf = tsa.chain[0]
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [x509.ExtendedKeyUsageOID.TIME_STAMPING]

    (tmp_path / "data").write_bytes(b"airseal tsa smoke\n")
    subprocess.run(
        [openssl, "ts", "-query", "-data", "data", "-sha256", "-cert", "-out", "req.tsq"],
        cwd=tmp_path, check=True, capture_output=True,
    )  # fmt: skip
    status, ctype, tsr = tsa.timestamp((tmp_path / "req.tsq").read_bytes())
    assert status == 200 and ctype == "application/timestamp-reply", (status, ctype, tsa.log_tail())
    (tmp_path / "resp.tsr").write_bytes(tsr)
    (tmp_path / "root.pem").write_bytes(tsa.chain[-1].public_bytes(serialization.Encoding.PEM))
    (tmp_path / "chain.pem").write_bytes(tsa.chain_pem)
    verify = subprocess.run(
        [openssl, "ts", "-verify", "-data", "data", "-in", "resp.tsr", "-CAfile", "root.pem", "-untrusted", "chain.pem"],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert verify.returncode == 0 and "Verification: OK" in verify.stdout, verify.stdout + verify.stderr

    entry = tsa.tsa_entry()
    certs = [base64.b64decode(c["rawBytes"]) for c in entry["certChain"]["certificates"]]
    assert certs == [c.public_bytes(serialization.Encoding.DER) for c in tsa.chain]


def test_rekor_v1_mock_hashedrekord_and_dsse_entries(rekor_v1_mock):
    rekor_v1 = rekor_v1_mock
    key, _, pem = _client_key()
    artifact = b"airseal rekor v1 smoke\n"
    digest = hashlib.sha256(artifact).digest()
    sig = key.sign(artifact, ec.ECDSA(hashes.SHA256()))
    log_key = rekor_v1.private_key.public_key()

    envelope = json.dumps({"payload": services.b64(b"{}"), "payloadType": "application/vnd.in-toto+json",
                           "signatures": [{"sig": services.b64(b"x"), "keyid": ""}]})  # fmt: skip
    for proposed in (
        services.hashedrekord_v001_entry(digest, sig, pem),
        services.dsse_v001_entry(envelope, pem),
    ):
        status, body = rekor_v1.create_entry(proposed)
        assert status == 201, (status, body, rekor_v1.log_tail())
        assert isinstance(body, dict) and len(body) == 1
        (uuid, entry), = body.items()
        assert len(uuid) == 64
        assert json.loads(base64.b64decode(entry["body"])) == proposed
        assert entry["logID"] == rekor_v1.log_id.hex()
        # SET: ECDSA over the canonical JSON of body, integratedTime, logID, logIndex.
        set_payload = json.dumps(
            {k: entry[k] for k in ("body", "integratedTime", "logID", "logIndex")},
            sort_keys=True, separators=(",", ":"),
        ).encode()  # fmt: skip
        set_sig = base64.b64decode(entry["verification"]["signedEntryTimestamp"])
        log_key.verify(set_sig, set_payload, ec.ECDSA(hashes.SHA256()))
        proof = entry["verification"]["inclusionProof"]
        assert (proof["logIndex"], proof["treeSize"], proof["hashes"]) == (0, 1, [])
        assert bytes.fromhex(proof["rootHash"]) == leaf_hash(base64.b64decode(entry["body"]))
        note, sigs = _split_checkpoint(proof["checkpoint"])
        assert note.split("\n")[1:3] == ["1", base64.b64encode(bytes.fromhex(proof["rootHash"])).decode()]
        (_, blob), = sigs
        assert blob[:4] == rekor_v1.log_id[:4]
        log_key.verify(blob[4:], note.encode(), ec.ECDSA(hashes.SHA256()))


def _set_payload(entry: dict) -> bytes:
    """What a Rekor v1 SET signs: the canonical JSON of body, integratedTime, logID, logIndex."""
    return json.dumps(
        {k: entry[k] for k in ("body", "integratedTime", "logID", "logIndex")}, sort_keys=True, separators=(",", ":")
    ).encode()


def test_rekor_v1_real_hashedrekord_and_dsse_entries(rekor_v1):
    key, _, pem = _client_key()
    log_key = rekor_v1.private_key.public_key()
    artifact = b"airseal real rekor v1 smoke\n"
    digest = hashlib.sha256(artifact).digest()
    payload = b'{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"x","predicate":{}}'
    ptype = "application/vnd.in-toto+json"
    pae = b"DSSEv1 %d %s %d %s" % (len(ptype), ptype.encode(), len(payload), payload)
    envelope = {
        "payload": services.b64(payload),
        "payloadType": ptype,
        "signatures": [{"sig": services.b64(key.sign(pae, ec.ECDSA(hashes.SHA256()))), "keyid": ""}],
    }
    proposals = [
        ("hashedrekord", services.hashedrekord_v001_entry(digest, key.sign(artifact, ec.ECDSA(hashes.SHA256())), pem)),
        ("dsse", services.dsse_v001_entry(json.dumps(envelope), pem)),
    ]
    for kind, proposed in proposals:
        status, body = rekor_v1.create_entry(proposed)
        assert status == 201, (status, body, rekor_v1.log_tail())
        (uuid, entry), = body.items()
        # The entry UUID is the 16-hex-digit tree id followed by the leaf hash.
        assert len(uuid) == 80 and int(uuid[:16], 16) == rekor_v1.tree_id
        logged = json.loads(base64.b64decode(entry["body"]))
        assert (logged["kind"], logged["apiVersion"]) == (kind, "0.0.1")
        assert entry["logID"] == rekor_v1.log_id.hex()
        log_key.verify(base64.b64decode(entry["verification"]["signedEntryTimestamp"]), _set_payload(entry),
                       ec.ECDSA(hashes.SHA256()))  # fmt: skip
        proof = entry["verification"]["inclusionProof"]
        leaf = leaf_hash(base64.b64decode(entry["body"]))
        assert bytes.fromhex(uuid[16:]) == leaf
        assert proof["logIndex"] == entry["logIndex"]  # a fresh tree: the virtual index is the tree index
        root = _root_from_inclusion_proof(proof["logIndex"], proof["treeSize"], leaf,
                                          [bytes.fromhex(h) for h in proof["hashes"]])  # fmt: skip
        assert root.hex() == proof["rootHash"]
        note, sigs = _split_checkpoint(proof["checkpoint"])
        assert note.split("\n")[:3] == [f"127.0.0.1 - {rekor_v1.tree_id}", str(proof["treeSize"]),
                                         base64.b64encode(root).decode()]  # fmt: skip
        (name, blob), = sigs
        assert name == "127.0.0.1" and blob[:4] == rekor_v1.log_id[:4]
        log_key.verify(blob[4:], note.encode(), ec.ECDSA(hashes.SHA256()))
    assert logged["spec"]["signatures"][0]["verifier"] == services.b64(pem)  # dsse: rewritten by the log

    status, _ = rekor_v1.create_entry(proposals[0][1])  # the same entry again
    assert status == 409


def test_trusted_root_combines_the_services(rekor_v2, tsa, rekor_v1_mock, tmp_path):
    rekor_v1 = rekor_v1_mock
    path = services.write_trusted_root(
        tmp_path / "trusted_root.json",
        tlogs=[rekor_v2.tlog_entry(), rekor_v1.tlog_entry()],
        timestamp_authorities=[tsa.tsa_entry()],
    )
    root = json.loads(path.read_text())
    assert root["mediaType"] == "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
    assert [t["baseUrl"] for t in root["tlogs"]] == [rekor_v2.url, rekor_v1.url]
    assert root["timestampAuthorities"][0]["uri"] == tsa.url
