#!/usr/bin/env python3
"""`airseal gate` past one machine: shards + merge, and Dask, against `--jobs 2`.

Run from the repository root with the project's venv (and the dask extra):

    .venv/bin/python benchmarks/bench_scale.py [-n 10000] [--memory 100000] [--repeat 2]
                                               [--skip-memory] [--hash-mib 512]

Same trees as bench_gate.py (cached under /tmp/airseal-bench-gate-N/ and
/tmp/airseal-bench-gate-mem-M/). Measured:

  a. `airseal gate --jobs 2` (the baseline), wall and rate;
  b. `--dask local:2` (the gate starts a LocalCluster of 2 worker processes: start-up included),
     and `--dask ADDRESS` against a LocalCluster of 2 processes started beforehand;
  c. `--shard 1/2` and `--shard 2/2` (`--jobs 1` each, at the same time) + `gate merge`: wall
     from the start of the shards to the end of the merge;
  d. scheduler load: a `dask scheduler` and `dask worker --nworkers 2 --nthreads 1` as their own
     processes, `--dask ADDRESS` over N and M artifacts: tasks submitted (partitions), peak tasks
     held by the scheduler at once (sampled), and the scheduler process's RSS (VmHWM);
  e. the gate's hasher (`hash_fd`), one core, over a file in the page cache: GB/s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
BIN = Path(sys.executable).parent

from benchmarks.bench_gate import build_memory_tree, build_tree, env_for
from benchmarks.bench_verify import run_measured


def gate(base: Path, tmp: Path, name: str, args: list[str], *, expect_all_pass: bool = True) -> dict[str, Any]:
    report = tmp / name
    cmd = [str(BIN / "airseal"), "gate", *args, "--progress", "off", "--report", str(report)]
    res = run_measured(cmd, env_for(tmp), cwd=base)
    summary = json.loads((report / "summary.json").read_text())
    if res["rc"] != 0 or (expect_all_pass and summary["failed"]):
        raise SystemExit(f"{name}: exit {res['rc']}: {summary['by_reason']} {res['stderr'][-2000:]}")
    return {"wall": res["wall"], "total": summary["total"], "rate": summary["total"] / res["wall"],
            "maxrss_mib": res["maxrss_kib"] / 1024, "report": report}


def sorted_rows(report: Path) -> list[str]:
    return sorted((report / "results.jsonl").read_text().splitlines())


def shards_and_merge(base: Path, tmp: Path, args: list[str], n: int = 2) -> dict[str, Any]:
    env = env_for(tmp)
    started = time.perf_counter()
    procs = [
        subprocess.Popen([str(BIN / "airseal"), "gate", *args, "--jobs", "1", "--progress", "off", "--shard", f"{k}/{n}",
                          "--report", str(tmp / f"shard-{k}")], env=env, cwd=base,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for k in range(1, n + 1)
    ]
    for proc in procs:
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"shard failed: {err.decode()[-2000:]}")
    shards_done = time.perf_counter()
    res = subprocess.run([str(BIN / "airseal"), "gate", "merge", *[str(tmp / f"shard-{k}") for k in range(1, n + 1)],
                          "--report", str(tmp / "merged")], env=env, cwd=base, capture_output=True, check=False)
    if res.returncode != 0:
        raise SystemExit(f"merge failed: {res.stderr.decode()[-2000:]}")
    ended = time.perf_counter()
    total = json.loads((tmp / "merged" / "summary.json").read_text())["total"]
    return {"wall": ended - started, "shards": shards_done - started, "merge": ended - shards_done, "total": total,
            "rate": total / (ended - started), "report": tmp / "merged"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _vm(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def scheduler_load(base: Path, tmp: Path, args: list[str], label: str, log_length: str | None = "16") -> dict[str, Any]:
    """A fresh scheduler and 2 workers (own processes) per measurement. `log_length`: the
    scheduler's `distributed.admin.low-level-log-length` (None: dask's default, 1,000 messages
    kept whole per worker connection, which holds up to 1,000 partitions' paths)."""
    from distributed import Client

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = env_for(tmp)
    env.pop("HTTP_PROXY", None)
    env.pop("HTTPS_PROXY", None)
    if log_length is not None:
        env["DASK_DISTRIBUTED__ADMIN__LOW_LEVEL_LOG_LENGTH"] = log_length
    sched = subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers = subprocess.Popen([str(BIN / "dask"), "worker", address, "--nworkers", "2", "--nthreads", "1", "--no-dashboard"],
                               env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
            rss_idle = _vm(sched.pid, "VmRSS")
            peak_tasks = 0
            stop = threading.Event()

            def sample() -> None:
                nonlocal peak_tasks
                while not stop.is_set():
                    try:
                        n = client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))
                        peak_tasks = max(peak_tasks, n)
                    except Exception:
                        pass
                    time.sleep(0.05)

            thread = threading.Thread(target=sample, daemon=True)
            thread.start()
            r = gate(base, tmp, f"sched-{label}", [*args, "--dask", address])
            stop.set()
            thread.join()

            def prefixes(dask_scheduler: Any) -> dict[str, int]:
                # TaskPrefix.state_counts accumulates transitions: "memory" = tasks that finished.
                return {name: int(tp.state_counts.get("memory", 0)) for name, tp in dask_scheduler.task_prefixes.items()
                        if name.startswith("airseal")}

            try:
                submitted = client.run_on_scheduler(prefixes)
            except Exception as exc:
                submitted = {"error": str(exc)}
        return {"total": r["total"], "wall": r["wall"], "rate": r["rate"], "rss_idle_mib": rss_idle / 1024,
                "gate_rss_mib": r["maxrss_mib"], "log_length": log_length or "1000 (default)",
                "rss_peak_mib": _vm(sched.pid, "VmHWM") / 1024, "peak_tasks": peak_tasks, "submitted": submitted}
    finally:
        for proc in (workers, sched):
            proc.send_signal(signal.SIGTERM)
        for proc in (workers, sched):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def hash_rate(tmp: Path, mib: int) -> float:
    from verifier._internal.artifact import hash_fd

    path = tmp / "hash.bin"
    with open(path, "wb") as fh:
        block = os.urandom(1 << 20)
        for _ in range(mib):
            fh.write(block)
    fd = os.open(path, os.O_RDONLY)
    try:
        hash_fd(fd, ("sha256",))  # warm the page cache
        best = 0.0
        for _ in range(3):
            t = time.perf_counter()
            hash_fd(fd, ("sha256",))
            best = max(best, (mib << 20) / (time.perf_counter() - t) / 1e9)
    finally:
        os.close(fd)
        path.unlink()
    return best


