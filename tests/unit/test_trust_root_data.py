"""The shipped trust material is what trust-root/README.md says, in the checkout and the wheel."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

MANIFEST = REPO / "trust-root" / "MANIFEST.sha256"


def _manifest() -> dict[str, str]:
    entries = {}
    for line in MANIFEST.read_text().splitlines():
        digest, name = line.split()
        entries[name] = digest
    return entries


def test_manifest_matches_files_and_readme() -> None:
    readme = (REPO / "trust-root" / "README.md").read_text()
    entries = _manifest()
    assert set(entries) == {
        "public-good/root.json",
        "public-good/trusted_root.json",
        "staging/root.json",
        "staging/trusted_root.json",
    }
    for name, digest in entries.items():
        assert hashlib.sha256((REPO / "trust-root" / name).read_bytes()).hexdigest() == digest, name
        assert f"| `{name}` | `{digest}` |" in readme, f"README does not record {name}"


def test_embedded_loader_reads_the_shipped_files() -> None:
    from verifier._internal.trustroot.embedded import embedded_file

    for name, digest in _manifest().items():
        trust, filename = name.split("/")
        assert hashlib.sha256(embedded_file(trust, filename)).hexdigest() == digest


@pytest.mark.slow
@pytest.mark.slow
@pytest.mark.subprocess  # pip builds the real wheel
def test_built_wheel_carries_the_trust_root_with_the_recorded_hashes(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        pytest.fail(f"building the wheel failed: {proc.stderr[-1500:]}")
    wheel = next(tmp_path.glob("airseal-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        for name, digest in _manifest().items():
            member = f"verifier/_trust_root/{name}"
            assert member in names, member
            assert hashlib.sha256(zf.read(member)).hexdigest() == digest
        assert "verifier/cli/app.py" in names and "hsm/uri.py" in names
