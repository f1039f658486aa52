"""Judging one artifact against its rule: what every pool worker runs.

`init_worker` parses the plan once per process (keys, trusted roots); `judge_batch` then
answers for a batch of `Item`s with one JSON-ready row each. An artifact is opened once
(`O_NOFOLLOW | O_NONBLOCK`), checked to be a regular file, and read only through that
descriptor (`/proc/self/fd/N` on Linux), so a path swapped for a symlink or FIFO after the
walk is refused rather than followed. Its size and mtime are compared before and after; the
parent compares them again at the end of the run (`gate.artifact_changed`).

Outcomes, in this order: no rule (`gate.no_rule`), a deny rule (`gate.denied`), evidence
paired by name (any bundle that verifies passes), attestations naming the artifact (the
envelope was verified once, in `verify_attestation`; here only the artifact's SHA-256 is
compared with the subject's), nothing at all (`gate.unsigned`). A failure carries the
reason code `verify` would give and the values that disagreed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import threading
from collections.abc import Iterator, Sequence
from typing import Any, Optional

from verifier._internal.artifact import ArtifactInput, hash_fd
from verifier._internal.bundle.model import Bundle, CertificateMaterial
from verifier._internal.evidence import Evidence, load_evidence
from verifier._internal.gate.discover import OPEN_FLAGS, Item, read_regular
from verifier._internal.gate.policy import Rule
from verifier._internal.limits import DEFAULT_LIMITS, Limits
from verifier._internal.policy import TrustedKey, VerificationPolicy, load_pem_public_key
from verifier._internal.record import Record
from verifier._internal.result import VerificationResult
from verifier._internal.trustroot.load import load_trusted_root
from verifier._internal.trustroot.model import TrustedRoot
from verifier._internal.verify import verify_bundle
from verifier.errors import AirsealError, InputError, Reason, VerificationError


class WorkerPlan(Record):
    """Everything a worker needs, as plain data (it pickles to forkserver/spawn workers too)."""

    rules: tuple[Rule, ...]
    trusted_roots: tuple[tuple[str, bytes], ...]
    """The command line's trust: (source, trusted_root.json bytes), tried in order."""
    limits: Limits = DEFAULT_LIMITS


class _CompiledRule(Record):
    rule: Rule
    keys: tuple[TrustedKey, ...]
    roots: tuple[TrustedRoot, ...]


_EMPTY_ROOT = TrustedRoot("", (), (), (), ())
_STATE: dict[str, Any] = {}
_LOCAL = threading.local()


def _state() -> dict[str, Any]:
    """This thread's compiled plan (`using_state`, for Dask workers that may hold several
    gates' plans at once), else the process's (`init_worker`)."""
    override: Optional[dict[str, Any]] = getattr(_LOCAL, "state", None)
    return override if override is not None else _STATE


def compile_plan(plan: WorkerPlan) -> dict[str, Any]:
    """Keys and trusted roots parsed (CA chains checked once, as in `verify`)."""
    global_roots = tuple(load_trusted_root(data, plan.limits) for _, data in plan.trusted_roots)
    compiled = []
    for rule in plan.rules:
        keys = tuple(load_pem_public_key(pem, source) for source, pem in rule.keys)
        roots = tuple(load_trusted_root(data, plan.limits) for _, data in rule.trusted_roots) or global_roots
        compiled.append(_CompiledRule(rule, keys, roots))
    return {"rules": compiled, "limits": plan.limits}


@contextlib.contextmanager
def using_state(state: dict[str, Any]) -> Iterator[None]:
    """Judge with `state` (from `compile_plan`) in this thread."""
    saved = getattr(_LOCAL, "state", None)
    _LOCAL.state = state
    try:
        yield
    finally:
        _LOCAL.state = saved


def init_worker(plan: WorkerPlan, in_pool: bool = True) -> None:
    """Parse keys and trusted roots once for this process. Pool workers leave SIGINT to the
    parent (which stops the run and writes the report); the parent terminates them."""
    if in_pool:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a forked worker inherits the parent's handler
    _STATE.clear()
    _STATE.update(compile_plan(plan))


def _fd_path(fd: int, path: str) -> str:
    """A path that reopens exactly the inode behind `fd` (Linux), else the path itself."""
    proc = f"/proc/self/fd/{fd}"
    return proc if os.path.exists(proc) else path


# --- verification under a rule ----------------------------------------------------------------