def loadavg() -> list[str]:
    with open("/proc/loadavg") as fh:
        return fh.read().split()[:3]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--memory", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=2, help="runs of a, b, c (best kept)")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--hash-mib", type=int, default=512)
    args = parser.parse_args()
    base = build_tree(args.n, Path(f"/tmp/airseal-bench-gate-{args.n}"))
    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    gate_args = ["--policy", str(base / "policy.toml"), str(base / "tree")]
    try:
        print(f"{os.cpu_count()} cores; load average at the start: {loadavg()}\n")
        best: dict[str, dict[str, Any]] = {}
        ratios: dict[str, list[float]] = {}
        from distributed import LocalCluster

        # b'. a cluster that is already running; every repeat runs each way once, in turn, so that
        # the machine's other load falls on all of them alike
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, host="127.0.0.1") as cluster:
            for _ in range(args.repeat):
                runs = {
                    "jobs2": lambda: gate(base, tmp, "jobs2", [*gate_args, "--jobs", "2"]),
                    "dask-address": lambda: gate(base, tmp, "dask-address", [*gate_args, "--dask", cluster.scheduler_address]),
                    "dask-local2": lambda: gate(base, tmp, "dask-local2", [*gate_args, "--dask", "local:2"]),
                    "shards2": lambda: shards_and_merge(base, tmp, gate_args),
                }
                walls = {}
                for name, run in runs.items():
                    r = run()
                    walls[name] = r["wall"]
                    if name not in best or r["wall"] < best[name]["wall"]:
                        best[name] = r
                for name, wall in walls.items():
                    ratios.setdefault(name, []).append(walls["jobs2"] / wall)
        plain = sorted_rows(best["jobs2"]["report"])
        same = {name: sorted_rows(r["report"]) == plain for name, r in best.items()}
        base_rate = best["jobs2"]["rate"]
        print(f"## a-c. {args.n:,} artifacts (the bench_gate tree), best of {args.repeat}\n")
        print("| run | wall (best) | rate | vs --jobs 2 (best) | vs --jobs 2 (each repeat) | results.jsonl (sorted) = --jobs 2 |"
              "\n| --- | ---: | ---: | ---: | --- | --- |")
        labels = {
            "jobs2": "`gate --jobs 2`",
            "dask-local2": "`gate --dask local:2` (starts the cluster)",
            "dask-address": "`gate --dask ADDRESS` (LocalCluster, 2 processes, running)",
            "shards2": "`--shard 1/2` + `--shard 2/2` (`--jobs 1` each, together) + `gate merge`",
        }
        for name in ("jobs2", "dask-local2", "dask-address", "shards2"):
            r = best[name]
            extra = f" (shards {r['shards']:.1f} s + merge {r['merge']:.2f} s)" if name == "shards2" else ""
            each = ", ".join(f"{x:.2f}" for x in ratios[name])
            print(f"| {labels[name]} | {r['wall']:.1f} s{extra} | {r['rate']:,.0f}/s | {r['rate'] / base_rate:.2f}x | {each} |"
                  f" {'identical' if same[name] else 'DIFFERENT'} |")
        print("\n## d. scheduler load (`dask scheduler` + `dask worker --nworkers 2 --nthreads 1`)\n")
        print("| artifacts | scheduler low-level-log-length | wall | rate | tasks (partitions) run | peak tasks held"
              " | scheduler RSS idle / peak | `airseal gate` peak RSS |\n| ---: | --- | ---: | ---: | --- | ---: | ---: | ---: |")
        loads = [(args.n, base, gate_args)]
        if not args.skip_memory:
            mbase = build_memory_tree(args.memory, Path(f"/tmp/airseal-bench-gate-mem-{args.memory}"))
            loads.append((args.memory, mbase, ["--key", str(mbase / "key.pem"), "--min-tlog-entries", "0", str(mbase / "tree")]))
        for (n, b, a), log_length in [(load, "16") for load in loads] + [(loads[-1], None)]:
            r = scheduler_load(b, tmp, a, str(n), log_length)
            print(f"| {r['total']:,} | {r['log_length']} | {r['wall']:.1f} s | {r['rate']:,.0f}/s | {r['submitted']} |"
                  f" {r['peak_tasks']} | {r['rss_idle_mib']:.0f} / {r['rss_peak_mib']:.0f} MiB | {r['gate_rss_mib']:.0f} MiB |")
        print(f"\n## e. the gate's hasher (hash_fd, SHA-256, 1 core, page cache): {hash_rate(tmp, args.hash_mib):.2f} GB/s")
        print(f"\nload average at the end: {loadavg()}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
