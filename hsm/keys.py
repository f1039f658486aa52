"""Finding keys on a token and turning token public keys into `cryptography` keys.

Conversions go through python-pkcs11's `util.ec` / `util.rsa` encoders and asn1crypto; no
ASN.1 is built by hand here. The key-type names (`ec-p256`, ..., `ed25519`) are the CLI's.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from asn1crypto.core import OctetString
from asn1crypto.keys import ECDomainParameters, PublicKeyInfo
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from pkcs11 import exceptions as p11e
from pkcs11.constants import Attribute, ObjectClass
from pkcs11.mechanisms import KeyType
from pkcs11.util.ec import encode_ec_public_key
from pkcs11.util.rsa import encode_rsa_public_key

from hsm.token import PKCS11_LOCK, iter_objects, load_module, open_token, present_tokens, token_uri, translate
from hsm.uri import Pkcs11Uri, parse_uri
from verifier._internal import algorithms
from verifier._internal.keyio import spki_der
from verifier.errors import HsmError, Reason

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey

ED25519_OID = "1.3.101.112"
_EDWARDS_CURVE_NAMES = (b"edwards25519",)  # PKCS#11 3.0 also allows a PrintableString name

_CLASS_BY_TYPE = {
    "private": ObjectClass.PRIVATE_KEY,
    "public": ObjectClass.PUBLIC_KEY,
    "cert": ObjectClass.CERTIFICATE,
}


@dataclass(frozen=True)
class KeyEntry:
    """One key pair (or lone key) found on a token, for `airseal hsm keys`."""

    label: str
    id: bytes
    key_type: str
    """ec-p256, ec-p384, rsa-N, ed25519, or what the token says for others."""
    has_private: bool
    has_public: bool
    uri: Pkcs11Uri
    """Selects this key (token, serial, object, id, module-path); never carries a PIN."""


def key_type_name(key: PublicKey) -> str:
    if not isinstance(key, (ec.EllipticCurvePublicKey, rsa.RSAPublicKey, ed25519.Ed25519PublicKey)):
        raise HsmError(Reason.HSM_KEY_UNUSABLE, f"unsupported public key type {type(key).__name__}")
    return algorithms.key_type_name(key)


def key_hint(key: PublicKey) -> str:
    """The stable key id used as the bundle's publicKey.hint: base64(SHA-256(SPKI DER))."""
    return algorithms.key_id(spki_der(key))


def public_key_from_object(obj: Any) -> PublicKey:
    """A token public-key object (or certificate) as a cryptography public key.

    Raises:
        HsmError: `hsm.key_unusable` for key types airseal cannot sign or verify with.
    """
    with PKCS11_LOCK:
        try:
            cls = obj[Attribute.CLASS]
            if cls == ObjectClass.CERTIFICATE:
                from cryptography import x509  # only certificates need it (~12 ms to import)

                cert = x509.load_der_x509_certificate(obj[Attribute.VALUE])
                key = cert.public_key()
            else:
                key = _public_key_from_attrs(obj)
        except p11e.PKCS11Error as exc:
            raise translate(exc, "reading the public key") from exc
        except ValueError as exc:
            raise HsmError(Reason.HSM_KEY_UNUSABLE, f"the token's public key cannot be decoded: {exc}") from exc
    if not isinstance(key, (ec.EllipticCurvePublicKey, rsa.RSAPublicKey, ed25519.Ed25519PublicKey)):
        raise HsmError(Reason.HSM_KEY_UNUSABLE, f"unsupported key type {type(key).__name__}")
    return key


def _public_key_from_attrs(obj: Any) -> Any:
    key_type = obj[Attribute.KEY_TYPE]
    if key_type == KeyType.EC:
        return serialization.load_der_public_key(encode_ec_public_key(obj))
    if key_type == KeyType.RSA:
        spki = PublicKeyInfo({
            "algorithm": {"algorithm": "rsa"},
            "public_key": _rsa_public_key_der(obj),
        }).dump()
        return serialization.load_der_public_key(spki)
    if key_type == KeyType.EC_EDWARDS:
        return ed25519.Ed25519PublicKey.from_public_bytes(_edwards_point(obj))
    raise HsmError(
        Reason.HSM_KEY_UNUSABLE,
        f"key type {getattr(key_type, 'name', key_type)} is not supported: use EC P-256/P-384, RSA or Ed25519",
    )


def _rsa_public_key_der(obj: Any) -> Any:
    from asn1crypto.keys import RSAPublicKey

    return RSAPublicKey.load(encode_rsa_public_key(obj))


def _edwards_point(obj: Any) -> bytes:
    params = bytes(obj[Attribute.EC_PARAMS])
    try:
        oid = ECDomainParameters.load(params).chosen.dotted
    except (ValueError, TypeError, AttributeError):
        oid = ""
    if oid != ED25519_OID and not any(name in params for name in _EDWARDS_CURVE_NAMES):
        raise HsmError(Reason.HSM_KEY_UNUSABLE, "only Ed25519 Edwards keys are supported (not Ed448)")
    point = bytes(obj[Attribute.EC_POINT])
    # The spec says EC_POINT is a DER OCTET STRING; some modules return the raw 32 bytes.
    if len(point) == 32:
        return point
    return bytes(OctetString.load(point).native)


