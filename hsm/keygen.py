"""Key generation on the token: persistent, sensitive, non-extractable signing keys.

The private key never exists outside the token. Both halves get the same label and CKA_ID
(a random 8-byte id when the URI gives none) so `find_private_key` and
`public_key_for_private` can pair them, and the public half is stored so that verifiers
can read it without a PIN.
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

from hsm.keys import ED25519_OID, PublicKey, public_key_from_object
from hsm.token import PKCS11_LOCK, OpenToken, iter_objects, translate
from hsm.uri import Pkcs11Uri
from verifier._internal.algorithms import KEY_TYPE_CURVES
from verifier.errors import HsmError, Reason

KEY_TYPES = ("ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096", "ed25519")
ID_BYTES = 8


@dataclass(frozen=True)
class GeneratedKey:
    label: str
    id: bytes
    key_type: str
    public_key: PublicKey


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

    Raises:
        HsmError: `hsm.key_exists`, `hsm.uri_invalid`, `hsm.mechanism_unsupported`, ...
    """
    if key_type not in KEY_TYPES:
        raise ValueError(f"unknown key type {key_type}")
    label, key_id = label_and_id(uri)
    refuse_existing(opened, label, key_id)
    priv_t = private_template(label, key_id)
    pub_t = public_template(label, key_id)
    session = opened.session
    with PKCS11_LOCK:
        try:
            if key_type.startswith("rsa-"):
                pub, _ = session.generate_keypair(
                    KeyType.RSA, int(key_type[4:]), store=True, label=label, id=key_id,
                    public_template={**pub_t, Attribute.PUBLIC_EXPONENT: b"\x01\x00\x01"},
                    private_template=priv_t,
                )
            else:
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
        except p11e.PKCS11Error as exc:
            raise translate(exc, f"generating a {key_type} key") from exc
    return GeneratedKey(label, key_id, key_type, public_key_from_object(pub))


__all__ = ["GeneratedKey", "ID_BYTES", "KEY_TYPES", "generate_key", "label_and_id", "private_template", "public_template", "refuse_existing"]
