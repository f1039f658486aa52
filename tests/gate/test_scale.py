"""The gate past one machine: `--shard K/N` + `gate merge`, and `--dask` (docs/gate.md section 7).

Sharded, Dask and plain runs of one tree must give byte-identical results.jsonl once sorted,
the same notices, and the same summaries apart from times and the shard field.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.gate.conftest import gate_command, gate_env, read_summary, run_gate
from tests.gate.tree import EXPECTED, Tree, add_bulk, build_tree
from verifier._internal.gate.shard import Shard, parse_shard, shard_of

TIMES = ("started_at", "finished_at")


def sorted_rows(report: Path) -> list[str]:
    return sorted((report / "results.jsonl").read_text().splitlines())


def sorted_notices(report: Path) -> list[str]:
    return sorted((report / "notices.jsonl").read_text().splitlines())


def same_summary(a: dict[str, Any], b: dict[str, Any], *also: str) -> None:
    ignore = set(TIMES) | {"shard", *also}
    assert {k: v for k, v in a.items() if k not in ignore} == {k: v for k, v in b.items() if k not in ignore}


# --- the hash -------------------------------------------------------------------------------------------


def test_shard_of_is_the_documented_hash() -> None:
    for path in ("pypi/good-1.0-py3-none-any.whl", "a", "dir/ünïcode.bin", "x" * 300):
        for n in (1, 2, 3, 7, 64, 1000):
            want = int.from_bytes(hashlib.sha256(path.encode()).digest()[:8], "big") % n + 1
            assert shard_of(path, n) == want
    # Fixed values: the same on every machine, Python version and run (never hash()).
    assert [shard_of(f"f{i}", 4) for i in range(8)] == [2, 1, 2, 1, 3, 1, 4, 4]
    assert shard_of("pypi/good-1.0-py3-none-any.whl", 3) == 2
    assert shard_of("release/a.tar.gz", 5) == 5
    # Undecodable name bytes (surrogateescape) hash as the bytes they are.
    assert shard_of("bad\udcff", 7) == int.from_bytes(hashlib.sha256(b"bad\xff").digest()[:8], "big") % 7 + 1


def test_parse_shard() -> None:
    assert parse_shard("1/1") == Shard(1, 1)
    assert parse_shard("3/8") == Shard(3, 8) and str(Shard(3, 8)) == "3/8"
    for bad in ("0/2", "3/2", "1/0", "1", "a/b", "-1/2", "1/2/3", ""):
        assert parse_shard(bad) is None, bad


def test_every_path_in_exactly_one_shard() -> None:
    paths = [f"d{i % 17}/f{i}.bin" for i in range(2000)]
    for n in (1, 2, 5):
        counts = [sum(Shard(k, n).holds(p) for k in range(1, n + 1)) for p in paths]
        assert set(counts) == {1}


# --- shards and merge -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sharded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One tree, judged plain (--jobs 2) and as 3 shard processes (--jobs 1 each, in parallel)."""
    base = tmp_path_factory.mktemp("sharded")
    tree = build_tree(base)
    add_bulk(tree, 60)
    env = gate_env(base)
    common = ["--policy", str(tree.policy), "--progress", "off"]
    plain = run_gate(base, *common, "--jobs", "2", "--report", str(base / "plain"), str(tree.root), env=env)
    assert plain.returncode == 1, plain.stderr
    n = 3
    procs = [
        subprocess.Popen(
            gate_command([*common, "--jobs", "1", "--shard", f"{k}/{n}", "--report", str(base / "r" / str(k)), str(tree.root)]),
            env=env, cwd=base, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
        )
        for k in range(1, n + 1)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode in (0, 1), err
        assert "Traceback" not in err
    return {"base": base, "tree": tree, "env": env, "n": n, "plain": base / "plain"}


@pytest.mark.slow
@pytest.mark.subprocess
def test_shards_plus_merge_equal_one_run(sharded: dict[str, Any]) -> None:
    base, n = sharded["base"], sharded["n"]
    shards = [base / "r" / str(k) for k in range(1, n + 1)]
    totals = 0
    for k, report in enumerate(shards, start=1):
        summary = read_summary(report)
        assert summary["shard"] == f"{k}/{n}"
        for line in sorted_rows(report):
            assert shard_of(json.loads(line)["path"], n) == k
        totals += summary["total"]
    plain = read_summary(sharded["plain"])
    assert totals == plain["total"] == len(EXPECTED) + 60

    merged = base / "merged"
    result = run_gate(base, "merge", *map(str, shards), "--report", str(merged), env=sharded["env"])
    assert result.returncode == 1, result.stderr  # the tree has failures, as the plain run
    assert "merged from 3 shard reports" in result.stdout
    assert sorted_rows(merged) == sorted_rows(sharded["plain"])
    assert sorted_notices(merged) == sorted_notices(sharded["plain"])
    summary = read_summary(merged)
    assert summary["shard"] is None and summary["complete"] is True
    same_summary(summary, plain, "jobs")
    assert summary["jobs"] == n and plain["jobs"] == 2  # the workers of every shard
    for name in ("junit.xml", "report.html", "summary.json", "results.jsonl", "notices.jsonl"):
        assert (merged / name).is_file()
    junit = (merged / "junit.xml").read_text()
    assert f'tests="{plain["total"]}" failures="{plain["failed"]}"' in junit
    # the DSSE attestation covering files of several shards was checked in each shard
    rows = {json.loads(line)["path"]: json.loads(line) for line in sorted_rows(merged)}
    attested = ("release/a.tar.gz", "release/b.tar.gz", "release/sub/c.tar.gz", "release/d.tar.gz")
    assert len({shard_of(p, n) for p in attested}) > 1, "the test wants an attestation spanning shards"
    assert [rows[p]["verdict"] for p in attested] == ["pass", "pass", "pass", "fail"]
    assert {rows[p]["evidence"] for p in attested} == {"release/release.intoto.jsonl"}


def _copy_shards(sharded: dict[str, Any], dest: Path) -> list[Path]:
    out = []
    for k in range(1, sharded["n"] + 1):
        target = dest / str(k)
        shutil.copytree(sharded["base"] / "r" / str(k), target)
        out.append(target)
    return out


def _edit_summary(report: Path, **changes: Any) -> None:
    summary = read_summary(report)
    summary.update(changes)
    (report / "summary.json").write_text(json.dumps(summary))


@pytest.mark.slow
@pytest.mark.subprocess
@pytest.mark.parametrize(
    "case,message",
    [
        ("missing", "missing shard report(s): 2/3"),
        ("duplicate", "given twice"),
        ("other_n", "different shard counts"),
        ("other_policy", "different policy_sha256"),
        ("other_trust", "different trusted_root_sha256"),
        ("incomplete", "is incomplete"),
        ("not_a_shard", "not a shard report"),
        ("wrong_row", "does not belong to shard"),
    ],
)
def test_merge_refuses(sharded: dict[str, Any], tmp_path: Path, case: str, message: str) -> None:
    s1, s2, s3 = _copy_shards(sharded, tmp_path / "in")
    dirs = [s1, s2, s3]
    if case == "missing":
        dirs = [s1, s3]
    elif case == "duplicate":
        dirs = [s1, s2, s3, s2]
    elif case == "other_n":
        _edit_summary(s3, shard="3/4")
    elif case == "other_policy":
        _edit_summary(s2, policy_sha256="0" * 64)
    elif case == "other_trust":
        _edit_summary(s2, trusted_root_sha256=["1" * 64])
    elif case == "incomplete":
        _edit_summary(s2, complete=False, interrupted="SIGTERM")
    elif case == "not_a_shard":
        dirs = [s1, s2, s3, sharded["plain"]]
    elif case == "wrong_row":
        rows = (s1 / "results.jsonl").read_text()
        (s2 / "results.jsonl").write_text((s2 / "results.jsonl").read_text() + rows.splitlines()[0] + "\n")
    out = tmp_path / "merged"
    result = run_gate(tmp_path, "merge", *map(str, dirs), "--report", str(out), env=sharded["env"])
    assert result.returncode == 3, result.stdout + result.stderr
    assert message in result.stderr and "gate.merge_refused" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()
    if case == "incomplete":  # --mode warn merges it, marked incomplete, exit 0
        warned = run_gate(tmp_path, "merge", *map(str, dirs), "--report", str(out), "--mode", "warn", env=sharded["env"])
        assert warned.returncode == 0, warned.stderr
        summary = read_summary(out)
        assert summary["complete"] is False and "2/3" in summary["interrupted"]


# --- dask -----------------------------------------------------------------------------------------------

needs_dask = pytest.mark.skipif(
    __import__("importlib").util.find_spec("distributed") is None, reason="needs the dask extra: pip install 'airseal[dask]'"
)


@pytest.mark.slow
@pytest.mark.subprocess
def test_dask_without_dask_installed_exits_2(tree: Tree, tmp_path: Path) -> None:
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "distributed.py").write_text("raise ImportError('hidden by the test')\n")
    (shim / "sitecustomize.py").write_text(
        "import importlib.util, sys\n"
        "_real = importlib.util.find_spec\n"
        "def _find(name, package=None):\n"
        "    return None if name.split('.')[0] in ('dask', 'distributed') else _real(name, package)\n"
        "importlib.util.find_spec = _find\n"
    )
    env = gate_env(tmp_path)
    env["PYTHONPATH"] = str(shim) + os.pathsep + env["PYTHONPATH"]
    result = run_gate(tmp_path, "--policy", str(tree.policy), "--dask", "local", str(tree.root), env=env)
    assert result.returncode == 2, result.stderr
    assert "pip install 'airseal[dask]'" in result.stderr


