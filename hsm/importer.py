"""Importing a PEM private key into the token as a non-extractable signing key.

Accepted: PKCS#8 (plain or encrypted), PKCS#1 `RSA PRIVATE KEY`, SEC1 `EC PRIVATE KEY`
(plain or legacy-encrypted). The key is parsed by `cryptography`, re-encoded as PKCS#1 / SEC1
DER and turned into token attributes by python-pkcs11's `util.rsa` / `util.ec` decoders, so no
ASN.1 is assembled here. Python cannot wipe memory: the caller should delete the PEM file
once the import succeeded (docs/hsm.md says so).

Before anything is written airseal checks that the token can sign with the key type (an
openCryptoki 3.8 soft token accepts an EC private key but has no CKM_ECDSA to use it):
`hsm.mechanism_unsupported`. The private key is created first, with the strict template and
then, on a template refusal, the compatible one (hsm.keygen); a token that refuses both
(tpm2-pkcs11 creates no private key objects at all: "Can only create RSA Public key objects
or data objects") is `hsm.import_refused`. The public half is created second; if that fails
the private key just made is destroyed again, so a failed import leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asn1crypto.core import ObjectIdentifier, OctetString
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from pkcs11 import exceptions as p11e
from pkcs11.constants import Attribute, ObjectClass
from pkcs11.mechanisms import KeyType
from pkcs11.util.ec import decode_ec_private_key, decode_ec_public_key
from pkcs11.util.rsa import decode_rsa_private_key, decode_rsa_public_key

from hsm.capabilities import check_can_sign
from hsm.keygen import (
    TEMPLATE_REFUSALS,
    GeneratedKey,
    compatible_templates,
    ensure_protected,
    label_and_id,
    private_template,
    public_template,
    refuse_existing,
    remove_partial,
)
from hsm.keys import ED25519_OID, check_supported
from hsm.token import PKCS11_LOCK, OpenToken, ckr_name, translate
from hsm.uri import Pkcs11Uri
from verifier.errors import HsmError, InputError, Reason

Passphrase = Callable[[], bytes]


def load_pem_private_key(pem: bytes, passphrase: Passphrase) -> Any:
    """Parse a PEM private key, asking `passphrase()` only if it is encrypted.

    Raises:
        InputError: `key.malformed` for anything unreadable or a wrong passphrase.
    """
    try:
        return serialization.load_pem_private_key(pem, password=None)
    except TypeError:
        pass  # encrypted: needs the passphrase
    except ValueError as exc:
        raise InputError(Reason.KEY_MALFORMED, f"not a PEM private key (PKCS#8, PKCS#1 or SEC1): {exc}") from exc
    except Exception as exc:  # cryptography raises UnsupportedAlgorithm for odd key types
        raise InputError(Reason.KEY_MALFORMED, f"unsupported private key: {exc}") from exc
    try:
        return serialization.load_pem_private_key(pem, password=passphrase())
    except (ValueError, TypeError) as exc:
        raise InputError(
            Reason.KEY_MALFORMED,
            "cannot decrypt the PEM key: wrong passphrase (AIRSEAL_KEY_PASSPHRASE) or damaged file",
        ) from exc


def token_attributes(key: Any) -> tuple[dict[Any, Any], dict[Any, Any]]:
    """(private, public) attribute dicts describing `key` for C_CreateObject."""
    if isinstance(key, rsa.RSAPrivateKey):
        der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
        pub_der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
        return decode_rsa_private_key(der), decode_rsa_public_key(pub_der)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
        spki = key.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
        return decode_ec_private_key(der), decode_ec_public_key(spki)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        params = ObjectIdentifier(ED25519_OID).dump()
        raw_pub = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        private = {
            Attribute.CLASS: ObjectClass.PRIVATE_KEY,
            Attribute.KEY_TYPE: KeyType.EC_EDWARDS,
            Attribute.EC_PARAMS: params,
            Attribute.VALUE: key.private_bytes_raw(),
        }
        public = {
            Attribute.CLASS: ObjectClass.PUBLIC_KEY,
            Attribute.KEY_TYPE: KeyType.EC_EDWARDS,
            Attribute.EC_PARAMS: params,
            Attribute.EC_POINT: OctetString(raw_pub).dump(),
        }
        return private, public
    raise InputError(Reason.KEY_MALFORMED, f"{type(key).__name__} keys cannot be imported: use EC P-256/P-384, RSA or Ed25519")


def import_key(opened: OpenToken, uri: Pkcs11Uri, pem: bytes, passphrase: Passphrase) -> GeneratedKey:
    """Import a PEM private key (and its public half) as persistent token objects.

    Raises:
        InputError: `key.malformed`. HsmError: `hsm.key_exists`, token failures.
    """
    key = load_pem_private_key(pem, passphrase)
    key_type = check_supported(key.public_key())
    label, key_id = label_and_id(uri)
    check_can_sign(opened.token.slot, key_type)
    refuse_existing(opened, label, key_id)
    private_attrs, public_attrs = token_attributes(key)
    template = "airseal"
    refused: str | None = None
    try:
        _create(opened, {**private_attrs, **private_template(label, key_id)})
    except TEMPLATE_REFUSALS as first:
        remove_partial(opened, label, key_id)
        refused = ckr_name(first)
        compat_private, _ = compatible_templates(label, key_id, key_type)
        try:
            _create(opened, {**private_attrs, **compat_private})
        except p11e.PKCS11Error as exc:
            remove_partial(opened, label, key_id)
            raise HsmError(
                Reason.HSM_IMPORT_REFUSED,
                f"the token refuses to import a {key_type} private key (C_CreateObject: {refused} with"
                f" airseal's template, {ckr_name(exc)} with the compatible one): generate the key on"
                " the token with `airseal hsm keygen` instead",
                context={"operation": "C_CreateObject(CKO_PRIVATE_KEY)"},
            ) from exc
        template = "compatible"
    except p11e.PKCS11Error as exc:
        remove_partial(opened, label, key_id)
        raise translate(exc, f"importing the {key_type} private key") from exc
    public_t = public_template(label, key_id)
    if template == "compatible":
        public_t = compatible_templates(label, key_id, key_type)[1]
    try:
        _create(opened, {**public_attrs, **public_t})
    except p11e.PKCS11Error as exc:
        remove_partial(opened, label, key_id)
        raise HsmError(
            Reason.HSM_IMPORT_REFUSED,
            f"the token took the {key_type} private key but refused its public half"
            f" (C_CreateObject: {ckr_name(exc)}); the private key was removed again",
            context={"operation": "C_CreateObject(CKO_PUBLIC_KEY)"},
        ) from exc
    ensure_protected(opened, label, key_id)
    return GeneratedKey(label, key_id, key_type, key.public_key(), template, refused)


def _create(opened: OpenToken, attrs: dict[Any, Any]) -> Any:
    with PKCS11_LOCK:
        return opened.session.create_object(attrs)


__all__ = ["import_key", "load_pem_private_key", "token_attributes"]
