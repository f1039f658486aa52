"""HsmSigner: a token private key behind airseal's `Signer` protocol.

The host hashes (streaming, in `verifier._internal.signing.batch`); the token signs the digest:
- ECDSA: CKM_ECDSA over the digest (SHA-256 for P-256, SHA-384 for P-384); the token's raw
  r||s is converted to DER with cryptography's `encode_dss_signature` (0.7 us; asn1crypto's
  `pkcs11.util.ec.encode_ecdsa_signature` took 8 us and gives the same bytes).
- RSA: CKM_RSA_PKCS over a DER DigestInfo (PKCS#1 v1.5, built by asn1crypto), or with
  `rsa_pss=True` CKM_RSA_PKCS_PSS with explicit SHA-256 / MGF1-SHA-256 / 32-byte salt.
- Ed25519: CKM_EDDSA over the whole message (pure EdDSA has no pre-hash form).
- Tokens without raw CKM_ECDSA (or CKM_RSA_PKCS) get the message itself with CKM_ECDSA_SHA256 /
  CKM_ECDSA_SHA384 (or CKM_SHA256_RSA_PKCS); `prehashed` is then False and the caller hands
  over whole messages, as for Ed25519. hsm.capabilities.choose_sign_mechanism decides.
Every signature is verified on the host with `cryptography` before it is returned, so a
faulty token or a key/public-key mix-up never produces a bundle (`hsm.self_check_failed`).

Batches (`sign_digests`): the same per-signature contract, one session, the lock around each
C_Sign. From PARALLEL_CHECK_MIN digests on, the host verification (about as costly as
SoftHSM's C_Sign) runs in a second thread while this thread is inside the next C_Sign, which
python-pkcs11 calls without the GIL: on 2 free cores 1,000 P-256 sign+verify take ~62 ms
instead of ~100 ms. A forked verifier process measured the same (~61 ms) but forks a process
holding a PKCS#11 session and pickles every signature; the thread needs neither. The
verifier thread never calls PKCS#11. A signature is yielded only after its verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pkcs11 import exceptions as p11e
from pkcs11.constants import Attribute
from pkcs11.mechanisms import MGF, Mechanism

from hsm.capabilities import choose_sign_mechanism, ck_name, token_mechanisms
from hsm.keys import PublicKey, check_supported, find_private_key, public_key_for_private
from hsm.token import PKCS11_LOCK, OpenToken, ckr_name, open_token, translate
from hsm.uri import Pkcs11Uri
from verifier._internal.algorithms import hash_algorithm
from verifier.errors import HsmError, Reason

PSS_SALT_BYTES = 32
PARALLEL_CHECK_MIN = 16
"""`sign_digests` verifies in a second thread from this many digests on (default)."""

_HASH_FOR_TYPE = {"ec-p256": "sha256", "ec-p384": "sha384"}


class HsmSigner:
    """Signs with one token key; satisfies `verifier._internal.signing.batch.Signer` structurally."""

    def __init__(self, opened: OpenToken, private_key: Any, public_key: PublicKey, *, rsa_pss: bool = False,
                 mechanisms: set[Any] | None = None) -> None:
        self._opened = opened
        self._private = private_key
        self._public = public_key
        self.key_type = check_supported(public_key)
        if rsa_pss and not self.key_type.startswith("rsa-"):
            raise HsmError(Reason.HSM_KEY_UNUSABLE, f"--rsa-pss needs an RSA key; this key is {self.key_type}")
        self.rsa_pss = rsa_pss
        # `mechanisms` overrides C_GetMechanismList (tests use it to take the token-hash path).
        offered = mechanisms if mechanisms is not None else token_mechanisms(opened.token.slot)
        self.plan = choose_sign_mechanism(offered, self.key_type, rsa_pss=rsa_pss)
        self._check_can_sign()
        self._verify_args = self._host_verify_args()

    @property
    def hash_name(self) -> str:
        """The digest for this key: sha256, or sha384 for P-384 (host-side when prehashed)."""
        return _HASH_FOR_TYPE.get(self.key_type, "sha256")

    @property
    def prehashed(self) -> bool:
        """False when the token gets the whole message: Ed25519, and tokens that only offer
        CKM_ECDSA_SHA256/384 or CKM_SHA256_RSA_PKCS."""
        return self.plan.prehashed

    @property
    def mechanism(self) -> Mechanism:
        return self.plan.mechanism  # type: ignore[no-any-return]

    def public_key(self) -> PublicKey:
        return self._public

    def _check_can_sign(self) -> None:
        with PKCS11_LOCK:
            try:
                can_sign = bool(self._private[Attribute.SIGN])
                label = self._private[Attribute.LABEL]
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
        if allowed is not None and mech not in allowed:
            raise HsmError(
                Reason.HSM_MECHANISM_UNSUPPORTED,
                f"this key's CKA_ALLOWED_MECHANISMS does not include {ck_name(mech)} for key {label!r}"
                + (": drop --rsa-pss or use a key made for PSS" if self.rsa_pss else ": use another key"),
                context={"mechanism": ck_name(mech)},
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
        self._check_digest_request(hash_name)
        signature = self._sign_unchecked(digest)
        self._self_check_digest(signature, digest, hash_name)
        return signature

    def sign_digests(
        self, digests: Iterable[bytes], hash_name: str, *, parallel: bool | None = None
    ) -> Generator[bytes, None, None]:
        """Sign many host-computed digests in order; yields each signature only after it
        verified on the host (as `sign_digest`). `digests` is consumed lazily, so a caller may
        hash file i+1 while signature i is being verified; an exception from it propagates.

        `parallel`: verify in a second thread, overlapped with C_Sign (None: when `digests`
        has a len() of at least PARALLEL_CHECK_MIN). Close the iterator (or run it to the end)
        so the thread is joined. Raises as `sign_digest`.
        """
        self._check_digest_request(hash_name)
        if parallel is None:
            parallel = hasattr(digests, "__len__") and len(digests) >= PARALLEL_CHECK_MIN  # type: ignore[arg-type]
        if not parallel:
            for digest in digests:
                signature = self._sign_unchecked(digest)
                self._self_check_digest(signature, digest, hash_name)
                yield signature
            return
        yield from self._sign_digests_parallel(digests)

    def _sign_digests_parallel(self, digests: Iterable[bytes]) -> Iterator[bytes]:
        """C_Sign here, host verification in a second thread, overlapped: python-pkcs11
        (0.10) releases the GIL inside C_Sign, so the verifier thread runs while the token
        signs. Only this thread calls PKCS#11 (under the lock); the verifier thread only
        calls cryptography. Signatures are yielded in order, each after its verdict."""
        import queue
        import threading

        todo: queue.SimpleQueue[tuple[bytes, bytes] | None] = queue.SimpleQueue()
        verdicts: queue.SimpleQueue[bool] = queue.SimpleQueue()
        checker = threading.Thread(target=_check_thread, args=(todo, verdicts, self._verifies),
                                   name="airseal-self-check", daemon=True)
        checker.start()
        pending: list[bytes] = []  # signed, verdict not yet taken; FIFO via `taken`
        taken = 0
        try:
            for digest in digests:
                signature = self._sign_unchecked(digest)
                todo.put((signature, digest))
                pending.append(signature)
                while not verdicts.empty():
                    if not verdicts.get():
                        raise _self_check_error()
                    taken += 1
                    yield pending[taken - 1]
                    pending[taken - 1] = b""
            while taken < len(pending):
                if not verdicts.get():
                    raise _self_check_error()
                taken += 1
                yield pending[taken - 1]
        finally:
            todo.put(None)
            checker.join()

    def _check_digest_request(self, hash_name: str) -> None:
        if not self.prehashed:
            raise HsmError(Reason.HSM_MECHANISM_UNSUPPORTED,
                           f"{ck_name(self.mechanism)} signs the whole message, not a digest",
                           context={"mechanism": ck_name(self.mechanism)})
        if hash_name != self.hash_name:
            raise ValueError(f"{self.key_type} signs {self.hash_name} digests, not {hash_name}")

    def _sign_unchecked(self, digest: bytes) -> bytes:
        """C_Sign (+ DER for ECDSA) only: never handed to a caller before a host verification
        (`_self_check_digest`, or the verifier thread's verdict)."""
        if self.key_type.startswith("ec-"):
            return _der_from_raw(self._c_sign(digest, Mechanism.ECDSA, None))
        if self.rsa_pss:
            return self._c_sign(digest, Mechanism.RSA_PKCS_PSS, (Mechanism.SHA256, MGF.SHA256, PSS_SALT_BYTES))
        return self._c_sign(_digest_info(self.hash_name, digest), Mechanism.RSA_PKCS, None)

    def sign_message(self, message: bytes) -> bytes:
        """Sign a whole message: on the token when it hashes (EdDSA, CKM_ECDSA_SHA256/384,
        CKM_SHA256_RSA_PKCS), else host hash + sign_digest. Verified on the host first."""
        if self.prehashed:
            import hashlib

            return self.sign_digest(hashlib.new(self.hash_name, message).digest(), self.hash_name)
        mech = self.mechanism
        signature = self._c_sign(message, mech, None)
        if self.key_type.startswith("ec-"):
            signature = _der_from_raw(signature)
        public = self._public
        try:
            if isinstance(public, ed25519.Ed25519PublicKey):
                public.verify(signature, message)
            elif isinstance(public, ec.EllipticCurvePublicKey):
                public.verify(signature, message, ec.ECDSA(hash_algorithm(self.hash_name)))
            else:
                public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature as exc:
            raise _self_check_error() from exc
        return signature

    def _c_sign(self, data: bytes, mechanism: Mechanism, param: Any) -> bytes:
        with PKCS11_LOCK:
            try:
                if param is None:
                    return bytes(self._private.sign(data, mechanism=mechanism))
                return bytes(self._private.sign(data, mechanism=mechanism, mechanism_param=param))
            except (p11e.MechanismInvalid, p11e.MechanismParamInvalid, p11e.FunctionNotSupported) as exc:
                raise self._refused(mechanism, exc) from exc
            except p11e.GeneralError as exc:
                if not self.plan.listed:
                    raise self._refused(mechanism, exc) from exc
                raise translate(exc, f"signing with {ck_name(mechanism)}") from exc
            except p11e.PKCS11Error as exc:
                raise translate(exc, f"signing with {ck_name(mechanism)}") from exc

    def _refused(self, mechanism: Any, exc: BaseException) -> HsmError:
        unlisted = "" if self.plan.listed else " (the module does not list it in C_GetMechanismList either)"
        hint = ": drop --rsa-pss" if mechanism == Mechanism.RSA_PKCS_PSS else ": use another key type"
        return HsmError(
            Reason.HSM_MECHANISM_UNSUPPORTED,
            f"the token refused to sign with {ck_name(mechanism)} ({ckr_name(exc)}){unlisted}{hint}",
            context={"mechanism": ck_name(mechanism)},
        )

    def _host_verify_args(self) -> tuple[Any, ...] | None:
        """The constant trailing arguments of `public_key.verify` for digests, built once."""
        if not self.prehashed:
            return None
        algorithm = utils.Prehashed(hash_algorithm(self.hash_name))
        key = self._public
        if isinstance(key, ec.EllipticCurvePublicKey):
            return (ec.ECDSA(algorithm),)
        if isinstance(key, rsa.RSAPublicKey):
            pad: padding.AsymmetricPadding = (
                padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=PSS_SALT_BYTES)
                if self.rsa_pss
                else padding.PKCS1v15()
            )
            return (pad, algorithm)
        return None  # pragma: no cover - guarded by prehashed

    def _verifies(self, signature: bytes, digest: bytes) -> bool:
        """Host verification of a digest signature with cryptography (no PKCS#11 call)."""
        if self._verify_args is None:  # pragma: no cover - guarded by prehashed
            return False
        try:
            self._public.verify(signature, digest, *self._verify_args)
        except InvalidSignature:
            return False
        return True

    def _self_check_digest(self, signature: bytes, digest: bytes, hash_name: str) -> None:
        if hash_name != self.hash_name or not self._verifies(signature, digest):
            raise _self_check_error()


def _der_from_raw(raw: bytes) -> bytes:
    """The token's ECDSA r||s as a DER ECDSA-Sig-Value."""
    half = len(raw) // 2
    return encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))


def _digest_info(hash_name: str, digest: bytes) -> bytes:
    """PKCS#1 v1.5 DigestInfo DER for CKM_RSA_PKCS (asn1crypto, loaded only for RSA keys)."""
    from asn1crypto.algos import DigestInfo

    der: bytes = DigestInfo({"digest_algorithm": {"algorithm": hash_name}, "digest": digest}).dump()
    return der


def _check_thread(todo: Any, verdicts: Any, verifies: Callable[[bytes, bytes], bool]) -> None:
    """The verifier thread: one verdict per (signature, digest), in order, until None.
    Any exception counts as a failed check (the caller then writes nothing)."""
    while (item := todo.get()) is not None:
        try:
            ok = verifies(*item)
        except Exception:
            ok = False
        verdicts.put(ok)


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


__all__ = ["HsmSigner", "PARALLEL_CHECK_MIN", "PSS_SALT_BYTES", "open_signer"]
