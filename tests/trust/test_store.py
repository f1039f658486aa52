"""The trust store: locations, names, config, resolve_trusted_root, atomic installs."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.tuf_simulator import TufRepo
from tests.trust.conftest import REPO_DIR, run_cli, store_digest
from verifier._internal.refresh import updater as refresh
from verifier._internal.trustroot import embedded, store
from verifier.errors import Reason, TrustRootError


def test_home_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("AIRSEAL_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert store.airseal_home() == tmp_path / "xdg" / "airseal"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "h"))
    assert store.airseal_home() == tmp_path / "h" / ".local" / "share" / "airseal"


def test_embedded_files_match_the_shipped_trust_root() -> None:
    for name in ("public-good", "staging"):
        for fname in ("root.json", "trusted_root.json"):
            assert embedded.embedded_file(name, fname) == (REPO_DIR / "trust-root" / name / fname).read_bytes()
    assert embedded.embedded_snapshot_date("public-good") == dt.date(2026, 8, 21)
    assert isinstance(embedded.embedded_snapshot_date("staging"), dt.date)
    with pytest.raises(TrustRootError) as info:
        embedded.embedded_file("corp", "root.json")
    assert info.value.reason is Reason.TRUST_NAME_UNKNOWN


def test_resolve_before_any_refresh_uses_the_shipped_snapshot_with_a_dated_warning() -> None:
    resolved = store.resolve_trusted_root("public-good")
    assert resolved.source == "embedded"
    assert resolved.data == (REPO_DIR / "trust-root" / "public-good" / "trusted_root.json").read_bytes()
    assert len(resolved.warnings) == 1
    assert "no refreshed trust for 'public-good'" in resolved.warnings[0]
    assert "dated 2026-08-21" in resolved.warnings[0]
    assert store.resolve_trusted_root("staging").source == "embedded"


@pytest.mark.parametrize("name", ["nope", "Bad Name", "../etc", ""])
def test_unknown_or_invalid_names(name: str) -> None:
    with pytest.raises(TrustRootError) as info:
        store.resolve_trusted_root(name)
    assert info.value.reason is Reason.TRUST_NAME_UNKNOWN
    assert info.value.exit_code == 4


def test_private_trust_before_refresh_is_not_found(repo: TufRepo, tmp_path: Path) -> None:
    root = tmp_path / "r.json"
    root.write_bytes(repo.root_files[1])
    assert run_cli("trust", "init", "corp", "--root", str(root), "--url", "https://tuf.corp.example").exit_code == 0
    with pytest.raises(TrustRootError) as info:
        store.resolve_trusted_root("corp")
    assert info.value.reason is Reason.TRUSTROOT_NOT_FOUND
    assert "airseal trust import corp" in info.value.detail


def test_resolve_after_refresh_and_stale_warning(sim_trust: TufRepo) -> None:
    resolved = store.resolve_trusted_root("sim")
    assert resolved.source == "store" and resolved.warnings == ()
    assert resolved.data == sim_trust.target_data["trusted_root.json"]
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=31)
    stale = store.resolve_trusted_root("sim", now=later)
    assert stale.warnings and "trust 'sim' was last refreshed 31 days ago" in stale.warnings[0]
    assert run_cli("trust", "config", "sim", "--stale-warning-days", "60").exit_code == 0
    assert store.resolve_trusted_root("sim", now=later).warnings == ()


def test_damaged_store_is_reported_not_used(sim_trust: TufRepo) -> None:
    state = store.current_state("sim")
    assert state is not None
    state.trusted_root_path.write_bytes(b"{}")
    with pytest.raises(TrustRootError) as info:
        store.resolve_trusted_root("sim")
    assert info.value.reason is Reason.TRUST_STORE_ERROR


@pytest.mark.subprocess  # the import set of a fresh interpreter
def test_store_module_stays_free_of_tuf_and_http() -> None:
    code = (
        "import sys\n"
        "import verifier._internal.trustroot.store as s\n"
        "s.resolve_trusted_root('public-good')\n"
        "bad = [m for m in ('tuf', 'urllib3', 'requests', 'http.client', 'securesystemslib') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    env = dict(os.environ)
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_DIR, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"store.py pulled in: {out.stdout}"


# --- atomic install: injected failures leave the previous state in use ---------------------


def _new_release(repo: TufRepo) -> None:
    doc = json.loads(repo.target_data["trusted_root.json"])
    doc["ctlogs"] = doc["ctlogs"][1:]
    repo.set_target("trusted_root.json", json.dumps(doc).encode())
    repo.rotate_root(roles=("root", "timestamp"))
    repo.publish()


def test_failure_while_swapping_the_pointer_keeps_the_old_state(
    sim_trust: TufRepo, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _new_release(sim_trust)
    before = store_digest(home)
    old = store.resolve_trusted_root("sim").data

    def broken(*_a: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "_write_pointer", broken)
    with pytest.raises(TrustRootError) as info:
        refresh.refresh_from_media("sim", sim_trust.out)
    assert info.value.reason is Reason.TRUST_STORE_ERROR
    assert "previous state is still in use" in info.value.detail
    assert store_digest(home) == before
    assert store.resolve_trusted_root("sim").data == old
    assert not list((home / "trust").glob(".staging-*"))
    monkeypatch.undo()
    monkeypatch.setenv("AIRSEAL_HOME", str(home))
    result = refresh.refresh_from_media("sim", sim_trust.out)
    assert result.state.root_version == 2
    assert any(line.startswith("- ctlog") for line in result.changes)


def test_interruption_mid_install_keeps_the_old_state(
    sim_trust: TufRepo, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash (here: KeyboardInterrupt) while the new state is being flushed."""
    _new_release(sim_trust)
    before = store_digest(home)

    def interrupted(_path: Path) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(store, "_fsync_tree", interrupted)
    with pytest.raises(KeyboardInterrupt):
        refresh.refresh_from_media("sim", sim_trust.out)
    assert store_digest(home) == before


