"""SoftHSM2 fixtures: token stores, and an in-process and a subprocess runner for the CLI.

Why the design looks like this:
- SoftHSM reads SOFTHSM2_CONF once, in C_Initialize. python-pkcs11 loads a module once per
  process (`pkcs11.lib(path)` is cached) and calls C_Initialize then. A C_Finalize followed by
  a new C_Initialize makes SoftHSM read the configuration again (checked: the second
  store's tokens appear). So in-process tests call `hsm.token.close_all()` (closes our cached
  sessions, C_Finalize) before and after each test; the next `pkcs11.lib()` re-initializes
  against that test's own store. Tests in one process therefore must not run in parallel
  threads against different stores, which pytest does not do.
- The same holds for the CLI: `SoftHsm.run` calls the console entry (`verifier.cli.entry:main`,
  argparse fast path for verify included) in this process, with the store's environment set
  for the call only, stdin/stdout/stderr captured by click's CliRunner isolation, and
  `close_all()` before and after, so every call starts from C_Initialize with no cached or
  logged-in session, as a new process would. That makes a CLI call cost milliseconds instead
  of a Python start (about 0.4 s).
- `SoftHsm.spawn` runs `python -m verifier` in a real subprocess. Tests use it only where the
  process is the point (marker `subprocess`): the PIN never in any process output, the cold-start
  import set, a user's actual command line end to end.
- Stores: `softhsm` is a fresh store per test (tests that create, import or destroy objects,
  or need an empty token). `shared_softhsm` is one store per test module whose keys are made
  once, on first request (`shared_softhsm.key("rsa-4096")`): RSA-3072/4096 keygen on SoftHSM
  takes seconds. Only tests that merely read keys and sign use it; signing does not change the
  token, and each test still gets its own working directory and AIRSEAL_HOME.

No part of PKCS#11 is mocked: every test talks to the real libsofthsm2.so.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


# What a CLI run gets from the store (the rest of the environment is the test process's own).
_STORE_VARS = ("SOFTHSM2_CONF", "AIRSEAL_PKCS11_MODULE", "AIRSEAL_PKCS11_PIN", "AIRSEAL_HOME")
# Never inherited by a CLI run unless the test passes them (a subprocess got a fixed copy too).
_CLEARED_VARS = ("AIRSEAL_DEBUG", "AIRSEAL_KEY_PASSPHRASE")


@dataclass
class CliResult:
    """What a CLI run produced: the shape of subprocess.CompletedProcess that tests read."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str


