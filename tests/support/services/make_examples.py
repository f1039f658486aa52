"""Regenerate examples/: one real request and response for each loopback service.

    PYTHONPATH=. python tests/support/services/make_examples.py

Files (keys are fresh each run, so contents change; shapes do not):
  rekor_v2_hashedrekord_v002.request.json   POST /api/v2/log/entries body
  rekor_v2_hashedrekord_v002.response.json  its 201 TransparencyLogEntry (protobuf JSON)
  rekor_v2_tlog_entry.json                  the trusted-root tlogs element for that log
  rekor_v1_hashedrekord_v001.{request,response}.json   real Rekor v1, POST /api/v1/log/entries
  rekor_v1_dsse_v001.{request,response}.json
  rekor_v1_mock_hashedrekord_v001.{request,response}.json  the same to the @sigstore/mock stand-in
  rekor_v1_mock_dsse_v001.{request,response}.json
  tsa_certchain.pem                         GET /api/v1/timestamp/certchain
  tsa_request.tsq / tsa_response.tsr        POST /api/v1/timestamp (openssl ts -query -sha256 -cert)
  trusted_root.json                         Rekor v2, real Rekor v1, mock Rekor v1 and the TSA
  signing_config.json                       Rekor v2 + TSA, for cosign sign-blob --signing-config
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.support import services

OUT = Path(__file__).resolve().parent / "examples"


def dump(name: str, obj: object) -> None:
    (OUT / name).write_text(json.dumps(obj, indent=2) + "\n")


def main() -> int:
    OUT.mkdir(exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    pub = key.public_key()
    der = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    pem = pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    artifact = b"airseal example artifact\n"
    digest = hashlib.sha256(artifact).digest()
    sig = key.sign(artifact, ec.ECDSA(hashes.SHA256()))

    with (
        services.rekor_v2() as v2,
        services.timestamp_authority() as tsa,
        services.rekor_v1_mock() as v1,
        services.rekor_v1() as real_v1,
    ):
        req = services.hashedrekord_v002_request(digest, sig, der, "PKIX_ECDSA_P256_SHA_256")
        status, resp = v2.create_entry(req)
        assert status == 201, resp
        dump("rekor_v2_hashedrekord_v002.request.json", req)
        dump("rekor_v2_hashedrekord_v002.response.json", resp)
        dump("rekor_v2_tlog_entry.json", v2.tlog_entry())

        proposed = services.hashedrekord_v001_entry(digest, sig, pem)
        for log, prefix in ((v1, "rekor_v1_mock"), (real_v1, "rekor_v1")):
            status, resp = log.create_entry(proposed)
            assert status == 201, resp
            dump(f"{prefix}_hashedrekord_v001.request.json", proposed)
            dump(f"{prefix}_hashedrekord_v001.response.json", resp)

        payload = b'{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"x","predicate":{}}'
        ptype = "application/vnd.in-toto+json"
        pae = b"DSSEv1 %d %s %d %s" % (len(ptype), ptype.encode(), len(payload), payload)
        envelope = {
            "payload": services.b64(payload),
            "payloadType": ptype,
            "signatures": [{"sig": services.b64(key.sign(pae, ec.ECDSA(hashes.SHA256()))), "keyid": ""}],
        }
        proposed = services.dsse_v001_entry(json.dumps(envelope), pem)
        for log, prefix in ((v1, "rekor_v1_mock"), (real_v1, "rekor_v1")):
            status, resp = log.create_entry(proposed)
            assert status == 201, resp
            dump(f"{prefix}_dsse_v001.request.json", proposed)
            dump(f"{prefix}_dsse_v001.response.json", resp)

        (OUT / "tsa_certchain.pem").write_bytes(tsa.chain_pem)
        (OUT / "artifact.txt").write_bytes(artifact)
        subprocess.run(
            ["openssl", "ts", "-query", "-data", "artifact.txt", "-sha256", "-cert", "-out", "tsa_request.tsq"],
            cwd=OUT, check=True, capture_output=True,
        )  # fmt: skip
        status, _, tsr = tsa.timestamp((OUT / "tsa_request.tsq").read_bytes())
        assert status == 200
        (OUT / "tsa_response.tsr").write_bytes(tsr)

        services.write_trusted_root(
            OUT / "trusted_root.json",
            tlogs=[v2.tlog_entry(), real_v1.tlog_entry(), v1.tlog_entry()],
            timestamp_authorities=[tsa.tsa_entry()],
        )
        dump("signing_config.json", services.signing_config(rekor_v2_url=v2.url, tsa_url=tsa.timestamp_url))
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