def verify_with_rule(
    bundle: Bundle,
    compiled: _CompiledRule,
    artifact: ArtifactInput,
    evidence: Optional[Evidence] = None,
    artifact_name: Optional[str] = None,
) -> VerificationResult:
    """Verify under each of the rule's trusted roots and keys; the first success wins.

    Keys whose id matches the bundle's key hint are tried first, so a failure reports the
    key the signer named. What the evidence's format claims (an npm wrapper's predicate type,
    a PEP 740 subject's file name) must hold too, as for `airseal verify`. Raises the first
    attempt's error when none verifies.
    """
    predicate_type = evidence.expected_predicate_type if evidence is not None else None
    subject_name, subject_name_form = None, "exact"
    if evidence is not None and evidence.subject_name_form is not None:
        # `artifact.path` may be the descriptor's /proc path: the name comes from the tree.
        subject_name, subject_name_form = artifact_name, evidence.subject_name_form
    rule = compiled.rule
    needs_root = isinstance(bundle.material, CertificateMaterial) or bundle.tlog_entries or bundle.rfc3161_timestamps
    roots: Sequence[TrustedRoot] = compiled.roots if needs_root and compiled.roots else (_EMPTY_ROOT,)
    keys: list[Optional[TrustedKey]] = list(compiled.keys) or [None]
    hint = getattr(bundle.material, "hint", None)
    if hint:
        keys.sort(key=lambda k: 0 if k is not None and k.key_id == hint else 1)
    if isinstance(bundle.material, CertificateMaterial) and rule.identity is not None:
        keys = [keys[0]]  # a certificate bundle is judged by identity; the key plays no part
    first: Optional[AirsealError] = None
    for root in roots:
        for key in keys:
            policy = VerificationPolicy(
                identity=rule.identity,
                key=key,
                min_tlog_entries=rule.min_tlog_entries,
                min_timestamps=rule.min_timestamps,
                min_scts=rule.min_scts,
                predicate_type=predicate_type,
                subject_name=subject_name,
                subject_name_form=subject_name_form,
            )
            try:
                return verify_bundle(bundle, root, artifact, policy)
            except AirsealError as err:
                if first is None:
                    first = err
    assert first is not None
    raise first


def verify_attestation(abspath: str, bundle_index: int, rule_position: int, probe_sha256: str) -> dict[str, Any]:
    """Verify an attestation bundle's envelope, signer and evidence once, under one rule.

    The statement's own subject digest stands in for the artifact, so this proves everything
    but "this file is that subject", which `judge_batch` checks per file by digest.
    """
    compiled = _state()["rules"][rule_position]
    limits: Limits = _state()["limits"]
    try:
        bundles = load_evidence(read_regular(abspath, limits.max_bundle_bytes), limits)
        found = bundles[bundle_index]
        probe = ArtifactInput(given_digest=("sha256", bytes.fromhex(probe_sha256)))
        result = verify_with_rule(found.bundle, compiled, probe, found._replace(subject_name_form=None))
    except (AirsealError, IndexError) as err:
        if isinstance(err, IndexError):
            err = VerificationError(Reason.BUNDLE_MISSING_MATERIAL, "the attestation changed during the run")
        return {"ok": False, **_failure(err)}
    return {"ok": True, "signer": result.signer.to_json()}


def _failure(err: AirsealError) -> dict[str, Any]:
    return {"reason_code": err.reason.value, "message": err.detail, "check": err.check, "context": _jsonable(err.context)}


# --- one artifact ---------------------------------------------------------------------------------


def judge_batch(items: Sequence[tuple[Item, tuple[Optional[dict[str, Any]], ...]]]) -> list[dict[str, Any]]:
    """One row per item. `verdicts[i]` is the envelope verdict for `item.attestations[i]`
    under the item's rule (None when it was not needed)."""
    return [judge_item(item, verdicts) for item, verdicts in items]


def _row(item: Item) -> dict[str, Any]:
    compiled = _state()["rules"][item.rule] if item.rule is not None else None
    return {
        "path": item.relpath,
        "root": item.root,
        "sha256": None,
        "size": None,
        "verdict": "fail",
        "reason_code": None,
        "message": "",
        "check": None,
        "context": {},
        "evidence": None,
        "format": None,
        "signer": None,
        "rule": compiled.rule.number if compiled else None,
        "rule_name": (compiled.rule.name or None) if compiled else None,
        "_abs": item.abspath,
        "_stat": None,
    }


def _fail(row: dict[str, Any], reason: Reason | str, message: str, **extra: Any) -> dict[str, Any]:
    row["verdict"] = "fail"
    row["reason_code"] = reason.value if isinstance(reason, Reason) else reason
    row["message"] = message
    row.update(extra)
    return row


def judge_item(item: Item, verdicts: tuple[Optional[dict[str, Any]], ...] = ()) -> dict[str, Any]:
    row = _row(item)
    try:
        fd = os.open(item.abspath, OPEN_FLAGS)
    except OSError as exc:
        if exc.errno in (getattr(os, "ELOOP", 40), 40):
            return _fail(row, Reason.GATE_UNSAFE_FILE, "became a symbolic link during the run: refused, not followed")
        return _fail(row, Reason.ARTIFACT_UNREADABLE, f"cannot open: {exc.strerror or exc}")
    try:
        before = os.fstat(fd)
        if not stat.S_ISREG(before.st_mode):
            return _fail(row, Reason.GATE_UNSAFE_FILE, "is no longer a regular file: refused, not read")
        row["size"] = before.st_size
        row["_stat"] = [before.st_dev, before.st_ino, before.st_size, before.st_mtime_ns]
        _judge_open(item, fd, _fd_path(fd, item.abspath), row, verdicts)
        after = os.fstat(fd)
        if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
            _fail(
                row, Reason.GATE_ARTIFACT_CHANGED, "the file changed while it was being judged",
                context={"size_before": before.st_size, "size_after": after.st_size,
                         "mtime_ns_before": before.st_mtime_ns, "mtime_ns_after": after.st_mtime_ns},
            )
    except AirsealError as err:
        _fail(row, err.reason, err.detail, check=err.check, context=_jsonable(err.context))
    finally:
        os.close(fd)
    return row


