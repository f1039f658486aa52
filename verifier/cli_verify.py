"""`airseal verify` and `airseal verify-bundle`: parse, verify, report. Never opens a socket."""

from __future__ import annotations

from typing import Any, Optional

import click

from verifier.cli_common import _jsonable, emit_json, run_guarded, warn
from verifier.errors import InputError, Reason, VerificationError

_EPILOG = """\b
Examples:
  airseal verify --key cosign.pub app.tar.gz
  airseal verify --certificate-identity https://github.com/org/repo/.github/workflows/rel.yml@refs/tags/v1 \\
      --certificate-oidc-issuer https://token.actions.githubusercontent.com app.tar.gz
  airseal verify --bundle app.sigstore.json --key 'pkcs11:token=release;object=k1' sha256:<64 hex>
"""


def _options(fn: Any) -> Any:
    decorators = [
        click.argument("artifact", metavar="ARTIFACT | sha256:HEX"),
        click.option("--bundle", "bundle_path", type=click.Path(dir_okay=False), help="Sigstore bundle (default: ARTIFACT.sigstore.json)."),
        click.option("--key", "key_ref", help="PEM public key file, or a pkcs11: URI naming a token key."),
        click.option("--certificate-identity", help="Expected SAN of the signing certificate (exact)."),
        click.option("--certificate-identity-regexp", help="Expected SAN, as a regexp that must match the whole value."),
        click.option("--certificate-oidc-issuer", help="Expected OIDC issuer (exact)."),
        click.option("--certificate-oidc-issuer-regexp", help="Expected OIDC issuer, as a full-match regexp."),
        click.option("--trusted-root", type=click.Path(dir_okay=False), help="Use this trusted_root.json as the only trust."),
        click.option("--trust", "trust_name", default=None, help="Named trust from the store (default public-good)."),
        click.option("--staging", is_flag=True, help="Same as --trust staging."),
        click.option("--min-tlog-entries", type=click.IntRange(min=0), default=1, show_default=True, help="Verified entries from distinct trusted logs."),
        click.option("--min-timestamps", type=click.IntRange(min=0), default=None, help="Verified time sources (RFC 3161 or SET) [default: 1 for certificates, 0 for keys]."),
        click.option("--min-scts", type=click.IntRange(min=0), default=None, help="SCTs from distinct CT logs [default: 1 for certificates, 0 for keys]."),
        click.option("--mode", type=click.Choice(["enforce", "warn"]), default="enforce", show_default=True, help="warn = fail-open: report a failure but exit 0."),
        click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout (schema airseal.verify.v1)."),
        click.option("-v", "--verbose", is_flag=True, help="List every check that ran."),
    ]
    for decorator in reversed(decorators):
        fn = decorator(fn)
    return fn


@click.command(epilog=_EPILOG)
@_options
def verify(**kwargs: Any) -> None:
    """Verify ARTIFACT (or its digest) against a Sigstore bundle, offline."""
    _run(**kwargs)


@click.command("verify-bundle", epilog=_EPILOG)
@_options
def verify_bundle(**kwargs: Any) -> None:
    """The Sigstore conformance protocol's verify-bundle; same as `verify`."""
    _run(**kwargs)


def _run(**opts: Any) -> None:
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

    run_guarded(body, as_json=as_json)


def _verify(**opts: Any) -> tuple[Any, list[str]]:
    from verifier.artifact import parse_artifact_argument
    from verifier.bundle.parse import load_bundle
    from verifier.identity import Identity
    from verifier.policy import VerificationPolicy
    from verifier.verify import verify_bundle as run_verification

    artifact = parse_artifact_argument(opts["artifact"])
    bundle_path = opts["bundle_path"]
    if bundle_path is None:
        if artifact.path is None:
            raise click.UsageError("--bundle is required when verifying a digest")
        bundle_path = artifact.path + ".sigstore.json"
    bundle = load_bundle(_read(bundle_path, "bundle", Reason.BUNDLE_MALFORMED_JSON))

    identity = None
    if opts["certificate_identity"] and opts["certificate_identity_regexp"]:
        raise click.UsageError("give --certificate-identity or --certificate-identity-regexp, not both")
    if opts["certificate_oidc_issuer"] and opts["certificate_oidc_issuer_regexp"]:
        raise click.UsageError("give --certificate-oidc-issuer or --certificate-oidc-issuer-regexp, not both")
    if opts["certificate_identity"] or opts["certificate_identity_regexp"]:
        identity = Identity(
            san=opts["certificate_identity"],
            san_regexp=_check_regexp(opts["certificate_identity_regexp"]),
            issuer=opts["certificate_oidc_issuer"],
            issuer_regexp=_check_regexp(opts["certificate_oidc_issuer_regexp"]),
        )
    elif opts["certificate_oidc_issuer"] or opts["certificate_oidc_issuer_regexp"]:
        raise click.UsageError("an OIDC issuer needs --certificate-identity or --certificate-identity-regexp too")
    if identity is not None and opts["key_ref"]:
        raise click.UsageError("give --key or a certificate identity, not both")
    if identity is None and not opts["key_ref"]:
        raise click.UsageError("say who must have signed: --key, --certificate-identity or --certificate-identity-regexp")

    key = _load_key(opts["key_ref"]) if opts["key_ref"] else None
    from verifier.bundle.model import CertificateMaterial

    if (
        isinstance(bundle.material, CertificateMaterial)
        or bundle.tlog_entries
        or bundle.rfc3161_timestamps
        or opts["trusted_root"]
    ):
        trusted_root, trust_warnings = _load_trust(opts)
    else:
        # A bare key signature with no log entry or timestamp: no trust root takes part, so
        # don't warn about one (thresholds still apply and will say what is missing).
        from verifier.trustroot.model import TrustedRoot

        trusted_root, trust_warnings = TrustedRoot("", (), (), (), ()), []
    policy = VerificationPolicy(
        identity=identity,
        key=key,
        min_tlog_entries=opts["min_tlog_entries"],
        min_timestamps=opts["min_timestamps"],
        min_scts=opts["min_scts"],
    )
    for message in trust_warnings:
        warn(message)
    return run_verification(bundle, trusted_root, artifact, policy), trust_warnings


