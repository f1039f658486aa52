"""`airseal gate merge REPORT_DIR... --report DIR`: shard reports joined into one report.

The shards of one gate (`--shard K/N`, K = 1..N) each wrote a whole report over the artifacts
whose relative path hashes to K. The merge refuses, before writing anything
(`gate.merge_refused`, exit 3):

- a directory that is not a shard report (no `summary.json` of this schema, `shard` null);
- reports of different shard counts N, a shard given twice, a shard missing;
- reports made with different policies (`policy_sha256`), trust roots
  (`trusted_root_sha256`), numbers of PATHs or airseal versions;
- a report that is not complete (interrupted), unless `--mode warn` (the merged report is then
  `complete: false` too);
- a row that does not belong to the shard that reported it (the report was made with other
  shard counts, or edited).

It then writes one report with the same files and schema as an unsharded run (`shard: null`,
counters recomputed, junit.xml and report.html regenerated) through the same staging,
fsync and swap as a run, and, given a signer, one VSA over every passed artifact (the gate's
VSA code). Streaming: rows are copied one at a time, memory holds the counters.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

from verifier._internal.gate import report
from verifier._internal.gate.shard import Shard, parse_shard, shard_of
from verifier._internal.limits import DEFAULT_LIMITS, Limits
from verifier.errors import InputError, Reason

SAME = ("policy_sha256", "trusted_root_sha256", "airseal_version")
"""Summary fields every shard must share."""


def _refuse(message: str, **context: Any) -> InputError:
    return InputError(Reason.GATE_MERGE_REFUSED, message, context=context)


def read_shard_summary(directory: Path) -> dict[str, Any]:
    """summary.json of a shard report. Raises InputError(gate.merge_refused)."""
    try:
        with open(directory / "summary.json", "rb") as fh:
            summary = json.loads(fh.read(16 << 20))
    except (OSError, ValueError) as exc:
        raise _refuse(f"{directory}: not a gate report (summary.json: {getattr(exc, 'strerror', None) or exc})",
                      report=str(directory)) from exc
    if not isinstance(summary, dict) or summary.get("schema") != report.SCHEMA:
        raise _refuse(f"{directory}: not a gate report of schema {report.SCHEMA}", report=str(directory))
    if summary.get("shard") is None:
        raise _refuse(f"{directory}: not a shard report (shard is null: made without --shard K/N)", report=str(directory))
    if parse_shard(str(summary["shard"])) is None:
        raise _refuse(f"{directory}: shard {summary['shard']!r} is not K/N", report=str(directory))
    if not (directory / "results.jsonl").is_file():
        raise _refuse(f"{directory}: results.jsonl is missing", report=str(directory))
    return summary


def check_shards(dirs: list[Path], summaries: list[dict[str, Any]], *, enforce: bool) -> list[tuple[Shard, Path, dict[str, Any]]]:
    """The shards in order 1..N. Raises InputError(gate.merge_refused) naming what is wrong."""
    shards = [(parse_shard(str(s["shard"])), d, s) for d, s in zip(dirs, summaries)]
    counts = sorted({sh.n for sh, _, _ in shards if sh is not None})
    if len(counts) != 1:
        listed = ", ".join(f"{d} ({s['shard']})" for d, s in zip(dirs, summaries))
        raise _refuse(f"reports of different shard counts: {listed}", shard_counts=counts)
    count = counts[0]
    seen: dict[int, Path] = {}
    for sh, d, _ in shards:
        assert sh is not None
        if sh.k in seen:
            raise _refuse(f"shard {sh} given twice: {seen[sh.k]} and {d}", shard=str(sh))
        seen[sh.k] = d
    missing = [k for k in range(1, count + 1) if k not in seen]
    if missing:
        shown = ", ".join(f"{k}/{count}" for k in missing[:20]) + (" ..." if len(missing) > 20 else "")
        raise _refuse(f"missing shard report(s): {shown}", missing=[f"{k}/{count}" for k in missing])
    first_dir, first = dirs[0], summaries[0]
    for d, s in zip(dirs[1:], summaries[1:]):
        for field in SAME:
            if s.get(field) != first.get(field):
                raise _refuse(
                    f"{d} and {first_dir} were made with different {field}: the shards of one gate share one policy,"
                    " one trust and one airseal version",
                    field=field, reports=[str(first_dir), str(d)], values=[first.get(field), s.get(field)],
                )
        if len(s.get("roots") or []) != len(first.get("roots") or []):
            raise _refuse(f"{d} and {first_dir} judged different numbers of PATHs", reports=[str(first_dir), str(d)])
    incomplete = [(d, s) for _, d, s in shards if not s.get("complete")]
    if incomplete and enforce:
        d, s = incomplete[0]
        raise _refuse(
            f"{d} (shard {s['shard']}) is incomplete ({s.get('interrupted') or 'interrupted'}): run that shard again,"
            " or merge with --mode warn to get a report marked complete: false",
            report=str(d), shard=s["shard"],
        )
    ordered = sorted(((sh, d, s) for sh, d, s in shards if sh is not None), key=lambda t: t[0].k)
    return ordered


def _copy_rows(source: Path, out: Any, shard: Shard, what: str) -> int:
    """Append a shard's JSON Lines to `out`, checking that every row belongs to that shard."""
    n = 0
    if not source.exists():
        return 0
    with open(source, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                path = row["path"]
            except (ValueError, KeyError, TypeError) as exc:
                raise _refuse(f"{source}: line {n + 1} is not a {what} row", report=str(source)) from exc
            if not isinstance(path, str) or shard_of(path, shard.n) != shard.k:
                raise _refuse(
                    f"{source}: {path!r} does not belong to shard {shard} (was the report made with another shard"
                    " count, or edited?)", report=str(source), path=str(path),
                )
            out.write(json.dumps(row, sort_keys=True) + "\n")
            n += 1
    return n


def merge_reports(
    dirs: list[Path],
    target: Path,
    *,
    enforce: bool,
    sign_vsa: Optional[Callable[[bytes], bytes]] = None,
    vsa_context: Optional[dict[str, Any]] = None,
    limits: Limits = DEFAULT_LIMITS,
) -> dict[str, Any]:
    """Check, join and write; returns summary.json's object (with `_vsa_exception` as `finalize`).

    Raises:
        InputError: gate.merge_refused (nothing written); artifact.unreadable (`target` is not
            replaceable).
    """
    summaries = [read_shard_summary(d) for d in dirs]
    shards = check_shards(dirs, summaries, enforce=enforce)
    target_abs = os.path.normpath(str(target))
    for d in dirs:
        if os.path.normpath(str(d.resolve())) == target_abs:
            raise _refuse(f"--report {target} is one of the shard reports: name a new directory", report=str(d))
    report.check_target(target)
    staging = report.create_staging(target)
    try:
        with open(staging / report.PARTIAL, "w", encoding="utf-8") as rows, \
                open(staging / report.PARTIAL_NOTICES, "w", encoding="utf-8") as notices:
            for shard, d, _ in shards:
                _copy_rows(d / "results.jsonl", rows, shard, "results")
                _copy_rows(d / "notices.jsonl", notices, shard, "notices")
            for fh in (rows, notices):
                fh.flush()
                os.fsync(fh.fileno())
        first = shards[0][2]
        incomplete = [s for _, _, s in shards if not s.get("complete")]
        interrupted = None
        if incomplete:
            interrupted = f"shard {incomplete[0]['shard']}: {incomplete[0].get('interrupted') or 'interrupted'}"
        meta = {
            "started_at": min(str(s.get("started_at") or "") for _, _, s in shards),
            "finished_at": max(str(s.get("finished_at") or "") for _, _, s in shards),
            "airseal_version": first.get("airseal_version"),
            "shard": None,
            "policy": first.get("policy"),
            "policy_sha256": first.get("policy_sha256"),
            "trusted_root_sha256": first.get("trusted_root_sha256"),
            "roots": first.get("roots"),
            "jobs": sum(int(s.get("jobs") or 0) for _, _, s in shards),
            "mode": "enforce" if enforce else "warn",
            "worker_restarts": sum(int(s.get("worker_restarts") or 0) for _, _, s in shards),
            "interrupted": interrupted,
        }
        if vsa_context is not None:
            vsa_context = {**vsa_context, "roots": list(first.get("roots") or []), "time_verified": meta["finished_at"]}
        summary = report.finalize(
            staging, meta, complete=not incomplete, enforce=enforce, sign_vsa=sign_vsa, vsa_context=vsa_context,
            limits=limits,
        )
        report.swap_into_place(staging, target)
    except BaseException:
        report.discard(staging)
        raise
    return summary


__all__ = ["check_shards", "merge_reports", "read_shard_summary"]