def _sha256(fd: int) -> str:
    """The gate's own SHA-256 of the artifact, through the descriptor it opened and checked.

    Raises: InputError(artifact.unreadable) on a read error.
    """
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return hash_fd(fd, ("sha256",), _state()["limits"])["sha256"].hex()
    except OSError as exc:
        raise InputError(Reason.ARTIFACT_UNREADABLE, f"cannot read: {exc.strerror or exc}") from exc


def _judge_open(item: Item, fd: int, path: str, row: dict[str, Any], verdicts: tuple[Optional[dict[str, Any]], ...]) -> None:
    limits: Limits = _state()["limits"]
    if item.rule is None:
        row["sha256"] = _sha256(fd)
        _fail(row, Reason.GATE_NO_RULE, "no rule of the policy matches this path")
        return
    compiled: _CompiledRule = _state()["rules"][item.rule]
    if compiled.rule.deny:
        row["sha256"] = _sha256(fd)
        _fail(row, Reason.GATE_DENIED, f"denied by {compiled.rule.label()}")
        return
    failures: list[tuple[str, Optional[str], AirsealError]] = []
    if len(item.evidence) > limits.gate_max_evidence_per_artifact:
        raise VerificationError(
            Reason.INPUT_TOO_LARGE, f"more than {limits.gate_max_evidence_per_artifact} evidence files beside the artifact"
        )
    for ev_rel, ev_abs in item.evidence:
        try:
            bundles = load_evidence(read_regular(ev_abs, limits.max_bundle_bytes), limits)
        except AirsealError as err:
            failures.append((ev_rel, None, err))
            continue
        for found in bundles:
            fmt, bundle = found.format, found.bundle
            try:
                result = verify_with_rule(
                    bundle, compiled, ArtifactInput(path=path), found, os.path.basename(item.abspath)
                )
            except AirsealError as err:
                failures.append((ev_rel, fmt, err))
                continue
            digest = result.artifact_digest
            row["sha256"] = digest.split(":", 1)[1] if digest.startswith("sha256:") else _sha256(fd)
            row.update(verdict="pass", reason_code=None, message=f"verified: signed by {result.signer.describe()}",
                       evidence=ev_rel, format=fmt, signer=result.signer.to_json(), check=None, context={})
            return
    if item.attestations:
        row["sha256"] = row["sha256"] or _sha256(fd)
        for ref, verdict in zip(item.attestations, verdicts):
            ev_rel = ref.key[1]
            if verdict is None:
                continue
            if not verdict["ok"]:
                refusal = VerificationError(Reason(verdict["reason_code"]), verdict["message"],
                                            context=verdict.get("context") or {}, check=verdict.get("check"))
                failures.append((ev_rel, ref.format, refusal))
                continue
            if row["sha256"] in ref.sha256s:
                row.update(verdict="pass", reason_code=None,
                           message=f"subject of a verified attestation signed by {_describe(verdict['signer'])}",
                           evidence=ev_rel, format=ref.format, signer=verdict["signer"], check=None, context={})
                return
            failures.append((ev_rel, ref.format, VerificationError(
                Reason.DSSE_SUBJECT_MISMATCH,
                "the attestation names this file, but with a different digest (the file is not the one attested)",
                context={"artifact": f"sha256:{row['sha256']}", "subject": [f"sha256:{d}" for d in ref.sha256s]},
                check="dsse.subject",
            )))
    if not failures:
        row["sha256"] = row["sha256"] or _sha256(fd)
        _fail(row, Reason.GATE_UNSIGNED, "no bundle or attestation for this file")
        return
    first_ev, first_fmt, first = failures[0]
    row["sha256"] = row["sha256"] or _sha256(fd)
    _fail(row, first.reason, first.detail, check=first.check, context=_jsonable(first.context), evidence=first_ev, format=first_fmt)
    if len(failures) > 1:
        row["context"]["other_evidence_failures"] = [f"{e}: {x.reason.value}" for e, _, x in failures[1:8]]


def _describe(signer: dict[str, Any]) -> str:
    if signer.get("kind") == "certificate":
        return f"{signer.get('identity')} (issuer {signer.get('issuer')})"
    return f"key {signer.get('key_id')} ({signer.get('key_type')})"


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


__all__ = ["WorkerPlan", "compile_plan", "init_worker", "using_state", "judge_batch", "judge_item", "verify_attestation", "verify_with_rule"]
