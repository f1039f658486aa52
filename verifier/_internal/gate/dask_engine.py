"""Judging on a `dask.distributed` cluster: `airseal gate --dask SCHEDULER`.

Imported only when `--dask` is given (dask is the optional extra `airseal[dask]`). The walk,
the report and the counters stay in this process, exactly as for the process pool; only the
judging moves:

- **Plan once per worker.** The compiled policy (rules, keys, trusted roots) goes to the
  scheduler once, as a worker plugin (`Client.register_plugin`) that every worker, and every
  worker that joins or is restarted later, runs once: it parses the plan into a per-process
  cache keyed by the plan's digest. Tasks carry only that digest, never the plan.
- **Partitions, not files.** Artifacts go in partitions of 64-512 paths (`--dask-partition`),
  at most `4 x threads` partitions in flight: the scheduler holds a bounded number of tasks
  whatever the tree size, and its load per artifact is constant.
- **Paths, not bytes.** A task carries paths; the worker opens each file where it is (the
  shared filesystem, mounted at the same path on every worker), so no artifact byte goes
  through the scheduler or this process.
- **Results stream back** (`as_completed`) into the same sink as the pool's rows; the
  progress line counts what the cluster has judged.
- **Lost workers.** A task whose worker dies is rescheduled by Dask (`--dask local` sets the
  scheduler's `allowed-failures` to 1; an external scheduler uses its own setting), and a task
  that raises is retried once (`retries=1`). A partition that still fails is reported as
  failed, one `gate.worker_lost` row per artifact: never dropped.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any, Optional

import dask
import distributed
from distributed.diagnostics.plugin import WorkerPlugin

from verifier._internal.gate.judge import WorkerPlan, compile_plan, judge_batch, using_state, verify_attestation
from verifier._internal.gate.run import GateOptions, attestation_tasks, batches, lost_row, signal_name
from verifier.errors import Reason

_dist: Any = distributed  # dask.distributed's API is only partly typed: used untyped here
Client = Any
Future = Any


LOW_LEVEL_LOG_LENGTH = 16


class DaskProblem(Exception):
    """The cluster cannot be used: bad address, unreachable scheduler, no workers (exit 2)."""


# --- worker side ------------------------------------------------------------------------------------

_PLANS: dict[str, dict[str, Any]] = {}
"""In each worker process: plan digest -> compiled plan (keys and trusted roots parsed once)."""
_PLANS_LOCK = threading.Lock()


def _install(digest: str, plan: WorkerPlan) -> dict[str, Any]:
    with _PLANS_LOCK:
        state = _PLANS.get(digest)
        if state is None:
            state = compile_plan(plan)
            _PLANS[digest] = state
        return state


class GatePlanPlugin(WorkerPlugin):
    """Sent to the scheduler once; run once by each worker (also those that join later)."""

    def __init__(self, digest: str, plan: WorkerPlan) -> None:
        self.digest = digest
        self.plan = plan

    def setup(self, worker: Any) -> None:
        _install(self.digest, self.plan)

    def teardown(self, worker: Any) -> None:
        with _PLANS_LOCK:
            _PLANS.pop(self.digest, None)


def _plan_state(digest: str) -> dict[str, Any]:
    state = _PLANS.get(digest)
    if state is None:
        raise RuntimeError(f"airseal gate plan {digest[:16]} is not installed on this worker (plugin missing)")
    return state


def judge_partition(digest: str, items: list[Any]) -> list[dict[str, Any]]:
    """Runs on a worker: one row per artifact of the partition, read where it lies."""
    with using_state(_plan_state(digest)):
        rows = judge_batch(items)
    for row in rows:
        if row.get("_stat"):
            row["_stat"][0] = None  # st_dev is per machine: the parent compares inode, size, mtime
    return rows


def verify_attestations_task(digest: str, chunk: list[Any]) -> list[dict[str, Any]]:
    """Runs on a worker: attestation envelopes, each under one rule; one verdict each."""
    with using_state(_plan_state(digest)):
        return [verify_attestation(*args) for _, _, args in chunk]


# --- this process -------------------------------------------------------------------------------------


def _connect(address: str) -> tuple[Any, Any]:
    """`local` or `local:N`: a LocalCluster of N worker processes (1 thread each); else an address."""
    # distributed keeps the last `low-level-log-length` (default 1,000) messages of every batched
    # connection for debugging, whole: with partitions of paths, that is up to 1,000 partitions
    # per connection. Keep a few (this process's connection to the scheduler, and a LocalCluster's
    # scheduler and workers); an external scheduler needs DASK_DISTRIBUTED__ADMIN__LOW_LEVEL_LOG_LENGTH.
    dask.config.set({"distributed.admin.low-level-log-length": LOW_LEVEL_LOG_LENGTH})
    if address == "local" or address.startswith("local:"):
        count_text = address.partition(":")[2]
        if count_text and not count_text.isdigit():
            raise DaskProblem(f"--dask {address}: expected local or local:N (N worker processes)")
        count = int(count_text) if count_text else _cores()
        if not 1 <= count <= 512:
            raise DaskProblem(f"--dask {address}: between 1 and 512 workers")
        # A partition whose worker dies is tried once more, then reported as gate.worker_lost.
        with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
            cluster = _dist.LocalCluster(
                n_workers=count, threads_per_worker=1, processes=True, dashboard_address=None,
                host="127.0.0.1", silence_logs=50,
            )
        return _dist.Client(cluster), cluster
    try:
        client = _dist.Client(address, timeout=30)
    except (OSError, ValueError, TimeoutError) as exc:
        raise DaskProblem(f"--dask {address}: cannot reach the dask scheduler: {exc}") from exc
    return client, None


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _threads(client: Client, wait_s: float = 30.0) -> int:
    """Threads of the cluster's workers, waiting (a while) for a first worker."""
    deadline = time.monotonic() + wait_s
    while True:
        workers = client.scheduler_info().get("workers", {})
        threads = sum(int(w.get("nthreads", 1)) for w in workers.values())
        if threads:
            return threads
        if time.monotonic() > deadline:
            raise DaskProblem("the dask cluster has no worker (waited 30 s)")
        time.sleep(0.2)


