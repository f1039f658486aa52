"""`airseal sign` and `airseal attest`: sign artifacts and in-toto statements with a token key.

Only click and cli.common are imported at module level: `airseal sign` is run once per file
by some pipelines, so pkcs11, cryptography and asn1crypto load inside the command bodies, and
tuf never loads on this path. Errors are mapped to exit codes by `run_guarded`; a PIN is never
taken on argv (cli.md) and never printed.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from verifier.cli.common import given_once, parse_key_uri, run_guarded, warn



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
@click.option("--rsa-pss", is_flag=True, help="RSA keys: sign with RSASSA-PSS (SHA-256, MGF1-SHA-256, salt 32).")
@click.argument("artifacts", nargs=-1, required=True, metavar="ARTIFACT...", type=click.Path(dir_okay=False, path_type=Path))
def sign(
    key_uri: str,
    bundle_out: Path | None,
    signature_out: Path | None,
    certificate_pem: Path | None,
    tsa_url: str | None,
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
    Example:
      export AIRSEAL_PKCS11_MODULE=/usr/lib/softhsm/libsofthsm2.so
      airseal sign --key 'pkcs11:token=release;object=signing-key' dist/*.tar.gz
    """
    if len(artifacts) > 1 and (bundle_out is not None or signature_out is not None):
        raise click.UsageError("--bundle and --signature name one file: use them with a single ARTIFACT")
    run_guarded(lambda: _sign(key_uri, bundle_out, signature_out, certificate_pem, tsa_url, rsa_pss, artifacts))


def _sign(
    key_uri: str,
    bundle_out: Path | None,
    signature_out: Path | None,
    certificate_pem: Path | None,
    tsa_url: str | None,
    rsa_pss: bool,
    artifacts: tuple[Path, ...],
) -> None:
    """Sign every artifact, then write every output, all or nothing.

    Each signature is verified on this host before any byte is written for it (in
    `HsmSigner`). Outputs go to temp files next to their targets (`AtomicBatch`); only when
    every artifact is signed, verified and staged are the temp files made durable (one
    fsync each, or for 8+ files one syncfs of the filesystem), renamed over the targets and
    the directories fsynced. Any failure before that (unreadable artifact, token error,
    self-check, TSA) removes the temp files and writes nothing, not even for the artifacts
    already signed. The "signed ..." lines are printed once everything is written.
    """
    from hsm.signer import PARALLEL_CHECK_MIN, open_signer
    from verifier._internal import atomic, encoding, intoto
    from verifier._internal.bundle import build
    from verifier._internal.signing import sign

    signer = open_signer(parse_key_uri(key_uri), rsa_pss=rsa_pss, warn=warn)
    material_args = _identity_material(signer, certificate_pem)
    who = _who(material_args)
    # Without a TSA every bundle shares one verification material: render from a template.
    template = None if tsa_url else build.MessageBundleTemplate(
        build.verification_material(**material_args), signer.hash_name if signer.prehashed else "sha256"
    )
    batch = atomic.AtomicBatch(bulk=len(artifacts) >= atomic.BULK_SYNC_MIN_FILES)
    lines: list[str] = []

    def stage(artifact: Path, digest: Any, signature: bytes) -> None:
        if template is not None:
            data = template.render(digest.digest, signature)
        else:
            material = build.verification_material(rfc3161_responses=_timestamps(tsa_url, signature), **material_args)
            data = build.dump_bundle_json(build.message_signature_bundle(digest, signature, material))
        target = bundle_out or artifact.with_name(artifact.name + ".sigstore.json")
        batch.stage(target, data)
        if signature_out is not None:
            batch.stage(signature_out, (encoding.b64(signature) + "\n").encode("ascii"))
        lines.append(f"signed {artifact} -> {target} ({signer.key_type}, {who})")

    try:
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
        batch.commit()
    except BaseException:
        batch.abort()
        raise
    click.echo("\n".join(lines))


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


def _timestamps(tsa_url: str | None, signature: bytes) -> list[bytes] | None:
    if tsa_url is None:
        return None
    from verifier._internal.signing.timestamp_client import request_timestamp

    return [request_timestamp(tsa_url, signature)]


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
@click.option("--rsa-pss", is_flag=True, help="RSA keys: sign with RSASSA-PSS.")
@click.argument("artifact", type=click.Path(dir_okay=False, path_type=Path))
def attest(
    key_uri: str,
    predicate_file: Path,
    predicate_type: str,
    bundle_out: Path | None,
    tsa_url: str | None,
    rsa_pss: bool,
    artifact: Path,
) -> None:
    """Sign an in-toto Statement v1 about ARTIFACT as a DSSE envelope in a v0.3 bundle.

    The subject is the artifact's file name and SHA-256; the predicate is read from the
    JSON file. ECDSA/RSA sign the hash of DSSE's PAE; Ed25519 signs PAE itself.

    \b
    Example:
      airseal attest --key 'pkcs11:token=release;object=signing-key' \\
        --predicate provenance.json --predicate-type https://slsa.dev/provenance/v1 app.tar.gz
    """
    run_guarded(lambda: _attest(key_uri, predicate_file, predicate_type, bundle_out, tsa_url, rsa_pss, artifact))


def _attest(
    key_uri: str,
    predicate_file: Path,
    predicate_type: str,
    bundle_out: Path | None,
    tsa_url: str | None,
    rsa_pss: bool,
    artifact: Path,
) -> None:
    from verifier._internal import atomic, encoding, intoto
    from verifier._internal.bundle import build
    from verifier._internal.signing import sign

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
    signature = sign.sign_pae(signer, intoto.PAYLOAD_TYPE, payload)
    material = build.verification_material(
        key_hint=key_hint(signer.public_key()), rfc3161_responses=_timestamps(tsa_url, signature)
    )
    bundle = build.dsse_bundle(payload, intoto.PAYLOAD_TYPE, signature, material)
    target = bundle_out or artifact.with_name(artifact.name + ".sigstore.json")
    atomic.write_atomic(target, build.dump_bundle_json(bundle))
    click.echo(f"attested {artifact} -> {target} ({signer.key_type}, predicate {predicate_type})")


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
