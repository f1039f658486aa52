"""`airseal verify` without click: the option table, validation, verification and reporting.

The console script parses `verify`/`verify-bundle` arguments here (`parse_args`), so a cold
verify pays for neither click (about a sixth of its start-up) nor argparse; `verify_click`
builds the click commands (help text, `CliRunner` tests) from the same `OPTIONS` table, and a
test keeps the two readings in step. Never opens a socket.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn, Optional

from verifier._internal.limits import DEFAULT_LIMITS
from verifier._internal.record import Record
from verifier.cli.common import UsageProblem, causes, echo, echo_causes, emit_json, jsonable, run_guarded, warn
from verifier.errors import Reason, VerificationError

if TYPE_CHECKING:
    from verifier._internal.trustroot.model import TrustedRoot

EPILOG = """Examples:
  airseal verify --key cosign.pub app.tar.gz
  airseal verify --bundle app.intoto.jsonl --trusted-root roots.jsonl --certificate-identity-regexp '^https://github.com/org/' app.tar.gz
  airseal verify --certificate-identity https://github.com/org/repo/.github/workflows/rel.yml@refs/tags/v1 \\
      --certificate-oidc-issuer https://token.actions.githubusercontent.com app.tar.gz
  airseal verify --bundle app.sigstore.json --key 'pkcs11:token=release;object=k1' sha256:<64 hex>
