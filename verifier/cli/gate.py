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


@click.command(epilog="\b\n" + EPILOG)
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
@click.option("--shard", metavar="K/N", help="Judge only shard K of N (not implemented yet).")
@click.option("--dask", metavar="SCHEDULER", help="Run on a dask cluster (not implemented yet).")
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

    if opts["shard"] or opts["dask"]:
        raise UsageProblem("--shard and --dask are not implemented yet in this version of airseal gate")
    given = [name for name in _VERIFY_OPTIONS if opts[name] is not None] + (["key"] if opts["keys"] else [])
    vsa_uri = opts["vsa_key"]
    if vsa_uri is not None:
        if not vsa_uri.startswith("pkcs11:"):
            raise UsageProblem("--vsa-key takes a pkcs11: URI (the VSA is signed on a token)")
        from verifier.cli.common import parse_key_uri

        parse_key_uri(vsa_uri)  # a malformed URI fails now, not after the run

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
    outcome = run_gate(options, sign_vsa=sign_vsa, vsa_context=vsa_context)
    code = _conclude(outcome.summary, options, EXIT_INTERRUPTED)
    failure = outcome.summary.pop("_vsa_exception", None)
    if failure is not None and code != EXIT_INTERRUPTED:
        raise failure  # token problems keep their exit code (5); the report is written
    return code


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


def _conclude(summary: dict[str, Any], options: Any, exit_interrupted: int) -> int:
    by_reason = ", ".join(f"{code} {n}" for code, n in summary["by_reason"].items())
    line = f"gate: {summary['total']} judged, {summary['passed']} passed, {summary['failed']} failed"
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


__all__ = ["gate"]