def test_leftovers_of_a_hard_crash_are_ignored_then_pruned(sim_trust: TufRepo, home: Path) -> None:
    """A power cut after the rename but before the pointer swap leaves an unreferenced state."""
    tdir = home / "trust" / "sim"
    junk = tdir / "state-000042"
    junk.mkdir()
    (junk / "state.json").write_text("half-written")
    assert store.resolve_trusted_root("sim").source == "store"
    sim_trust.publish()
    refresh.refresh_from_media("sim", sim_trust.out)
    assert not junk.exists()
    states = sorted(p.name for p in tdir.iterdir() if p.name.startswith("state-"))
    assert states == [(tdir / "CURRENT").read_text().strip()]


def test_concurrent_refresh_is_refused(sim_trust: TufRepo) -> None:
    with store.trust_lock("sim"):
        with pytest.raises(TrustRootError, match="another airseal process"):
            refresh.refresh_from_media("sim", sim_trust.out)


def test_trusted_root_hash_recorded(sim_trust: TufRepo) -> None:
    state = store.current_state("sim")
    assert state is not None
    assert state.trusted_root_sha256 == hashlib.sha256(state.trusted_root_path.read_bytes()).hexdigest()


def test_embedded_prefers_the_packaged_copy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """In a wheel the files sit at verifier/_trust_root/<name>/<file>, read by path."""
    pkg = tmp_path / "verifier"
    (pkg / "_trust_root" / "public-good").mkdir(parents=True)
    (pkg / "_trust_root" / "public-good" / "trusted_root.json").write_bytes(b'{"packaged": true}')
    monkeypatch.setattr(embedded, "_PACKAGE_TRUST_ROOT", pkg / "_trust_root")
    assert embedded.embedded_trusted_root_bytes("public-good") == b'{"packaged": true}'
    # a file the package lacks falls back to the source checkout's trust-root/
    assert embedded.embedded_tuf_root_bytes("public-good") == (REPO_DIR / "trust-root" / "public-good" / "root.json").read_bytes()
