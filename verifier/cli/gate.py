"""`airseal gate PATH...`: judge every file of a tree against a policy; write a report.

The command line half of the gate (cli.md, "gate"): options, trust and keys resolved here
(pkcs11 lives in this layer), the policy validated before anything is judged, then
`verifier._internal.gate.run.run_gate`. Exit codes: 0 every judged artifact passed (at least
one), 1 any failed (or nothing to judge), 2 usage, 3 malformed policy or input, 4 trust root,
5 token, 130 interrupted (the report so far is written with `complete: false`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Optional

import click

from verifier.cli.common import UsageProblem, echo, run_guarded, warn

EPILOG = """Examples:
  airseal gate --policy gate.toml --trusted-root trusted_root.json /media/usb/mirror
  airseal gate --key release.pem --min-tlog-entries 0 --report out/ ./artifacts
  airseal gate --policy gate.toml --vsa-key 'pkcs11:token=gate;object=vsa' /srv/mirror
  airseal gate --policy gate.toml --shard 3/8 --report r/3 /srv/mirror   (then: airseal gate merge r/* --report out)
  airseal gate --policy gate.toml --dask tcp://scheduler:8786 /srv/mirror
"""

MERGE_EPILOG = """Examples:
  airseal gate merge r/1 r/2 r/3 r/4 --report out
  airseal gate merge r/* --report out --vsa-key 'pkcs11:token=gate;object=vsa'
"""

_VERIFY_OPTIONS = (
    "certificate_identity",
    "certificate_identity_regexp",
    "certificate_oidc_issuer",
    "certificate_oidc_issuer_regexp",
    "min_tlog_entries",
    "min_timestamps",
    "min_scts",
)


def _default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class _GateCommand(click.Command):
    """`airseal gate PATH...`, and `airseal gate merge ...` when the first argument is `merge`
    (a directory named merge is still a PATH as `./merge`)."""

    def make_context(self, info_name: Optional[str], args: list[str], parent: Optional[click.Context] = None,
                     **extra: Any) -> click.Context:
        if args and args[0] == "merge":
            return merge.make_context(f"{info_name or 'gate'} merge", list(args[1:]), parent=parent, **extra)
        return super().make_context(info_name, args, parent=parent, **extra)


@click.command(cls=_GateCommand, epilog="\b\n" + EPILOG)
@click.argument("paths", nargs=-1, required=True, metavar="PATH...", type=click.Path(file_okay=False, exists=True))
@click.option("--policy", "policy_file", type=click.Path(dir_okay=False), help="TOML policy: ordered [[rule]] tables (docs/gate.md).")
@click.option("--trusted-root", "trusted_roots", multiple=True, type=click.Path(dir_okay=False),
              help="trusted_root.json (repeatable; a file may hold several as JSON Lines).")
@click.option("--trust", "trust_name", help="Named trust from the store (default public-good).")
@click.option("--report", "report_dir", default="airseal-report", show_default=True, type=click.Path(),
              help="Report directory (replaced whole when the run ends).")
@click.option("--jobs", type=click.IntRange(min=1, max=512), default=None, help="Worker processes [default: all cores].")
@click.option("--mode", type=click.Choice(["enforce", "warn"]), default="enforce", show_default=True,
              help="warn = fail-open: report failures but exit 0 (and sign a VSA over what passed).")
@click.option("--progress", type=click.Choice(["auto", "on", "off"]), default="auto", show_default=True,
              help="Progress line on stderr (auto: when stderr is a terminal).")
@click.option("--shard", metavar="K/N", help="Judge only shard K (1-based) of N: the artifacts whose relative path hashes to K;"
              " join the shard reports with `airseal gate merge`.")
@click.option("--dask", metavar="SCHEDULER", help="Judge on a dask.distributed cluster (tcp://HOST:PORT, or local[:N] for a"
              " local cluster of N processes); needs pip install 'airseal[dask]'.")
@click.option("--dask-partition", type=click.IntRange(min=1, max=100_000), default=None,
              help="With --dask: artifacts per task [default: 64-512, from the tree size].")
@click.option("--vsa-key", metavar="URI", help="pkcs11: URI: sign a SLSA Verification Summary Attestation over what passed.")
@click.option("--key", "keys", multiple=True, help="Without --policy: PEM public key or pkcs11: URI (repeatable).")
@click.option("--certificate-identity", help="Without --policy: expected SAN (exact).")
@click.option("--certificate-identity-regexp", help="Without --policy: expected SAN, full-match regexp.")
@click.option("--certificate-oidc-issuer", help="Without --policy: expected OIDC issuer (exact).")
@click.option("--certificate-oidc-issuer-regexp", help="Without --policy: expected OIDC issuer, full-match regexp.")
@click.option("--min-tlog-entries", type=click.IntRange(min=0), default=None, help="Without --policy [default: 1].")
@click.option("--min-timestamps", type=click.IntRange(min=0), default=None, help="Without --policy.")
@click.option("--min-scts", type=click.IntRange(min=0), default=None, help="Without --policy.")
def gate(**opts: Any) -> None:
    """Verify every file under PATH... against a policy, offline; write a report.

    Each regular file is an artifact, except evidence: a bundle beside it by name
    (F.sigstore.json, F.sigstore, F.bundle, F.intoto.jsonl, F.jsonl, F.provenance,
    F.*.attestation, F.attestations.json) or a DSSE attestation naming files of the tree.
    Symlinks, FIFOs and devices are refused (gate.unsafe_file), never followed.
    The report directory gets results.jsonl, summary.json, notices.jsonl, junit.xml and
    report.html (and gate.vsa.sigstore.json with --vsa-key).

    `airseal gate merge REPORT_DIR... --report DIR` joins the reports of --shard runs.
    """
    try:
        code = run_guarded(lambda: _gate(opts))
    except UsageProblem as problem:
        raise click.UsageError(str(problem)) from None
    sys.exit(code)


def _resolve_key(uri: str) -> bytes:
    from verifier.cli.inputs import pkcs11_public_pem

    return pkcs11_public_pem(uri, warn)


def _gate(opts: dict[str, Any]) -> int:
    import hashlib
    import json

    from verifier import __version__
    from verifier._internal.gate.policy import GatePolicy, PolicyProblem, load_policy, rule_from_options
    from verifier._internal.gate.run import GateOptions, run_gate
    from verifier.cli.inputs import resolve_trust
    from verifier.errors import EXIT_INTERRUPTED

    shard = _shard_option(opts["shard"])
    dask_address = _dask_option(opts["dask"], shard is not None)
    if opts["dask_partition"] is not None and dask_address is None:
        raise UsageProblem("--dask-partition goes with --dask")
    given = [name for name in _VERIFY_OPTIONS if opts[name] is not None] + (["key"] if opts["keys"] else [])
    vsa_uri = opts["vsa_key"]
    _check_vsa_uri(vsa_uri)

    if opts["policy_file"]:
        if given:
            raise UsageProblem(
                f"give --policy or verify's options (--{given[0].replace('_', '-')}), not both: the policy's rules"
                " hold those choices"
            )
        policy = load_policy(Path(opts["policy_file"]), resolve_key=_resolve_key)
        policy_uri = Path(opts["policy_file"]).resolve().as_uri()
        policy_digest = policy.sha256
    else:
        raw = {name.replace("_", "-"): opts[name] for name in _VERIFY_OPTIONS}
        if opts["keys"]:
            raw["key"] = list(opts["keys"])
        try:
            rule = rule_from_options(raw, resolve_key=_resolve_key)
        except PolicyProblem as problem:
            raise UsageProblem(str(problem)) from None
        canonical = json.dumps(
            {k: v for k, v in raw.items() if k != "key"} | {"key": [hashlib.sha256(pem).hexdigest() for _, pem in rule.keys]},
            sort_keys=True,
        ).encode()
        policy_digest = hashlib.sha256(canonical).hexdigest()
        policy = GatePolicy(rules=(rule,), source=None, sha256=policy_digest)
        policy_uri = "urn:airseal:gate:command-line"

    if any(not rule.deny and not rule.trusted_roots for rule in policy.rules) or opts["trusted_roots"]:
        trusted, trust_warnings = resolve_trust(tuple(opts["trusted_roots"]), opts["trust_name"])
    else:
        trusted, trust_warnings = [], []
    for message in trust_warnings:
        warn(message)
    if "hsm" in sys.modules:  # pkcs11 keys were read: no token session may cross the fork
        from hsm.token import close_all

        close_all()

    roots = tuple(os.path.abspath(p) for p in opts["paths"])
    progress = opts["progress"] == "on" or (opts["progress"] == "auto" and sys.stderr.isatty())
    options = GateOptions(
        roots=roots,
        report_dir=Path(os.path.abspath(opts["report_dir"])),
        policy=policy,
        trusted_roots=tuple(trusted),
        jobs=opts["jobs"] or _default_jobs(),
        enforce=opts["mode"] == "enforce",
        progress=progress,
        version=__version__,
        shard=shard,
        dask=dask_address,
        partition=opts["dask_partition"] or 0,
    )
    sign_vsa = None
    vsa_context = None
    if vsa_uri is not None:
        sign_vsa = _vsa_signer(vsa_uri)
        vsa_context = {
            "version": __version__,
            "resource_uri": Path(roots[0]).as_uri(),
            "policy_uri": policy_uri,
            "policy_sha256": policy_digest,
            "verified_levels": list(policy.verified_levels),
        }
    if dask_address is not None:
        from verifier._internal.gate.dask_engine import DaskProblem

        try:
            outcome = run_gate(options, sign_vsa=sign_vsa, vsa_context=vsa_context)
        except DaskProblem as problem:
            raise UsageProblem(str(problem)) from None
    else:
        outcome = run_gate(options, sign_vsa=sign_vsa, vsa_context=vsa_context)
    code = _conclude(outcome.summary, options, EXIT_INTERRUPTED)
    failure = outcome.summary.pop("_vsa_exception", None)
    if failure is not None and code != EXIT_INTERRUPTED:
        raise failure  # token problems keep their exit code (5); the report is written
    return code


def _shard_option(text: Optional[str]) -> Any:
    if text is None:
        return None
    from verifier._internal.gate.shard import MAX_SHARDS, parse_shard

    shard = parse_shard(text)
    if shard is None:
        raise UsageProblem(f"--shard {text!r}: expected K/N with 1 <= K <= N <= {MAX_SHARDS} (K is 1-based)")
    return shard


def _dask_option(address: Optional[str], sharded: bool) -> Optional[str]:
    if address is None:
        return None
    import importlib.util

    if sharded:
        raise UsageProblem("give --shard or --dask, not both")
    if importlib.util.find_spec("dask") is None or importlib.util.find_spec("distributed") is None:
        raise UsageProblem("--dask needs dask.distributed, which is not installed: pip install 'airseal[dask]'")
    return address


def _check_vsa_uri(vsa_uri: Optional[str]) -> None:
    if vsa_uri is None:
        return
    if not vsa_uri.startswith("pkcs11:"):
        raise UsageProblem("--vsa-key takes a pkcs11: URI (the VSA is signed on a token)")
    from verifier.cli.common import parse_key_uri

    parse_key_uri(vsa_uri)  # a malformed URI fails now, not after the run


def _vsa_signer(uri: str) -> Any:
    """Open the token only when the report is ready to be signed (no session crosses a fork)."""
    state: dict[str, Any] = {}

    def sign(payload: bytes) -> bytes:
        from hsm.keys import key_hint
        from hsm.signer import open_signer
        from verifier._internal.bundle.build import dump_bundle_json
        from verifier._internal.signing.statement import sign_statement
        from verifier.cli.common import parse_key_uri

        if "signer" not in state:
            state["signer"] = open_signer(parse_key_uri(uri), warn=warn)
        signer = state["signer"]
        return dump_bundle_json(sign_statement(signer, payload, key_hint=key_hint(signer.public_key())))

    return sign


@click.command(epilog="\b\n" + MERGE_EPILOG)
@click.argument("report_dirs", nargs=-1, required=True, metavar="REPORT_DIR...",
                type=click.Path(file_okay=False, exists=True))
@click.option("--report", "report_dir", required=True, type=click.Path(), help="The merged report directory.")
@click.option("--mode", type=click.Choice(["enforce", "warn"]), default="enforce", show_default=True,
              help="warn: also merge incomplete shard reports (the result says complete: false) and exit 0 on failures.")
@click.option("--vsa-key", metavar="URI", help="pkcs11: URI: sign one VSA over every passed artifact of all shards.")
@click.option("--policy", "policy_file", type=click.Path(dir_okay=False),
              help="With --vsa-key: the shards' policy file, when it is not where summary.json says (its SHA-256 must match).")
def merge(**opts: Any) -> None:
    """Join the reports of `airseal gate --shard K/N` (K = 1..N) into one report.

    Refuses (exit 3, gate.merge_refused) reports made with different policies or trust roots,
    a missing or duplicated shard, reports of different N, and incomplete shard reports unless
    --mode warn. The merged report has the files and schema of an unsharded run (shard: null),
    and with --vsa-key one VSA over every passed artifact (the evidence files are read from the
    PATHs the shards judged, to digest them).
    """
    try:
        code = run_guarded(lambda: _merge(opts))
    except UsageProblem as problem:
        raise click.UsageError(str(problem)) from None
    sys.exit(code)


def _merge(opts: dict[str, Any]) -> int:
    from verifier import __version__
    from verifier._internal.gate.merge import merge_reports, read_shard_summary
    from verifier.errors import EXIT_INTERRUPTED, InputError, Reason

    vsa_uri = opts["vsa_key"]
    _check_vsa_uri(vsa_uri)
    dirs = [Path(os.path.abspath(d)) for d in opts["report_dirs"]]
    enforce = opts["mode"] == "enforce"
    sign_vsa = None
    vsa_context = None
    if vsa_uri is not None:
        from verifier._internal.gate.policy import DEFAULT_VERIFIED_LEVELS, load_policy

        first = read_shard_summary(dirs[0])
        policy_uri = "urn:airseal:gate:command-line"
        levels: list[str] = list(DEFAULT_VERIFIED_LEVELS)
        source = opts["policy_file"] or first.get("policy")
        if source is not None:
            policy = load_policy(Path(source), resolve_key=_resolve_key)
            if policy.sha256 != first.get("policy_sha256"):
                raise InputError(Reason.GATE_MERGE_REFUSED,
                                 f"{source}: not the policy the shards used (SHA-256 {policy.sha256}, the shards'"
                                 f" {first.get('policy_sha256')}); give the right one with --policy")
            policy_uri = Path(source).resolve().as_uri()
            levels = list(policy.verified_levels)
            if "hsm" in sys.modules:
                from hsm.token import close_all

                close_all()
        roots = first.get("roots") or ["."]
        sign_vsa = _vsa_signer(vsa_uri)
        vsa_context = {
            "version": __version__,
            "resource_uri": Path(roots[0]).as_uri() if os.path.isabs(roots[0]) else Path(os.path.abspath(roots[0])).as_uri(),
            "policy_uri": policy_uri,
            "policy_sha256": first.get("policy_sha256"),
            "verified_levels": levels,
        }
    target = Path(os.path.abspath(opts["report_dir"]))
    summary = merge_reports(dirs, target, enforce=enforce, sign_vsa=sign_vsa, vsa_context=vsa_context)

    class _Shown:
        report_dir = target

    _Shown.enforce = enforce  # type: ignore[attr-defined]
    code = _conclude(summary, _Shown, EXIT_INTERRUPTED, merged=len(dirs))
    failure = summary.pop("_vsa_exception", None)
    if failure is not None and code != EXIT_INTERRUPTED:
        raise failure
    return code


def _conclude(summary: dict[str, Any], options: Any, exit_interrupted: int, merged: int = 0) -> int:
    by_reason = ", ".join(f"{code} {n}" for code, n in summary["by_reason"].items())
    line = f"gate: {summary['total']} judged, {summary['passed']} passed, {summary['failed']} failed"
    if summary.get("shard"):
        line += f" (shard {summary['shard']})"
    if merged:
        line += f" (merged from {merged} shard reports)"
    if by_reason:
        line += f" ({by_reason})"
    if summary["orphan_evidence"]:
        line += f"; {summary['orphan_evidence']} orphan evidence file(s)"
    echo(line)
    echo(f"report: {options.report_dir}")
    for vsa in summary["vsa"]:
        echo(f"signed: {options.report_dir / vsa['bundle']} ({vsa['subjects']} subjects)")
    if summary["vsa_error"]:
        warn(f"VSA {summary['vsa_error']}")
    if not summary["complete"]:
        if merged:
            echo(f"WARNING: incomplete ({summary.get('interrupted')}): --mode warn merged shard reports that do not hold"
                 " every file (complete: false)", err=True)
            return 0
        echo(f"interrupted ({summary.get('interrupted')}): the report holds what was judged so far (complete: false)", err=True)
        return exit_interrupted
    if summary["total"] == 0:
        echo("gate: nothing was judged (no artifact under PATH)", err=True)
        return 1
    if summary["failed"]:
        if not options.enforce:
            echo(f"WARNING: --mode warn: {summary['failed']} artifact(s) FAILED but airseal exits 0 because"
                 " fail-open mode was asked for", err=True)
            return 0
        return 1
    return 0


__all__ = ["gate", "merge"]
