"""`airseal hsm ...`: list tokens and keys, generate, import and export keys.

Token failures exit 5 through `run_guarded`; a PIN is never taken on argv and never printed.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from verifier.cli.common import emit_json, parse_key_uri, run_guarded, warn

ENV_PASSPHRASE = "AIRSEAL_KEY_PASSPHRASE"  # noqa: S105 - the variable's name, not a secret
KEY_TYPE_CHOICES = ("ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096", "ed25519")


# --------------------------------------------------------------------------- hsm group


@click.group()
def hsm() -> None:
    """Manage keys on a PKCS#11 token (SoftHSM, YubiHSM 2, Nitrokey, Luna, CloudHSM...).

    \b
    Example:
      airseal hsm tokens --module /usr/lib/softhsm/libsofthsm2.so
    """


@hsm.command("tokens")
@click.option("--module", "module_path", type=click.Path(dir_okay=False), metavar="PATH",
              help="PKCS#11 module. Default: $AIRSEAL_PKCS11_MODULE.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def hsm_tokens(module_path: str | None, as_json: bool) -> None:
    """List the tokens a PKCS#11 module offers, with a URI for each.

    \b
    Example:
      airseal hsm tokens --module /usr/lib/softhsm/libsofthsm2.so
    """

    def body() -> None:
        from hsm.token import list_tokens, resolve_module
        from hsm.uri import Pkcs11Uri

        path = resolve_module(Pkcs11Uri(), module_path, option="--module")
        tokens = list_tokens(path)
        if as_json:
            emit_json({
                "schema": "airseal.v1",
                "module": path,
                "tokens": [
                    {"label": t.label, "serial": t.serial, "model": t.model, "manufacturer": t.manufacturer,
                     "slot_id": t.slot_id, "initialized": t.initialized, "uri": t.uri.display()}
                    for t in tokens
                ],
            })
            return
        if not tokens:
            click.echo(f"no tokens in {path}")
        for t in tokens:
            state = "" if t.initialized else "  (not initialized)"
            click.echo(f"{t.label or '-'}\tserial {t.serial or '-'}\t{t.model}\tslot {t.slot_id}{state}\t{t.uri.display()}")

    run_guarded(body, as_json=as_json)


@hsm.command("keys")
@click.argument("uri")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def hsm_keys(uri: str, as_json: bool) -> None:
    """List the keys on the token URI selects, one full URI per key (never with a PIN).

    Without a PIN only public keys are listed (with a warning).

    \b
    Example:
      airseal hsm keys 'pkcs11:token=release?module-path=/usr/lib/softhsm/libsofthsm2.so'
    """

    def body() -> None:
        from hsm.keys import list_keys
        from hsm.token import open_token
        from verifier.errors import HsmError, Reason

        parsed = parse_key_uri(uri)
        try:
            opened = open_token(parsed, login=True, warn=warn)
        except HsmError as err:
            if err.reason is not Reason.HSM_PIN_MISSING:
                raise
            warn("no PIN available: listing public objects only")
            opened = open_token(parsed, login=False, warn=warn)
        entries = list_keys(opened, parsed)
        if as_json:
            emit_json({
                "schema": "airseal.v1",
                "keys": [
                    {"label": e.label, "id": e.id.hex(), "type": e.key_type, "private": e.has_private,
                     "public": e.has_public, "uri": e.uri.display()}
                    for e in entries
                ],
            })
            return
        if not entries:
            click.echo(f"no keys match {parsed.display()}", err=True)
        for e in entries:
            halves = "+".join(h for h, ok in (("private", e.has_private), ("public", e.has_public)) if ok)
            click.echo(f"{e.uri.display()}\t{e.key_type}\t{halves}")

    run_guarded(body, as_json=as_json)


@hsm.command("keygen")
@click.argument("uri")
@click.option("--type", "key_type", required=True, type=click.Choice(KEY_TYPE_CHOICES), help="Key type.")
def hsm_keygen(uri: str, key_type: str) -> None:
    """Generate a signing key pair on the token: persistent, sensitive, non-extractable.

    URI needs object=LABEL; id= is random (8 bytes) unless given. Refuses to reuse a label
    or id that already exists on the token.

    \b
    Example:
      airseal hsm keygen 'pkcs11:token=release;object=signing-key' --type ec-p256
    """

    def body() -> None:
        from hsm.keygen import generate_key
        from hsm.keys import key_hint
        from hsm.token import open_token

        parsed = parse_key_uri(uri)
        opened = open_token(parsed, login=True, rw=True, warn=warn)
        key = generate_key(opened, parsed, key_type)
        _print_new_key(opened, parsed, key, key_hint(key.public_key))

    run_guarded(body)


@hsm.command("import")
@click.argument("uri")
@click.option("--pem", "pem_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="PEM private key: PKCS#8, PKCS#1 or SEC1; encrypted ones use $AIRSEAL_KEY_PASSPHRASE or a prompt.")
def hsm_import(uri: str, pem_file: Path) -> None:
    """Import a PEM private key into the token as a non-extractable signing key.

    The public half is stored too. Delete the PEM file afterwards if the token copy is meant
    to be the only one.

    \b
    Example:
      AIRSEAL_KEY_PASSPHRASE=... airseal hsm import 'pkcs11:token=release;object=old-key' --pem key.pem
    """

    def body() -> None:
        from hsm.importer import import_key
        from hsm.keys import key_hint
        from hsm.token import open_token
        from verifier.errors import InputError, Reason

        parsed = parse_key_uri(uri)
        try:
            pem = pem_file.read_bytes()
        except OSError as exc:
            raise InputError(Reason.KEY_MALFORMED, f"cannot read {pem_file}: {exc.strerror or exc}") from exc
        opened = open_token(parsed, login=True, rw=True, warn=warn)
        key = import_key(opened, parsed, pem, _passphrase)
        _print_new_key(opened, parsed, key, key_hint(key.public_key))

    run_guarded(body)


def _passphrase() -> bytes:
    from verifier.errors import InputError, Reason

    value = os.environ.get(ENV_PASSPHRASE)
    if value:
        return value.encode("utf-8")
    import sys

    if sys.stdin is not None and sys.stdin.isatty():
        return str(click.prompt("PEM passphrase", hide_input=True, err=True)).encode("utf-8")
    raise InputError(
        Reason.KEY_MALFORMED,
        f"the PEM key is encrypted: set {ENV_PASSPHRASE} (no terminal to prompt on)",
    )


def _print_new_key(opened: Any, parsed: Any, key: Any, hint: str) -> None:
    import dataclasses

    if getattr(key, "template", "airseal") != "airseal":
        from hsm.keygen import COMPATIBLE_DIFFERENCES

        warn(f"the token refused airseal's sign-only key template ({key.refused_with}); used the"
             f" compatible one: {'; '.join(COMPATIBLE_DIFFERENCES)}. The private key is still"
             " sensitive and not extractable")
    uri = dataclasses.replace(
        parsed.token_part(), token=opened.label, object=key.label, id=key.id, pin_source=parsed.pin_source
    )
    click.echo(f"{uri.display()}\t{key.key_type}\tkey id {hint}")


@hsm.command("doctor")
@click.argument("uri", required=False)
@click.option("--module", "module_path", type=click.Path(dir_okay=False), metavar="PATH",
              help="PKCS#11 module. Default: the URI's module-path, else $AIRSEAL_PKCS11_MODULE.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout (schema airseal.hsm.doctor.v1).")
def hsm_doctor(uri: str | None, module_path: str | None, as_json: bool) -> None:
    """Show what a PKCS#11 module, its tokens and (with a key URI) one key can do for airseal.

    Prints the module's C_GetInfo, each token's flags (initialized, login required, PIN
    locked / final try / count low, write-protected), the mechanisms airseal can use with
    their key sizes, and which key types it can generate and sign with. With a key URI
    (object= or id=): the key's type and attributes, a test signature over random bytes
    verified on the host (needs the PIN from the usual sources; skipped without one), and
    whether `airseal sign` and `--rsa-pss` will work. Changes nothing on the token.
    Exit 0 when nothing stops signing, 5 otherwise.

    \b
    Example:
      airseal hsm doctor 'pkcs11:token=release;object=signing-key' --module /usr/lib/softhsm/libsofthsm2.so
    """

    def body() -> None:
        import sys

        from hsm.doctor import diagnose, render
        from hsm.uri import Pkcs11Uri

        parsed = parse_key_uri(uri) if uri else Pkcs11Uri()
        report = diagnose(parsed, module_path, warn=warn)
        if as_json:
            emit_json(report)
        else:
            click.echo(render(report))
        if report["problems"]:
            sys.exit(5)

    run_guarded(body, as_json=as_json)


@hsm.command("pubkey")
@click.argument("uri")
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the PEM here (atomically) instead of stdout.")
def hsm_pubkey(uri: str, out_file: Path | None) -> None:
    """Export the public key URI names as SubjectPublicKeyInfo PEM.

    Reads the token's public-key object without a PIN when there is one.

    \b
    Example:
      airseal hsm pubkey 'pkcs11:token=release;object=signing-key' --out signing-key.pub.pem
    """

    def body() -> None:
        from cryptography.hazmat.primitives import serialization

        from hsm.keys import public_key_for_uri

        key = public_key_for_uri(uri, warn=warn)
        pem = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        if out_file is None:
            click.echo(pem.decode("ascii"), nl=False)
            return
        from verifier._internal.atomic import write_atomic

        write_atomic(out_file, pem)
        click.echo(f"wrote {out_file}", err=True)

    run_guarded(body)


__all__ = ["hsm"]
