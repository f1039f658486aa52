"""`airseal sign` and `airseal attest`: sign artifacts and in-toto statements with a token key.

Only click and cli.common are imported at module level: `airseal sign` is run once per file
by some pipelines, so pkcs11, cryptography and asn1crypto load inside the command bodies, and
tuf never loads on this path. Errors are mapped to exit codes by `run_guarded`; a PIN is never
taken on argv (cli.md) and never printed.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from verifier._internal.limits import DEFAULT_LIMITS
from verifier.cli.common import given_once, parse_key_uri, run_guarded, warn


def _service_options(fn: Any) -> Any:
    """--rekor-url, --rekor-api-version, --signing-config, --trusted-root, --trust (sign and attest)."""
    for decorator in reversed((
        click.option("--rekor-url", metavar="URL",
                     help="Transparency log (Rekor) to record each signature in; its entry goes into the bundle."),
        click.option("--rekor-api-version", type=click.Choice(["auto", "1", "2"]), default="auto", show_default=True,
                     help="Rekor API of --rekor-url: auto asks the log (GET /api/v1/log answers on Rekor v1 only)."),
        click.option("--signing-config", "signing_config", type=click.Path(dir_okay=False, path_type=Path),
                     help="Sigstore signing config (v0.2) choosing the log(s) and TSA(s), as Sigstore clients do."),
        click.option("--trusted-root", "trusted_root", type=click.Path(dir_okay=False, path_type=Path),
                     help="trusted_root.json of the log and TSA (a private deployment): each bundle is verified"
                          " against it before it is written."),
        click.option("--trust", "trust_name", metavar="NAME",
                     help="Named trust from the store: its TUF-verified signing config chooses the log and TSA"
                          " (unless --rekor-url/--tsa-url/--signing-config), and each bundle is verified against"
                          " its trusted root before it is written."),
    )):
        fn = decorator(fn)
    return fn


class _ServiceArgs:
    """The service options of one sign/attest call, as given."""

    def __init__(self, tsa_url: str | None, rekor_url: str | None, rekor_api_version: str,
                 signing_config: Path | None, trusted_root: Path | None, trust_name: str | None) -> None:
        self.tsa_url = tsa_url
        self.rekor_url = rekor_url
        self.rekor_api_version = rekor_api_version
        self.signing_config = signing_config
        self.trusted_root = trusted_root
        self.trust_name = trust_name
        if trusted_root is not None and trust_name is not None:
            raise click.UsageError("give --trusted-root or --trust, not both")


def _signing_config(args: _ServiceArgs) -> tuple[bytes, str] | None:
    """(bytes, where from) of the signing config that chooses the services, or None.

    `--signing-config FILE` wins; else, with `--trust NAME` and no `--rekor-url`/`--tsa-url`,
    the trust's TUF-verified `signing_config.v0.2.json` (refreshed with the trusted root).
    """
    from verifier.errors import InputError, Reason

    if args.signing_config is not None:
        from verifier._internal.inputfile import read_input_file

        data = read_input_file(
            args.signing_config, what="signing config", reason=Reason.SIGNING_CONFIG_INVALID,
            max_bytes=DEFAULT_LIMITS.max_trusted_root_bytes,
        )
        return data, str(args.signing_config)
    if args.trust_name is None or args.rekor_url or args.tsa_url:
        return None
    from verifier._internal.trustroot import store

    stored = store.read_verified_signing_config(store.current_state(store.check_name(args.trust_name)))
    if stored is None:
        raise InputError(
            Reason.SIGNING_NO_SERVICE,
            f"trust {args.trust_name!r} holds no signing config (its TUF repository ships none, or it was"
            " never refreshed): name the services with --signing-config, or --rekor-url and --tsa-url",
        )
    return stored, f"the signing config of trust {args.trust_name!r}"


def _plan_services(args: _ServiceArgs) -> tuple[tuple[Any, ...], tuple[str, ...]]:
    """(log clients, TSA URLs): explicit URLs win over the signing config for their kind."""
    from verifier._internal.signing import rekor_client

    logs: tuple[Any, ...] = ()
    tsas: tuple[str, ...] = ()
    config = _signing_config(args)
    if config is not None:
        from verifier._internal.signing.signing_config import load_signing_config, select_services
        from verifier.errors import InputError, Reason

        data, source = config
        plan = select_services(load_signing_config(data, source), source)
        if not plan.logs and not plan.tsas:
            raise InputError(
                Reason.SIGNING_NO_SERVICE,
                f"{source} lists no transparency log or TSA that is valid now with an API airseal"
                " speaks (Rekor v1/v2, TSA v1)",
            )
        logs = tuple(rekor_client.client_for(s.url, s.major_api_version) for s in plan.logs)
        tsas = tuple(s.url for s in plan.tsas)
    if args.rekor_url:
        major = _rekor_major(args.rekor_url) if args.rekor_api_version == "auto" else int(args.rekor_api_version)
        logs = (rekor_client.client_for(args.rekor_url, major),)
    if args.tsa_url:
        tsas = (args.tsa_url,)
    return logs, tsas


def _rekor_major(url: str) -> int:
    """1 if GET URL/api/v1/log answers 200 (Rekor v1's log info), else 2."""
    from verifier._internal.signing.rekor_client import send

    reply = send("GET", url.rstrip("/") + "/api/v1/log", what="the transparency log")
    return 1 if reply.status == 200 else 2


def _services(args: _ServiceArgs, signer: Any, *, dsse: bool) -> Any:
    """The Services of this run, or None when no log and no TSA is used (plain signing)."""
    # --trust NAME alone signs with the services of the trust's TUF-verified signing config.
    if not (args.rekor_url or args.tsa_url or args.signing_config or args.trust_name):
        if args.trusted_root is not None:
            warn("--trusted-root verifies log and TSA evidence; with no --rekor-url, --tsa-url,"
                 " --signing-config or --trust there is none: the bundle is not logged")
        return None  # plain signing: no service module is imported
    from verifier._internal.signing.pipeline import NotLoggable, Services, check_loggable

    logs, tsas = _plan_services(args)
    try:
        check_loggable(logs, tsas, signer.key_type, rsa_pss=bool(getattr(signer, "rsa_pss", False)), dsse=dsse)
    except NotLoggable as exc:
        raise click.UsageError(str(exc)) from None
    from hsm.keys import spki_der
    from verifier._internal.policy import load_pem_public_key
    from verifier._internal.signing.rekor_client import pem_of

    key = load_pem_public_key(pem_of(spki_der(signer.public_key())), "the token key")
    trusted_root, description = None, ""
    if logs or args.trusted_root is not None or args.trust_name is not None:
        from verifier._internal.trustroot.load import load_trusted_root
        from verifier.cli.inputs import resolve_trust

        documents, warnings = resolve_trust((str(args.trusted_root),) if args.trusted_root else (), args.trust_name)
        if len(documents) != 1:
            raise click.UsageError("signing verifies against one trusted root: give a --trusted-root file with one root")
        trusted_root = load_trusted_root(documents[0][1])
        for message in warnings:
            warn(message)
        description = str(args.trusted_root) if args.trusted_root else f"trust {args.trust_name or 'public-good'!r}"
    return Services(logs, tsas, trusted_root, description, key)


def _describe_services(services: Any) -> str:
    parts = [f"log {log.url} (Rekor v{log.major})" for log in services.logs]
    parts += [f"TSA {url}" for url in services.tsa_urls]
    return ", ".join(parts)


# --------------------------------------------------------------------------- sign


@click.command()
@click.option("--key", "key_uri", required=True, multiple=True, callback=given_once, metavar="URI",
              help="pkcs11: URI of the signing key.")
@click.option("--bundle", "bundle_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Bundle path (one artifact only). Default: ARTIFACT.sigstore.json.")
@click.option("--signature", "signature_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the raw signature, base64 text as cosign does (one artifact only).")
@click.option("--certificate", "certificate_pem", type=click.Path(dir_okay=False, path_type=Path),
              help="PEM certificate for the token key; goes into the bundle instead of a key hint.")
@click.option("--tsa-url", metavar="URL", help="RFC 3161 timestamp authority to timestamp each signature.")
@_service_options
@click.option("--rsa-pss", is_flag=True, help="RSA keys: sign with RSASSA-PSS (SHA-256, MGF1-SHA-256, salt 32).")
@click.argument("artifacts", nargs=-1, required=True, metavar="ARTIFACT...", type=click.Path(dir_okay=False, path_type=Path))
def sign(
    key_uri: str,
    bundle_out: Path | None,
    signature_out: Path | None,
    certificate_pem: Path | None,
    tsa_url: str | None,
    rekor_url: str | None,
    rekor_api_version: str,
    signing_config: Path | None,
    trusted_root: Path | None,
    trust_name: str | None,
    rsa_pss: bool,
    artifacts: tuple[Path, ...],
) -> None:
    """Sign ARTIFACT... with a token key; write a Sigstore v0.3 bundle per artifact.

    The artifact is hashed on this machine (SHA-256; SHA-384 for P-384 keys) and only the
    digest goes to the token. Ed25519 signs the whole file, so it is read into memory
    (at most 256 MiB). All artifacts share one login. The PIN comes from the URI's
    pin-source, AIRSEAL_PKCS11_PIN, or a terminal prompt. Every signature is verified on
    this machine first; bundles are written (atomically, durably) only once every artifact
    is signed: on an error, none is written.

    \b
    With --rekor-url (or a --signing-config naming logs) each signature is recorded in the
    transparency log and the entry (inclusion proof, checkpoint, SET for Rekor v1) goes into
    the bundle; Rekor v2 needs a TSA as well. Each such bundle is verified on this machine
    against --trusted-root FILE (or the trust --trust NAME, default public-good) before
    anything is written. Uploads run 8 at a time while the token signs; a service that
    cannot be reached exits 6 and writes nothing.

    \b
    Example:
      export AIRSEAL_PKCS11_MODULE=/usr/lib/softhsm/libsofthsm2.so
      airseal sign --key 'pkcs11:token=release;object=signing-key' dist/*.tar.gz
      airseal sign --key 'pkcs11:token=release;object=signing-key' \\
        --signing-config signing_config.json --trusted-root trusted_root.json dist/*.tar.gz
    """
    if len(artifacts) > 1 and (bundle_out is not None or signature_out is not None):
        raise click.UsageError("--bundle and --signature name one file: use them with a single ARTIFACT")
    args = _ServiceArgs(tsa_url, rekor_url, rekor_api_version, signing_config, trusted_root, trust_name)
    run_guarded(lambda: _sign(key_uri, bundle_out, signature_out, certificate_pem, args, rsa_pss, artifacts))


def _sign(
    key_uri: str,
    bundle_out: Path | None,
    signature_out: Path | None,
    certificate_pem: Path | None,
    args: _ServiceArgs,
    rsa_pss: bool,
    artifacts: tuple[Path, ...],
) -> None:
    """Sign every artifact, then write every output, all or nothing.

    Each signature is verified on this host before any byte is written for it (in
    `HsmSigner`). Outputs go to temp files next to their targets (`AtomicBatch`); only when
    every artifact is signed, verified and staged are the temp files made durable (one
    fsync each, or for 8+ files one syncfs of the filesystem), renamed over the targets and
    the directories fsynced. Any failure before that (unreadable artifact, token error,
    self-check, TSA, log, bundle verification) removes the temp files and writes nothing, not
    even for the artifacts already signed. The "signed ..." lines are printed once everything
    is written.

    With services (a log or a TSA), each signature goes to a worker thread (`Pipeline`) that
    timestamps, uploads, builds and verifies its bundle while this thread signs the next
    artifact on the token.
    """
    from hsm.signer import PARALLEL_CHECK_MIN, open_signer
    from verifier._internal import atomic, encoding
    from verifier._internal.bundle import build
    from verifier._internal.signing import sign

    signer = open_signer(parse_key_uri(key_uri), rsa_pss=rsa_pss, warn=warn)
    material_args = _identity_material(signer, certificate_pem)
    who = _who(material_args)
    services = _services(args, signer, dsse=False)
    # Without services every bundle shares one verification material: render from a template.
    template = None if services is not None else build.MessageBundleTemplate(
        build.verification_material(**material_args), signer.hash_name if signer.prehashed else "sha256"
    )
    batch = atomic.AtomicBatch(bulk=len(artifacts) >= atomic.BULK_SYNC_MIN_FILES)
    lines: list[str] = []
    suffix = f"; {_describe_services(services)}" if services is not None else ""
    pipeline: Any = None

    def finish(artifact: Path, target: Path, data: bytes, signature: bytes) -> None:
        batch.stage(target, data)
        if signature_out is not None:
            batch.stage(signature_out, (encoding.b64(signature) + "\n").encode("ascii"))
        lines.append(f"signed {artifact} -> {target} ({signer.key_type}, {who}{suffix})")

    def stage(artifact: Path, digest: Any, signature: bytes) -> None:
        target = bundle_out or artifact.with_name(artifact.name + ".sigstore.json")
        if template is not None:
            finish(artifact, target, template.render(digest.digest, signature), signature)
        else:
            pipeline.submit(_logged_bundle, services, material_args, artifact, target, digest, signature, signer.prehashed)

    try:
        if services is not None:
            from verifier._internal.signing.pipeline import Pipeline

            pipeline = Pipeline()
        if signer.prehashed:
            digests: list[Any] = []

            def hashed() -> Any:
                for artifact in artifacts:
                    digest = sign.digest_artifact(artifact, signer.hash_name)
                    digests.append(digest)
                    yield digest.digest

            # From PARALLEL_CHECK_MIN artifacts on, the self-check runs in a second thread.
            signatures = signer.sign_digests(hashed(), signer.hash_name, parallel=len(artifacts) >= PARALLEL_CHECK_MIN)
            try:
                for index, signature in enumerate(signatures):
                    stage(artifacts[index], digests[index], signature)
            finally:
                signatures.close()  # reaps the verifying worker on every path
        else:  # Ed25519 signs each whole file: one at a time
            for artifact in artifacts:
                digest, signature = sign.sign_artifact(signer, artifact)
                stage(artifact, digest, signature)
        if pipeline is not None:
            for result in pipeline.results():
                finish(*result)
        batch.commit()
    except BaseException:
        batch.abort()
        raise
    finally:
        if pipeline is not None:
            pipeline.close()
    click.echo("\n".join(lines))


def _logged_bundle(
    services: Any, material_args: dict[str, Any], artifact: Path, target: Path, digest: Any, signature: bytes,
    prehashed: bool,
) -> tuple[Path, Path, bytes, bytes]:
    """Worker thread: timestamps and log entries for one signature, the bundle, its verification."""
    from verifier._internal.artifact import ArtifactInput
    from verifier._internal.bundle import build
    from verifier._internal.signing.pipeline import message_evidence, verify_before_write

    entries, timestamps = message_evidence(services, digest, signature)
    material = build.verification_material(rfc3161_responses=timestamps, tlog_entries=entries, **material_args)
    data = build.dump_bundle_json(build.message_signature_bundle(digest, signature, material))
    # The digest is what was signed; Ed25519 signed the file itself, so the verifier reads it.
    subject = ArtifactInput(given_digest=(digest.hash_name, digest.digest)) if prehashed else ArtifactInput(path=str(artifact))
    verify_before_write(services, data, subject, str(artifact))
    return artifact, target, data, signature


def _identity_material(signer: Any, certificate_pem: Path | None) -> dict[str, Any]:
    """Key hint, or the certificate's DER after checking it certifies the token key."""
    from hsm.keys import key_hint, spki_der

    if certificate_pem is None:
        return {"key_hint": key_hint(signer.public_key())}
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from verifier.errors import HsmError, InputError, Reason

    try:
        cert = x509.load_pem_x509_certificate(certificate_pem.read_bytes())
    except OSError as exc:
        raise InputError(Reason.CERT_MALFORMED, f"cannot read {certificate_pem}: {exc.strerror or exc}") from exc
    except (ValueError, x509.InvalidVersion) as exc:
        raise InputError(Reason.CERT_MALFORMED, f"{certificate_pem} is not a PEM certificate: {exc}") from exc
    cert_spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if cert_spki != spki_der(signer.public_key()):
        raise HsmError(
            Reason.HSM_KEY_UNUSABLE,
            f"the certificate {certificate_pem} is for a different key than the token key: pass the"
            " certificate issued for this key, or drop --certificate",
        )
    return {"certificate_der": cert.public_bytes(serialization.Encoding.DER)}


def _who(material_args: dict[str, Any]) -> str:
    if "key_hint" in material_args:
        return f"key id {material_args['key_hint']}"
    return "with certificate"


# --------------------------------------------------------------------------- attest


@click.command()
@click.option("--key", "key_uri", required=True, multiple=True, callback=given_once, metavar="URI",
              help="pkcs11: URI of the signing key.")
@click.option("--predicate", "predicate_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="JSON file with the predicate.")
@click.option("--predicate-type", required=True, metavar="URI", help="e.g. https://slsa.dev/provenance/v1")
@click.option("--bundle", "bundle_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Bundle path. Default: ARTIFACT.sigstore.json.")
@click.option("--tsa-url", metavar="URL", help="RFC 3161 timestamp authority to timestamp the signature.")
@_service_options
@click.option("--rsa-pss", is_flag=True, help="RSA keys: sign with RSASSA-PSS.")
@click.argument("artifact", type=click.Path(dir_okay=False, path_type=Path))
def attest(
    key_uri: str,
    predicate_file: Path,
    predicate_type: str,
    bundle_out: Path | None,
    tsa_url: str | None,
    rekor_url: str | None,
    rekor_api_version: str,
    signing_config: Path | None,
    trusted_root: Path | None,
    trust_name: str | None,
    rsa_pss: bool,
    artifact: Path,
) -> None:
    """Sign an in-toto Statement v1 about ARTIFACT as a DSSE envelope in a v0.3 bundle.

    The subject is the artifact's file name and SHA-256; the predicate is read from the
    JSON file. ECDSA/RSA sign the hash of DSSE's PAE; Ed25519 signs PAE itself.

    --rekor-url / --signing-config log the envelope: Rekor v1 as a dsse 0.0.1 entry, Rekor v2
    as a hashedrekord 0.0.2 entry over PAE's digest (Rekor v2 has no DSSE type, and needs a
    TSA). The bundle is verified against --trusted-root / --trust before it is written.

    \b
    Example:
      airseal attest --key 'pkcs11:token=release;object=signing-key' \\
        --predicate provenance.json --predicate-type https://slsa.dev/provenance/v1 app.tar.gz
    """
    args = _ServiceArgs(tsa_url, rekor_url, rekor_api_version, signing_config, trusted_root, trust_name)
    run_guarded(lambda: _attest(key_uri, predicate_file, predicate_type, bundle_out, args, rsa_pss, artifact))


def _attest(
    key_uri: str,
    predicate_file: Path,
    predicate_type: str,
    bundle_out: Path | None,
    args: _ServiceArgs,
    rsa_pss: bool,
    artifact: Path,
) -> None:
    from verifier._internal import atomic, intoto
    from verifier._internal.bundle import build
    from verifier._internal.signing import sign
    from verifier._internal.signing.statement import sign_statement

    if not _is_absolute_uri(predicate_type):
        raise click.UsageError(
            f"--predicate-type must be an absolute URI such as https://slsa.dev/provenance/v1, got {predicate_type[:200]!r}"
        )
    predicate = _load_predicate(predicate_file)
    digest = sign.digest_artifact(artifact, "sha256")  # before the login: fail fast on bad input
    from hsm.keys import key_hint
    from hsm.signer import open_signer

    signer = open_signer(parse_key_uri(key_uri), rsa_pss=rsa_pss, warn=warn)
    payload = intoto.build_statement(artifact.name, digest.digest.hex(), predicate_type, predicate)
    services = _services(args, signer, dsse=True)
    evidence = None
    if services is not None:
        from verifier._internal.signing.pipeline import dsse_evidence

        def evidence(signature: bytes) -> tuple[list[Any], list[bytes]]:
            return dsse_evidence(services, payload, intoto.PAYLOAD_TYPE, signature)

    bundle = sign_statement(signer, payload, key_hint=key_hint(signer.public_key()), evidence=evidence)
    data = build.dump_bundle_json(bundle)
    if services is not None:
        from verifier._internal.artifact import ArtifactInput
        from verifier._internal.signing.pipeline import verify_before_write

        verify_before_write(services, data, ArtifactInput(given_digest=("sha256", digest.digest)), str(artifact))
    target = bundle_out or artifact.with_name(artifact.name + ".sigstore.json")
    atomic.write_atomic(target, data)
    suffix = f"; {_describe_services(services)}" if services is not None else ""
    click.echo(f"attested {artifact} -> {target} ({signer.key_type}, predicate {predicate_type}{suffix})")


def _is_absolute_uri(text: str) -> bool:
    """RFC 3986 absolute URI: a scheme, then something, no whitespace or control characters."""
    import re

    return re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s\x00-\x1f\x7f]+", text) is not None


def _load_predicate(path: Path) -> Any:
    """The predicate: one strict JSON object (no duplicate keys, no NaN), from a regular file."""
    from verifier._internal.encoding import load_json_object
    from verifier._internal.inputfile import read_input_file
    from verifier._internal.limits import DEFAULT_LIMITS
    from verifier.errors import Reason

    data = read_input_file(path, what="predicate", reason=Reason.ARTIFACT_UNREADABLE, max_bytes=DEFAULT_LIMITS.max_bundle_bytes)
    return load_json_object(data, what=f"predicate {path}", reason=Reason.ARTIFACT_UNREADABLE)


__all__ = ["attest", "sign"]
