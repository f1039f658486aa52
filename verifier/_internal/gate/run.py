"""The gate's orchestrator: walk, judge in a process pool, stream rows to disk, write the report.

Memory stays bounded whatever the tree size: the walk streams (one directory at a time), at
most `jobs * gate_inflight_batches_per_job` batches are in flight, and each row goes straight
to the staging directory's partial results file; only counters stay in memory.

Workers are forked once (`init_worker` parses keys and trusted roots once per process) and
ignore SIGINT; the parent turns SIGINT/SIGTERM into "stop": no new work, pending work
cancelled, workers terminated, the report written with `complete: false`. A worker that dies
breaks the pool: the artifacts it and its peers held are reported as `gate.worker_lost`, a new
pool continues (at most `gate_max_worker_restarts` times), and the run stays complete.
`jobs == 1` judges in this process, with no pool.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional, TextIO

from verifier._internal.gate import report
from verifier._internal.gate.discover import Item, Orphan, Refused, Skip, index_attestations, iter_work
from verifier._internal.gate.judge import WorkerPlan, init_worker, judge_batch, verify_attestation
from verifier._internal.gate.policy import GatePolicy, RuleMatcher
from verifier._internal.gate.shard import Shard
from verifier._internal.limits import DEFAULT_LIMITS, Limits
from verifier._internal.record import Record
from verifier.errors import Reason


class GateOptions(Record):
    roots: tuple[str, ...]
    """Absolute directories to judge."""
    report_dir: Path
    policy: GatePolicy
    trusted_roots: tuple[tuple[str, bytes], ...]
    """The command line's trust (source, bytes), for rules without their own."""
    jobs: int = 1
    enforce: bool = True
    progress: bool = False
    version: str = ""
    limits: Limits = DEFAULT_LIMITS
    shard: Optional[Shard] = None
    """Judge only the artifacts whose relative path hashes to this shard (`--shard K/N`)."""
    dask: Optional[str] = None
    """A dask.distributed scheduler address, or `local[:N]` (`--dask`); None: this machine."""
    partition: int = 0
    """Artifacts per Dask task; 0: chosen from the tree size and the cluster's threads."""


class GateOutcome(Record):
    summary: dict[str, Any]
    report_dir: Path


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Stop:
    """SIGINT/SIGTERM: remember, and interrupt in-process judging (jobs == 1) at once."""

    def __init__(self) -> None:
        self.signum: Optional[int] = None
        self.raise_now = False
        self._saved: dict[int, Any] = {}

    def __enter__(self) -> _Stop:
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._saved[signum] = signal.signal(signum, self._handler)
        return self

    def __exit__(self, *exc: Any) -> None:
        for signum, handler in self._saved.items():
            signal.signal(signum, handler)

    def _handler(self, signum: int, frame: Any) -> None:
        self.signum = signum
        if self.raise_now:
            self.raise_now = False
            raise KeyboardInterrupt


