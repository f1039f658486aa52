"""A log or TSA that dies in the middle of a batch: exit 6 naming the service, no bundle
written; a retry once it is back completes, and (Rekor v1) adds no duplicate log entry.

The services are killed with SIGKILL (a crash) by a watcher thread once the log holds a few of
the batch's entries, so the failure lands mid-batch whatever the machine's speed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.signing.support import ok, write_signing_config, write_trust

BATCH = 40


def _artifacts(root: Path, tag: str) -> list[Path]:
    out = []
    for i in range(BATCH):
        path = root / f"{tag}-{i:03d}.bin"
        path.write_bytes(f"{tag} artifact {i}\n".encode())
        out.append(path)
    return out


def _bundles(paths: list[Path]) -> list[Path]:
    return [p.with_name(p.name + ".sigstore.json") for p in paths if p.with_name(p.name + ".sigstore.json").exists()]


class _KillWhen(threading.Thread):
    """Calls `kill` once `ready()` is true (polled every 10 ms), at most `timeout` s."""

    def __init__(self, ready: Callable[[], bool], kill: Callable[[], None], timeout: float = 60.0) -> None:
        super().__init__(daemon=True)
        self.ready, self.kill, self.timeout, self.fired = ready, kill, timeout, False

    def run(self) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            try:
                if self.ready():
                    self.kill()
                    self.fired = True
                    return
            except (OSError, AssertionError, ValueError):
                pass
            time.sleep(0.01)


def test_rekor_v1_killed_mid_batch_then_retry_without_duplicates(shared_softhsm: Any, rekor_v1: Any) -> None:
    """RSA PKCS#1 v1.5 signatures are deterministic, so the retry proposes the same entries:
    Rekor v1 answers 409 for those logged before the crash and airseal fetches them."""
    store = shared_softhsm
    uri = store.key("rsa-2048")
    trust = write_trust(store.root, [rekor_v1], [])
    paths = _artifacts(store.root, "v1")
    start = rekor_v1.tree_size()
    watcher = _KillWhen(lambda: rekor_v1.tree_size() >= start + 5, rekor_v1.kill)
    watcher.start()
    argv = ["sign", "--key", uri, "--rekor-url", rekor_v1.url, "--rekor-api-version", "1", "--trusted-root", str(trust),
            *map(str, paths)]
    failed = store.run(*argv)
    watcher.join()
    assert watcher.fired
    assert failed.returncode == 6, failed.stdout + failed.stderr
    assert "tlog.upload_failed" in failed.stderr and rekor_v1.url in failed.stderr
    assert _bundles(paths) == []

    rekor_v1.restart()
    logged_before_retry = rekor_v1.tree_size() - start
    assert 5 <= logged_before_retry < BATCH
    ok(store.run(*argv))
    assert len(_bundles(paths)) == BATCH
    assert rekor_v1.tree_size() - start == BATCH  # no entry logged twice


def test_rekor_v2_killed_mid_batch_writes_nothing_then_retry_completes(shared_softhsm: Any, rekor_v2: Any, tsa: Any) -> None:
    store = shared_softhsm
    uri = store.key("ec-p256")
    trust = write_trust(store.root, [rekor_v2], [tsa])
    config = write_signing_config(store.root, rekor_v2_url=rekor_v2.url, tsa_url=tsa.timestamp_url)
    paths = _artifacts(store.root, "v2")
    start = rekor_v2.tree_size()
    watcher = _KillWhen(lambda: rekor_v2.tree_size() >= start + 3, rekor_v2.kill)
    watcher.start()
    argv = ["sign", "--key", uri, "--signing-config", str(config), "--trusted-root", str(trust), *map(str, paths)]
    failed = store.run(*argv)
    watcher.join()
    assert watcher.fired
    assert failed.returncode == 6, failed.stdout + failed.stderr
    assert "tlog.upload_failed" in failed.stderr and "Rekor v2" in failed.stderr and rekor_v2.url in failed.stderr
    assert _bundles(paths) == []

    rekor_v2.restart()
    ok(store.run(*argv))
    assert len(_bundles(paths)) == BATCH


def test_tsa_killed_mid_batch_writes_nothing_then_retry_completes(shared_softhsm: Any, rekor_v2: Any, tsa: Any) -> None:
    """Runs last in this module: the restarted TSA has a new chain (in-memory signer)."""
    store = shared_softhsm
    uri = store.key("ec-p256")
    trust = write_trust(store.root, [rekor_v2], [tsa])
    config = write_signing_config(store.root, rekor_v2_url=rekor_v2.url, tsa_url=tsa.timestamp_url)
    paths = _artifacts(store.root, "tsa")
    start = rekor_v2.tree_size()
    watcher = _KillWhen(lambda: rekor_v2.tree_size() >= start + 3, tsa.kill)
    watcher.start()
    argv = ["sign", "--key", uri, "--signing-config", str(config), "--trusted-root", str(trust), *map(str, paths)]
    failed = store.run(*argv)
    watcher.join()
    assert watcher.fired
    assert failed.returncode == 6, failed.stdout + failed.stderr
    assert "tsa.request_failed" in failed.stderr and tsa.url in failed.stderr
    assert _bundles(paths) == []

    tsa.restart()
    tsa.chain = _chain(tsa)
    write_trust(store.root, [rekor_v2], [tsa])
    ok(store.run(*argv))
    assert len(_bundles(paths)) == BATCH


def _chain(tsa: Any) -> list[Any]:
    import urllib.request

    from cryptography import x509

    with urllib.request.urlopen(tsa.url + "/api/v1/timestamp/certchain", timeout=10) as reply:
        return x509.load_pem_x509_certificates(reply.read())


@pytest.mark.parametrize("down", ["rekor", "tsa"])
def test_unreachable_service_exits_6_naming_it(shared_softhsm: Any, down: str) -> None:
    from tests.support.services import free_port

    store = shared_softhsm
    artifact = store.root / "a.txt"
    artifact.write_text("x\n")
    dead = f"http://127.0.0.1:{free_port()}"
    trust = store.root / "tr.json"
    trust.write_text('{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1", "tlogs": [],'
                     ' "certificateAuthorities": [], "ctlogs": [], "timestampAuthorities": []}')
    args = ["--rekor-url", dead, "--rekor-api-version", "1"] if down == "rekor" else ["--tsa-url", dead + "/api/v1/timestamp"]
    result = store.run("sign", "--key", store.key("ec-p256"), *args, "--trusted-root", str(trust), str(artifact))
    assert result.returncode == 6, result.stderr
    assert dead in result.stderr
    assert ("tlog.upload_failed" if down == "rekor" else "tsa.request_failed") in result.stderr
    assert not (store.root / "a.txt.sigstore.json").exists()


def test_sign_trust_name_signs_with_the_trusts_stored_signing_config(shared_softhsm: Any, tmp_path: Any) -> None:
    """`sign --trust NAME` alone: the log comes from the trust's TUF-verified signing config."""
    import json

    from tests.support.services import free_port
    from tests.support.tuf_simulator import TufRepo
    from verifier._internal.trustroot.embedded import embedded_trusted_root_bytes

    store = shared_softhsm
    dead = f"http://127.0.0.1:{free_port()}"
    repo = TufRepo(tmp_path / "repo", embedded_trusted_root_bytes("public-good"))
    repo.set_target(
        "signing_config.v0.2.json",
        json.dumps({
            "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
            "rekorTlogUrls": [{"url": dead, "majorApiVersion": 1, "validFor": {"start": "2024-01-01T00:00:00Z"}}],
            "rekorTlogConfig": {"selector": "ANY"},
        }).encode(),
    )
    repo.publish()
    root1 = tmp_path / "root1.json"
    root1.write_bytes(repo.root_files[1])
    ok(store.run("trust", "init", "corp", "--root", str(root1)))
    ok(store.run("trust", "import", "corp", str(repo.out)))
    artifact = store.root / "a.txt"
    artifact.write_text("x\n")
    result = store.run("sign", "--key", store.key("ec-p256"), "--trust", "corp", str(artifact))
    # the service the trust names was used (and is down): exit 6 naming it, nothing written
    assert result.returncode == 6, result.stderr
    assert dead in result.stderr and "tlog.upload_failed" in result.stderr
    assert not (store.root / "a.txt.sigstore.json").exists()
