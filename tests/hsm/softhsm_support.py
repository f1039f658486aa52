"""SoftHSM2 fixtures: a fresh token store per test, and a subprocess runner for the CLI.

Why the design looks like this:
- SoftHSM reads SOFTHSM2_CONF once, in C_Initialize. python-pkcs11 loads a module once per
  process (`pkcs11.lib(path)` is cached) and calls C_Initialize then. A C_Finalize followed by
  a new C_Initialize makes SoftHSM read the configuration again (checked: the second
  store's tokens appear). So in-process tests call `hsm.token.close_all()` (closes our cached
  sessions, C_Finalize) before and after each test; the next `pkcs11.lib()` re-initializes
  against that test's own store. Tests in one process therefore must not run in parallel
  threads against different stores, which pytest does not do.
- CLI tests run `python -m verifier` in a subprocess with their own environment: that is what
  a user runs, each gets a fresh C_Initialize, and nothing leaks between tests.

No part of PKCS#11 is mocked: every test talks to the real libsofthsm2.so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import pytest

REPO = Path(__file__).resolve().parents[2]
SOFTHSM_CANDIDATES = (
    os.environ.get("AIRSEAL_TEST_SOFTHSM_MODULE", ""),
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)
# A distinctive PIN, so "the PIN never appears in output" can be checked with a plain grep.
USER_PIN = "pin-4417-93071"
SO_PIN = "so-pin-55120338"
TOKEN_LABEL = "airseal-test"


def _softhsm_module() -> str | None:
    for path in SOFTHSM_CANDIDATES:
        if path and Path(path).is_file():
            return path
    return None


SOFTHSM_MODULE = _softhsm_module()
needs_softhsm = pytest.mark.skipif(
    SOFTHSM_MODULE is None or shutil.which("softhsm2-util") is None,
    reason="SoftHSM2 not installed (apt-get install softhsm2): libsofthsm2.so or softhsm2-util missing",
)


@dataclass
class SoftHsm:
    """One temporary SoftHSM token store with one initialized token."""

    root: Path
    conf: Path
    module: str
    label: str = TOKEN_LABEL
    pin: str = USER_PIN
    env: dict[str, str] = field(default_factory=dict)

    def uri(self, query: str = "", **path: str) -> str:
        """pkcs11:token=<label>;k=v...  (values must already be URI-safe)."""
        parts = [f"token={self.label}"] + [f"{k.replace('_', '-')}={v}" for k, v in path.items()]
        text = "pkcs11:" + ";".join(parts)
        return text + (f"?{query}" if query else "")

    def init_token(self, label: str) -> None:
        subprocess.run(
            ["softhsm2-util", "--init-token", "--free", "--label", label, "--so-pin", SO_PIN, "--pin", self.pin],
            env=self.env, check=True, capture_output=True,
        )

    def run(self, *args: str, env: dict[str, str] | None = None, input: bytes | None = None,
            cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run `python -m verifier ARGS` against this store; stdin is never a terminal."""
        full_env = dict(self.env)
        if env:
            full_env.update(env)
        full_env = {k: v for k, v in full_env.items() if v is not None}
        return subprocess.run(
            [sys.executable, "-m", "verifier", *args],
            env=full_env, cwd=cwd or self.root, capture_output=True, text=True,
            input=input.decode() if input else None, timeout=timeout,
            stdin=None if input else subprocess.DEVNULL,
        )

    def keygen(self, label: str, key_type: str, **extra: str) -> subprocess.CompletedProcess[str]:
        result = self.run("hsm", "keygen", self.uri(object=label, **extra), "--type", key_type)
        assert result.returncode == 0, result.stderr
        return result


def _make_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SoftHsm:
    if SOFTHSM_MODULE is None or shutil.which("softhsm2-util") is None:
        pytest.skip("SoftHSM2 not installed (apt-get install softhsm2)")
    root = tmp_path / "softhsm"
    tokens = root / "tokens"
    tokens.mkdir(parents=True)
    conf = root / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n"
        "slots.removable = false\n"
    )
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    monkeypatch.setenv("AIRSEAL_PKCS11_MODULE", SOFTHSM_MODULE)
    monkeypatch.setenv("AIRSEAL_PKCS11_PIN", USER_PIN)
    monkeypatch.delenv("AIRSEAL_PKCS11_PIN_UNUSED", raising=False)
    env = {k: v for k, v in os.environ.items()}
    env.update(
        SOFTHSM2_CONF=str(conf),
        AIRSEAL_PKCS11_MODULE=SOFTHSM_MODULE,
        AIRSEAL_PKCS11_PIN=USER_PIN,
        PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""),
        AIRSEAL_HOME=str(tmp_path / "airseal-home"),
    )
    env.pop("AIRSEAL_DEBUG", None)
    store = SoftHsm(root=root, conf=conf, module=SOFTHSM_MODULE, env=env)
    store.init_token(TOKEN_LABEL)
    return store


@pytest.fixture
def softhsm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A fresh SoftHSM store with token 'airseal-test' (PIN USER_PIN); in-process state reset."""
    from hsm.token import close_all

    close_all()
    store = _make_store(tmp_path, monkeypatch)
    yield store
    close_all()


def assert_no_pin(result: subprocess.CompletedProcess[str], pin: str = USER_PIN) -> None:
    assert pin not in (result.stdout or ""), "PIN leaked to stdout"
    assert pin not in (result.stderr or ""), "PIN leaked to stderr"


def run_plain(args: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, **kwargs)