def check_supported(key: PublicKey) -> str:
    """The key-type name, refusing curves and sizes airseal does not sign with."""
    name = key_type_name(key)
    if name.startswith("ec-") and name not in ("ec-p256", "ec-p384"):
        raise HsmError(Reason.HSM_KEY_UNUSABLE, f"curve {name[3:]} is not supported for signing: use P-256 or P-384")
    if name.startswith("rsa-") and int(name[4:]) < 2048:
        raise HsmError(Reason.HSM_KEY_UNUSABLE, f"{name} is too small: use at least 2048 bits")
    return name


def _search_attrs(uri: Pkcs11Uri, cls: Any) -> dict[Any, Any]:
    attrs: dict[Any, Any] = {Attribute.CLASS: cls}
    if uri.object is not None:
        attrs[Attribute.LABEL] = uri.object
    if uri.id is not None:
        attrs[Attribute.ID] = uri.id
    return attrs


def object_uri(base: Pkcs11Uri, obj: Any, module_path: str, token_base: Pkcs11Uri | None = None) -> Pkcs11Uri:
    """A URI selecting this object on this token, without any PIN.

    The token part is `hsm.token.token_uri` (label, serial, slot-id when needed) unless the
    caller passes `token_base` (computed once for many objects)."""
    with PKCS11_LOCK:
        label = obj[Attribute.LABEL]
        obj_id = obj[Attribute.ID]
        token = obj.session.token
    if token_base is None:
        token_base = token_uri(token, module_path, present_tokens(load_module(module_path)))
    return dataclasses.replace(
        token_base,
        object=label or None,
        id=bytes(obj_id) if obj_id else None,
        module_path=module_path,  # self-contained: usable without AIRSEAL_PKCS11_MODULE
        pin_source=base.pin_source,
    )


def find_private_key(opened: Any, uri: Pkcs11Uri) -> Any:
    """The one private key the URI's object/id select (both must match when both are given).

    Raises:
        HsmError: `hsm.key_not_found`, or `hsm.key_ambiguous` listing every candidate's URI.
    """
    if uri.type not in (None, "private"):
        raise HsmError(
            Reason.HSM_URI_INVALID,
            f"signing needs a private key but the URI says type={uri.type}: use type=private or drop it",
        )
    found = list(iter_objects(opened.session, _search_attrs(uri, ObjectClass.PRIVATE_KEY)))
    if not found:
        raise HsmError(
            Reason.HSM_KEY_NOT_FOUND,
            f"no private key matching {_selector(uri)} on token {opened.label!r}: check object=/id="
            " (airseal hsm keys URI lists them) and that the PIN belongs to this token",
        )
    if len(found) > 1:
        raise HsmError(
            Reason.HSM_KEY_AMBIGUOUS,
            f"{len(found)} private keys match {_selector(uri)}: {_narrowing_hint(uri)}",
            context={"candidates": sorted(object_uri(uri, o, opened.module_path).display() for o in found)},
        )
    return found[0]


def _narrowing_hint(uri: Pkcs11Uri) -> str:
    """What the URI could add to pick one key: only the attributes it does not name yet."""
    if uri.object is None and uri.id is None:
        return "add object= and/or id= to pick one (candidates below)"
    if uri.id is None:
        return "add id= to pick one (candidates below)"
    if uri.object is None:
        return "add object= to pick one (candidates below)"
    return "the token holds several keys with this object= and id=: remove or relabel the duplicates"


def _selector(uri: Pkcs11Uri) -> str:
    parts = []
    if uri.object is not None:
        parts.append(f"object={uri.object}")
    if uri.id is not None:
        parts.append("id=" + "".join(f"%{b:02X}" for b in uri.id))
    return ";".join(parts) or "(any)"


def public_key_for_private(opened: Any, private: Any) -> PublicKey:
    """The public half of a token private key: the public-key object with the same CKA_ID
    (and label), else a certificate with that id, else RSA's public attributes.

    Raises:
        HsmError: `hsm.key_not_found` when the token holds no public half.
    """
    with PKCS11_LOCK:
        try:
            key_id = private[Attribute.ID]
            label = private[Attribute.LABEL]
            key_type = private[Attribute.KEY_TYPE]
        except p11e.PKCS11Error as exc:
            raise translate(exc, "reading the private key's attributes") from exc
    for cls in (ObjectClass.PUBLIC_KEY, ObjectClass.CERTIFICATE):
        attrs: dict[Any, Any] = {Attribute.CLASS: cls}
        if key_id:
            attrs[Attribute.ID] = key_id
        elif label:
            attrs[Attribute.LABEL] = label
        else:
            break
        candidates = list(iter_objects(opened.session, attrs))
        if len(candidates) == 1:
            return public_key_from_object(candidates[0])
    if key_type == KeyType.RSA:
        # RSA private keys carry the modulus and public exponent as public attributes.
        return public_key_from_object(private)
    raise HsmError(
        Reason.HSM_KEY_NOT_FOUND,
        f"the token has no public key or certificate with the id of key {label!r}: store the public"
        " half (airseal hsm import / keygen store it) to sign with this key",
    )


