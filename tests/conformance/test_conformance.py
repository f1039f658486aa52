"""The real Sigstore conformance cases, run the way upstream runs them: through the CLI."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import CONFORMANCE, REPO, shared_or_skip
from verifier.cli.app import main

DEFAULT_IDENTITY = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)
DEFAULT_ISSUER = "https://token.actions.githubusercontent.com"


def _airseal_command() -> list[str]:
    exe = Path(sys.executable).with_name("airseal")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "verifier"]


@pytest.mark.slow
@pytest.mark.subprocess  # upstream's runner drives the console script, one process per case
def test_run_conformance_strict_passes_every_case() -> None:
    runner = shared_or_skip("conformance", "run-conformance")
    proc = subprocess.run(
        [sys.executable, str(runner), "--strict", "-j", "2", "--", *_airseal_command()],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=REPO,
    )
    last = proc.stdout.strip().splitlines()[-1]
    failures = [line for line in proc.stdout.splitlines() if line.startswith("FAIL")]
    assert proc.returncode == 0, "\n".join(failures) or proc.stdout[-2000:]
    assert last == "140 passed, 0 failed", last


def _cases() -> list[Path]:
    cases = CONFORMANCE / "cases"
    if not cases.is_dir():
        return []
    return sorted(p for p in cases.iterdir() if (p / "bundle.sigstore.json").is_file())


def _args(case: Path, digest: bool) -> list[str]:
    import hashlib

    args = ["verify-bundle", "--bundle", str(case / "bundle.sigstore.json")]
    if (case / "key.pub").is_file():
        args += ["--key", str(case / "key.pub")]
    else:
        identity = (case / "identity").read_text().strip() if (case / "identity").is_file() else DEFAULT_IDENTITY
        issuer = (case / "issuer").read_text().strip() if (case / "issuer").is_file() else DEFAULT_ISSUER
        args += ["--certificate-identity", identity, "--certificate-oidc-issuer", issuer]
    if (case / "trusted_root.json").is_file():
        args += ["--trusted-root", str(case / "trusted_root.json")]
    artifact = case / "artifact" if (case / "artifact").is_file() else case.parent / "a.txt"
    args.append("sha256:" + hashlib.sha256(artifact.read_bytes()).hexdigest() if digest else str(artifact))
    return args


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("verify tried to open a socket")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.mark.parametrize("digest", [False, True], ids=["path", "digest"])
def test_every_case_verifies_without_the_network(no_network: None, digest: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shared_or_skip("conformance", "cases")
    monkeypatch.setenv("AIRSEAL_HOME", str(tmp_path / "home"))
    outcomes = {}
    for case in _cases():
        result = CliRunner().invoke(main, _args(case, digest) + ["--json"])
        assert not isinstance(result.exception, AssertionError), f"{case.name}: {result.exception}"
        assert result.exit_code in (0, 1, 3), f"{case.name}: exit {result.exit_code}\n{result.output}"
        expect_fail = case.name.endswith("fail")
        outcomes[case.name] = (result.exit_code != 0) == expect_fail
        if result.exit_code in (0, 1):
            doc = json.loads(result.stdout)
            assert doc["verified"] is (result.exit_code == 0)
    wrong = sorted(name for name, ok in outcomes.items() if not ok)
    assert not wrong, wrong


@pytest.mark.subprocess  # the import set of a fresh interpreter
def test_verify_path_imports_no_network_or_tuf_code() -> None:
    code = (
        "import sys\n"
        "import verifier._internal.verify, verifier.cli.verify_click, verifier._internal.bundle.parse, verifier._internal.trustroot.store, verifier._internal.tsa.verify\n"
        "bad = [m for m in ('tuf', 'urllib3', 'requests', 'http.client', 'urllib.request', 'socketserver')"
        " if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "", f"verify path imported: {out.stdout.strip()}"


@pytest.mark.subprocess  # the console script with a clean AIRSEAL_HOME, as a user runs it
def test_default_trust_is_the_shipped_public_good_snapshot(tmp_path: Path) -> None:
    """Production-root cases need no --trusted-root: the embedded public-good root is used."""
    case = shared_or_skip("conformance", "cases", "happy-path-v0.3")
    env = dict(os.environ, AIRSEAL_HOME=str(tmp_path))
    proc = subprocess.run(
        [*_airseal_command(), *_args(case, False), "--json"], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert "shipped with airseal" in proc.stderr