"""


class Option(Record):
    flags: tuple[str, ...]
    dest: str
    kind: str
    """"text", "path", "paths" (repeatable), "count" (int >= 0), "choice" or "flag"."""
    help: str
    default: Any = None
    choices: tuple[str, ...] = ()


OPTIONS: tuple[Option, ...] = (
    Option(("--bundle",), "bundle_path", "path", "Sigstore bundle, or evidence in an ecosystem's format (GitHub attestation JSON Lines, PEP 740, npm attestations, cosign bundle), recognised by content (default: ARTIFACT.sigstore.json)."),
    Option(("--key",), "key_ref", "text", "PEM public key file, or a pkcs11: URI naming a token key."),
    Option(("--certificate-identity",), "certificate_identity", "text", "Expected SAN of the signing certificate (exact)."),
    Option(("--certificate-identity-regexp",), "certificate_identity_regexp", "text", "Expected SAN, as a regexp that must match the whole value."),
    Option(("--certificate-oidc-issuer",), "certificate_oidc_issuer", "text", "Expected OIDC issuer (exact)."),
    Option(("--certificate-oidc-issuer-regexp",), "certificate_oidc_issuer_regexp", "text", "Expected OIDC issuer, as a full-match regexp."),
    Option(("--trusted-root",), "trusted_root", "paths", "Use this trusted_root.json as the only trust; repeat it, or give a JSON Lines file of roots, to trust several (each bundle is judged against the root whose logs and CAs it uses)."),
    Option(("--trust",), "trust_name", "text", "Named trust from the store (default public-good)."),
    Option(("--staging",), "staging", "flag", "Same as --trust staging.", False),
    Option(("--min-tlog-entries",), "min_tlog_entries", "count", "Verified entries from distinct trusted logs [default: 1; 0 with a trusted root that lists no log, which then requires a signed timestamp]."),
    Option(("--max-trust-age",), "max_trust_age", "count", "Refuse a named trust last refreshed more than DAYS days ago (trustroot.stale) [default: the trust's max_age_days, else only a warning]."),
    Option(("--min-timestamps",), "min_timestamps", "count", "Verified time sources (RFC 3161 or SET) [default: 1; never below 1 for certificates; 0 for keys with --min-tlog-entries 0]."),
    Option(("--min-scts",), "min_scts", "count", "SCTs from distinct CT logs [default: 1 for certificates, 0 for keys; 0 with a trusted root that lists only timestamp authorities, no log and no CT log, such as GitHub's]."),
    Option(("--mode",), "mode", "choice", "warn = fail-open: report a failure but exit 0.", "enforce", ("enforce", "warn")),
    Option(("--json",), "as_json", "flag", "One JSON object on stdout (schema airseal.verify.v1).", False),
    Option(("-v", "--verbose"), "verbose", "flag", "List every check that ran.", False),
)
ARTIFACT_METAVAR = "ARTIFACT | sha256:HEX"


_ONCE = ("key_ref",)
"""Options refused when repeated (click would keep the last one silently)."""

_FLAGS = {flag: opt for opt in OPTIONS for flag in opt.flags}


def _usage_exit(prog: str, message: str) -> NoReturn:
    echo(f"Usage: {prog} [OPTIONS] {ARTIFACT_METAVAR}", err=True)
    echo(f"Try '{prog} -h' for help.\n\nError: {message}", err=True)
    raise SystemExit(2)


def _option_value(prog: str, opt: Option, flag: str, text: str) -> Any:
    if opt.kind == "count":
        if not (text.isdigit() and text.isascii() and len(text) <= 18):
            _usage_exit(prog, f"Invalid value for '{flag}': must be a non-negative integer, got {text[:40]!r}")
        return int(text)
    if opt.kind == "choice" and text not in opt.choices:
        choices = ", ".join(repr(c) for c in opt.choices)
        _usage_exit(prog, f"Invalid value for '{flag}': {text[:40]!r} is not one of {choices}.")
    return text


def parse_args(prog: str, argv: Sequence[str]) -> dict[str, Any]:
    """Read `verify` arguments as the click command does; exit 2 on a usage error, as click does.

    Neither click nor argparse: importing argparse and building its parser cost about 16 M
    instructions (a fifth of our own start-up), and the command's grammar is small. Long options
    take `--opt VALUE` or `--opt=VALUE`, short flags may be combined (`-vv`), options and the one
    ARTIFACT may come in any order, `--` ends the options, no option is abbreviated.
    `tests/unit/test_verify_command_parity.py` holds this reading to click's.
    """
    values: dict[str, Any] = {opt.dest: (False if opt.kind == "flag" else opt.default) for opt in OPTIONS}
    positionals: list[str] = []
    last_given: dict[str, tuple[str, str]] = {}
    pending = list(argv)
    pending.reverse()  # pop() from the end takes the next argument
    while pending:
        arg = pending.pop()
        if arg == "--":
            positionals.extend(reversed(pending))
            break
        if arg == "-" or not arg.startswith("-"):
            positionals.append(arg)
            continue
        if arg.startswith("--"):
            flag, has_value, inline = arg.partition("=")
            group = [flag]
        else:  # -v, or short flags run together: -vv
            flag, has_value, inline = arg, "", ""
            group = [f"-{letter}" for letter in arg[1:]]
        for flag in group:
            opt = _FLAGS.get(flag)
            if opt is None:
                _usage_exit(prog, f"No such option: {flag}")
            if opt.kind == "flag":
                if has_value:
                    _usage_exit(prog, f"Option '{flag}' does not take a value.")
                values[opt.dest] = True
                continue
            if len(group) > 1:
                _usage_exit(prog, f"Option '{flag}' requires an argument; give it on its own.")
            if has_value:
                text = inline
            elif pending:
                text = pending.pop()
            else:
                _usage_exit(prog, f"Option '{flag}' requires an argument.")
            if opt.kind == "paths":
                values[opt.dest] = [*(values[opt.dest] or ()), text]
            elif opt.dest in _ONCE and opt.dest in last_given:
                _usage_exit(prog, f"{opt.flags[0]} was given 2 times; give it once")
            else:
                last_given[opt.dest] = (flag, text)
    # As click: a repeated option keeps its last value, and only that value is checked.
    for dest, (flag, text) in last_given.items():
        values[dest] = _option_value(prog, _FLAGS[flag], flag, text)
    if not positionals:
        _usage_exit(prog, f"Missing argument '{ARTIFACT_METAVAR}'.")
    if len(positionals) > 1:
        _usage_exit(prog, f"Got unexpected extra argument ({positionals[1]})")
    values["artifact"] = positionals[0]
    return values


def main_fast(command: str, argv: Sequence[str]) -> None:
    """Entry for `airseal verify|verify-bundle ARGS` from the console script."""
    opts = parse_args(f"airseal {command}", argv)
    try:
        run(**opts)
    except UsageProblem as problem:
        _usage_exit(f"airseal {command}", str(problem))


def run(**opts: Any) -> None:
    as_json = bool(opts["as_json"])
    enforce = opts["mode"] == "enforce"

    def body() -> None:
        try:
            result, trust_warnings = _verify(**opts)
        except VerificationError as err:
            _report_failure(err, as_json=as_json, enforce=enforce, verbose=bool(opts["verbose"]))
            return
        # Input, trust and token problems are not verification outcomes: they keep their exit
        # codes (3/4/5) even in warn mode, because nothing was verified at all.
        _report_success(result, trust_warnings, as_json=as_json, verbose=bool(opts["verbose"]))

    run_guarded(body, as_json=as_json, verbose=bool(opts["verbose"]))


def _verify(**opts: Any) -> tuple[Any, list[str]]:
    from verifier._internal.artifact import parse_artifact_argument
    from verifier._internal.bundle.model import CertificateMaterial
    from verifier._internal.evidence import SIGSTORE_BUNDLE, load_evidence
    from verifier._internal.identity import Identity
    from verifier._internal.policy import VerificationPolicy
    from verifier._internal.roots import most_specific, verify_with_trusted_roots

    identity = None
    if opts["certificate_identity"] and opts["certificate_identity_regexp"]:
        raise UsageProblem("give --certificate-identity or --certificate-identity-regexp, not both")
    if opts["certificate_oidc_issuer"] and opts["certificate_oidc_issuer_regexp"]:
        raise UsageProblem("give --certificate-oidc-issuer or --certificate-oidc-issuer-regexp, not both")
    if opts["certificate_identity"] or opts["certificate_identity_regexp"]:
        identity = Identity(
            san=opts["certificate_identity"],
            san_regexp=_check_regexp(opts["certificate_identity_regexp"]),
            issuer=opts["certificate_oidc_issuer"],
            issuer_regexp=_check_regexp(opts["certificate_oidc_issuer_regexp"]),
        )
    elif opts["certificate_oidc_issuer"] or opts["certificate_oidc_issuer_regexp"]:
        raise UsageProblem("an OIDC issuer needs --certificate-identity or --certificate-identity-regexp too")
    if identity is None and not opts["key_ref"]:
        raise UsageProblem("say who must have signed: --key, --certificate-identity or --certificate-identity-regexp")
    notes: list[str] = []
    if identity is not None and not (opts["certificate_oidc_issuer"] or opts["certificate_oidc_issuer_regexp"]):
        notes.append(
            "no --certificate-oidc-issuer[-regexp] given: any OIDC issuer is accepted for this identity"
            " (cosign requires one); name the issuer you expect"
        )

    both = identity is not None and bool(opts["key_ref"])
    if both and opts["bundle_path"] is None:
        raise UsageProblem("give --key or a certificate identity, not both (both only with --bundle naming evidence that holds key- and certificate-signed attestations, such as npm's)")
    artifact = parse_artifact_argument(opts["artifact"])
    bundle_path = opts["bundle_path"]
    if bundle_path is None:
        if artifact.path is None:
            raise UsageProblem("--bundle is required when verifying a digest")
        bundle_path = artifact.path + ".sigstore.json"
    items = load_evidence(_read(bundle_path, "bundle", Reason.BUNDLE_MALFORMED_JSON, DEFAULT_LIMITS.max_bundle_bytes))
    wrapped = items[0].format != SIGSTORE_BUNDLE
    if both and not wrapped:
        raise UsageProblem("give --key or a certificate identity, not both (both only for evidence that holds key- and certificate-signed attestations, such as npm's)")

    key = _load_key(opts["key_ref"]) if opts["key_ref"] else None
    if (
        any(isinstance(i.bundle.material, CertificateMaterial) or i.bundle.tlog_entries or i.bundle.rfc3161_timestamps for i in items)
        or opts["trusted_root"]
    ):
        roots, trust_warnings = _load_trust(opts)
    else:
        # A bare key signature with no log entry or timestamp: no trust root takes part, so
        # don't warn about one (thresholds still apply and will say what is missing). A named
        # trust must still exist: a typo in --trust is an error whatever the bundle holds.
        from verifier._internal.trustroot.model import TrustedRoot

        if opts["trust_name"]:
            from verifier._internal.trustroot.store import require_trust

            require_trust(opts["trust_name"])
        roots, trust_warnings = [(TrustedRoot("", (), (), (), ()), None)], []
    trust_warnings = notes + list(trust_warnings)
    for message in trust_warnings:
        warn(message)

    def policy_for(item: Any, *, use_identity: bool) -> Any:
        subject_name = None
        if item.subject_name_form is not None:
            if artifact.path is None:
                raise UsageProblem(f"{item.format} evidence names the distribution file: give the file, not its digest")
            import os

            subject_name = os.path.basename(artifact.path)
        return VerificationPolicy(
            identity=identity if use_identity else None,
            key=None if use_identity else key,
            min_tlog_entries=opts["min_tlog_entries"],
            min_timestamps=opts["min_timestamps"],
            min_scts=opts["min_scts"],
            predicate_type=item.expected_predicate_type,
            subject_name=subject_name,
            subject_name_form=item.subject_name_form or "exact",
        )

    # Who must have signed decides which bundles are judged: certificate bundles by the
    # identity, key bundles by the key. Given both (npm), one of each must verify.
    wanted = [kind for kind, given in (("certificate", identity is not None), ("key", key is not None)) if given]
    results = []
    for kind in wanted:
        use_identity = kind == "certificate"
        candidates = [i for i in items if isinstance(i.bundle.material, CertificateMaterial) == use_identity]
        if not candidates:
            if len(wanted) == 1:
                candidates = items  # let verification say why this evidence does not fit
            else:
                raise VerificationError(
                    Reason.KEY_UNKNOWN if kind == "key" else Reason.IDENTITY_NO_CERTIFICATE,
                    f"--{'key' if kind == 'key' else 'certificate-identity'} was given, but the evidence holds no "
                    f"{'key' if kind == 'key' else 'certificate'}-signed bundle",
                    check="policy",
                )
        failures = []
        for item in candidates:
            try:
                result = verify_with_trusted_roots(item.bundle, roots, artifact, policy_for(item, use_identity=use_identity))
            except VerificationError as err:
                if len(items) > 1 or item.location:
                    err.context.setdefault("evidence", f"{item.format} {item.location}".strip())
                failures.append(err)
                continue
            results.append(result._replace(evidence_format=item.format, evidence_location=item.location))
            break
        else:
            raise most_specific(failures)
    primary = results[0]
    if len(results) > 1:
        extra = tuple(f"also verified: {r.evidence_location or r.evidence_format} signed by {r.signer.describe()}" for r in results[1:])
        primary = primary._replace(warnings=primary.warnings + extra)
    return primary, trust_warnings


def _read(path: str, what: str, reason: Reason, max_bytes: int) -> bytes:
    """A regular file of at most `max_bytes` (a FIFO or an oversized file is refused unread)."""
    from verifier._internal.inputfile import read_input_file

    return read_input_file(path, what=what, reason=reason, max_bytes=max_bytes)


def _check_regexp(pattern: Optional[str]) -> Optional[str]:
    if pattern is None:
        return None
    import re

    try:
        re.compile(pattern)
    except re.error as exc:
        raise UsageProblem(f"invalid regexp {pattern!r}: {exc}") from exc
    return pattern


def _load_key(ref: str) -> Any:
    from verifier.cli.inputs import load_key_ref

    return load_key_ref(ref, warn)


def _load_trust(opts: dict[str, Any]) -> tuple[list[tuple[TrustedRoot, Optional[str]]], list[str]]:
    """Every trusted root asked for, each with its SHA-256: `--trusted-root` files (each one
    root, or JSON Lines of roots) or the named trust (cli.inputs, shared with the gate)."""
    import hashlib

    from verifier._internal.trustroot.load import load_trusted_root
    from verifier.cli.inputs import resolve_trust

    paths = opts["trusted_root"] or ()
    name = opts["trust_name"] or ("staging" if opts["staging"] else None)
    if paths and opts["staging"]:
        raise UsageProblem("give --trusted-root or --trust, not both")
    if paths and opts.get("max_trust_age") is not None:
        raise UsageProblem("--max-trust-age judges a named trust's last refresh: use it with --trust, not --trusted-root")
    documents, warnings = resolve_trust(
        (paths,) if isinstance(paths, str) else tuple(paths), name, max_age_days=opts.get("max_trust_age")
    )
    return [(load_trusted_root(data), hashlib.sha256(data).hexdigest()) for _, data in documents], warnings


def _report_success(result: Any, trust_warnings: list[str], *, as_json: bool, verbose: bool) -> None:
    if as_json:
        doc = result.to_json()
        doc["warnings"] = list(doc["warnings"]) + trust_warnings
        emit_json(doc)
        return
    times = ", ".join(f"{t.kind} {t.time}" for t in result.time_sources) or "none"
    echo(f"verified: {result.artifact_digest} signed by {result.signer.describe()}; times: {times}")
    if result.evidence_format != "sigstore-bundle" or result.evidence_location:
        echo(f"  evidence: {result.evidence_format}" + (f", {result.evidence_location}" if result.evidence_location else ""))
    if verbose:
        if result.trusted_root_sha256:
            echo(f"  trusted root: sha256 {result.trusted_root_sha256}")
        for check in result.checks:
            echo(f"  [{'ok' if check.ok else '--'}] {check.name}: {check.detail}")


def _failed_entry(checks: list[Any], name: str, detail: str) -> list[dict[str, Any]]:
    """The failing check, unless the recorder already listed it (failed RFC 3161 tokens)."""
    if checks and checks[-1].name == name and not checks[-1].ok and checks[-1].detail.endswith(detail):
        return []
    return [{"name": name, "ok": False, "detail": detail}]


def _report_failure(err: VerificationError, *, as_json: bool, enforce: bool, verbose: bool) -> None:
    from verifier._internal.result import VERIFY_SCHEMA, checks_json

    checks = list(err.checks)
    failed_check = err.check or "verification"
    if as_json:
        doc = {
            "schema": VERIFY_SCHEMA,
            "verified": False,
            "enforced": enforce,
            "reason_code": err.reason.value,
            "message": err.detail,
            "failed_check": failed_check,
            "context": jsonable(err.context),
            "signer": None,
            "artifact_digest": None,
            "time_sources": [],
            "tlog_entries": [],
            "checks": checks_json(checks) + _failed_entry(checks, failed_check, err.detail),
            "causes": causes(err),
        }
        emit_json(doc)
    if verbose:
        for check in checks:
            echo(f"  [{'ok' if check.ok else '--'}] {check.name}: {check.detail}", err=True)
    echo(f"rejected: {failed_check}: {err.detail} [{err.reason.value}]", err=True)
    for key, value in err.context.items():
        echo(f"  {key}: {jsonable(value)}", err=True)
    echo_causes(err, verbose=verbose)
    if not enforce:
        echo(
            "WARNING: --mode warn: verification FAILED but airseal exits 0 because fail-open mode was asked for",
            err=True,
        )
        return
    raise SystemExit(err.exit_code)

