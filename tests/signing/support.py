"""Helpers shared by the logged-signing tests."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.services.test_cosign_peer import _cosign
from tests.support import services

KEY_TYPES = ("ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096", "ed25519")


def ok(result: Any) -> Any:
    assert result.returncode == 0, f"exit {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    return result


def write_trust(root: Path, logs: list[Any], tsas: list[Any]) -> Path:
    return services.write_trusted_root(
        root / "trusted_root.json", tlogs=[log.tlog_entry() for log in logs],
        timestamp_authorities=[tsa.tsa_entry() for tsa in tsas],
    )


def write_signing_config(root: Path, **urls: str) -> Path:
    path = root / "signing_config.json"
    path.write_text(json.dumps(services.signing_config(**urls)))
    return path


def pubkey(store: Any, uri: str, out: Path) -> Path:
    ok(store.run("hsm", "pubkey", uri, "--out", str(out)))
    return out


def cosign_verify(cosign_bin: Path, cwd: Path, pub: Path, bundle: Path, trusted_root: Path, blob: Path,
                  *, signed_timestamps: bool = True) -> subprocess.CompletedProcess:
    """cosign verify-blob, offline (an empty network namespace when possible). Without a TSA
    (Rekor v1), the log's integrated time is the time source: no --use-signed-timestamps."""
    extra = ["--use-signed-timestamps"] if signed_timestamps else []
    return _cosign(
        cosign_bin, "verify-blob", "--key", str(pub), "--bundle", str(bundle),
        "--trusted-root", str(trusted_root), *extra, str(blob),
        cwd=cwd, offline=True,
    )  # fmt: skip


def tlog_entries(bundle: Path) -> list[dict]:
    return json.loads(bundle.read_text())["verificationMaterial"]["tlogEntries"]
