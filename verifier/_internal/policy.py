"""Per-call verification policy: who must have signed (identity or key) and how much evidence."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from verifier._internal.algorithms import describe_key, is_supported_key, key_id
from verifier._internal.identity import Identity
from verifier._internal.keyio import load_pem_public_key as _load_pem_public_key
from verifier._internal.keyio import spki_der
from verifier._internal.record import Record
from verifier.errors import InputError, Reason, VerificationError


class TrustedKey(Record):
    key: PublicKeyTypes
    spki_der: bytes
    source: str

    @property
    def key_id(self) -> str:
        """The hint airseal writes into bundles: base64 SHA-256 of the SPKI."""
        return key_id(self.spki_der)


def load_pem_public_key(data: bytes, source: str) -> TrustedKey:
    try:
        key = _load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise InputError(Reason.KEY_MALFORMED, f"{source} is not a PEM public key") from exc
    if not is_supported_key(key):
        raise VerificationError(
            Reason.ALGORITHM_UNSUPPORTED,
            f"{source}: {describe_key(key)} keys are not supported",
            context={"supported": "EC P-256/P-384/P-521, RSA >= 2048, Ed25519"},
            check="key",
        )
    spki = spki_der(key)
    return TrustedKey(key=key, spki_der=spki, source=source)


class _PolicyFields(Record):
    """Fields of VerificationPolicy (a NamedTuple cannot validate itself)."""

    identity: Optional[Identity] = None
    key: Optional[TrustedKey] = None
    min_tlog_entries: Optional[int] = 1
    """None: the default for the trusted root, 1, or 0 when the root lists timestamp
    authorities but no transparency log (then a signed timestamp is required instead)."""
    min_timestamps: Optional[int] = None
    min_scts: Optional[int] = None
    """None: 1 for certificates, 0 for keys, and 0 under a trusted root that lists timestamp
    authorities but no transparency log and no CT log (docs/verification.md §7.4)."""
    now: Optional[datetime] = None
    """Verifier clock, used only to refuse integrated times in the future."""
    predicate_type: Optional[str] = None
    """DSSE bundles: the in-toto statement's predicateType must be this (an npm wrapper's claim)."""
    subject_name: Optional[str] = None
    """DSSE bundles: the subject with the artifact's digest must carry this name."""
    subject_name_form: str = "exact"
    """How names compare: "exact", or "pep740" (distribution file names, PEP 740 normalisation)."""


class VerificationPolicy(_PolicyFields):
    """Thresholds left as None take the documented defaults for the bundle's kind.

    Certificate bundles: one tlog entry, one verified time (never fewer), one SCT. Key
    bundles: one tlog entry and one verified time, no SCT; `min_tlog_entries=0` without an
    explicit `min_timestamps` opts out of observer evidence altogether. `min_tlog_entries=None`
    takes the trusted root's default (docs/verification.md §4.7).
    """

    __slots__ = ()

    def __new__(cls, *args: Any, **kwargs: Any) -> VerificationPolicy:
        self = super().__new__(cls, *args, **kwargs)
        for name in ("min_tlog_entries", "min_timestamps", "min_scts"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.subject_name_form not in ("exact", "pep740"):
            raise ValueError("subject_name_form must be 'exact' or 'pep740'")
        if self.now is not None and self.now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        return self
