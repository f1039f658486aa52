"""A closed output pipe and SIGINT/SIGTERM, for every command family (verify, sign, attest,
trust, hsm): one central mechanism (cli/common.py, cli/entry.py, the click group).

- stdout closed before the command writes (`airseal X | head -0`, `| true`): exit 141
  (128 + SIGPIPE, as a shell reports it), nothing on stderr, no traceback; work already done
  (bundles written) stays done.
- SIGINT (Ctrl-C) exits 130, SIGTERM 143 (128 + the signal): one line on stderr, no traceback,
  and nothing half-written (no bundle, no temp file).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.subprocess

EX = REPO / "examples" / "public-good"
IDENTITY = ["--certificate-identity-regexp", ".*", "--certificate-oidc-issuer", "https://token.actions.githubusercontent.com"]
BLOCKING_WCHANS = {"wait_for_partner", "pipe_read", "pipe_wait", "sk_wait_data", "inet_csk_accept", "wait_woken",
                   "do_select", "do_sys_poll", "unix_stream_read_generic"}


def _env(tmp_path: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRSEAL_")}
    env["AIRSEAL_HOME"] = str(tmp_path / "home")
    env.update(extra or {})
    return env


def _closed_stdout(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    """Run `airseal ARGS` with a stdout whose reader is already gone."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run([sys.executable, "-m", "verifier", *args], stdout=write_end, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, env=env, cwd=cwd, timeout=120)
    finally:
        os.close(write_end)


def _assert_quiet_pipe_exit(result: subprocess.CompletedProcess[bytes]) -> None:
    stderr = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 141, stderr
    assert "Traceback" not in stderr and "internal error" not in stderr and "BrokenPipe" not in stderr


