"""What a token can do for airseal: which mechanisms it offers, and which one airseal uses.

Every decision that depends on the token rather than the key lives here, so keygen, import,
the signer and `hsm doctor` agree:

- key generation needs the key-pair mechanism (CKM_EC_KEY_PAIR_GEN, CKM_RSA_PKCS_KEY_PAIR_GEN,
  CKM_EC_EDWARDS_KEY_PAIR_GEN) with the key size inside the token's min/max, and a signing
  mechanism for the key type (a key the token cannot sign with is refused before it is made);
- signing (`choose_sign_mechanism`): ECDSA uses CKM_ECDSA over a host digest, or, when the token
  lacks raw CKM_ECDSA, CKM_ECDSA_SHA256 / CKM_ECDSA_SHA384 over the message; RSA uses
  CKM_RSA_PKCS over a DER DigestInfo (or CKM_SHA256_RSA_PKCS over the message), PSS uses
  CKM_RSA_PKCS_PSS; Ed25519 uses CKM_EDDSA.
- CKM_RSA_PKCS_PSS is *tried* when C_GetMechanismList omits it: tpm2-pkcs11 1.9.0 signs with it
  but does not list it. A refusal then is `hsm.mechanism_unsupported` naming the mechanism.

Everything a token cannot do is an HsmError with `hsm.mechanism_unsupported` whose message
names the missing mechanism (never a bare CKR_GENERAL_ERROR).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pkcs11 import exceptions as p11e
from pkcs11.mechanisms import Mechanism

from hsm.token import PKCS11_LOCK, translate
from verifier.errors import HsmError, Reason

KEY_TYPES = ("ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096", "ed25519")

GENERATE_MECHANISM = {
    "ec": Mechanism.EC_KEY_PAIR_GEN,
    "rsa": Mechanism.RSA_PKCS_KEY_PAIR_GEN,
    "ed25519": Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
}

# The mechanisms `hsm doctor` reports (the ones airseal can use), in display order.
RELEVANT_MECHANISMS = (
    Mechanism.EC_KEY_PAIR_GEN,
    Mechanism.ECDSA,
    Mechanism.ECDSA_SHA256,
    Mechanism.ECDSA_SHA384,
    Mechanism.RSA_PKCS_KEY_PAIR_GEN,
    Mechanism.RSA_PKCS,
    Mechanism.SHA256_RSA_PKCS,
    Mechanism.RSA_PKCS_PSS,
    Mechanism.SHA256_RSA_PKCS_PSS,
    Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
    Mechanism.EDDSA,
)

# Mechanisms some modules implement without listing them; tried, not refused up front.
UNLISTED_BUT_TRIED = frozenset({Mechanism.RSA_PKCS_PSS})


def ck_name(mech: Any) -> str:
    """CKM_ name of a python-pkcs11 Mechanism (or the number of a vendor one)."""
    name = getattr(mech, "name", None)
    return f"CKM_{name}" if name else f"mechanism 0x{int(mech):08X}"


def family(key_type: str) -> str:
    return "rsa" if key_type.startswith("rsa-") else ("ed25519" if key_type == "ed25519" else "ec")


def key_bits(key_type: str) -> int | None:
    if key_type.startswith("rsa-"):
        return int(key_type[4:])
    return {"ec-p256": 256, "ec-p384": 384}.get(key_type)


@dataclass(frozen=True)
class SignPlan:
    """How one key type signs on one token."""

    mechanism: Any
    prehashed: bool
    """True: the host hashes and the token signs the digest (or DigestInfo). False: the
    token gets the whole message (Ed25519, CKM_ECDSA_SHA256/384, CKM_SHA256_RSA_PKCS)."""
    listed: bool
    """False when the module did not list the mechanism and airseal tries it anyway."""


def token_mechanisms(slot: Any) -> set[Any]:
    with PKCS11_LOCK:
        try:
            return set(slot.get_mechanisms())
        except p11e.PKCS11Error as exc:
            raise translate(exc, "listing the token's mechanisms") from exc


def mechanism_range(slot: Any, mech: Any) -> tuple[int, int] | None:
    """(min, max) key size of a mechanism as C_GetMechanismInfo reports it, or None."""
    with PKCS11_LOCK:
        try:
            info = slot.get_mechanism_info(mech)
        except p11e.PKCS11Error:
            return None
    return int(info.min_key_length), int(info.max_key_length)


def choose_sign_mechanism(mechs: set[Any], key_type: str, *, rsa_pss: bool = False) -> SignPlan:
    """The mechanism airseal signs `key_type` with on a token offering `mechs`.

    Raises:
        HsmError: `hsm.mechanism_unsupported` naming what is missing.
    """
    if key_type.startswith("ec-"):
        token_hash = Mechanism.ECDSA_SHA384 if key_type == "ec-p384" else Mechanism.ECDSA_SHA256
        if Mechanism.ECDSA in mechs:
            return SignPlan(Mechanism.ECDSA, True, True)
        if token_hash in mechs:
            return SignPlan(token_hash, False, True)
        raise _unsupported(f"the token offers neither CKM_ECDSA nor {ck_name(token_hash)}: it cannot sign with"
                     f" {key_type} keys", "CKM_ECDSA")
    if key_type == "ed25519":
        if Mechanism.EDDSA in mechs:
            return SignPlan(Mechanism.EDDSA, False, True)
        raise _unsupported("the token does not offer CKM_EDDSA: it cannot sign with ed25519 keys", "CKM_EDDSA")
    if rsa_pss:
        return SignPlan(Mechanism.RSA_PKCS_PSS, True, Mechanism.RSA_PKCS_PSS in mechs)
    if Mechanism.RSA_PKCS in mechs:
        return SignPlan(Mechanism.RSA_PKCS, True, True)
    if Mechanism.SHA256_RSA_PKCS in mechs:
        return SignPlan(Mechanism.SHA256_RSA_PKCS, False, True)
    raise _unsupported("the token offers neither CKM_RSA_PKCS nor CKM_SHA256_RSA_PKCS: it cannot make"
                 " PKCS#1 v1.5 signatures", "CKM_RSA_PKCS")


def check_can_generate(slot: Any, key_type: str) -> None:
    """Refuse, naming the mechanism, a key type the token cannot generate or cannot sign with.

    Raises:
        HsmError: `hsm.mechanism_unsupported`.
    """
    mechs = token_mechanisms(slot)
    gen = GENERATE_MECHANISM[family(key_type)]
    if gen not in mechs:
        raise _unsupported(f"the token does not offer {ck_name(gen)}: it cannot generate {key_type} keys", ck_name(gen))
    bits = key_bits(key_type)
    rng = mechanism_range(slot, gen)
    if bits is not None and rng is not None and rng[1] > 0 and not rng[0] <= bits <= rng[1]:
        raise _unsupported(f"{ck_name(gen)} on this token makes keys of {rng[0]}-{rng[1]} bits, not {bits}:"
                     f" it cannot generate {key_type} keys", ck_name(gen))
    choose_sign_mechanism(mechs, key_type)


def check_can_sign(slot: Any, key_type: str) -> None:
    """Refuse (before an import) a key type the token cannot sign with."""
    choose_sign_mechanism(token_mechanisms(slot), key_type)


def _unsupported(message: str, mechanism: str) -> HsmError:
    return HsmError(Reason.HSM_MECHANISM_UNSUPPORTED, message, context={"mechanism": mechanism})


__all__ = [
    "GENERATE_MECHANISM",
    "KEY_TYPES",
    "RELEVANT_MECHANISMS",
    "SignPlan",
    "check_can_generate",
    "check_can_sign",
    "choose_sign_mechanism",
    "ck_name",
    "key_bits",
    "mechanism_range",
    "token_mechanisms",
]
