"""The report directory: results.jsonl, summary.json, notices.jsonl, junit.xml, report.html
(and the VSA bundles), built in a temporary directory beside the target and swapped in whole.

Nothing here holds the results in memory: the run appends rows to `.results.partial.jsonl`
in the staging directory; `finalize` reads it once (re-checking every artifact's size, mtime
and inode: `gate.artifact_changed`) to write results.jsonl and the counters, then reads
results.jsonl again for junit.xml, report.html (failures first: two reads) and the VSA.
Every file is fsynced, then the directory, then it replaces the previous report: with
renameat2(RENAME_EXCHANGE) where Linux has it (readers see the old report or the new one),
else two renames. A run that dies leaves the previous report untouched.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Optional, TextIO

from verifier._internal.atomic import fsync_dir
from verifier._internal.limits import DEFAULT_LIMITS, Limits
from verifier.errors import AirsealError, InputError, Reason

SCHEMA = "airseal.gate.v1"
PARTIAL = ".results.partial.jsonl"
PARTIAL_NOTICES = ".notices.partial.jsonl"
REPORT_FILES = ("results.jsonl", "summary.json", "notices.jsonl", "junit.xml", "report.html")
VSA_FIRST = "gate.vsa.sigstore.json"


# --- the directory --------------------------------------------------------------------------------


def check_target(target: Path) -> None:
    """Refuse to replace anything but a previous gate report (or an empty directory).

    Raises: InputError(artifact.unreadable) naming the directory.
    """
    if not os.path.lexists(target):
        return
    if os.path.islink(target) or not target.is_dir():
        raise InputError(Reason.ARTIFACT_UNREADABLE, f"--report {target}: exists and is not a directory")
    entries = os.listdir(target)
    if not entries:
        return
    try:
        with open(target / "summary.json", "rb") as fh:
            if json.loads(fh.read(1 << 20)).get("schema") == SCHEMA:
                return
    except (OSError, ValueError, AttributeError):
        pass
    raise InputError(
        Reason.ARTIFACT_UNREADABLE,
        f"--report {target}: exists and is not an airseal gate report; it would be replaced, so name a new"
        " or empty directory",
    )


def create_staging(target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))


def _rename_exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2 RENAME_EXCHANGE); False if unavailable."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError, ImportError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    rc: int = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return rc == 0


def swap_into_place(staging: Path, target: Path) -> None:
    """`staging` becomes `target`; the previous report is removed only afterwards."""
    fsync_dir(staging)
    if not os.path.lexists(target):
        os.rename(staging, target)
    elif _rename_exchange(staging, target):
        shutil.rmtree(staging, ignore_errors=True)  # now holds the previous report
    else:
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.rename(target, old)
        os.rename(staging, target)
        shutil.rmtree(old, ignore_errors=True)
    fsync_dir(target.parent)


def discard(staging: Path) -> None:
    shutil.rmtree(staging, ignore_errors=True)


# --- text hygiene -----------------------------------------------------------------------------------

_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def clean(text: Any) -> str:
    """Text safe for XML and HTML: control characters and lone surrogates (undecodable file
    name bytes) become visible escapes."""
    return _BAD_XML.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", str(text))


def _esc(text: Any) -> str:
    return html.escape(clean(text), quote=True)


def _rows(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


@contextlib.contextmanager
def _durable(path: Path) -> Iterator[TextIO]:
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())


# --- finalize -------------------------------------------------------------------------------------


def _changed(row: dict[str, Any]) -> Optional[dict[str, Any]]:
    """Compare the file now with what the worker saw when it hashed it."""
    seen = row.get("_stat")
    if not seen or not row.get("_abs"):
        return None
    try:
        st = os.lstat(row["_abs"])
    except OSError as exc:
        return {"now": f"gone ({exc.strerror})"}
    now = [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns]
    names = ("device", "inode", "size", "mtime_ns")
    # A None was not comparable (a Dask worker's st_dev belongs to another machine's mount).
    differ = [(n, a, b) for n, a, b in zip(names, seen, now) if a is not None and a != b]
    if not differ:
        return None
    return {f"{n}_{when}": v for n, a, b in differ for when, v in (("hashed", a), ("now", b))}


def finalize(
    staging: Path,
    meta: dict[str, Any],
    *,
    complete: bool,
    enforce: bool,
    sign_vsa: Optional[Callable[[bytes], bytes]] = None,
    vsa_context: Optional[dict[str, Any]] = None,
    limits: Limits = DEFAULT_LIMITS,
) -> dict[str, Any]:
    """Write every report file into `staging`; returns summary.json's object.

    A VSA signing failure (token, PIN) is recorded in `vsa_error` and handed back under the
    key `_vsa_exception` (not written), so the caller can exit with its code after the swap.
    """
    vsa_exception: Optional[AirsealError] = None
    total = passed = failed = 0
    by_reason: dict[str, int] = {}
    partial = staging / PARTIAL
    with _durable(staging / "results.jsonl") as out:
        if partial.exists():
            for row in _rows(partial):
                if row["verdict"] == "pass" or row.get("reason_code") not in (Reason.GATE_UNSAFE_FILE.value,):
                    change = _changed(row)
                    if change is not None:
                        row.update(verdict="fail", reason_code=Reason.GATE_ARTIFACT_CHANGED.value,
                                   message="the file changed after it was judged (size, mtime or inode differ)",
                                   check="gate.restat", context=change)
                row.pop("_abs", None)
                row.pop("_stat", None)
                total += 1
                if row["verdict"] == "pass":
                    passed += 1
                else:
                    failed += 1
                    by_reason[row["reason_code"]] = by_reason.get(row["reason_code"], 0) + 1
                out.write(json.dumps(row, sort_keys=True) + "\n")
    notices: dict[str, int] = {}
    with _durable(staging / "notices.jsonl") as out:
        if (staging / PARTIAL_NOTICES).exists():
            for row in _rows(staging / PARTIAL_NOTICES):
                notices[row["reason_code"]] = notices.get(row["reason_code"], 0) + 1
                out.write(json.dumps(row, sort_keys=True) + "\n")
    summary = {
        "schema": SCHEMA,
        **meta,
        "total": total,
        "passed": passed,
        "failed": failed,
        "by_reason": dict(sorted(by_reason.items())),
        "notices": dict(sorted(notices.items())),
        "orphan_evidence": notices.get(Reason.GATE_ORPHAN_EVIDENCE.value, 0),
        "complete": complete,
        "enforced": enforce,
        "vsa": [],
        "vsa_error": None,
    }
    if sign_vsa is not None and vsa_context is not None:
        if not complete:
            summary["vsa_error"] = "not signed: the run was interrupted"
        elif failed and enforce:
            summary["vsa_error"] = "not signed: some artifacts failed (use --mode warn to sign the passed ones)"
        elif not passed:
            summary["vsa_error"] = "not signed: no artifact passed"
        else:
            try:
                summary["vsa"] = _write_vsas(staging, sign_vsa, vsa_context, limits)
            except AirsealError as err:  # the report is still worth having; the caller re-raises
                summary["vsa_error"] = f"signing failed: {err.detail} [{err.reason.value}]"
                vsa_exception = err
    summary["finished_at"] = meta.get("finished_at")
    _write_junit(staging, summary)
    _write_html(staging, summary, limits)
    with _durable(staging / "summary.json") as out:
        out.write(json.dumps(summary, sort_keys=True, indent=2) + "\n")
    for name in (PARTIAL, PARTIAL_NOTICES):
        with contextlib.suppress(OSError):
            os.unlink(staging / name)
    if vsa_exception is not None:
        summary["_vsa_exception"] = vsa_exception
    return summary


# --- VSA ----------------------------------------------------------------------------------------------


def _write_vsas(staging: Path, sign: Callable[[bytes], bytes], ctx: dict[str, Any], limits: Limits) -> list[dict[str, Any]]:
    """One VSA per `max_intoto_subjects` passed artifacts (what `airseal verify` accepts)."""
    from verifier._internal.gate.discover import read_regular, sha256_hex
    from verifier._internal.gate.vsa import build_vsa_statement

    written: list[dict[str, Any]] = []
    chunk: list[dict[str, Any]] = []

    def flush() -> None:
        evidence: dict[str, str] = {}
        for row in chunk:
            ev = row.get("evidence")
            if ev and ev not in evidence:
                root = ctx["roots"][row["root"]]
                evidence[ev] = sha256_hex(read_regular(os.path.join(root, ev), limits.max_bundle_bytes))
        payload = build_vsa_statement(
            [(row["path"], row["sha256"]) for row in chunk],
            version=ctx["version"],
            time_verified=ctx["time_verified"],
            resource_uri=ctx["resource_uri"],
            policy_uri=ctx["policy_uri"],
            policy_sha256=ctx["policy_sha256"],
            input_attestations=sorted(evidence.items()),
            verified_levels=ctx["verified_levels"],
        )
        name = VSA_FIRST if not written else f"gate.vsa.{len(written) + 1}.sigstore.json"
        data = sign(payload)
        with open(staging / name, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        written.append({"bundle": name, "subjects": len(chunk)})
        chunk.clear()

    for row in _rows(staging / "results.jsonl"):
        if row["verdict"] != "pass":
            continue
        chunk.append({k: row[k] for k in ("path", "sha256", "evidence", "root")})
        if len(chunk) >= limits.max_intoto_subjects:
            flush()
    if chunk:
        flush()
    return written


# --- junit.xml ------------------------------------------------------------------------------------------


def _attr(text: Any) -> str:
    from xml.sax.saxutils import quoteattr

    return quoteattr(clean(text))


def _write_junit(staging: Path, summary: dict[str, Any]) -> None:
    """One <testcase> per artifact (classname: the PATH index and directory); a failure is a
    <failure> whose type is the reason code and whose text holds the values that disagreed."""
    from xml.sax.saxutils import escape

    with _durable(staging / "junit.xml") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        out.write(
            f'<testsuites name="airseal gate" tests="{summary["total"]}" failures="{summary["failed"]}" errors="0">\n'
            f'<testsuite name="airseal gate" tests="{summary["total"]}" failures="{summary["failed"]}" errors="0"'
            f' skipped="0" timestamp={_attr(summary.get("started_at") or "")}>\n'
        )
        out.write("<properties>\n")
        for key in ("complete", "policy_sha256", "airseal_version", "mode"):
            out.write(f"<property name={_attr(key)} value={_attr(json.dumps(summary.get(key)))}/>\n")
        out.write("</properties>\n")
        for row in _rows(staging / "results.jsonl"):
            directory, _, _ = row["path"].rpartition("/")
            classname = f"gate.root{row['root']}" + (f".{directory}" if directory else "")
            out.write(f"<testcase classname={_attr(classname)} name={_attr(row['path'])} time=\"0\">")
            if row["verdict"] != "pass":
                details = {k: row.get(k) for k in ("check", "evidence", "format", "rule", "sha256", "context")}
                out.write(
                    f"<failure type={_attr(row['reason_code'])} message={_attr(row['message'])}>"
                    f"{escape(clean(json.dumps(details, sort_keys=True, indent=1)))}</failure>"
                )
            out.write("</testcase>\n")
        out.write("</testsuite>\n</testsuites>\n")


# --- report.html ------------------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1b1f24;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.meta{color:#57606a;font-size:12px}.banner{padding:10px 14px;border-radius:6px;margin:14px 0;font-weight:600}
.ok{background:#dafbe1;color:#116329}.bad{background:#ffebe9;color:#a40e26}.warn{background:#fff8c5;color:#7d4e00}
table{border-collapse:collapse;width:100%;margin:6px 0}th,td{border-bottom:1px solid #d0d7de;padding:5px 8px;
text-align:left;vertical-align:top}th{background:#f6f8fa;font-weight:600}td.code{font-family:ui-monospace,monospace;
font-size:12px;white-space:nowrap}tr.fail td:first-child{border-left:4px solid #cf222e}tr.pass td:first-child{
border-left:4px solid #2da44e}pre{margin:4px 0 0;white-space:pre-wrap;word-break:break-all;font-size:12px;
background:#f6f8fa;padding:6px;border-radius:4px}.count{font-variant-numeric:tabular-nums}
"""


