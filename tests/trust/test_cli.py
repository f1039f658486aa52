"""The `airseal trust` command line: help, output shapes, and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.tuf_simulator import TufRepo
from tests.trust.conftest import REPO_DIR, run_cli

SHOW_FIELDS = {
    "name", "root_version", "timestamp_version", "snapshot_version", "targets_version",
    "trusted_root_sha256", "refreshed_at", "expires",
}


@pytest.mark.parametrize("sub", ["list", "show", "init", "config", "update", "export", "import"])
def test_every_command_has_help_with_an_example(sub: str) -> None:
    res = run_cli("trust", sub, "--help")
    assert res.exit_code == 0
    assert "Example" in res.stdout and "airseal trust" in res.stdout


def test_show_json_before_and_after_refresh(sim_trust: TufRepo) -> None:
    res = run_cli("trust", "show", "--json")
    assert res.exit_code == 0
    doc = json.loads(res.stdout)
    assert doc.keys() >= SHOW_FIELDS
    assert doc["name"] == "public-good" and doc["source"] == "embedded" and doc["root_version"] is None
    doc = json.loads(run_cli("trust", "show", "sim", "--json").stdout)
    assert doc.keys() >= SHOW_FIELDS
    assert doc["source"] == "store" and doc["root_version"] == 1 and doc["expires"].endswith("Z")
    human = run_cli("trust", "show", "sim").stdout
    assert "root_version:" in human and "reference floor:" in human


def test_list(sim_trust: TufRepo) -> None:
    res = run_cli("trust", "list")
    assert res.exit_code == 0
    names = [line.split()[0] for line in res.stdout.splitlines()]
    assert names == ["public-good", "staging", "sim"]
    doc = json.loads(run_cli("trust", "list", "--json").stdout)
    assert [t["name"] for t in doc["trusts"]] == names


def test_init_errors(repo: TufRepo, tmp_path: Path) -> None:
    root = tmp_path / "root.json"
    root.write_bytes(repo.root_files[1])
    res = run_cli("trust", "init", "public-good", "--root", str(root))
    assert res.exit_code == 4 and "is built in" in res.stderr
    assert run_cli("trust", "init", "corp", "--root", str(root)).exit_code == 0
    res = run_cli("trust", "init", "corp", "--root", str(root))
    assert res.exit_code == 4 and "already exists" in res.stderr
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    res = run_cli("trust", "init", "other", "--root", str(garbage))
    assert res.exit_code == 4 and "[trustroot.tuf_bad_metadata]" in res.stderr
    doc = json.loads(repo.root_files[1])
    doc["signed"]["version"] = 7
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(doc))
    res = run_cli("trust", "init", "other", "--root", str(forged))
    assert res.exit_code == 4 and "[trustroot.tuf_unsigned]" in res.stderr
    res = run_cli("trust", "init", "Bad/Name", "--root", str(root))
    assert res.exit_code == 4 and "[trustroot.unknown_trust]" in res.stderr
    assert run_cli("trust", "init", "x", "--root", str(root), "--grace-days", "31").exit_code == 2


def test_init_accepts_the_shipped_root() -> None:
    res = run_cli("trust", "init", "mirror", "--root", str(REPO_DIR / "trust-root" / "public-good" / "root.json"),
                  "--url", "https://tuf-mirror.example")
    assert res.exit_code == 0 and "TUF root v15" in res.stdout


def test_unknown_trust_exit_4() -> None:
    for args in (["show", "nope"], ["update", "nope"], ["import", "nope", "/tmp"], ["export", "nope", "x.tgz"]):
        res = run_cli("trust", *args)
        assert res.exit_code == 4, args
        assert "[trustroot.unknown_trust]" in res.stderr
        assert "Traceback" not in res.stderr


def test_crypto_backend_self_check(repo: TufRepo, tmp_path: Path) -> None:
    """A correctly signed repository refreshes: signature checks really run (and pass)."""
    root = tmp_path / "root.json"
    root.write_bytes(repo.root_files[1])
    assert run_cli("trust", "init", "sim", "--root", str(root)).exit_code == 0
    res = run_cli("trust", "import", "sim", str(repo.out))
    assert res.exit_code == 0, res.stderr
