"""HsmSigner: a token private key behind airseal's `Signer` protocol.

The host hashes (streaming, in `verifier.signing`); the token signs the digest:
- ECDSA: CKM_ECDSA over the digest (SHA-256 for P-256, SHA-384 for P-384); the token's raw
  r||s is converted to DER with `pkcs11.util.ec.encode_ecdsa_signature`.
- RSA: CKM_RSA_PKCS over a DER DigestInfo (PKCS#1 v1.5, built by asn1crypto), or with
  `rsa_pss=True` CKM_RSA_PKCS_PSS with explicit SHA-256 / MGF1-SHA-256 / 32-byte salt.
- Ed25519: CKM_EDDSA over the whole message (pure EdDSA has no pre-hash form).
Every signature is verified on the host with `cryptography` before it is returned, so a
faulty token or a key/public-key mix-up never produces a bundle (`hsm.self_check_failed`).
"""

from __future__ import annotations

from typing import Any

from asn1crypto.algos import DigestInfo
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from pkcs11 import exceptions as p11e
from pkcs11.constants import Attribute
from pkcs11.mechanisms import MGF, Mechanism
from pkcs11.util.ec import encode_ecdsa_signature

from hsm.keys import PublicKey, check_supported, find_private_key, public_key_for_private
from hsm.token import PKCS11_LOCK, OpenToken, open_token, translate
from hsm.uri import Pkcs11Uri
from verifier.errors import HsmError, Reason

PSS_SALT_BYTES = 32

_HASH_FOR_TYPE = {"ec-p256": "sha256", "ec-p384": "sha384"}
_HASHES = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}