def partition_size(options: GateOptions, artifacts: int, threads: int) -> int:
    """About 8 partitions per thread, each of 64-512 artifacts (`--dask-partition` overrides)."""
    if options.partition > 0:
        return options.partition
    limits = options.limits
    return max(limits.gate_dask_min_partition, min(limits.gate_dask_max_partition, artifacts // max(1, threads * 8)))


def judge_dask(
    options: GateOptions, plan: WorkerPlan, index: Any, sink: Any, stop: Any, progress: Any, skip: Any
) -> tuple[int, Optional[str], int]:
    """Returns (0, None or why the run stopped early, the cluster's threads)."""
    client, cluster = _connect(options.dask or "local")
    run = uuid.uuid4().hex[:12]
    plugin_name = f"airseal-gate-{run}"
    registered = False
    try:
        threads = _threads(client)
        digest = hashlib.sha256(pickle.dumps(plan, protocol=4)).hexdigest()
        client.register_plugin(GatePlanPlugin(digest, plan), name=plugin_name)
        registered = True
        max_inflight = max(2, threads * options.limits.gate_dask_inflight_per_thread)
        size = partition_size(options, index.artifacts, threads)

        # 1. Attestation envelopes, once each per rule, before the files that need them; in
        #    partitions too (a mirror may hold millions of attestations).
        verdicts: dict[Any, dict[str, Any]] = {}
        todo = attestation_tasks(options, index)
        step = max(1, min(size, -(-len(todo) // max_inflight)))  # spread over every worker thread
        chunks = (todo[i : i + step] for i in range(0, len(todo), step))

        def att_done(chunk: list[Any], answers: list[dict[str, Any]]) -> None:
            for (key, position, _), verdict in zip(chunk, answers):
                verdicts[(key, position)] = verdict

        def att_lost(chunk: list[Any], why: str) -> None:
            for key, position, _ in chunk:
                verdicts[(key, position)] = {
                    "ok": False, "reason_code": Reason.GATE_WORKER_LOST.value,
                    "message": f"the worker verifying this attestation died: {why}", "check": None, "context": {},
                }

        why = _stream(client, verify_attestations_task, digest, chunks, f"airseal-att-{run}", max_inflight, stop,
                      att_done, att_lost)
        if why is not None:
            return 0, why, threads

        # 2. Partitions of artifacts, a bounded number in flight, rows as they complete.
        def rows_done(batch: list[Any], rows: list[dict[str, Any]]) -> None:
            for row in rows:
                sink.row(row)
            progress.tick(sink.done, sink.failed)

        def rows_lost(batch: list[Any], why: str) -> None:
            for item, _ in batch:
                sink.row(lost_row(item, why))

        work = batches(options, index, sink, verdicts, skip, size)
        why = _stream(client, judge_partition, digest, work, f"airseal-part-{run}", max_inflight, stop, rows_done, rows_lost)
        return 0, why, threads
    finally:
        if registered:
            try:
                client.unregister_worker_plugin(plugin_name)
            except Exception:  # noqa: S110 - the cluster may be gone; nothing to undo then
                pass
        client.close()
        if cluster is not None:
            cluster.close()


def _stream(
    client: Any,
    function: Any,
    digest: str,
    chunks: Iterator[list[Any]],
    prefix: str,
    max_inflight: int,
    stop: Any,
    done: Any,
    lost: Any,
) -> Optional[str]:
    """Submit `function(digest, chunk)` for each chunk, at most `max_inflight` at once; hand
    each answer to `done(chunk, answer)` as it completes, or `lost(chunk, why)` when its task
    failed for good. Every chunk is answered exactly once. Returns None, or why it stopped."""
    inflight: dict[Any, list[Any]] = {}
    ac = _dist.as_completed()
    serial = 0
    exhausted = False
    while True:
        while not exhausted and not stop.signum and len(inflight) < max_inflight:
            chunk = next(chunks, None)
            if chunk is None:
                exhausted = True
                break
            serial += 1
            fut = client.submit(function, digest, chunk, key=f"{prefix}-{serial}", retries=1, pure=False)
            inflight[fut] = chunk
            ac.add(fut)
        if not inflight:
            return None
        for fut in _next_finished(ac, stop):
            chunk = inflight.pop(fut, None)
            if chunk is None:
                continue  # already answered: never twice
            try:
                answer = fut.result()
            except Exception as exc:  # KilledWorker (failed twice), CancelledError, an exception raised twice
                lost(chunk, f"{_describe(exc)} (task {fut.key})")
            else:
                done(chunk, answer)
            fut.release()
        if stop.signum:
            client.cancel(list(inflight))
            return signal_name(stop.signum)
        if client.status != "running":
            for chunk in inflight.values():
                lost(chunk, "the connection to the dask scheduler was lost")
            return "lost the dask scheduler"


def _next_finished(ac: Any, stop: Any) -> list[Future]:
    """What has finished, waiting (and watching for SIGINT/SIGTERM) until something has."""
    while True:
        got: list[Future] = list(ac.next_batch(block=False))
        if got or stop.signum or ac.is_empty():
            return got
        with ac.thread_condition:
            ac.thread_condition.wait(0.25)


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:500]


__all__ = ["DaskProblem", "GatePlanPlugin", "judge_dask", "judge_partition", "partition_size", "verify_attestations_task"]