class _Progress:
    """One line on stderr, rewritten at most 4 times a second: done/total, rate, ETA, failures."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled = enabled
        self.total = total
        self.start = time.monotonic()
        self.last = 0.0

    def tick(self, done: int, failed: int, *, final: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not final and now - self.last < 0.25:
            return
        self.last = now
        elapsed = max(now - self.start, 1e-6)
        rate = done / elapsed
        left = max(self.total - done, 0)
        eta = f"{int(left / rate) // 60}:{int(left / rate) % 60:02d}" if rate > 0 else "?"
        pct = f" ({100 * done // self.total}%)" if self.total else ""
        line = f"gate: {done}/{self.total}{pct}  {rate:,.0f}/s  ETA {eta}  {failed} failed"
        sys.stderr.write("\r" + line + "\x1b[K" + ("\n" if final else ""))
        sys.stderr.flush()


class _Sink:
    """Rows and notices, appended to the staging directory as they arrive; counters only."""

    def __init__(self, staging: Path) -> None:
        self.rows: TextIO = open(staging / report.PARTIAL, "w", encoding="utf-8")  # noqa: SIM115 - closed by close()
        self.notices: TextIO = open(staging / report.PARTIAL_NOTICES, "w", encoding="utf-8")  # noqa: SIM115
        self.done = 0
        self.failed = 0

    def row(self, row: dict[str, Any]) -> None:
        self.rows.write(json.dumps(row, sort_keys=True) + "\n")
        self.done += 1
        if row["verdict"] != "pass":
            self.failed += 1

    def notice(self, notice: Orphan) -> None:
        self.notices.write(json.dumps({
            "path": notice.relpath, "root": notice.root, "reason_code": Reason.GATE_ORPHAN_EVIDENCE.value,
            "message": notice.message, "format": notice.format,
        }, sort_keys=True) + "\n")

    def close(self) -> None:
        for fh in (self.rows, self.notices):
            fh.flush()
            os.fsync(fh.fileno())
            fh.close()


def refused_row(entry: Refused) -> dict[str, Any]:
    return {
        "path": entry.relpath, "root": entry.root, "sha256": None, "size": None, "verdict": "fail",
        "reason_code": entry.reason.value, "message": entry.message, "check": "gate.walk",
        "context": {"file_type": entry.kind}, "evidence": None, "format": None, "signer": None,
        "rule": None, "rule_name": None,
    }


def lost_row(item: Item, detail: str) -> dict[str, Any]:
    return {
        "path": item.relpath, "root": item.root, "sha256": None, "size": None, "verdict": "fail",
        "reason_code": Reason.GATE_WORKER_LOST.value, "message": f"the worker judging this file died: {detail}",
        "check": None, "context": {}, "evidence": None, "format": None, "signer": None, "rule": None, "rule_name": None,
    }


def run_gate(
    options: GateOptions,
    *,
    sign_vsa: Optional[Callable[[bytes], bytes]] = None,
    vsa_context: Optional[dict[str, Any]] = None,
) -> GateOutcome:
    """Judge every file under `options.roots`; write and swap in the report directory.

    Raises:
        InputError: the report directory cannot be replaced; input.too_large from the walk.
    """
    limits = options.limits
    report.check_target(options.report_dir)
    started = _now()
    staging = report.create_staging(options.report_dir)
    try:
        with _Stop() as stop:
            sink = _Sink(staging)
            try:
                target = os.path.normpath(str(options.report_dir))
                # Only this run's own report and staging directories: anything else in PATH,
                # even a look-alike leftover of a crashed run, is judged like any file.
                skip = Skip(paths=frozenset({target, os.path.normpath(str(staging))}))
                member = options.shard.holds if options.shard is not None else None
                index = index_attestations(options.roots, limits, skip, member)
                progress = _Progress(options.progress, index.artifacts)
                restarts, interrupted, jobs = _judge_all(options, index, sink, stop, progress, skip)
            finally:
                sink.close()
            progress.tick(sink.done, sink.failed, final=True)
            complete = interrupted is None
            meta = {
                "started_at": started,
                "finished_at": _now(),
                "airseal_version": options.version,
                "shard": None if options.shard is None else str(options.shard),
                "policy": options.policy.source,
                "policy_sha256": options.policy.sha256,
                "trusted_root_sha256": _root_digests(options),
                "roots": list(options.roots),
                "jobs": jobs,
                "mode": "enforce" if options.enforce else "warn",
                "worker_restarts": restarts,
                "interrupted": interrupted,
            }
            if vsa_context is not None:
                vsa_context = {**vsa_context, "roots": list(options.roots), "time_verified": meta["finished_at"]}
            # A second signal while the report is written must not leave it half done.
            stop.raise_now = False
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            summary = report.finalize(
                staging, meta, complete=complete, enforce=options.enforce,
                sign_vsa=sign_vsa, vsa_context=vsa_context, limits=limits,
            )
            report.swap_into_place(staging, options.report_dir)
    except BaseException:
        report.discard(staging)
        raise
    return GateOutcome(summary, options.report_dir)


def _root_digests(options: GateOptions) -> list[str]:
    import hashlib

    seen: list[str] = []
    for _, data in list(options.trusted_roots) + [r for rule in options.policy.rules for r in rule.trusted_roots]:
        digest = hashlib.sha256(data).hexdigest()
        if digest not in seen:
            seen.append(digest)
    return seen


def batches(
    options: GateOptions, index: Any, sink: _Sink, verdicts: dict[Any, dict[str, Any]], skip: Skip,
    size: Optional[int] = None,
) -> Iterator[list[Any]]:
    """Work from the walk (this shard's), batched; refused entries and notices go straight to
    the sink."""
    rules = options.policy.rules
    matcher = RuleMatcher(rules)
    positions = {id(rule): i for i, rule in enumerate(rules)}
    if size is None:
        # Small trees still spread over every worker: about 8 batches per worker, capped.
        size = max(1, min(options.limits.gate_batch_artifacts, index.artifacts // (max(options.jobs, 1) * 8)))
    member = options.shard.holds if options.shard is not None else None
    batch: list[Any] = []
    for work in iter_work(options.roots, index, matcher, positions, skip, member):
        if isinstance(work, Refused):
            sink.row(refused_row(work))
        elif isinstance(work, Orphan):
            sink.notice(work)
        else:
            att = tuple(verdicts.get((ref.key, work.rule)) for ref in work.attestations)
            batch.append((work, att))
            if len(batch) >= size:
                yield batch
                batch = []
    if batch:
        yield batch


def attestation_tasks(options: GateOptions, index: Any) -> list[tuple[Any, int, tuple[str, int, int, str]]]:
    rules = options.policy.rules
    needed = index.rules_needed(RuleMatcher(rules), rules)
    refs = {ref.key: ref for refs in index.by_subject.values() for ref in refs}
    tasks = []
    for key, positions in needed.items():
        ref = refs[key]
        for position in sorted(positions):
            tasks.append((key, position, (ref.abspath, key[2], position, ref.probe_sha256)))
    return tasks


def _judge_all(
    options: GateOptions, index: Any, sink: _Sink, stop: _Stop, progress: _Progress, skip: Skip
) -> tuple[int, Optional[str], int]:
    """Returns (pool restarts, None or the reason the run stopped early, workers used)."""
    plan = WorkerPlan(options.policy.rules, options.trusted_roots, options.limits)
    if options.dask is not None:
        from verifier._internal.gate.dask_engine import judge_dask  # only with --dask: dask is an extra

        return judge_dask(options, plan, index, sink, stop, progress, skip)
    if options.jobs <= 1:
        return 0, _judge_serial(options, plan, index, sink, stop, progress, skip), 1
    return (*_judge_pool(options, plan, index, sink, stop, progress, skip), options.jobs)


def signal_name(signum: Optional[int]) -> str:
    return signal.Signals(signum).name if signum else "interrupted"


def _judge_serial(
    options: GateOptions, plan: WorkerPlan, index: Any, sink: _Sink, stop: _Stop, progress: _Progress, skip: Skip
) -> Optional[str]:
    from verifier._internal.gate.judge import judge_item

    init_worker(plan, in_pool=False)
    verdicts: dict[Any, dict[str, Any]] = {}
    try:
        for key, position, args in attestation_tasks(options, index):
            if stop.signum:
                return signal_name(stop.signum)
            stop.raise_now = True
            verdicts[(key, position)] = verify_attestation(*args)
            stop.raise_now = False
        for batch in batches(options, index, sink, verdicts, skip):
            for item, att in batch:
                if stop.signum:
                    return signal_name(stop.signum)
                stop.raise_now = True
                row = judge_item(item, att)
                stop.raise_now = False
                sink.row(row)
                progress.tick(sink.done, sink.failed)
    except KeyboardInterrupt:
        return signal_name(stop.signum or signal.SIGINT)
    finally:
        stop.raise_now = False
    return signal_name(stop.signum) if stop.signum else None


def _new_pool(options: GateOptions, plan: WorkerPlan) -> ProcessPoolExecutor:
    import multiprocessing

    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    return ProcessPoolExecutor(
        max_workers=options.jobs, mp_context=multiprocessing.get_context(method),
        initializer=init_worker, initargs=(plan,),
    )


def _kill_pool(pool: ProcessPoolExecutor) -> None:
    processes = list(getattr(pool, "_processes", {}).values())  # no public handle on the workers
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        try:
            proc.terminate()
        except (OSError, AttributeError):
            pass
    for proc in processes:
        try:
            proc.join(2)
            if proc.is_alive():
                proc.kill()
                proc.join(2)
        except (OSError, AttributeError, AssertionError, ValueError):
            pass


def _judge_pool(
    options: GateOptions, plan: WorkerPlan, index: Any, sink: _Sink, stop: _Stop, progress: _Progress, skip: Skip
) -> tuple[int, Optional[str]]:
    limits = options.limits
    restarts = 0
    pool = _new_pool(options, plan)
    try:
        # 1. Attestation envelopes, once each per rule, before the files that need them.
        verdicts: dict[Any, dict[str, Any]] = {}
        todo = attestation_tasks(options, index)
        while todo:
            futures = {pool.submit(verify_attestation, *args): (key, position) for key, position, args in todo}
            todo = []
            broken = False
            pending = set(futures)
            while pending and not stop.signum:
                done, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
                for fut in done:
                    try:
                        verdicts[futures[fut]] = fut.result()
                    except BrokenProcessPool:
                        broken = True
            if stop.signum:
                return restarts, signal_name(stop.signum)
            if broken:
                lost = [k for k in futures.values() if k not in verdicts]
                for k in lost:
                    verdicts[k] = {"ok": False, "reason_code": Reason.GATE_WORKER_LOST.value,
                                   "message": "the worker verifying this attestation died", "check": None, "context": {}}
                restarts += 1
                _kill_pool(pool)
                if restarts > limits.gate_max_worker_restarts:
                    return restarts, "too many workers died"
                pool = _new_pool(options, plan)

        # 2. Artifacts, a bounded number of batches in flight.
        work = batches(options, index, sink, verdicts, skip)
        inflight: dict[Future[list[dict[str, Any]]], list[Any]] = {}
        max_inflight = max(2, options.jobs * limits.gate_inflight_batches_per_job)
        exhausted = False
        while True:
            while not exhausted and not stop.signum and len(inflight) < max_inflight:
                batch = next(work, None)
                if batch is None:
                    exhausted = True
                    break
                inflight[pool.submit(judge_batch, batch)] = batch
            if not inflight:
                break
            finished, _ = wait(list(inflight), timeout=0.25, return_when=FIRST_COMPLETED)
            broken = False
            for batch_future in finished:
                batch = inflight.pop(batch_future)
                try:
                    batch_rows = batch_future.result()
                except BrokenProcessPool as exc:
                    broken = True
                    for item, _ in batch:
                        sink.row(lost_row(item, str(exc) or "the process pool broke"))
                    continue
                for row in batch_rows:
                    sink.row(row)
            progress.tick(sink.done, sink.failed)
            if stop.signum:
                for batch_future in [f for f in inflight if f.done() and not f.cancelled()]:
                    batch = inflight.pop(batch_future)
                    try:
                        for row in batch_future.result():
                            sink.row(row)
                    except BrokenProcessPool:
                        pass
                return restarts, signal_name(stop.signum)
            if broken:
                # Every batch still held by the broken pool is lost with it.
                for batch_future, batch in list(inflight.items()):
                    try:
                        batch_rows = batch_future.result(timeout=5)
                    except Exception:
                        batch_rows = [lost_row(item, "the process pool broke") for item, _ in batch]
                    for row in batch_rows:
                        sink.row(row)
                inflight.clear()
                restarts += 1
                _kill_pool(pool)
                if restarts > limits.gate_max_worker_restarts:
                    return restarts, "too many workers died"
                pool = _new_pool(options, plan)
        return restarts, None
    finally:
        _kill_pool(pool)


__all__ = ["GateOptions", "GateOutcome", "attestation_tasks", "batches", "lost_row", "run_gate", "signal_name"]
