"""Hardening findings about trust: stale trust refused on request (8), the store's own expired
root named as such (5), `trust show` without a URL and `trust init` with an expired root (6, 7),
and a non-tar import (6)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.support.tuf_simulator import TufRepo
from tests.trust.conftest import run_cli, shared_tuf
from verifier._internal.refresh import updater as refresh
from verifier._internal.trustroot import store
from verifier.errors import Reason, TrustRootError


def _later() -> dt.datetime:
    """40 days and an hour after the sim trust's refresh (the store's time seam: `now=`)."""
    state = store.current_state("sim")
    assert state is not None
    return state.refreshed_at + dt.timedelta(days=40, hours=1)


def test_stale_trust_only_warns_by_default(sim_trust: TufRepo) -> None:
    resolved = store.resolve_trusted_root("sim", now=_later())
    assert resolved.warnings and "last refreshed 40 days ago" in resolved.warnings[0]


def test_max_trust_age_refuses_stale_trust(sim_trust: TufRepo) -> None:
    with pytest.raises(TrustRootError) as info:
        store.resolve_trusted_root("sim", now=_later(), max_age_days=30)
    assert info.value.reason is Reason.TRUSTROOT_STALE and info.value.exit_code == 4
    assert "40 days ago" in info.value.detail and "at most 30 days" in info.value.detail
    assert store.resolve_trusted_root("sim", now=_later(), max_age_days=45).source == "store"


def test_trust_config_max_age_is_stored_and_applied(sim_trust: TufRepo) -> None:
    result = run_cli("trust", "config", "sim", "--max-age", "30", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["max_age_days"] == 30
    assert store.load_config("sim").max_age_days == 30
    with pytest.raises(TrustRootError) as info:
        store.resolve_trusted_root("sim", now=_later())
    assert info.value.reason is Reason.TRUSTROOT_STALE
    # verify --max-trust-age overrides the stored setting, both ways
    assert store.resolve_trusted_root("sim", now=_later(), max_age_days=60).source == "store"
    assert run_cli("trust", "config", "sim", "--no-max-age").exit_code == 0
    assert store.load_config("sim").max_age_days is None
    assert store.resolve_trusted_root("sim", now=_later()).warnings


def test_max_age_applies_to_the_shipped_snapshot(home: Path) -> None:
    far = dt.datetime(2100, 1, 1, tzinfo=dt.timezone.utc)
    assert store.resolve_trusted_root("public-good", now=far).source == "embedded"
    with pytest.raises(TrustRootError) as info:
        store.resolve_trusted_root("public-good", now=far, max_age_days=365)
    assert info.value.reason is Reason.TRUSTROOT_STALE and "shipped snapshot" in info.value.detail


def test_max_trust_age_with_a_trusted_root_file_is_a_usage_error(tmp_path: Path) -> None:
    bundle = REPO / "examples" / "public-good" / "a.txt.sigstore.json"
    result = run_cli("verify", "--bundle", str(bundle), "--trusted-root", str(REPO / "trust-root/public-good/trusted_root.json"),
                     "--certificate-identity-regexp", ".*", "--certificate-oidc-issuer-regexp", ".*",
                     "--max-trust-age", "5", str(REPO / "examples/public-good/a.txt"))
    assert result.exit_code == 2 and "--max-trust-age" in result.output


@pytest.mark.subprocess
def test_verify_max_trust_age_under_faketime(tmp_path: Path) -> None:
    """The real clock moved on (faketime): the shipped snapshot is refused with --max-trust-age."""
    if shutil.which("faketime") is None:
        pytest.skip("faketime not installed")
    env = dict(os.environ, AIRSEAL_HOME=str(tmp_path / "home"))
    ex = REPO / "examples" / "public-good"
    args = [sys.executable, "-m", "verifier", "verify", "--bundle", str(ex / "a.txt.sigstore.json"),
            "--certificate-identity-regexp", ".*", "--certificate-oidc-issuer", "https://token.actions.githubusercontent.com"]
    run = subprocess.run(["faketime", "2031-01-01 00:00:00", *args, "--max-trust-age", "30", str(ex / "a.txt")],
                         env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 4, run.stderr
    assert "trustroot.stale" in run.stderr
    ok = subprocess.run([*args, str(ex / "a.txt")], env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr


def test_store_own_expired_root_is_named_as_the_stores(home: Path) -> None:
    older = shared_tuf("sigstore-prod-2025-11")  # roots up to v13; the shipped root is v15
    late = dt.datetime(2026, 11, 25, tzinfo=dt.timezone.utc)
    with pytest.raises(TrustRootError) as info:
        refresh.refresh_from_media("public-good", older, now=late)
    detail = info.value.detail
    assert info.value.reason is Reason.TUF_EXPIRED
    assert "'public-good''s own root v15" in detail and "2026-11-20T13:58:18Z" in detail
    assert f"from {older}" not in detail.split("expired")[0]  # the media is not blamed
    assert "root v16 or later" in detail


def test_show_without_url(repo: TufRepo, tmp_path: Path) -> None:
    root = tmp_path / "r.json"
    root.write_bytes(repo.root_files[1])
    assert run_cli("trust", "init", "corp", "--root", str(root)).exit_code == 0
    out = run_cli("trust", "show", "corp").stdout
    assert "url:                 (none: refreshed from media only)" in out
    assert "None" not in out


def test_init_with_an_expired_root_warns(tmp_path: Path) -> None:
    root5 = shared_tuf("sigstore-prod") / "metadata" / "5.root.json"  # expired in 2023
    result = run_cli("trust", "init", "prod5", "--root", str(root5))
    assert result.exit_code == 0, result.output
    assert "warning: this TUF root (v5) expired on" in result.stderr


def test_import_of_a_file_that_is_not_a_pack(tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("hello\n" * 100)
    result = run_cli("trust", "import", "public-good", str(junk))
    assert result.exit_code == 4
    assert "is not a readable trust pack: it is not a tar archive" in result.stderr
    assert "method gz" not in result.stderr and "ReadError" not in result.stderr
