"""Nothing followed, nothing lost: symlinks and FIFOs refused, a file changed mid-run caught,
Ctrl-C/SIGTERM leave a whole report marked incomplete (exit 130), a killed worker leaves a
readable report, and a run that dies never replaces the previous report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.gate.conftest import gate_command, gate_env, read_results, read_summary, run_gate
from tests.gate.tree import virtual_sigstore

BIG = 6 * 1024**3
"""Sparse files: no disk used, but hashing one takes seconds, so the run is caught mid-way."""


def _key_tree(base: Path, *, big: int = 0, small: int = 3) -> tuple[Path, Path]:
    """`small` key-signed files (pass under --key) and `big` sparse unsigned files named zz-*."""
    vs = virtual_sigstore()
    root = base / "tree"
    root.mkdir()
    key = base / "key.pem"
    key.write_bytes(vs.public_key_pem())
    for i in range(small):
        data = f"artifact {i}\n".encode()
        (root / f"a{i}.bin").write_bytes(data)
        (root / f"a{i}.bin.sigstore.json").write_text(json.dumps(vs.sign_artifact(data, key_based=True, log=None)))
    for i in range(big):
        with open(root / f"zz-{i}.img", "wb") as fh:
            fh.truncate(BIG)
    return root, key


def _args(root: Path, key: Path, report: Path, *extra: str) -> list[str]:
    return ["--key", str(key), "--min-tlog-entries", "0", "--report", str(report), *extra, str(root)]


def _family(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                children = Path(f"/proc/{p}/task/{tid}/children").read_text().split()
                todo.extend(int(c) for c in children)
        except OSError:
            pass
    return out


def _holder_of(pid: int, suffix: str, timeout: float = 60) -> int:
    """The pid (gate or a worker) that has a file ending in `suffix` open."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in _family(pid):
            try:
                for fd in os.listdir(f"/proc/{p}/fd"):
                    try:
                        if os.readlink(f"/proc/{p}/fd/{fd}").endswith(suffix):
                            return p
                    except OSError:
                        continue
            except OSError:
                continue
        time.sleep(0.02)
    raise AssertionError(f"no process opened *{suffix} within {timeout}s")


def _start(tmp_path: Path, args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        gate_command(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=gate_env(tmp_path), cwd=tmp_path, start_new_session=True, stdin=subprocess.DEVNULL,
    )


needs_proc = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs Linux /proc")


def test_symlinked_directory_is_not_entered(tmp_path: Path) -> None:
    root, key = _key_tree(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.bin").write_bytes(b"outside the tree")
    os.symlink(outside, root / "escape")
    os.symlink("/dev/null", root / "devnull")
    os.mkfifo(root / "pipe")
    report = tmp_path / "report"
    result = run_gate(tmp_path, *_args(root, key, report), timeout=60)
    assert result.returncode == 1, result.stderr
    rows = read_results(report)
    unsafe = {p: r["context"]["file_type"] for p, r in rows.items() if r["reason_code"] == "gate.unsafe_file"}
    assert unsafe == {"escape": "symlink", "devnull": "symlink", "pipe": "fifo"}
    assert not any("secret" in p for p in rows)
    assert sorted(p for p, r in rows.items() if r["verdict"] == "pass") == ["a0.bin", "a1.bin", "a2.bin"]


@needs_proc
@pytest.mark.slow  # the gate hashes all of a 6 GiB sparse file before it finishes (5-20 s)
@pytest.mark.subprocess
def test_a_file_changed_after_hashing_is_caught(tmp_path: Path) -> None:
    root, key = _key_tree(tmp_path, big=1)
    report = tmp_path / "report"
    proc = _start(tmp_path, _args(root, key, report, "--jobs", "1"))
    try:
        _holder_of(proc.pid, "zz-0.img")  # a0.bin was judged: it sorts first
        with open(root / "a0.bin", "ab") as fh:
            fh.write(b"appended after the gate hashed it\n")
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 1, err
    rows = read_results(report)
    assert rows["a0.bin"]["reason_code"] == "gate.artifact_changed"
    assert rows["a0.bin"]["context"]["size_hashed"] < rows["a0.bin"]["context"]["size_now"]
    assert rows["a1.bin"]["verdict"] == "pass"


@needs_proc
@pytest.mark.parametrize("jobs,how", [("2", "SIGINT-group"), ("1", "SIGINT-group"), ("2", "SIGTERM")])
def test_interrupt_writes_an_incomplete_report_and_exits_130(tmp_path: Path, jobs: str, how: str) -> None:
    root, key = _key_tree(tmp_path, big=3, small=40)
    report = tmp_path / "report"
    proc = _start(tmp_path, _args(root, key, report, "--jobs", jobs))
    try:
        _holder_of(proc.pid, ".img")
        if how == "SIGTERM":
            os.kill(proc.pid, signal.SIGTERM)
        else:  # what a terminal's Ctrl-C does: the whole process group
            os.killpg(proc.pid, signal.SIGINT)
        started = time.monotonic()
        out, err = proc.communicate(timeout=60)
        assert time.monotonic() - started < 20, "the gate took too long to stop"
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    summary = read_summary(report)
    assert summary["complete"] is False
    assert summary["interrupted"] == ("SIGTERM" if how == "SIGTERM" else "SIGINT")
    assert summary["total"] < 43
    rows = read_results(report)  # whole JSON lines only
    assert len(rows) == summary["total"]
    assert "INCOMPLETE" in (report / "report.html").read_text()
    assert not [p for p in _family(proc.pid) if p != proc.pid]


@needs_proc
def test_a_killed_worker_leaves_a_readable_report(tmp_path: Path) -> None:
    root, key = _key_tree(tmp_path, big=2, small=20)
    report = tmp_path / "report"
    proc = _start(tmp_path, _args(root, key, report, "--jobs", "2"))
    try:
        worker = _holder_of(proc.pid, ".img")
        assert worker != proc.pid
        os.kill(worker, signal.SIGKILL)
        out, err = proc.communicate(timeout=180)
    finally:
        proc.kill()
    assert proc.returncode in (1, 130), err
    assert "Traceback" not in err
    summary = read_summary(report)
    rows = read_results(report)
    lost = [p for p, r in rows.items() if r["reason_code"] == "gate.worker_lost"]
    assert lost or summary["complete"] is False
    if summary["complete"]:
        assert summary["worker_restarts"] >= 1
        assert len(rows) == 22  # every artifact has a row: judged, or lost with its worker
        assert summary["by_reason"]["gate.worker_lost"] == len(lost)


@needs_proc
def test_a_run_that_dies_keeps_the_previous_report(tmp_path: Path) -> None:
    root, key = _key_tree(tmp_path)
    report = tmp_path / "report"
    assert run_gate(tmp_path, *_args(root, key, report)).returncode == 0
    before = (report / "summary.json").read_bytes()
    with open(root / "zz-0.img", "wb") as fh:
        fh.truncate(BIG)
    proc = _start(tmp_path, _args(root, key, report, "--jobs", "1"))
    try:
        _holder_of(proc.pid, "zz-0.img")
        os.kill(proc.pid, signal.SIGKILL)  # no chance to write anything
        proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert (report / "summary.json").read_bytes() == before
    assert read_summary(report)["complete"] is True
