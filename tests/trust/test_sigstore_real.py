"""Refreshing from the real Sigstore TUF repository copies in ../shared/tuf (skipped without them).

The copies are judged at a time inside their validity window, through the reference-time seam
in-process and through `faketime` for one CLI subprocess.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tuf.api import exceptions as tuf_exc
from tuf.api.metadata import Metadata, Root

from tests.trust.conftest import PROD_WINDOW, REPO_DIR, run_cli, shared_tuf, store_digest
from verifier._internal.refresh import updater as refresh
from verifier._internal.refresh.pack import export_pack
from verifier._internal.trustroot import store
from verifier.errors import Reason, TrustRootError

PROD_TRUSTED_ROOT_SHA256 = "6494e21ea73fa7ee769f85f57d5a3e6a08725eae1e38c755fc3517c9e6bc0b66"

pytestmark = [
    pytest.mark.shared,
    pytest.mark.slow,  # full TUF refreshes over the real Sigstore repository copies
    # Sigstore's older roots use the legacy key type name; securesystemslib says so on each check.
    pytest.mark.filterwarnings("ignore:keytype .ecdsa-sha2-nistp256. is deprecated:DeprecationWarning"),
]


def _assert_prod_state(name: str) -> None:
    state = store.current_state(name)
    assert state is not None
    assert (state.root_version, state.timestamp_version, state.snapshot_version, state.targets_version) == (
        15, 762, 165, 14,
    )
    assert state.trusted_root_sha256 == PROD_TRUSTED_ROOT_SHA256


def test_refresh_from_root_5(tmp_path: Path) -> None:
    prod = shared_tuf("sigstore-prod")
    res = run_cli("trust", "init", "prod5", "--root", str(prod / "metadata" / "5.root.json"))
    assert res.exit_code == 0, res.stderr
    result = refresh.refresh_from_media("prod5", prod, now=PROD_WINDOW)
    assert result.previous is None
    _assert_prod_state("prod5")
    # the pack carries the whole chain from root 5, so a client bootstrapped at 5 can follow it
    out = tmp_path / "prod.tar.gz"
    manifest = export_pack("prod5", out)
    assert manifest["root_versions"] == list(range(5, 16))
    assert "metadata/165.snapshot.json" in manifest["files"]
    assert f"targets/{PROD_TRUSTED_ROOT_SHA256}.trusted_root.json" in manifest["files"]


def test_refresh_from_shipped_root_then_older_copy_is_a_rollback(home: Path) -> None:
    prod = shared_tuf("sigstore-prod")
    older = shared_tuf("sigstore-prod-2025-11")
    result = refresh.refresh_from_media("public-good", prod, now=PROD_WINDOW)
    _assert_prod_state("public-good")
    assert result.changes == ()  # the shipped snapshot is the same trusted_root.json
    before = store_digest(home, "public-good")
    with pytest.raises(TrustRootError) as info:
        refresh.refresh_from_media("public-good", older, now=PROD_WINDOW)
    assert info.value.reason is Reason.TUF_ROLLBACK
    assert "offers timestamp v525" in info.value.detail and "already trusts v762" in info.value.detail
    assert store_digest(home, "public-good") == before
    resolved = store.resolve_trusted_root("public-good", now=PROD_WINDOW)
    assert resolved.source == "store" and resolved.warnings == ()
    assert hashlib.sha256(resolved.data).hexdigest() == PROD_TRUSTED_ROOT_SHA256


def test_real_copy_refused_at_todays_date_when_expired(home: Path) -> None:
    """Without moving the reference time, the copy is judged now: its root v15 expired 2026-11-20."""
    prod = shared_tuf("sigstore-prod")
    import datetime as dt

    late = dt.datetime(2026, 11, 25, tzinfo=dt.timezone.utc)
    with pytest.raises(TrustRootError) as info:
        refresh.refresh_from_media("public-good", prod, now=late)
    assert info.value.reason is Reason.TUF_EXPIRED
    assert "root v15" in info.value.detail and "2026-11-20T13:58:18Z" in info.value.detail
    assert store_digest(home, "public-good") == "absent"


def test_staging_copy_refreshes_from_shipped_staging_root() -> None:
    staging = shared_tuf("sigstore-staging")
    result = refresh.refresh_from_media("staging", staging, now=PROD_WINDOW)
    assert result.state.root_version == 14
    assert result.state.timestamp_version == 703
    # the copy is newer than the snapshot shipped for staging: the diff names what it adds
    assert any(c.startswith("+ tlog https://log2026-1.us-east4.rekor.sigstage.dev") for c in result.changes)


def test_pack_from_root_5_takes_a_fresh_client_through_the_whole_chain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prod = shared_tuf("sigstore-prod")
    root5 = prod / "metadata" / "5.root.json"
    assert run_cli("trust", "init", "prod5", "--root", str(root5)).exit_code == 0
    refresh.refresh_from_media("prod5", prod, now=PROD_WINDOW)
    pack = tmp_path / "prod.tar.gz"
    export_pack("prod5", pack)
    monkeypatch.setenv("AIRSEAL_HOME", str(tmp_path / "airgap"))
    assert run_cli("trust", "init", "prod5", "--root", str(root5)).exit_code == 0
    result = refresh.refresh_from_media("prod5", pack, now=PROD_WINDOW)
    assert result.state.root_version == 15
    _assert_prod_state("prod5")


def test_real_root_signatures_verify_with_installed_crypto_backend() -> None:
    """securesystemslib[crypto] must be there: otherwise every signature counts as missing."""
    meta = shared_tuf("sigstore-prod") / "metadata"
    root5 = Metadata[Root].from_bytes((meta / "5.root.json").read_bytes())
    root6 = Metadata[Root].from_bytes((meta / "6.root.json").read_bytes())
    root5.signed.verify_delegate("root", root6.signed_bytes, root6.signatures)
    result = root5.signed.get_verification_result("root", root6.signed_bytes, root6.signatures)
    assert len(result.signed) >= result.threshold == 3
    doc = json.loads((meta / "6.root.json").read_bytes())
    doc["signed"]["expires"] = "2099-01-01T00:00:00Z"  # any change breaks every signature
    forged = Metadata[Root].from_bytes(json.dumps(doc).encode())
    with pytest.raises(tuf_exc.UnsignedMetadataError):
        root5.signed.verify_delegate("root", forged.signed_bytes, forged.signatures)


@pytest.mark.skipif(shutil.which("faketime") is None, reason="faketime is not installed")
@pytest.mark.subprocess  # faketime moves the clock of a whole process
def test_cli_subprocess_under_faketime(tmp_path: Path) -> None:
    prod = shared_tuf("sigstore-prod")
    older = shared_tuf("sigstore-prod-2025-11")
    env = dict(os.environ, AIRSEAL_HOME=str(tmp_path / "home"))
    cmd = ["faketime", "2026-08-22 12:00:00", sys.executable, "-m", "verifier", "trust"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*cmd, *args], env=env, cwd=REPO_DIR, capture_output=True, text=True, timeout=120)

    done = run("import", "public-good", str(prod))
    assert done.returncode == 0, done.stderr
    assert "root v15" in done.stdout and "timestamp v762" in done.stdout
    shown = json.loads(run("show", "public-good", "--json").stdout)
    # faketime starts the clock at 12:00:00 and lets it run, so allow a few seconds of start-up
    assert "2026-08-22T12:00:00Z" <= shown["reference_time_floor"] <= "2026-08-22T12:00:30Z"
    assert shown["refreshed_at"].startswith("2026-08-22")
    refused = run("import", "public-good", str(older))
    assert refused.returncode == 4
    assert "[trustroot.tuf_rollback]" in refused.stderr and "Traceback" not in refused.stderr
