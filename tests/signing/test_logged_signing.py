"""`airseal sign/attest` with a SoftHSM key, logging to the REAL loopback services (Rekor v2 +
TSA, real Rekor v1), then verifying offline with `airseal verify --key` (default thresholds)
and with cosign v3 `verify-blob`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.signing.support import KEY_TYPES, cosign_verify, ok, pubkey, tlog_entries, write_signing_config, write_trust

COSIGN_SHA256_ONLY = ("ec-p384",)


@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_sign_with_rekor_v2_and_tsa_verifies_in_airseal_and_cosign(
    key_type: str, shared_softhsm: Any, rekor_v2: Any, tsa: Any, cosign_bin: Path
) -> None:
    store = shared_softhsm
    root = store.root
    uri = store.key(key_type)
    trust = write_trust(root, [rekor_v2], [tsa])
    config = write_signing_config(root, rekor_v2_url=rekor_v2.url, tsa_url=tsa.timestamp_url)
    artifact = root / "app.tar.gz"
    artifact.write_bytes(b"airseal logged signing " + key_type.encode() + b"\n")
    result = store.run("sign", "--key", uri, "--signing-config", str(config), "--trusted-root", str(trust), str(artifact))
    bundle = root / "app.tar.gz.sigstore.json"
    if key_type == "ed25519":
        assert result.returncode == 2, result.stderr
        assert "Rekor v2 does not take Ed25519" in result.stderr
        assert not bundle.exists()
        return
    ok(result)
    (entry,) = tlog_entries(bundle)
    assert entry["kindVersion"] == {"kind": "hashedrekord", "version": "0.0.2"}
    pub = pubkey(store, uri, root / "release.pub")
    # The README's verify command, default thresholds, with this deployment's trusted root.
    ok(store.run("verify", "--key", str(pub), "--trusted-root", str(trust), str(artifact)))
    verified = cosign_verify(cosign_bin, root, pub, bundle, trust, artifact)
    if key_type in COSIGN_SHA256_ONLY:
        # cosign's --key verifier hashes with SHA-256 whatever the curve; airseal (like
        # sigstore-python and the bundle's messageDigest) signs P-384 over SHA-384.
        assert verified.returncode != 0 and "invalid signature" in verified.stderr, verified.stderr
    else:
        assert verified.returncode == 0 and "Verified OK" in verified.stderr, verified.stderr

    artifact.write_bytes(b"tampered\n")
    tampered = store.run("verify", "--key", str(pub), "--trusted-root", str(trust), str(artifact))
    assert tampered.returncode == 1, tampered.stdout + tampered.stderr
    assert cosign_verify(cosign_bin, root, pub, bundle, trust, artifact).returncode != 0


@pytest.mark.parametrize("key_type", ["ec-p256", "rsa-2048"])
def test_sign_with_real_rekor_v1_verifies_in_airseal_and_cosign(
    key_type: str, shared_softhsm: Any, rekor_v1: Any, cosign_bin: Path
) -> None:
    """--rekor-url alone (API version detected): a hashedrekord 0.0.1 entry with its SET (the
    verified time) and inclusion proof; no TSA needed."""
    store = shared_softhsm
    root = store.root
    uri = store.key(key_type)
    trust = write_trust(root, [rekor_v1], [])
    artifacts = [root / f"a{i}.bin" for i in range(3)]
    for i, path in enumerate(artifacts):
        path.write_bytes(f"rekor v1 {key_type} {i}\n".encode())
    ok(store.run("sign", "--key", uri, "--rekor-url", rekor_v1.url, "--trusted-root", str(trust), *map(str, artifacts)))
    pub = pubkey(store, uri, root / "release.pub")
    for path in artifacts:
        bundle = path.with_name(path.name + ".sigstore.json")
        (entry,) = tlog_entries(bundle)
        assert entry["kindVersion"] == {"kind": "hashedrekord", "version": "0.0.1"}
        assert entry["inclusionPromise"]["signedEntryTimestamp"] and int(entry["integratedTime"]) > 0
        assert entry["inclusionProof"]["checkpoint"]["envelope"]
        ok(store.run("verify", "--key", str(pub), "--trusted-root", str(trust), str(path)))
        verified = cosign_verify(cosign_bin, root, pub, bundle, trust, path, signed_timestamps=False)
        assert verified.returncode == 0 and "Verified OK" in verified.stderr, verified.stderr
    artifacts[0].write_bytes(b"tampered\n")
    assert store.run("verify", "--key", str(pub), "--trusted-root", str(trust), str(artifacts[0])).returncode == 1
    tampered = cosign_verify(cosign_bin, root, pub, artifacts[0].with_name("a0.bin.sigstore.json"), trust, artifacts[0],
                             signed_timestamps=False)
    assert tampered.returncode != 0


@pytest.mark.parametrize("key_type", ["ec-p256", "ed25519"])
def test_attest_with_real_rekor_v1_logs_a_dsse_entry(key_type: str, shared_softhsm: Any, rekor_v1: Any) -> None:
    """dsse 0.0.1: Rekor v1 checks the signature over PAE (pure Ed25519 included) and rewrites
    the entry; the bundle carries the body the log returned."""
    import base64
    import json

    store = shared_softhsm
    root = store.root
    uri = store.key(key_type)
    trust = write_trust(root, [rekor_v1], [])
    artifact = root / "app.tar.gz"
    artifact.write_bytes(b"attested artifact\n")
    predicate = root / "provenance.json"
    predicate.write_text(json.dumps({"builder": {"id": "https://example.com/builder"}}))
    ok(store.run("attest", "--key", uri, "--predicate", str(predicate), "--predicate-type", "https://slsa.dev/provenance/v1",
                 "--rekor-url", rekor_v1.url, "--trusted-root", str(trust), str(artifact)))
    bundle = root / "app.tar.gz.sigstore.json"
    (entry,) = tlog_entries(bundle)
    assert entry["kindVersion"] == {"kind": "dsse", "version": "0.0.1"}
    body = json.loads(base64.b64decode(entry["canonicalizedBody"]))
    assert set(body["spec"]) >= {"envelopeHash", "payloadHash", "signatures"}  # the log's rewrite
    pub = pubkey(store, uri, root / "release.pub")
    ok(store.run("verify", "--key", str(pub), "--trusted-root", str(trust), str(artifact)))
    artifact.write_bytes(b"tampered\n")
    assert store.run("verify", "--key", str(pub), "--trusted-root", str(trust), str(artifact)).returncode == 1


def test_attest_with_rekor_v2_logs_pae_digest_as_hashedrekord(shared_softhsm: Any, rekor_v2: Any, tsa: Any) -> None:
    import json

    store = shared_softhsm
    root = store.root
    uri = store.key("ec-p256")
    trust = write_trust(root, [rekor_v2], [tsa])
    artifact = root / "app.tar.gz"
    artifact.write_bytes(b"attested artifact v2\n")
    predicate = root / "provenance.json"
    predicate.write_text(json.dumps({"builder": {"id": "https://example.com/builder"}}))
    ok(store.run("attest", "--key", uri, "--predicate", str(predicate), "--predicate-type", "https://slsa.dev/provenance/v1",
                 "--rekor-url", rekor_v2.url, "--tsa-url", tsa.timestamp_url, "--trusted-root", str(trust), str(artifact)))
    (entry,) = tlog_entries(root / "app.tar.gz.sigstore.json")
    assert entry["kindVersion"] == {"kind": "hashedrekord", "version": "0.0.2"}
    pub = pubkey(store, uri, root / "release.pub")
    ok(store.run("verify", "--key", str(pub), "--trusted-root", str(trust), str(artifact)))


def test_rekor_v2_without_a_tsa_is_refused(shared_softhsm: Any, rekor_v2: Any) -> None:
    store = shared_softhsm
    artifact = store.root / "a.txt"
    artifact.write_text("x\n")
    trust = write_trust(store.root, [rekor_v2], [])
    result = store.run("sign", "--key", store.key("ec-p256"), "--rekor-url", rekor_v2.url, "--trusted-root", str(trust), str(artifact))
    assert result.returncode == 2 and "--tsa-url" in result.stderr, result.stderr
    assert not (store.root / "a.txt.sigstore.json").exists()


def test_a_trusted_root_without_the_log_refuses_to_write(shared_softhsm: Any, rekor_v2: Any, tsa: Any) -> None:
    """The bundle is verified before it is written: a trusted root that does not hold this log
    (here: only the TSA) stops the batch with exit 6 and nothing on disk."""
    store = shared_softhsm
    artifact = store.root / "a.txt"
    artifact.write_text("x\n")
    trust = write_trust(store.root, [], [tsa])
    result = store.run("sign", "--key", store.key("ec-p256"), "--rekor-url", rekor_v2.url, "--tsa-url", tsa.timestamp_url,
                       "--trusted-root", str(trust), str(artifact))
    assert result.returncode == 6, result.stderr
    assert "signing.bundle_not_verified" in result.stderr and "nothing was written" in result.stderr
    assert not (store.root / "a.txt.sigstore.json").exists()


def test_unsigned_by_a_log_bundle_names_the_opt_out(shared_softhsm: Any) -> None:
    """README: `airseal verify --key release.pub app.tar.gz` needs a logged bundle; one signed
    without a log is refused with the explicit opt-out named."""
    store = shared_softhsm
    uri = store.key("ec-p256")
    artifact = store.root / "app.tar.gz"
    artifact.write_text("offline\n")
    ok(store.run("sign", "--key", uri, str(artifact)))
    pub = pubkey(store, uri, store.root / "release.pub")
    result = store.run("verify", "--key", str(pub), str(artifact))
    assert result.returncode == 1
    assert "--min-tlog-entries 0" in result.stdout + result.stderr


def _cosign_env(store: Any, cwd: Path) -> dict[str, str]:
    import os

    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd), "TUF_ROOT": str(cwd / "tuf"),
        "COSIGN_PASSWORD": "", "COSIGN_YES": "true", "SOFTHSM2_CONF": store.env["SOFTHSM2_CONF"],
    }


def test_airseal_verifies_what_cosign_signs_with_the_token_key(shared_softhsm: Any, rekor_v2: Any, tsa: Any, cosign_bin: Path) -> None:
    """cosign (pkcs11key build) signs with the SAME SoftHSM key through the same local Rekor v2
    and TSA; airseal verifies its bundle with the key's PEM and default thresholds, and cosign
    verifies airseal's."""
    import subprocess

    from tests.hsm.softhsm_support import USER_PIN

    store = shared_softhsm
    root = store.root
    uri = store.key("ec-p256")
    trust = write_trust(root, [rekor_v2], [tsa])
    config = write_signing_config(root, rekor_v2_url=rekor_v2.url, tsa_url=tsa.timestamp_url)
    pub = pubkey(store, uri, root / "release.pub")
    cosign_uri = f"{uri}?module-path={store.module}&pin-value={USER_PIN}"
    blob = root / "cosign-signed.txt"
    blob.write_text("signed by cosign with the token key\n")
    done = subprocess.run(
        [str(cosign_bin), "sign-blob", "--key", cosign_uri, "--signing-config", str(config), "--trusted-root", str(trust),
         "--bundle", str(root / "cosign.bundle.json"), "--yes", str(blob)],
        cwd=root, env=_cosign_env(store, root), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if done.returncode != 0 and "pkcs11" in done.stderr.lower() and "not" in done.stderr.lower():
        pytest.skip(f"this cosign build cannot use PKCS#11: {done.stderr.strip()[:200]}")
    assert done.returncode == 0, done.stderr
    ok(store.run("verify", "--key", str(pub), "--bundle", str(root / "cosign.bundle.json"), "--trusted-root", str(trust), str(blob)))

    mine = root / "airseal-signed.txt"
    mine.write_text("signed by airseal with the token key\n")
    ok(store.run("sign", "--key", uri, "--signing-config", str(config), "--trusted-root", str(trust), str(mine)))
    verified = cosign_verify(cosign_bin, root, pub, mine.with_name(mine.name + ".sigstore.json"), trust, mine)
    assert verified.returncode == 0 and "Verified OK" in verified.stderr, verified.stderr


def test_airseal_verifies_what_cosign_signs_with_a_key_file(rekor_v2: Any, tsa: Any, cosign_bin: Path, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from tests.services.test_cosign_peer import _cosign

    assert _cosign(cosign_bin, "generate-key-pair", cwd=tmp_path).returncode == 0
    trust = write_trust(tmp_path, [rekor_v2], [tsa])
    config = write_signing_config(tmp_path, rekor_v2_url=rekor_v2.url, tsa_url=tsa.timestamp_url)
    blob = tmp_path / "blob.txt"
    blob.write_text("cosign key file\n")
    signed = _cosign(cosign_bin, "sign-blob", "--key", "cosign.key", "--signing-config", str(config), "--trusted-root", str(trust),
                     "--bundle", "blob.txt.sigstore.json", "--yes", "blob.txt", cwd=tmp_path)
    assert signed.returncode == 0, signed.stderr
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    done = subprocess.run([sys.executable, "-m", "verifier", "verify", "--key", "cosign.pub", "--trusted-root", str(trust), "blob.txt"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