def _wait_until_busy(proc: subprocess.Popen[bytes], path: Path | None = None, timeout: float = 60) -> None:
    """Until the child has `path` open or is blocked in the kernel (past start-up and imports)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if path is not None:
            try:
                fds = os.listdir(f"/proc/{proc.pid}/fd")
                if any(os.readlink(f"/proc/{proc.pid}/fd/{fd}") == str(path) for fd in fds):
                    return
            except OSError:
                pass
        try:
            wchan = Path(f"/proc/{proc.pid}/wchan").read_text()
            if wchan in BLOCKING_WCHANS or wchan.startswith("poll_schedule_timeout"):
                time.sleep(0.2)
                return
        except OSError:
            pass
        time.sleep(0.05)
    pytest.fail("the command never got busy")


def _interrupt(args: list[str], env: dict[str, str], cwd: Path, sig: int, busy_on: Path | None = None) -> tuple[int, str]:
    proc = subprocess.Popen([sys.executable, "-m", "verifier", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=env, cwd=cwd)
    try:
        _wait_until_busy(proc, busy_on)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, err.decode("utf-8", "replace")


def _assert_interrupted(code: int, stderr: str, sig: int) -> None:
    assert code == 128 + sig, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr and "Aborted" not in stderr
    assert stderr.strip().splitlines()[-1] == f"airseal: interrupted by {signal.Signals(sig).name}"


@pytest.fixture
def huge(tmp_path: Path) -> Path:
    """A sparse 64 GiB file: hashing it keeps a command busy for many seconds."""
    path = tmp_path / "huge.bin"
    with open(path, "wb") as fh:
        fh.truncate(64 << 30)
    return path


# --------------------------------------------------------------------- closed pipes


def test_verify_json_into_a_closed_pipe(tmp_path: Path) -> None:
    args = ["verify", "--bundle", str(EX / "a.txt.sigstore.json"), *IDENTITY, "--json", str(EX / "a.txt")]
    _assert_quiet_pipe_exit(_closed_stdout(args, _env(tmp_path), tmp_path))


@pytest.mark.parametrize("args", [["trust", "list"], ["trust", "show"], ["trust", "show", "--json"]])
def test_trust_into_a_closed_pipe(args: list[str], tmp_path: Path) -> None:
    _assert_quiet_pipe_exit(_closed_stdout(args, _env(tmp_path), tmp_path))


def test_verify_head_1_in_a_shell(tmp_path: Path) -> None:
    import shlex

    argv = [sys.executable, "-m", "verifier", "verify", "--bundle", f"{EX}/a.txt.sigstore.json", *IDENTITY, "--json", f"{EX}/a.txt"]
    cmd = f"{shlex.join(argv)} | head -1; echo \"status ${{PIPESTATUS[0]}}\""
    out = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, env=_env(tmp_path), timeout=120)
    assert out.stdout.splitlines() == ["{", "status 141"] or out.stdout.endswith("status 0\n"), out
    assert "Traceback" not in out.stderr and "internal error" not in out.stderr


@pytest.mark.softhsm
def test_hsm_tokens_into_a_closed_pipe(softhsm: Any) -> None:
    result = _closed_stdout(["hsm", "tokens", "--module", softhsm.module], dict(softhsm.env), softhsm.root)
    _assert_quiet_pipe_exit(result)


@pytest.mark.softhsm
def test_sign_into_a_closed_pipe_still_writes_every_bundle(softhsm: Any) -> None:
    softhsm.keygen("k", "ec-p256")
    files = []
    for name in ("a.txt", "b.txt"):
        (softhsm.root / name).write_text(name)
        files.append(str(softhsm.root / name))
    result = _closed_stdout(["sign", "--key", softhsm.uri(object="k"), *files], dict(softhsm.env), softhsm.root)
    _assert_quiet_pipe_exit(result)
    assert all(Path(f + ".sigstore.json").is_file() for f in files)


@pytest.mark.softhsm
def test_attest_into_a_closed_pipe(softhsm: Any) -> None:
    softhsm.keygen("k", "ec-p256")
    (softhsm.root / "a.txt").write_text("a")
    (softhsm.root / "p.json").write_text("{}")
    args = ["attest", "--key", softhsm.uri(object="k"), "--predicate", str(softhsm.root / "p.json"),
            "--predicate-type", "https://example.com/p/v1", str(softhsm.root / "a.txt")]
    _assert_quiet_pipe_exit(_closed_stdout(args, dict(softhsm.env), softhsm.root))
    assert (softhsm.root / "a.txt.sigstore.json").is_file()


# --------------------------------------------------------------------- signals


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_verify_interrupted_while_hashing(sig: int, huge: Path, tmp_path: Path) -> None:
    args = ["verify", "--bundle", str(EX / "a.txt.sigstore.json"), *IDENTITY, str(huge)]
    _assert_interrupted(*_interrupt(args, _env(tmp_path), tmp_path, sig, busy_on=huge), sig)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_attest_interrupted_while_hashing(sig: int, huge: Path, tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text("{}")
    args = ["attest", "--key", "pkcs11:token=none;object=k", "--predicate", str(tmp_path / "p.json"),
            "--predicate-type", "https://example.com/p/v1", str(huge)]
    _assert_interrupted(*_interrupt(args, _env(tmp_path), tmp_path, sig, busy_on=huge), sig)
    assert not list(tmp_path.glob("huge.bin.sigstore.json*"))


@pytest.mark.softhsm
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_sign_interrupted_writes_nothing(sig: int, softhsm: Any, huge: Path) -> None:
    softhsm.keygen("k", "ec-p256")
    small = softhsm.root / "small.txt"
    small.write_text("signed before the big one")
    args = ["sign", "--key", softhsm.uri(object="k"), str(small), str(huge)]
    _assert_interrupted(*_interrupt(args, dict(softhsm.env), softhsm.root, sig, busy_on=huge), sig)
    leftovers = [p.name for p in list(softhsm.root.iterdir()) + list(huge.parent.iterdir()) if "sigstore" in p.name]
    assert leftovers == []  # all or nothing: not even the small file's bundle, no temp file


@pytest.mark.softhsm
def test_hsm_interrupted_while_waiting_for_a_pin(softhsm: Any) -> None:
    fifo = softhsm.root / "pin.fifo"
    os.mkfifo(fifo)
    softhsm.keygen("k", "ec-p256")
    args = ["hsm", "keys", softhsm.uri(f"pin-source={fifo}")]
    _assert_interrupted(*_interrupt(args, dict(softhsm.env), softhsm.root, signal.SIGINT), signal.SIGINT)


@pytest.mark.loopback
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_trust_update_interrupted_while_waiting_on_the_network(sig: int, tmp_path: Path) -> None:
    with socket.socket() as listener:  # accepts (backlog) but never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        code, err = _interrupt(["trust", "update", "--url", url], _env(tmp_path), tmp_path, sig)
    _assert_interrupted(code, err, sig)
    assert not (tmp_path / "home" / "trust" / "public-good" / "CURRENT").exists()
