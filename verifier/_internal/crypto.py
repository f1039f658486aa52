"""One seam over cryptography's signature APIs: verify-or-raise with reason codes. Leaf-level.

Every signature check in the verifier goes through here so that InvalidSignature and
unsupported key types become reason-coded errors in exactly one place.
"""

from __future__ import annotations

from typing import Optional

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from verifier._internal.algorithms import HASH_ALGORITHMS, KEY_DETAILS, describe_key, key_hash_name
from verifier._internal.trustroot.model import TransparencyLog
from verifier.errors import Reason, VerificationError


def _invalid(what: str, check: str, reason: Reason = Reason.SIGNATURE_INVALID) -> VerificationError:
    return VerificationError(reason, f"{what} does not verify", check=check)


def verify_over_data(
    key: PublicKeyTypes,
    signature: bytes,
    data: bytes | memoryview,
    *,
    hash_name: Optional[str] = None,
    what: str = "signature",
    check: str = "signature",
) -> None:
    """Verify a signature over a message (hashing it here when the scheme hashes).

    RSA accepts PKCS#1 v1.5 and, failing that, PSS (salt length auto), since both are in use.
    """
    if isinstance(key, ed25519.Ed25519PublicKey):
        try:
            key.verify(signature, data)
        except InvalidSignature as exc:
            raise _invalid(what, check) from exc
        return
    name = hash_name or key_hash_name(key) or "sha256"
    _verify_ecdsa_or_rsa(key, signature, bytes(data), HASH_ALGORITHMS[name](), prehashed=False, what=what, check=check)


def verify_over_digest(
    key: PublicKeyTypes,
    signature: bytes,
    digest: bytes,
    hash_name: str,
    *,
    what: str = "signature",
    check: str = "signature",
) -> None:
    """Verify a signature over a precomputed digest (ECDSA, RSA). Ed25519 cannot do this."""
    if isinstance(key, ed25519.Ed25519PublicKey):
        raise VerificationError(
            Reason.ED25519_NEEDS_ARTIFACT,
            "an Ed25519 signature covers the whole artifact: give the artifact, not its digest",
            check=check,
        )
    algorithm = HASH_ALGORITHMS[hash_name]()
    if len(digest) != algorithm.digest_size:
        raise _invalid(what, check)
    _verify_ecdsa_or_rsa(key, signature, digest, algorithm, prehashed=True, what=what, check=check)


def _verify_ecdsa_or_rsa(
    key: PublicKeyTypes,
    signature: bytes,
    data: bytes,
    algorithm: hashes.HashAlgorithm,
    *,
    prehashed: bool,
    what: str,
    check: str,
) -> None:
    """ECDSA or RSA over `data`, which is the digest itself when `prehashed`."""
    signed_with: hashes.HashAlgorithm | utils.Prehashed = utils.Prehashed(algorithm) if prehashed else algorithm
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            _require_der_ecdsa(signature, what, check)
            key.verify(signature, data, ec.ECDSA(signed_with))
            return
        if isinstance(key, rsa.RSAPublicKey):
            _verify_rsa(key, signature, data, signed_with, algorithm)
            return
    except (InvalidSignature, UnsupportedAlgorithm, ValueError) as exc:
        raise _invalid(what, check) from exc
    raise VerificationError(Reason.ALGORITHM_UNSUPPORTED, f"{describe_key(key)} keys are not supported", check=check)


def _verify_rsa(
    key: rsa.RSAPublicKey,
    signature: bytes,
    data: bytes,
    signed_with: hashes.HashAlgorithm | utils.Prehashed,
    hash_algorithm: hashes.HashAlgorithm,
) -> None:
    """A user key's RSA signature: PKCS#1 v1.5, or failing that PSS (a bundle does not say which)."""
    try:
        key.verify(signature, data, padding.PKCS1v15(), signed_with)
        return
    except InvalidSignature:
        pass
    key.verify(signature, data, padding.PSS(mgf=padding.MGF1(hash_algorithm), salt_length=padding.PSS.AUTO), signed_with)


def _require_der_ecdsa(signature: bytes, what: str, check: str) -> None:
    """Refuse non-DER or trailing-garbage ECDSA signatures (docs/verification.md §8.1, signature.bad_encoding)."""
    try:
        r, s = utils.decode_dss_signature(signature)
        canonical = utils.encode_dss_signature(r, s)
    except ValueError as exc:
        raise VerificationError(
            Reason.SIGNATURE_ENCODING, f"{what} is not a DER-encoded ECDSA signature", check=check
        ) from exc
    if canonical != signature:
        raise VerificationError(
            Reason.SIGNATURE_ENCODING, f"{what} is not a DER-encoded ECDSA signature", check=check
        )


def verify_log_signature(log: TransparencyLog, signature: bytes, data: bytes, *, check: str = "tlog") -> None:
    """A log's signature over `data` (checkpoint text, SET payload): the scheme its keyDetails names.

    The trusted root's `keyDetails` fixes the scheme (RSA PKCS#1 v1.5 or PSS, Ed25519 or
    Ed25519ph, ECDSA with its hash); a signature in another scheme does not verify, even if
    the key could make one (docs/verification.md §4.4, §4.6).
    """
    verify_with_key_details(log.public_key, log.key_details, signature, data, what="log signature", check=check)


def verify_with_key_details(
    key: PublicKeyTypes, key_details: str, signature: bytes, data: bytes, *, what: str, check: str
) -> None:
    """Verify `signature` over `data` in exactly the scheme `key_details` (a trusted root's enum) names."""
    details = KEY_DETAILS.get(key_details)
    if details is None or not details.matches(key):
        raise VerificationError(
            Reason.ALGORITHM_UNSUPPORTED, f"{what}: keyDetails {key_details!r} does not describe this key", check=check
        )
    scheme = details.scheme
    try:
        if scheme == "ed25519":
            assert isinstance(key, ed25519.Ed25519PublicKey)
            key.verify(signature, data)
            return
        if scheme == "ecdsa":
            assert isinstance(key, ec.EllipticCurvePublicKey)
            _require_der_ecdsa(signature, what, check)
            key.verify(signature, data, ec.ECDSA(HASH_ALGORITHMS[details.hash_name or "sha256"]()))
            return
        if scheme in ("rsa-pkcs1v15", "rsa-pss"):
            assert isinstance(key, rsa.RSAPublicKey)
            algorithm = HASH_ALGORITHMS[details.hash_name or "sha256"]()
            pad: padding.AsymmetricPadding = (
                padding.PKCS1v15()
                if scheme == "rsa-pkcs1v15"
                else padding.PSS(mgf=padding.MGF1(algorithm), salt_length=padding.PSS.AUTO)
            )
            key.verify(signature, data, pad, algorithm)
            return
    except (InvalidSignature, UnsupportedAlgorithm, ValueError) as exc:
        raise _invalid(what, check) from exc
    # ed25519ph: cryptography has no prehashed Ed25519; refuse rather than try another scheme.
    raise VerificationError(Reason.ALGORITHM_UNSUPPORTED, f"{what}: signature scheme {scheme} is not supported", check=check)
