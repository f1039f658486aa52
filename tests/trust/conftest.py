"""Fixtures for the trust tests: an AIRSEAL_HOME per test, a simulated TUF repository, helpers."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.support.tuf_simulator import TufRepo
from verifier._internal.trustroot.embedded import embedded_trusted_root_bytes
from verifier.cli.app import main

REPO_DIR = Path(__file__).resolve().parents[2]
SHARED_TUF = Path(__file__).resolve().parents[2] / ".." / "shared" / "tuf"
PROD_WINDOW = dt.datetime(2026, 8, 22, 12, 0, 0, tzinfo=dt.timezone.utc)
"""Inside the validity window of ../shared/tuf/sigstore-prod (timestamp expires 2026-08-28)."""


def shared_tuf(name: str) -> Path:
    path = (SHARED_TUF / name).resolve()
    if not path.is_dir():
        pytest.skip(f"{path} is absent: the real Sigstore TUF copies live in ../shared/tuf beside the checkout")
    return path


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own trust store."""
    path = tmp_path / "home"
    monkeypatch.setenv("AIRSEAL_HOME", str(path))
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    return path


@pytest.fixture
def repo(tmp_path: Path) -> TufRepo:
    return TufRepo(tmp_path / "repo", embedded_trusted_root_bytes("public-good"))


def store_digest(home: Path, name: str = "sim") -> str:
    """A hash over every path and byte of one trust's folder (symlinks by their target)."""
    h = hashlib.sha256()
    base = home / "trust" / name
    if not base.exists():
        return "absent"
    for dirpath, dirnames, files in os.walk(base):
        dirnames.sort()
        for fname in sorted(files) + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            full = Path(dirpath, fname)
            rel = full.relative_to(base).as_posix()
            h.update(rel.encode() + b"\0")
            if full.is_symlink():
                h.update(b"link:" + os.readlink(full).encode())
            else:
                h.update(full.read_bytes())
            h.update(b"\0")
    return h.hexdigest()


def run_cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def cli() -> Callable[..., Result]:
    return run_cli


@pytest.fixture
def sim_trust(repo: TufRepo, tmp_path: Path) -> TufRepo:
    """Trust 'sim' created from the repository's root v1 and refreshed once from it (media)."""
    root1 = tmp_path / "sim-root.json"
    root1.write_bytes(repo.root_files[1])
    res = run_cli("trust", "init", "sim", "--root", str(root1))
    assert res.exit_code == 0, res.output + res.stderr
    res = run_cli("trust", "import", "sim", str(repo.out))
    assert res.exit_code == 0, res.output + res.stderr
    return repo
