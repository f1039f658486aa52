"""Key generation on the token: persistent, sensitive, non-extractable signing keys.

The private key never exists outside the token. Both halves get the same label and CKA_ID
(a random 8-byte id when the URI gives none) so `find_private_key` and
`public_key_for_private` can pair them, and the public half is stored so that verifiers
can read it without a PIN.

Templates. airseal first asks for its strict, sign-only template (`private_template` /
`public_template`). Some tokens refuse it: tpm2-pkcs11 1.9.0 answers CKR_GENERAL_ERROR
("User specified and TPM specified attr mismatch: 0x10a", CKA_VERIFY), because a TPM key's
`sign` and `decrypt` object bits are tied to the PKCS#11 attributes and it builds the key
the way pkcs11-tool asks for it. On CKR_GENERAL_ERROR, CKR_ATTRIBUTE_VALUE_INVALID or
CKR_TEMPLATE_INCONSISTENT airseal retries once with the *compatible* template, which differs
in exactly these attributes (COMPATIBLE_DIFFERENCES):

    private CKA_DECRYPT  false -> true   (tpm2: RSA signing uses the key's decrypt bit)
    private CKA_DERIVE   false -> true   (EC keys only; tpm2 sets it for ECDH)
    public  CKA_ENCRYPT  false -> true   (the public half mirrors the private one)

Everything that protects the key stays as it is in both templates: CKA_TOKEN, CKA_PRIVATE,
CKA_SENSITIVE true, CKA_EXTRACTABLE false, CKA_SIGN true, CKA_UNWRAP / CKA_WRAP false. After
generation airseal reads CKA_SENSITIVE and CKA_EXTRACTABLE back; a token that ignored them
gets its new key destroyed and the command fails (`hsm.key_unusable`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from asn1crypto.core import ObjectIdentifier
from pkcs11 import exceptions as p11e
from pkcs11.constants import Attribute, ObjectClass
from pkcs11.mechanisms import KeyType, Mechanism
from pkcs11.util.ec import encode_named_curve_parameters

from hsm.capabilities import check_can_generate
from hsm.keys import ED25519_OID, PublicKey, public_key_from_object
from hsm.token import PKCS11_LOCK, OpenToken, ckr_name, iter_objects, translate
from hsm.uri import Pkcs11Uri
from verifier._internal.algorithms import KEY_TYPE_CURVES
from verifier.errors import HsmError, Reason

KEY_TYPES = ("ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096", "ed25519")
ID_BYTES = 8


# Which CKR_ values make keygen (and import) retry with the compatible template.
TEMPLATE_REFUSALS = (p11e.GeneralError, p11e.AttributeValueInvalid, p11e.TemplateInconsistent)

COMPATIBLE_DIFFERENCES = (
    "private CKA_DECRYPT=true (tpm2-pkcs11: RSA signing needs the TPM key's decrypt bit)",
    "private CKA_DERIVE=true (EC keys)",
    "public CKA_ENCRYPT=true",
)
"""What the compatible template changes, for messages and docs; sensitivity is never relaxed."""


@dataclass(frozen=True)
class GeneratedKey:
    label: str
    id: bytes
    key_type: str
    public_key: PublicKey
    template: str = "airseal"
    """"airseal" (strict, sign-only) or "compatible" (see COMPATIBLE_DIFFERENCES)."""
    refused_with: str | None = None
    """The CKR_ value the strict template was refused with, when `template` is compatible."""


def private_template(label: str, key_id: bytes) -> dict[Any, Any]:
    """Attributes every airseal-created private key gets (keygen and import)."""
    return {
        Attribute.TOKEN: True,
        Attribute.PRIVATE: True,
        Attribute.SENSITIVE: True,
        Attribute.EXTRACTABLE: False,
        Attribute.SIGN: True,
        Attribute.DECRYPT: False,
        Attribute.UNWRAP: False,
        Attribute.DERIVE: False,
        Attribute.LABEL: label,
        Attribute.ID: key_id,
    }


def public_template(label: str, key_id: bytes) -> dict[Any, Any]:
    return {
        Attribute.TOKEN: True,
        Attribute.PRIVATE: False,  # readable without a PIN, for `verify --key pkcs11:`
        Attribute.VERIFY: True,
        Attribute.ENCRYPT: False,
        Attribute.WRAP: False,
        Attribute.LABEL: label,
        Attribute.ID: key_id,
    }


def compatible_templates(label: str, key_id: bytes, key_type: str) -> tuple[dict[Any, Any], dict[Any, Any]]:
    """(private, public) templates for tokens that refuse the strict ones (see module doc)."""
    private = {**private_template(label, key_id), Attribute.DECRYPT: True}
    if not key_type.startswith("rsa-"):
        private[Attribute.DERIVE] = True
    public = {**public_template(label, key_id), Attribute.ENCRYPT: True}
    return private, public


def label_and_id(uri: Pkcs11Uri) -> tuple[str, bytes]:
    """The label (object=, required) and id (id=, else random) for a new key."""
    if not uri.object:
        raise HsmError(Reason.HSM_URI_INVALID, "a new key needs a label: add object=NAME to the URI")
    if uri.type not in (None, "private", "public"):
        raise HsmError(Reason.HSM_URI_INVALID, f"type={uri.type} cannot name a key pair; drop it")
    return uri.object, uri.id if uri.id else secrets.token_bytes(ID_BYTES)


def refuse_existing(opened: OpenToken, label: str, key_id: bytes) -> None:
    """Raise `hsm.key_exists` if any key or certificate already has this label or id."""
    for attrs in ({Attribute.LABEL: label}, {Attribute.ID: key_id}):
        for cls in (ObjectClass.PRIVATE_KEY, ObjectClass.PUBLIC_KEY, ObjectClass.CERTIFICATE):
            if next(iter_objects(opened.session, {Attribute.CLASS: cls, **attrs}), None) is not None:
                what = f"label {label!r}" if Attribute.LABEL in attrs else "id " + key_id.hex()
                raise HsmError(
                    Reason.HSM_KEY_EXISTS,
                    f"token {opened.label!r} already has an object with {what}: choose another"
                    " object=/id= (airseal never overwrites keys)",
                )


def generate_key(opened: OpenToken, uri: Pkcs11Uri, key_type: str) -> GeneratedKey:
    """Generate a key pair of `key_type` (one of KEY_TYPES) on the token.

    Tries the strict template, then (on a template refusal) the compatible one.

    Raises:
        HsmError: `hsm.key_exists`, `hsm.uri_invalid`, `hsm.mechanism_unsupported` (the
            token lacks the generation or signing mechanism, or the key size), ...
    """
    if key_type not in KEY_TYPES:
        raise ValueError(f"unknown key type {key_type}")
    label, key_id = label_and_id(uri)
    check_can_generate(opened.token.slot, key_type)
    refuse_existing(opened, label, key_id)
    try:
        pub = _generate(opened, key_type, label, key_id, private_template(label, key_id), public_template(label, key_id))
        template, refused = "airseal", None
    except TEMPLATE_REFUSALS as first:
        remove_partial(opened, label, key_id)
        refused = ckr_name(first)
        priv_t, pub_t = compatible_templates(label, key_id, key_type)
        try:
            pub = _generate(opened, key_type, label, key_id, priv_t, pub_t)
        except p11e.PKCS11Error as exc:
            remove_partial(opened, label, key_id)
            raise HsmError(
                Reason.HSM_MECHANISM_UNSUPPORTED,
                f"the token refused to generate a {key_type} key with airseal's template ({refused})"
                f" and with the compatible one ({ckr_name(exc)})",
                context={"mechanism": "C_GenerateKeyPair"},
            ) from exc
        template = "compatible"
    except p11e.PKCS11Error as exc:
        remove_partial(opened, label, key_id)
        raise translate(exc, f"generating a {key_type} key") from exc
    ensure_protected(opened, label, key_id)
    return GeneratedKey(label, key_id, key_type, public_key_from_object(pub), template, refused)


def _generate(opened: OpenToken, key_type: str, label: str, key_id: bytes,
              priv_t: dict[Any, Any], pub_t: dict[Any, Any]) -> Any:
    session = opened.session
    with PKCS11_LOCK:
        if key_type.startswith("rsa-"):
            pub, _ = session.generate_keypair(
                KeyType.RSA, int(key_type[4:]), store=True, label=label, id=key_id,
                public_template={**pub_t, Attribute.PUBLIC_EXPONENT: b"\x01\x00\x01"},
                private_template=priv_t,
            )
            return pub
        if key_type == "ed25519":
            kt, mech = KeyType.EC_EDWARDS, Mechanism.EC_EDWARDS_KEY_PAIR_GEN
            params = ObjectIdentifier(ED25519_OID).dump()
        else:
            kt, mech = KeyType.EC, Mechanism.EC_KEY_PAIR_GEN
            params = encode_named_curve_parameters(KEY_TYPE_CURVES[key_type])
        domain = session.create_domain_parameters(kt, {Attribute.EC_PARAMS: params}, local=True)
        pub, _ = domain.generate_keypair(
            store=True, label=label, id=key_id, mechanism=mech,
            public_template=pub_t, private_template=priv_t,
        )
        return pub


def _our_objects(opened: OpenToken, label: str, key_id: bytes) -> list[Any]:
    found = []
    for cls in (ObjectClass.PRIVATE_KEY, ObjectClass.PUBLIC_KEY):
        found += list(iter_objects(opened.session, {Attribute.CLASS: cls, Attribute.LABEL: label, Attribute.ID: key_id}))
    return found


def remove_partial(opened: OpenToken, label: str, key_id: bytes) -> None:
    """Destroy what a failed C_GenerateKeyPair / C_CreateObject left with our new label and id.

    `refuse_existing` made sure nothing had this label or id before, so whatever has both now
    is a half-made key of this very call."""
    for obj in _our_objects(opened, label, key_id):
        with PKCS11_LOCK:
            try:
                obj.destroy()
            except p11e.PKCS11Error:
                pass


def ensure_protected(opened: OpenToken, label: str, key_id: bytes) -> None:
    """Read CKA_SENSITIVE / CKA_EXTRACTABLE back from the new private key; destroy the pair
    if the token did not honour them (airseal never leaves an exportable key behind).

    Raises:
        HsmError: `hsm.key_unusable`.
    """
    privates = list(iter_objects(opened.session, {Attribute.CLASS: ObjectClass.PRIVATE_KEY,
                                                  Attribute.LABEL: label, Attribute.ID: key_id}))
    for obj in privates:
        with PKCS11_LOCK:
            try:
                sensitive = bool(obj[Attribute.SENSITIVE])
                extractable = bool(obj[Attribute.EXTRACTABLE])
            except p11e.PKCS11Error:
                continue  # the token does not report them: nothing to check
        if not sensitive or extractable:
            remove_partial(opened, label, key_id)
            raise HsmError(
                Reason.HSM_KEY_UNUSABLE,
                f"the token made key {label!r} {'extractable' if extractable else 'not sensitive'}"
                " although airseal asked otherwise; the key was destroyed",
            )


__all__ = [
    "COMPATIBLE_DIFFERENCES",
    "GeneratedKey",
    "ID_BYTES",
    "KEY_TYPES",
    "TEMPLATE_REFUSALS",
    "compatible_templates",
    "ensure_protected",
    "generate_key",
    "label_and_id",
    "private_template",
    "public_template",
    "refuse_existing",
    "remove_partial",
]
