"""Opt-in: refresh public-good from the real Sigstore CDN (needs network; off by default).

Run with AIRSEAL_ONLINE_TESTS=1. Everything else in tests/trust runs offline.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.trust.conftest import run_cli

pytestmark = [pytest.mark.network, pytest.mark.skipif(
    os.environ.get("AIRSEAL_ONLINE_TESTS") != "1",
    reason="network test: set AIRSEAL_ONLINE_TESTS=1 to refresh from https://tuf-repo-cdn.sigstore.dev",
)]


def test_update_export_import_against_the_real_cdn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    res = run_cli("trust", "update", "public-good")
    assert res.exit_code == 0, res.stderr
    pack = tmp_path / "pg.tar.gz"
    assert run_cli("trust", "export", str(pack)).exit_code == 0
    monkeypatch.setenv("AIRSEAL_HOME", str(tmp_path / "airgap"))
    res = run_cli("trust", "import", str(pack))
    assert res.exit_code == 0, res.stderr
    shown = json.loads(run_cli("trust", "show", "--json").stdout)
    assert shown["source"] == "store" and shown["root_version"] >= 15