@needs_dask
@pytest.mark.slow
@pytest.mark.subprocess
@pytest.mark.loopback
@pytest.mark.parametrize("how", ["address", "local:2"])
def test_dask_local_cluster_equals_one_run(sharded: dict[str, Any], tmp_path: Path, how: str) -> None:
    from distributed import LocalCluster

    tree: Tree = sharded["tree"]
    report = tmp_path / "dask"
    args = ["--policy", str(tree.policy), "--progress", "off", "--report", str(report), "--dask-partition", "8"]
    if how == "address":
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                          host="127.0.0.1") as cluster:
            result = run_gate(tmp_path, *args, "--dask", cluster.scheduler_address, str(tree.root), env=sharded["env"])
    else:
        result = run_gate(tmp_path, *args, "--dask", how, str(tree.root), env=sharded["env"])
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert sorted_rows(report) == sorted_rows(sharded["plain"])
    assert sorted_notices(report) == sorted_notices(sharded["plain"])
    summary = read_summary(report)
    same_summary(summary, read_summary(sharded["plain"]))  # jobs: 2 worker threads == --jobs 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


@needs_dask
@pytest.mark.slow
@pytest.mark.subprocess
@pytest.mark.loopback
def test_dask_worker_killed_mid_run_loses_nothing(tmp_path: Path) -> None:
    from distributed import Client

    tree = build_tree(tmp_path, with_specials=False)
    bulk = add_bulk(tree, 6000, per_dir=500)
    expected = set(bulk) | {p for p, (_, r) in EXPECTED.items() if r != "gate.unsafe_file"}
    port = _free_port()
    env = gate_env(tmp_path, DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES="1")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(subprocess.Popen([_bin("dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                       "--no-dashboard"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        address = f"tcp://127.0.0.1:{port}"
        procs.append(subprocess.Popen([_bin("dask"), "worker", address, "--nworkers", "2", "--nthreads", "1",
                                       "--no-dashboard"], env=env, cwd=tmp_path,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
            report = tmp_path / "report"
            gate = subprocess.Popen(
                gate_command(["--policy", str(tree.policy), "--progress", "off", "--report", str(report),
                              "--dask", address, "--dask-partition", "40", str(tree.root)]),
                env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
            )
            killed = None
            deadline = time.monotonic() + 120
            while killed is None and time.monotonic() < deadline and gate.poll() is None:
                busy = {w: keys for w, keys in client.processing().items() if any("airseal-part" in str(k) for k in keys)}
                if busy and len(busy) == 2:
                    victim = sorted(busy)[0]
                    assert victim in client.scheduler_info()["workers"]
                    pid = client.run(os.getpid, workers=[victim])[victim]
                    os.kill(pid, signal.SIGKILL)
                    killed = (victim, pid)
                    break
                time.sleep(0.01)
            out, err = gate.communicate(timeout=300)
            # tasks that were running on the killed worker: the scheduler marked them suspicious
            # and ran them again elsewhere
            suspicious = client.run_on_scheduler(
                lambda dask_scheduler: sum(tp.suspicious for name, tp in dask_scheduler.task_prefixes.items()
                                           if name.startswith("airseal-part")))
        assert killed is not None, "the run ended before a worker could be killed: make the tree bigger"
        assert suspicious >= 1, "no partition was running on the killed worker"
        assert gate.returncode == 1, err  # the outcome tree's failures
        assert "Traceback" not in err
        lines = (report / "results.jsonl").read_text().splitlines()
        paths = [json.loads(line)["path"] for line in lines]
        assert len(paths) == len(set(paths)), "an artifact reported twice"
        assert set(paths) == expected, "an artifact lost"
        for row in map(json.loads, lines):
            # a partition whose worker died is retried (and passes); one that fails twice is gate.worker_lost
            want = EXPECTED.get(row["path"], ("pass", None))
            assert (row["verdict"], row["reason_code"]) in (want, ("fail", "gate.worker_lost")), row
        summary = read_summary(report)
        assert summary["complete"] is True and summary["total"] == len(expected)
        print(f"killed {killed}; {suspicious} partition(s) rerun; by_reason {summary['by_reason']}")
    finally:
        for proc in reversed(procs):
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


@needs_dask
@pytest.mark.slow
@pytest.mark.loopback
def test_dask_stream_answers_every_chunk_once_even_when_tasks_fail() -> None:
    """The streaming loop: each chunk is answered exactly once, by its result or, when its task
    fails for good (here: raises every time, so retries=1 does not help), as lost."""
    import operator
    import types

    from distributed import Client, LocalCluster

    from verifier._internal.gate.dask_engine import _stream

    stop = types.SimpleNamespace(signum=None)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, host="127.0.0.1") as cluster, \
            Client(cluster) as client:
        chunks = [[i, i + 1] for i in range(0, 40, 2)]
        done: list[Any] = []
        lost: list[Any] = []
        why = _stream(client, operator.add, [0], iter(chunks), "t-ok", 3, stop,
                      lambda c, a: done.append((c, a)), lambda c, w: lost.append((c, w)))
        assert why is None and lost == []
        assert sorted(c[0] for c, _ in done) == list(range(0, 40, 2))
        assert all(a == [0, *c] for c, a in done)

        done.clear()
        why = _stream(client, operator.truediv, "x", iter(chunks), "t-fail", 3, stop,
                      lambda c, a: done.append((c, a)), lambda c, w: lost.append((c, w)))
        assert why is None and done == []
        assert sorted(c[0] for c, _ in lost) == list(range(0, 40, 2))
        assert all("TypeError" in w for _, w in lost)


def test_hash_fd_is_the_one_hasher(tmp_path: Path) -> None:
    from verifier._internal.artifact import hash_fd, hash_file
    from verifier._internal.limits import DEFAULT_LIMITS

    data = os.urandom(2 * DEFAULT_LIMITS.hash_chunk_bytes + 5)
    path = tmp_path / "a"
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    try:
        got = hash_fd(fd, ("sha256", "sha512"))
    finally:
        os.close(fd)
    assert got == {"sha256": hashlib.sha256(data).digest(), "sha512": hashlib.sha512(data).digest()}
    assert hash_file(path, ("sha256",)) == {"sha256": hashlib.sha256(data).digest()}
    read, write = os.pipe()  # a pipe (process substitution) is read as it comes
    os.write(write, b"piped")
    os.close(write)
    try:
        assert hash_fd(read, ("sha256",))["sha256"] == hashlib.sha256(b"piped").digest()
    finally:
        os.close(read)