@dataclass
class SoftHsm:
    """One temporary SoftHSM token store with one initialized token.

    `root` is the test's working directory (artifacts, PEM files); the store's files live in
    `conf`'s directory.
    """

    root: Path
    conf: Path
    module: str
    label: str = TOKEN_LABEL
    pin: str = USER_PIN
    env: dict[str, str] = field(default_factory=dict)
    keys: dict[str, CliResult] = field(default_factory=dict)
    """Shared stores only: key type -> the `hsm keygen` run that made label `key-<type>`."""

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

    def run(self, *args: str, env: dict[str, str | None] | None = None, input: bytes | None = None,
            cwd: Path | None = None, timeout: float = 120) -> CliResult:
        """`airseal ARGS` in this process, against this store, as a fresh process would see it.

        The store's variables and `env` (None removes a variable) are set for the call only;
        stdin is not a terminal; an exception that escapes the CLI becomes exit 1 with its
        traceback on stderr, which is what the interpreter would print. `timeout` is accepted
        for signature compatibility with `spawn`.
        """
        from click.testing import CliRunner

        from hsm.token import close_all
        from verifier.cli.entry import main as entry_main

        overrides: dict[str, str | None] = {k: self.env.get(k) for k in _STORE_VARS}
        overrides.update(dict.fromkeys(_CLEARED_VARS))
        overrides.update(env or {})
        patch = pytest.MonkeyPatch()
        code: int = 0
        try:
            patch.chdir(cwd or self.root)
            patch.setattr(sys, "argv", ["airseal", *args])
            close_all()  # no session survives from an earlier call: C_Initialize re-reads the conf
            with CliRunner().isolation(input=input, env=overrides) as (out, err, _):
                try:
                    entry_main()
                except SystemExit as exc:
                    if exc.code is None or isinstance(exc.code, int):
                        code = exc.code or 0
                    else:
                        print(exc.code, file=sys.stderr)
                        code = 1
                except Exception:
                    traceback.print_exc(file=sys.stderr)
                    code = 1
                finally:
                    sys.stdout.flush()
                    sys.stderr.flush()
                stdout = out.getvalue().decode("utf-8", "replace")
                stderr = err.getvalue().decode("utf-8", "replace")
        finally:
            close_all()
            patch.undo()
        return CliResult(["airseal", *args], code, stdout, stderr)

    def spawn(self, *args: str, env: dict[str, str | None] | None = None, input: bytes | None = None,
              cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run `python -m verifier ARGS` in a subprocess against this store; stdin is never a terminal."""
        full_env: dict[str, str | None] = dict(self.env)
        if env:
            full_env.update(env)
        clean = {k: v for k, v in full_env.items() if v is not None}
        return subprocess.run(
            [sys.executable, "-m", "verifier", *args],
            env=clean, cwd=cwd or self.root, capture_output=True, text=True,
            input=input.decode() if input else None, timeout=timeout,
            stdin=None if input else subprocess.DEVNULL,
        )

    def keygen(self, label: str, key_type: str, **extra: str) -> CliResult:
        result = self.run("hsm", "keygen", self.uri(object=label, **extra), "--type", key_type)
        assert result.returncode == 0, result.stderr
        return result

    def key(self, key_type: str) -> str:
        """Shared stores: the URI of key `key-<type>`, generated (once) on first request."""
        label = f"key-{key_type}"
        if key_type not in self.keys:
            self.keys[key_type] = self.keygen(label, key_type)
        return self.uri(object=label)


def _skip_without_softhsm() -> str:
    if SOFTHSM_MODULE is None or shutil.which("softhsm2-util") is None:
        pytest.skip("SoftHSM2 not installed (apt-get install softhsm2)")
    return SOFTHSM_MODULE


def _new_store(base: Path, workdir: Path, home: Path) -> SoftHsm:
    """A store under `base` with token TOKEN_LABEL initialized; sets no process environment."""
    module = _skip_without_softhsm()
    root = base / "softhsm"
    tokens = root / "tokens"
    tokens.mkdir(parents=True)
    conf = root / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n"
        "slots.removable = false\n"
    )
    workdir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        SOFTHSM2_CONF=str(conf),
        AIRSEAL_PKCS11_MODULE=module,
        AIRSEAL_PKCS11_PIN=USER_PIN,
        PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""),
        AIRSEAL_HOME=str(home),
    )
    for var in _CLEARED_VARS:
        env.pop(var, None)
    store = SoftHsm(root=workdir, conf=conf, module=module, env=env)
    store.init_token(TOKEN_LABEL)
    return store


def _activate(store: SoftHsm, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point this test's in-process library calls at `store` (env is read at C_Initialize)."""
    monkeypatch.setenv("SOFTHSM2_CONF", str(store.conf))
    monkeypatch.setenv("AIRSEAL_PKCS11_MODULE", store.module)
    monkeypatch.setenv("AIRSEAL_PKCS11_PIN", USER_PIN)
    monkeypatch.setenv("AIRSEAL_HOME", store.env["AIRSEAL_HOME"])
    monkeypatch.delenv("AIRSEAL_PKCS11_PIN_UNUSED", raising=False)


def _make_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SoftHsm:
    store = _new_store(tmp_path, tmp_path / "softhsm", tmp_path / "airseal-home")
    _activate(store, monkeypatch)
    return store


@pytest.fixture
def softhsm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A fresh SoftHSM store with token 'airseal-test' (PIN USER_PIN); in-process state reset."""
    from hsm.token import close_all

    close_all()
    store = _make_store(tmp_path, monkeypatch)
    yield store
    close_all()


@pytest.fixture(scope="module")
def _module_softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsm]:
    """One store per test module; its keys are generated on first request (SoftHsm.key).

    Module scope (not the per-test store the other fixture gives) is a deliberate trade: RSA
    keygen on SoftHSM takes seconds, and the tests that use this store only read keys and
    sign, which leaves the token as it was. A test that creates, imports or destroys objects
    must use `softhsm` instead.
    """
    from hsm.token import close_all

    base = tmp_path_factory.mktemp("shared-softhsm")
    store = _new_store(base, base / "work", base / "airseal-home")
    yield store
    close_all()


@pytest.fixture
def shared_softhsm(_module_softhsm: SoftHsm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The module's shared store, seen from this test: own working directory and AIRSEAL_HOME."""
    from hsm.token import close_all

    env = dict(_module_softhsm.env, AIRSEAL_HOME=str(tmp_path / "airseal-home"))
    store = dataclasses.replace(_module_softhsm, root=tmp_path / "work", env=env)
    store.keys = _module_softhsm.keys  # the same cache: keys made by any test stay made
    store.root.mkdir()
    close_all()
    _activate(store, monkeypatch)
    yield store
    close_all()


def assert_no_pin(result: Any, pin: str = USER_PIN) -> None:
    assert pin not in (result.stdout or ""), "PIN leaked to stdout"
    assert pin not in (result.stderr or ""), "PIN leaked to stderr"


def run_plain(args: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, **kwargs)