def _write_html(staging: Path, summary: dict[str, Any], limits: Limits) -> None:
    """Self-contained: inline CSS, no script, no external reference; every value escaped."""
    cap = limits.gate_html_max_rows
    with _durable(staging / "report.html") as out:
        w = out.write
        w('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n')
        w('<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'">\n')
        w(f"<title>airseal gate: {summary['failed']} failed, {summary['passed']} passed</title>\n<style>{_CSS}</style></head><body>\n")
        w("<h1>airseal gate report</h1>\n")
        roots = ", ".join(summary.get("roots") or [])
        w(f'<div class="meta">paths: {_esc(roots)} · policy: {_esc(summary.get("policy") or "command line")}'
          f' (sha256 {_esc(summary.get("policy_sha256"))}) · started {_esc(summary.get("started_at"))}'
          f' · finished {_esc(summary.get("finished_at"))} · airseal {_esc(summary.get("airseal_version"))}</div>\n')
        if not summary["complete"]:
            w('<div class="banner warn" id="incomplete">INCOMPLETE: the run was stopped before every file was judged'
              f' ({_esc(summary.get("interrupted") or "interrupted")}).</div>\n')
        klass = "bad" if summary["failed"] or not summary["total"] else "ok"
        w(f'<div class="banner {klass}" id="verdict">{summary["failed"]} failed · {summary["passed"]} passed ·'
          f' {summary["total"]} judged</div>\n')
        if summary["by_reason"]:
            w('<h2>Failures by reason</h2>\n<table id="by-reason"><tr><th>reason code</th><th>artifacts</th></tr>\n')
            for code, count in summary["by_reason"].items():
                w(f'<tr><td class="code">{_esc(code)}</td><td class="count">{count}</td></tr>\n')
            w("</table>\n")
        sections = (("fail", "Failures", "failures"), ("pass", "Passed", "passes"))
        for verdict, title, anchor in sections:
            n = summary["failed"] if verdict == "fail" else summary["passed"]
            w(f'<h2 id="{anchor}">{title} ({n})</h2>\n')
            if not n:
                w("<p>none</p>\n")
                continue
            w(f'<table class="{anchor}"><tr><th>path</th><th>reason</th><th>details</th></tr>\n')
            shown = 0
            for row in _rows(staging / "results.jsonl"):
                if row["verdict"] != verdict:
                    continue
                if shown >= cap:
                    w(f'<tr><td colspan="3">… {n - cap} more: see results.jsonl</td></tr>\n')
                    break
                shown += 1
                w(_html_row(row))
            w("</table>\n")
        if summary["notices"]:
            w('<h2 id="notices">Notices</h2>\n<table><tr><th>path</th><th>reason</th><th>message</th></tr>\n')
            for shown, row in enumerate(_rows(staging / "notices.jsonl")):
                if shown >= cap:
                    break
                w(f'<tr class="notice"><td>{_esc(row["path"])}</td><td class="code">{_esc(row["reason_code"])}</td>'
                  f'<td>{_esc(row["message"])}</td></tr>\n')
            w("</table>\n")
        w(f'<p class="meta">schema {SCHEMA}; machine-readable: results.jsonl, summary.json, notices.jsonl, junit.xml</p>\n')
        w("</body></html>\n")


def _html_row(row: dict[str, Any]) -> str:
    verdict = row["verdict"]
    if verdict == "pass":
        signer = row.get("signer") or {}
        who = signer.get("identity") or signer.get("key_id") or ""
        detail = f"{_esc(row['message'])}<br><span class=\"meta\">evidence {_esc(row.get('evidence'))} · sha256 {_esc(row.get('sha256'))}</span>"
        return (f'<tr class="pass" data-path="{_esc(row["path"])}"><td>{_esc(row["path"])}</td>'
                f'<td class="code">pass</td><td>{detail}<span hidden>{_esc(who)}</span></td></tr>\n')
    values = {k: row.get(k) for k in ("check", "evidence", "rule", "sha256") if row.get(k) is not None}
    values.update(row.get("context") or {})
    pre = _esc(json.dumps(values, sort_keys=True, indent=1, ensure_ascii=False)) if values else ""
    return (f'<tr class="fail" data-path="{_esc(row["path"])}"><td>{_esc(row["path"])}</td>'
            f'<td class="code">{_esc(row["reason_code"])}</td><td>{_esc(row["message"])}'
            + (f"<pre>{pre}</pre>" if pre else "") + "</td></tr>\n")


__all__ = ["PARTIAL", "PARTIAL_NOTICES", "SCHEMA", "check_target", "create_staging", "discard", "finalize", "swap_into_place"]