def _read(path: str, what: str, reason: Reason) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(64 * 1024 * 1024 + 1)
    except OSError as exc:
        raise InputError(reason, f"cannot read {what} {path!r}: {exc.strerror}") from exc


def _check_regexp(pattern: Optional[str]) -> Optional[str]:
    if pattern is None:
        return None
    import re

    try:
        re.compile(pattern)
    except re.error as exc:
        raise click.UsageError(f"invalid regexp {pattern!r}: {exc}") from exc
    return pattern


def _load_key(ref: str) -> Any:
    from cryptography.hazmat.primitives import serialization

    from verifier.policy import load_pem_public_key

    if ref.startswith("pkcs11:"):
        from hsm.keys import public_key_for_uri

        key = public_key_for_uri(ref, warn=warn)
        pem = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        return load_pem_public_key(pem, "the token key")
    return load_pem_public_key(_read(ref, "key", Reason.KEY_MALFORMED), ref)


def _load_trust(opts: dict[str, Any]) -> tuple[Any, list[str]]:
    from verifier.trustroot.load import load_trusted_root

    if opts["trusted_root"]:
        if opts["trust_name"] or opts["staging"]:
            raise click.UsageError("give --trusted-root or --trust, not both")
        return load_trusted_root(_read(opts["trusted_root"], "trusted root", Reason.TRUSTROOT_MALFORMED)), []
    name = opts["trust_name"] or ("staging" if opts["staging"] else "public-good")
    from verifier.trustroot.store import resolve_trusted_root

    resolved = resolve_trusted_root(name)
    return load_trusted_root(resolved.data), list(resolved.warnings)


def _signer_line(signer: dict[str, Any]) -> str:
    if signer.get("kind") == "certificate":
        return f"{signer.get('identity')} (issuer {signer.get('issuer')})"
    return f"key {signer.get('key_id', '')} ({signer.get('key_type')})"


def _report_success(result: Any, trust_warnings: list[str], *, as_json: bool, verbose: bool) -> None:
    from verifier.result import result_json

    if as_json:
        doc = result_json(result)
        doc["warnings"] = list(doc["warnings"]) + trust_warnings
        emit_json(doc)
        return
    times = ", ".join(f"{t.kind} {t.time}" for t in result.time_sources) or "none"
    click.echo(f"verified: {result.artifact_digest} signed by {_signer_line(result.signer)}; times: {times}")
    if verbose:
        for check in result.checks:
            click.echo(f"  [{'ok' if check.ok else '--'}] {check.name}: {check.detail}")


def _failed_entry(checks: list[Any], name: str, detail: str) -> list[dict[str, Any]]:
    """The failing check, unless the recorder already listed it (failed RFC 3161 tokens)."""
    if checks and checks[-1].name == name and not checks[-1].ok and checks[-1].detail.endswith(detail):
        return []
    return [{"name": name, "ok": False, "detail": detail}]


def _report_failure(err: VerificationError, *, as_json: bool, enforce: bool, verbose: bool) -> None:
    from verifier.result import VERIFY_SCHEMA, checks_json

    checks = err.context.pop("_checks", [])
    failed_check = err.check or "verification"
    if as_json:
        doc = {
            "schema": VERIFY_SCHEMA,
            "verified": False,
            "enforced": enforce,
            "reason_code": err.reason.value,
            "message": err.detail,
            "failed_check": failed_check,
            "context": _jsonable(err.context),
            "signer": None,
            "artifact_digest": None,
            "time_sources": [],
            "tlog_entries": [],
            "checks": checks_json(checks) + _failed_entry(checks, failed_check, err.detail),
        }
        emit_json(doc)
    if verbose:
        for check in checks:
            click.echo(f"  [{'ok' if check.ok else '--'}] {check.name}: {check.detail}", err=True)
    click.echo(f"rejected: {failed_check}: {err.detail} [{err.reason.value}]", err=True)
    for key, value in err.context.items():
        click.echo(f"  {key}: {_jsonable(value)}", err=True)
    if not enforce:
        click.echo(
            "WARNING: --mode warn: verification FAILED but airseal exits 0 because fail-open mode was asked for",
            err=True,
        )
        return
    raise SystemExit(err.exit_code)

