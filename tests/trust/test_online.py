"""`trust update`: python-tuf's Updater against repositories served from 127.0.0.1."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.support.tuf_simulator import TufRepo, serve_directory
from tests.trust.conftest import run_cli, store_digest
from verifier._internal.trustroot import store

pytestmark = pytest.mark.loopback  # TUF repositories served on 127.0.0.1


def _init(repo: TufRepo, tmp_path: Path, url: str, *, root_version: int = 1) -> None:
    root = tmp_path / "root.json"
    root.write_bytes(repo.root_files[root_version])
    res = run_cli("trust", "init", "sim", "--root", str(root), "--url", url)
    assert res.exit_code == 0, res.stderr


def test_update_rotation_and_trusted_root_diff(repo: TufRepo, tmp_path: Path) -> None:
    with serve_directory(repo.out) as url:
        _init(repo, tmp_path, url)
        res = run_cli("trust", "update", "sim")
        assert res.exit_code == 0, res.stderr
        assert "root v1, timestamp v1, snapshot v1, targets v1" in res.stdout
        # nothing new: still fine, nothing changes
        res = run_cli("trust", "update", "sim")
        assert res.exit_code == 0 and "trusted_root.json unchanged" in res.stdout
        # a key rotation and a new trusted_root.json with one log removed and one CA window changed
        doc = json.loads(repo.target_data["trusted_root.json"])
        removed = doc["tlogs"].pop(1)
        doc["certificateAuthorities"][1]["validFor"]["end"] = "2030-01-01T00:00:00Z"
        repo.set_target("trusted_root.json", json.dumps(doc).encode())
        repo.rotate_root(roles=("root", "snapshot"), count=2, threshold=2)
        repo.publish()
        res = run_cli("trust", "update", "sim", "--json")
        assert res.exit_code == 0, res.stderr
        out = json.loads(res.stdout)
        assert out["root_version"] == 2 and out["previous_root_version"] == 1
        changes = out["trusted_root_changes"]
        assert any(c.startswith("- tlog " + removed["baseUrl"]) for c in changes), changes
        assert any(c.startswith("~ CA https://fulcio.sigstore.dev") and "2030-01-01" in c for c in changes), changes
    resolved = store.resolve_trusted_root("sim")
    assert json.loads(resolved.data) == doc


def test_update_with_url_override_and_older_roots_carried(repo: TufRepo, tmp_path: Path) -> None:
    repo.rotate_root()
    repo.rotate_root()
    repo.publish()
    with serve_directory(repo.out) as url:
        _init(repo, tmp_path, "https://unreachable.invalid", root_version=3)
        res = run_cli("trust", "update", "sim", "--url", url)
        assert res.exit_code == 0, res.stderr
    state = store.current_state("sim")
    assert state is not None and state.root_version == 3
    carried = sorted(p.name for p in (state.metadata_dir / "root_history").glob("*.root.json"))
    assert carried == ["1.root.json", "2.root.json", "3.root.json"]


@pytest.mark.slow  # waits out the client's read limit on an endless response
def test_endless_timestamp_over_http_is_cut_off(repo: TufRepo, tmp_path: Path, home: Path) -> None:
    with serve_directory(repo.out) as url:
        _init(repo, tmp_path, url)
        assert run_cli("trust", "update", "sim").exit_code == 0
    before = store_digest(home)
    with serve_directory(repo.out, endless="/timestamp.json") as url:
        res = run_cli("trust", "update", "sim", "--url", url)
    assert res.exit_code == 4
    assert "[trustroot.tuf_oversized]" in res.stderr and "timestamp.json" in res.stderr
    assert store_digest(home) == before


@pytest.mark.slow  # about a second: several full refreshes over HTTP
def test_rollback_over_http_is_refused(repo: TufRepo, tmp_path: Path, home: Path) -> None:
    old = repo.snapshot_copy(tmp_path / "old")
    repo.publish()
    with serve_directory(repo.out) as url:
        _init(repo, tmp_path, url)
        assert run_cli("trust", "update", "sim").exit_code == 0
    before = store_digest(home)
    with serve_directory(old) as url:
        res = run_cli("trust", "update", "sim", "--url", url)
    assert res.exit_code == 4 and "[trustroot.tuf_rollback]" in res.stderr
    assert store_digest(home) == before


def test_missing_file_and_dead_server(repo: TufRepo, tmp_path: Path, home: Path) -> None:
    (repo.out / "1.snapshot.json").unlink()
    with serve_directory(repo.out) as url:
        _init(repo, tmp_path, url)
        res = run_cli("trust", "update", "sim")
    assert res.exit_code == 4
    assert "[trustroot.fetch_failed]" in res.stderr and "1.snapshot.json answered HTTP 404" in res.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    res = run_cli("trust", "update", "sim", "--url", f"http://127.0.0.1:{port}")
    assert res.exit_code == 4 and "[trustroot.fetch_failed]" in res.stderr
    assert store.current_state("sim") is None


def test_update_needs_a_url(repo: TufRepo, tmp_path: Path) -> None:
    root = tmp_path / "root.json"
    root.write_bytes(repo.root_files[1])
    assert run_cli("trust", "init", "sim", "--root", str(root)).exit_code == 0
    res = run_cli("trust", "update", "sim")
    assert res.exit_code == 4 and "has no repository URL" in res.stderr
