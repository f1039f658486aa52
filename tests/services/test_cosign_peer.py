"""cosign v3 as a peer against the loopback services: it signs a blob with a key, logging to our
Rekor v2 (or the Rekor v1 mock) and timestamping at our TSA through a signing config, and then
verifies the bundle offline against a private trusted root.

The exact commands (see tests/support/services/README.md):

    cosign sign-blob --key cosign.key --signing-config signing_config.json \\
        --trusted-root trusted_root.json --bundle bundle.json --yes blob
    cosign verify-blob --key cosign.pub --bundle bundle.json \\
        --trusted-root trusted_root.json --use-signed-timestamps blob
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import services


def _cosign(cosign_bin: Path, *args: str, cwd: Path, offline: bool = False) -> subprocess.CompletedProcess:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(cwd),  # keep cosign's ~/.sigstore (TUF cache) out of the real home
        "TUF_ROOT": str(cwd / "tuf"),
        "COSIGN_PASSWORD": "",
        "COSIGN_YES": "true",
    }
    argv = [str(cosign_bin), *args]
    if offline and os.geteuid() == 0 and shutil.which("unshare"):
        # A network namespace with nothing in it: proof that verification needs no network.
        probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
        if probe.returncode == 0:
            argv = ["unshare", "-n", *argv]
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def cosign_keys(cosign_bin, tmp_path):
    done = _cosign(cosign_bin, "generate-key-pair", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return tmp_path / "cosign.key", tmp_path / "cosign.pub"


def _sign_and_verify(cosign_bin, tmp_path, cosign_keys, signing_config, trusted_root) -> dict:
    key, pub = cosign_keys
    (tmp_path / "blob.txt").write_bytes(b"airseal cosign peer\n")
    (tmp_path / "sc.json").write_text(json.dumps(signing_config))
    services.write_trusted_root(tmp_path / "tr.json", **trusted_root)
    signed = _cosign(
        cosign_bin, "sign-blob", "--key", str(key), "--signing-config", "sc.json",
        "--trusted-root", "tr.json", "--bundle", "bundle.json", "--yes", "blob.txt",
        cwd=tmp_path,
    )  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    verified = _cosign(
        cosign_bin, "verify-blob", "--key", str(pub), "--bundle", "bundle.json",
        "--trusted-root", "tr.json", "--use-signed-timestamps", "blob.txt",
        cwd=tmp_path, offline=True,
    )  # fmt: skip
    assert verified.returncode == 0 and "Verified OK" in verified.stderr, verified.stderr

    (tmp_path / "blob.txt").write_bytes(b"tampered\n")
    tampered = _cosign(
        cosign_bin, "verify-blob", "--key", str(pub), "--bundle", "bundle.json",
        "--trusted-root", "tr.json", "--use-signed-timestamps", "blob.txt",
        cwd=tmp_path, offline=True,
    )  # fmt: skip
    assert tampered.returncode != 0
    return json.loads((tmp_path / "bundle.json").read_text())


def test_cosign_signs_with_rekor_v2_and_tsa_and_verifies_offline(cosign_bin, cosign_keys, rekor_v2, tsa, tmp_path):
    bundle = _sign_and_verify(
        cosign_bin, tmp_path, cosign_keys,
        services.signing_config(rekor_v2_url=rekor_v2.url, tsa_url=tsa.timestamp_url),
        {"tlogs": [rekor_v2.tlog_entry()], "timestamp_authorities": [tsa.tsa_entry()]},
    )  # fmt: skip
    assert bundle["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    material = bundle["verificationMaterial"]
    assert set(material["publicKey"]) == {"hint"}
    (entry,) = material["tlogEntries"]
    assert entry["kindVersion"] == {"kind": "hashedrekord", "version": "0.0.2"}
    assert entry["logId"]["keyId"] == services.b64(rekor_v2.log_id)
    # proto3 JSON drops zero values: a v2 entry has no integratedTime and no inclusionPromise,
    # and an entry at index 0 has no logIndex, in the entry or in its inclusion proof.
    assert "integratedTime" not in entry and "inclusionPromise" not in entry
    assert entry["inclusionProof"]["checkpoint"]["envelope"].startswith(rekor_v2.origin + "\n")
    (ts,) = material["timestampVerificationData"]["rfc3161Timestamps"]
    assert base64.b64decode(ts["signedTimestamp"])[:1] == b"\x30"


@pytest.mark.parametrize("log_fixture", ["rekor_v1", "rekor_v1_mock"])
def test_cosign_signs_with_rekor_v1_and_verifies_offline(request, log_fixture, cosign_bin, cosign_keys, tsa, tmp_path):
    rekor_v1 = request.getfixturevalue(log_fixture)
    bundle = _sign_and_verify(
        cosign_bin, tmp_path, cosign_keys,
        services.signing_config(rekor_v1_url=rekor_v1.url, tsa_url=tsa.timestamp_url),
        {"tlogs": [rekor_v1.tlog_entry()], "timestamp_authorities": [tsa.tsa_entry()]},
    )  # fmt: skip
    (entry,) = bundle["verificationMaterial"]["tlogEntries"]
    assert entry["kindVersion"] == {"kind": "hashedrekord", "version": "0.0.1"}
    assert entry["logId"]["keyId"] == services.b64(rekor_v1.log_id)
    assert entry["inclusionPromise"]["signedEntryTimestamp"]
    assert int(entry["integratedTime"]) > 0
