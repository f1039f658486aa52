"""`airseal sign/attest` with a SoftHSM key, logging to the REAL loopback services (Rekor v2 +
TSA, real Rekor v1), then verifying offline with `airseal verify --key` (default thresholds)
and with cosign v3 `verify-blob`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

COSIGN_SHA256_ONLY = ("ec-p384",)

from tests.signing.support import KEY_TYPES, cosign_verify, ok, pubkey, tlog_entries, write_signing_config, write_trust


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