class HsmSigner:
    """Signs with one token key; satisfies `verifier.signing.Signer` structurally."""

    def __init__(self, opened: OpenToken, private_key: Any, public_key: PublicKey, *, rsa_pss: bool = False) -> None:
        self._opened = opened
        self._private = private_key
        self._public = public_key
        self.key_type = check_supported(public_key)
        if rsa_pss and not self.key_type.startswith("rsa-"):
            raise HsmError(Reason.HSM_KEY_UNUSABLE, f"--rsa-pss needs an RSA key; this key is {self.key_type}")
        self.rsa_pss = rsa_pss
        self._check_can_sign()

    @property
    def hash_name(self) -> str:
        """The host-side digest for this key: sha256, or sha384 for P-384."""
        return _HASH_FOR_TYPE.get(self.key_type, "sha256")

    @property
    def prehashed(self) -> bool:
        """False for Ed25519, which signs the message itself."""
        return self.key_type != "ed25519"

    @property
    def mechanism(self) -> Mechanism:
        if self.key_type.startswith("ec-"):
            return Mechanism.ECDSA
        if self.key_type == "ed25519":
            return Mechanism.EDDSA
        return Mechanism.RSA_PKCS_PSS if self.rsa_pss else Mechanism.RSA_PKCS

    def public_key(self) -> PublicKey:
        return self._public

    def _check_can_sign(self) -> None:
        with PKCS11_LOCK:
            try:
                can_sign = bool(self._private[Attribute.SIGN])
                label = self._private[Attribute.LABEL]
                mechanisms = self._opened.token.slot.get_mechanisms()
            except p11e.PKCS11Error as exc:
                raise translate(exc, "reading the key's attributes") from exc
            allowed = self._allowed_mechanisms()
        if not can_sign:
            raise HsmError(
                Reason.HSM_KEY_UNUSABLE,
                f"key {label!r} is not a signing key (CKA_SIGN is false): generate one with"
                " `airseal hsm keygen` or pick another key",
            )
        mech = self.mechanism
        if mech not in mechanisms or (allowed is not None and mech not in allowed):
            where = "this key's CKA_ALLOWED_MECHANISMS" if mech in mechanisms else "the token"
            raise HsmError(
                Reason.HSM_MECHANISM_UNSUPPORTED,
                f"{where} does not allow {mech.name} for key {label!r}"
                + (": drop --rsa-pss or use a key made for PSS" if self.rsa_pss else ": use another key type"),
            )

    def _allowed_mechanisms(self) -> set[Any] | None:
        try:
            value = self._private[Attribute.ALLOWED_MECHANISMS]
        except (p11e.PKCS11Error, KeyError, TypeError, ValueError):
            return None  # not supported by the module: the token decides at C_Sign
        if not value:
            return None  # empty list means "no restriction"
        return set(value)

    def sign_digest(self, digest: bytes, hash_name: str) -> bytes:
        """Sign a host-computed digest; returns DER (ECDSA) or the raw RSA signature.

        Raises:
            HsmError: token failures, or `hsm.self_check_failed`.
        """
        if not self.prehashed:
            raise HsmError(Reason.HSM_MECHANISM_UNSUPPORTED, "Ed25519 signs the whole message, not a digest")
        if hash_name != self.hash_name:
            raise ValueError(f"{self.key_type} signs {self.hash_name} digests, not {hash_name}")
        if self.key_type.startswith("ec-"):
            signature = encode_ecdsa_signature(self._c_sign(digest, Mechanism.ECDSA, None))
        elif self.rsa_pss:
            params = (Mechanism.SHA256, MGF.SHA256, PSS_SALT_BYTES)
            signature = self._c_sign(digest, Mechanism.RSA_PKCS_PSS, params)
        else:
            digest_info = DigestInfo({"digest_algorithm": {"algorithm": hash_name}, "digest": digest}).dump()
            signature = self._c_sign(digest_info, Mechanism.RSA_PKCS, None)
        self._self_check_digest(signature, digest, hash_name)
        return signature

    def sign_message(self, message: bytes) -> bytes:
        """Sign a whole message: EdDSA on the token for Ed25519, else host hash + sign_digest."""
        if self.prehashed:
            import hashlib

            return self.sign_digest(hashlib.new(self.hash_name, message).digest(), self.hash_name)
        signature = self._c_sign(message, Mechanism.EDDSA, None)
        try:
            self._public.verify(signature, message)  # type: ignore[union-attr, call-arg]
        except InvalidSignature as exc:
            raise _self_check_error() from exc
        return signature

    def _c_sign(self, data: bytes, mechanism: Mechanism, param: Any) -> bytes:
        with PKCS11_LOCK:
            try:
                if param is None:
                    return bytes(self._private.sign(data, mechanism=mechanism))
                return bytes(self._private.sign(data, mechanism=mechanism, mechanism_param=param))
            except p11e.PKCS11Error as exc:
                raise translate(exc, f"signing with {mechanism.name}") from exc

    def _self_check_digest(self, signature: bytes, digest: bytes, hash_name: str) -> None:
        algorithm = utils.Prehashed(_HASHES[hash_name]())
        key = self._public
        try:
            if isinstance(key, ec.EllipticCurvePublicKey):
                key.verify(signature, digest, ec.ECDSA(algorithm))
            elif isinstance(key, rsa.RSAPublicKey):
                pad: padding.AsymmetricPadding = (
                    padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=PSS_SALT_BYTES)
                    if self.rsa_pss
                    else padding.PKCS1v15()
                )
                key.verify(signature, digest, pad, algorithm)
            else:  # pragma: no cover - guarded by prehashed
                raise _self_check_error()
        except InvalidSignature as exc:
            raise _self_check_error() from exc


def _self_check_error() -> HsmError:
    return HsmError(
        Reason.HSM_SELF_CHECK_FAILED,
        "the token's signature does not verify with its public key: the public key object may"
        " not belong to this private key; nothing was written",
    )


def open_signer(
    uri: Pkcs11Uri, *, rsa_pss: bool = False, warn: Any = None
) -> HsmSigner:
    """Log in (once per process), find the key and wrap it as a signer."""
    opened = open_token(uri, login=True, warn=warn)
    private = find_private_key(opened, uri)
    public = public_key_for_private(opened, private)
    return HsmSigner(opened, private, public, rsa_pss=rsa_pss)


__all__ = ["HsmSigner", "PSS_SALT_BYTES", "open_signer"]