def find_public_key(opened: Any, uri: Pkcs11Uri) -> PublicKey:
    """The public key the URI selects: a public-key object, else a certificate, else the
    public half of the private key (which needs a login).

    Raises:
        HsmError: `hsm.key_not_found`, `hsm.key_ambiguous`.
    """
    for type_name in ("public", "cert"):
        if uri.type not in (None, type_name):
            continue
        found = list(iter_objects(opened.session, _search_attrs(uri, _CLASS_BY_TYPE[type_name])))
        if len(found) > 1:
            raise HsmError(
                Reason.HSM_KEY_AMBIGUOUS,
                f"{len(found)} {type_name} objects match {_selector(uri)}: {_narrowing_hint(uri)}",
                context={"candidates": sorted(object_uri(uri, o, opened.module_path).display() for o in found)},
            )
        if found:
            return public_key_from_object(found[0])
    raise HsmError(
        Reason.HSM_KEY_NOT_FOUND,
        f"no public key or certificate matching {_selector(uri)} on token {opened.label!r}:"
        " check object=/id= (airseal hsm keys URI lists them)",
    )


def public_key_for_uri(uri: str, *, module: str | None = None, warn: Any = None) -> PublicKey:
    """The public key a `pkcs11:` URI names, for `airseal verify --key pkcs11:...`.

    Public objects are read without logging in. Only if the token keeps none readable does
    this log in (needing a PIN) and derive the key from the private key's public half.

    Raises:
        HsmError: any `hsm.*` reason (exit 5).
    """
    parsed = parse_uri(uri)
    for login in (False, True):
        opened = open_token(parsed, login=login, module_override=module, warn=warn)
        try:
            return find_public_key(opened, parsed)
        except HsmError as err:
            if err.reason is not Reason.HSM_KEY_NOT_FOUND:
                raise
    return public_key_for_private(opened, find_private_key(opened, parsed))


def list_keys(opened: Any, uri: Pkcs11Uri) -> list[KeyEntry]:
    """Every private and public key (grouped by id and label) matching the URI's object/id."""
    groups: dict[tuple[bytes, str], dict[str, Any]] = {}
    classes = {"private": (ObjectClass.PRIVATE_KEY,), "public": (ObjectClass.PUBLIC_KEY,)}.get(
        uri.type or "", (ObjectClass.PRIVATE_KEY, ObjectClass.PUBLIC_KEY))
    for cls in classes:
        for obj in iter_objects(opened.session, _search_attrs(uri, cls)):
            with PKCS11_LOCK:
                try:
                    ident = (bytes(obj[Attribute.ID] or b""), str(obj[Attribute.LABEL] or ""))
                except p11e.PKCS11Error as exc:
                    raise translate(exc, "reading key attributes") from exc
            groups.setdefault(ident, {})[cls.name] = obj
    entries = []
    token_base = token_uri(opened.token, opened.module_path, present_tokens(load_module(opened.module_path)))
    for (key_id, label), objs in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        sample = objs.get("PUBLIC_KEY") or objs["PRIVATE_KEY"]
        entries.append(
            KeyEntry(
                label=label,
                id=key_id,
                key_type=_describe_type(sample),
                has_private="PRIVATE_KEY" in objs,
                has_public="PUBLIC_KEY" in objs,
                uri=object_uri(uri, sample, opened.module_path, token_base),
            )
        )
    return entries


def _describe_type(obj: Any) -> str:
    with PKCS11_LOCK:
        try:
            cls = obj[Attribute.CLASS]
            key_type = obj[Attribute.KEY_TYPE]
        except p11e.PKCS11Error:
            return "unknown"
    if cls == ObjectClass.PUBLIC_KEY or key_type == KeyType.RSA:
        try:
            return key_type_name(public_key_from_object(obj))
        except HsmError:
            pass
    if key_type == KeyType.EC:
        try:
            with PKCS11_LOCK:
                curve = ECDomainParameters.load(obj[Attribute.EC_PARAMS]).chosen.native
            by_curve = {c: name for name, c in algorithms.KEY_TYPE_CURVES.items()}
            return by_curve.get(curve, f"ec-{curve}")
        except (p11e.PKCS11Error, ValueError):
            return "ec"
    if key_type == KeyType.EC_EDWARDS:
        return "ed25519"
    return str(getattr(key_type, "name", key_type)).lower()


__all__ = [
    "KeyEntry",
    "PublicKey",
    "check_supported",
    "find_private_key",
    "find_public_key",
    "key_hint",
    "key_type_name",
    "list_keys",
    "public_key_for_private",
    "public_key_for_uri",
    "public_key_from_object",
    "spki_der",
]
