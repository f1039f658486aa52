"""examples/public-good: the files are the recorded ones, and each bundle verifies offline with
the shipped trust root and the expected identity (finding 9)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import REPO
from verifier.cli.app import main

EX = REPO / "examples" / "public-good"
IDENTITY = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/"
    "extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)
ISSUER = "https://token.actions.githubusercontent.com"
BUNDLES = ["a.txt.sigstore.json", "a.txt.intoto.sigstore.json", "a.txt.v0.1.sigstore.json"]


def test_manifest_hashes() -> None:
    lines = (EX / "MANIFEST.sha256").read_text().splitlines()
    listed = {}
    for line in lines:
        digest, name = line.split()
        listed[name] = digest
        assert hashlib.sha256((EX / name).read_bytes()).hexdigest() == digest, name
    assert set(listed) == {"a.txt", *BUNDLES}
    assert "a73de4970176d258e0154c530b89d20b89444e4d" in (EX / "README.md").read_text()


@pytest.mark.parametrize("bundle", BUNDLES)
def test_each_bundle_verifies_offline_with_the_shipped_root(bundle: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRSEAL_HOME", str(tmp_path / "home"))  # no refreshed trust: the shipped snapshot
    args = ["verify", "--bundle", str(EX / bundle), "--certificate-identity", IDENTITY, "--certificate-oidc-issuer", ISSUER,
            "--json", str(EX / "a.txt")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["verified"] is True
    assert doc["signer"]["identity"] == IDENTITY and doc["signer"]["issuer"] == ISSUER
    wrong = CliRunner().invoke(main, [*args[:4], "https://github.com/someone/else", *args[5:]])
    assert wrong.exit_code == 1
