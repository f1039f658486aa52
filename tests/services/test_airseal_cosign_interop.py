"""airseal verifies what cosign v3 signed against the loopback Rekor v2 / real Rekor v1 + TSA.

Verification is offline (the logs are stopped by then). The logs listen on port 80 of their own 127.0.0.N so that their base URLs carry no port: cosign
(sigstore-go) takes a checkpoint's origin to be the URL's host name, airseal the URL without
its scheme; with a port they disagree and one of them must reject.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.services.test_cosign_peer import _cosign
from tests.support import services

REPO = services.HERE.parents[1]


def _airseal_verify(tmp_path, blob: str, bundle: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    return subprocess.run(
        [sys.executable, "-m", "verifier", "verify", "--bundle", bundle, "--key", "cosign.pub",
         "--trusted-root", "tr.json", "--json", blob],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def _sign_two(cosign_bin, tmp_path, log, tsa, v2: bool) -> None:
    """cosign signs blob0 then blob1: the first lands at log index 0, the second at index 1."""
    done = _cosign(cosign_bin, "generate-key-pair", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    urls = {"rekor_v2_url" if v2 else "rekor_v1_url": log.url}
    (tmp_path / "sc.json").write_text(json.dumps(services.signing_config(**urls, tsa_url=tsa.timestamp_url)))
    services.write_trusted_root(tmp_path / "tr.json", tlogs=[log.tlog_entry()], timestamp_authorities=[tsa.tsa_entry()])
    for i in range(2):
        (tmp_path / f"blob{i}").write_text(f"airseal interop {i}\n")
        done = _cosign(
            cosign_bin, "sign-blob", "--key", "cosign.key", "--signing-config", "sc.json",
            "--trusted-root", "tr.json", "--bundle", f"bundle{i}.json", "--yes", f"blob{i}",
            cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr


def _fresh_log(kind: str):
    address = services.loopback_with_free_port_80()
    if kind == "rekor_v2":
        return services.rekor_v2(address=address, port=80)
    return services.rekor_v1(address=address, port=80)


@pytest.fixture(scope="module", params=["rekor_v2", "rekor_v1"])
def signed_pair(request, cosign_bin, tsa, tmp_path_factory):
    """A fresh log (port 80 of its own 127.0.0.N) in which cosign signed blob0 (index 0) and
    blob1 (index 1); the directory holding the bundles, keys and trusted root."""
    tmp_path = tmp_path_factory.mktemp(request.param)
    try:
        with _fresh_log(request.param) as log:
            _sign_two(cosign_bin, tmp_path, log, tsa, v2=request.param == "rekor_v2")
    except services.ServiceUnavailable as exc:
        services.skip_or_fail(str(exc))
    first = json.loads((tmp_path / "bundle0.json").read_text())["verificationMaterial"]["tlogEntries"][0]
    second = json.loads((tmp_path / "bundle1.json").read_text())["verificationMaterial"]["tlogEntries"][0]
    # proto3 JSON: index 0 is left out; index 1 is the string "1".
    assert "logIndex" not in first and second["logIndex"] == "1"
    return tmp_path


def test_airseal_verifies_a_cosign_bundle_at_a_nonzero_log_index(signed_pair):
    done = _airseal_verify(signed_pair, "blob1", "bundle1.json")
    assert done.returncode == 0, done.stdout + done.stderr


def test_airseal_verifies_a_cosign_bundle_at_log_index_0(signed_pair):
    """proto3 JSON (cosign, sigstore-go) omits logIndex at index 0: absent means 0."""
    done = _airseal_verify(signed_pair, "blob0", "bundle0.json")
    assert done.returncode == 0, done.stdout + done.stderr
