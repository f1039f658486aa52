"""One exception tree with stable reason codes; the CLI maps each family to an exit code.

Nearly a leaf: it imports only the `Record` base from the project. Codes are a public contract
(scripts match on them); `docs/reason-codes.md` lists every one and a test keeps the two in
step. Add codes, never rename or remove one that airseal has raised.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, cast

from verifier._internal.record import Record


class _CodesMeta(type):
    """Turns each UPPER_CASE string of a class body into a member: an instance of the class.

    `Reason` is a `str`-valued enumeration. `enum.Enum` builds each member through a
    descriptor protocol, about 70,000 instructions a member: with this many codes some 9 M
    instructions (3 ms) of every cold `airseal verify`, before any input is read. This
    metaclass keeps what callers use (`Reason.X`, `.value`, `.name`, `Reason("area.cond")`,
    iteration in definition order, pickling to the same member, `str` equality) and saved
    6.5 M instructions of a cold verify. Type checkers see an `enum.Enum`;
    `tests/unit/verifier/test_errors.py` holds the two to the same behaviour.
    """

    _by_value: dict[str, Any]

    def __new__(mcls, name: str, bases: tuple[type, ...], namespace: dict[str, Any]) -> Any:
        cls = super().__new__(mcls, name, bases, namespace)
        by_value: dict[str, Any] = {}
        for attribute, value in namespace.items():
            if not (attribute.isupper() and isinstance(value, str)):
                continue
            if value in by_value:
                raise TypeError(f"{name}.{attribute} repeats the code {value!r} of {name}.{by_value[value]._name_}")
            member: Any = str.__new__(cast(Any, cls), value)
            object.__setattr__(member, "_name_", attribute)
            type.__setattr__(cls, attribute, member)
            by_value[value] = member
        cls._by_value = by_value
        if by_value:
            # A data-type mixin (`str`) comes first in the MRO and would answer repr(), str(),
            # format() and pickling as a plain string: members answer as enum members do.
            for method in _MEMBER_METHODS:
                type.__setattr__(cls, method, getattr(_StrCodes, method))
        return cls

    def __call__(cls, value: object) -> Any:
        """The member whose code is `value`, as `Reason("tlog.no_proof")` (never a new one)."""
        try:
            return cls._by_value[value]  # type: ignore[index]
        except (KeyError, TypeError):
            raise ValueError(f"{value!r} is not a valid {cls.__name__}") from None

    def __iter__(cls) -> Iterator[Any]:
        return iter(tuple(cls._by_value.values()))

    def __len__(cls) -> int:
        return len(cls._by_value)

    def __contains__(cls, member: object) -> bool:
        return isinstance(member, cls)

    def __setattr__(cls, name: str, value: object) -> None:
        if name.isupper() and name in cls.__dict__:
            raise AttributeError(f"cannot reassign member {name!r}")
        super().__setattr__(name, value)


class _StrCodes(metaclass=_CodesMeta):
    """Member behaviour, as a `str`-mixed `enum.Enum` member's in Python 3.11."""

    _name_: str

    @property
    def name(self) -> str:
        return self._name_

    @property
    def value(self) -> str:
        return str.__str__(self)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}.{self._name_}: {self.value!r}>"

    def __str__(self) -> str:
        return f"{type(self).__name__}.{self._name_}"

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __reduce_ex__(self, protocol: object) -> tuple[Any, tuple[str]]:
        return type(self), (self.value,)

    def __copy__(self) -> Any:
        return self

    def __deepcopy__(self, memo: object) -> Any:
        return self

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} members are read-only")


_MEMBER_METHODS = ("__repr__", "__str__", "__format__", "__reduce_ex__", "__copy__", "__deepcopy__", "__setattr__")

if TYPE_CHECKING:
    from enum import Enum as _CodeEnum
else:
    _CodeEnum = _StrCodes


class Reason(str, _CodeEnum):
    """Stable `area.condition` reason codes. The comment names the failure class of the reference checklist's failure table (docs/reason-codes.md, column "spec")."""

    # --- malformed or unsupported input (exit 3) ---
    BUNDLE_MALFORMED_JSON = "bundle.malformed_json"  # E-JSON
    BUNDLE_UNSUPPORTED_MEDIA_TYPE = "bundle.unsupported_media_type"  # E-MEDIATYPE
    BUNDLE_ONEOF = "bundle.oneof_conflict"  # E-ONEOF
    BUNDLE_MISSING_MATERIAL = "bundle.missing_material"  # E-CONTENT-MISSING / E-VM-MISSING
    BUNDLE_BAD_BASE64 = "bundle.bad_base64"  # E-B64
    BUNDLE_BAD_INTEGER = "bundle.bad_integer"  # E-INT
    BUNDLE_EMPTY_CHAIN = "bundle.empty_certificate_chain"  # E-CHAIN-EMPTY
    BUNDLE_V03_CHAIN = "bundle.v03_certificate_chain"  # E-V03-CHAIN
    BUNDLE_V01_NO_PROMISE = "bundle.v01_missing_inclusion_promise"  # E-V01-NOPROMISE
    BUNDLE_NO_INCLUSION_PROOF = "bundle.missing_inclusion_proof"  # E-V02-NOPROOF
    BUNDLE_CHECKPOINT_MISSING = "bundle.missing_checkpoint"  # E-CHECKPOINT-MISSING
    BUNDLE_TLOG_NO_BODY = "bundle.missing_canonicalized_body"  # E-TLOG-NOBODY
    BUNDLE_DSSE_SIGNATURE_COUNT = "bundle.dsse_signature_count"  # E-DSSE-SIGCOUNT
    BUNDLE_DSSE_PAYLOAD = "bundle.dsse_payload"  # E-DSSE-PAYLOAD
    BUNDLE_KEY_HINT_MISMATCH = "bundle.key_hint_mismatch"  # E-KEYHINT
    INPUT_TOO_LARGE = "input.too_large"  # E-LIMIT
    CERT_MALFORMED = "cert.malformed"  # E-CERT-PARSE
    KEY_MALFORMED = "key.malformed"
    ARTIFACT_UNREADABLE = "artifact.unreadable"
    ARTIFACT_BAD_DIGEST = "artifact.bad_digest"
    TRUSTROOT_MALFORMED = "trustroot.malformed"  # E-TR-* (shape, JSON)
    TRUSTROOT_UNSUPPORTED_MEDIA_TYPE = "trustroot.unsupported_media_type"  # E-TR-MEDIATYPE
    TRUSTROOT_LOG_NO_START = "trustroot.log_missing_validity_start"  # E-TR-TLOG-NOSTART
    TRUSTROOT_LOG_ID_MISMATCH = "trustroot.log_id_mismatch"  # E-TR-LOGID
    TRUSTROOT_KEY_TYPE_MISMATCH = "trustroot.key_type_mismatch"  # E-TR-KEYTYPE
    TRUSTROOT_INVALID_VALIDITY = "trustroot.invalid_validity"
    EVIDENCE_MALFORMED = "evidence.malformed"

    # --- a definite "no" (exit 1) ---
    TLOG_DUPLICATE_ENTRY = "tlog.duplicate_entry"  # E-TLOG-DUP
    TLOG_KIND_VERSION_MISMATCH = "tlog.kind_version_mismatch"  # E-TLOG-KINDVERSION
    TLOG_UNSUPPORTED_KIND = "tlog.unsupported_kind"  # E-TLOG-UNSUPPORTED
    TLOG_THRESHOLD_NOT_MET = "tlog.threshold_not_met"  # E-TLOG-THRESHOLD
    TLOG_NO_PROOF = "tlog.no_proof"  # E-TLOG-NOPROOF
    TLOG_SET_INVALID = "tlog.set_invalid"  # E-SET-INVALID
    TLOG_KEY_VALIDITY = "tlog.key_not_valid_at_time"  # E-TLOG-KEY-VALIDITY
    TLOG_INCLUSION_PROOF_INVALID = "tlog.inclusion_proof_invalid"  # E-INCLUSION
    TLOG_CHECKPOINT_ROOT_MISMATCH = "tlog.checkpoint_root_mismatch"  # E-CHECKPOINT-ROOT
    TLOG_CHECKPOINT_SIGNATURE_INVALID = "tlog.checkpoint_signature_invalid"  # E-CHECKPOINT-SIG
    TLOG_CHECKPOINT_NO_MATCHING_KEY = "tlog.checkpoint_no_matching_signature"  # E-CHECKPOINT-NOKEY
    TLOG_CHECKPOINT_MALFORMED = "tlog.checkpoint_malformed"  # E-CHECKPOINT-FORMAT
    TLOG_NOTE_MALFORMED = "tlog.note_malformed"  # E-NOTE-FORMAT
    TLOG_ENTRY_MISMATCH = "tlog.entry_mismatch"  # E-TLOG-MISMATCH
    TLOG_KIND_CONTENT_MISMATCH = "tlog.kind_content_mismatch"  # E-TLOG-KIND-CONTENT
    TLOG_LOG_INDEX_MISMATCH = "tlog.log_index_mismatch"
    TIME_NO_VERIFIED_TIMESTAMP = "time.no_verified_timestamp"  # E-NO-TIME
    TIME_OUTSIDE_CERT_VALIDITY = "time.outside_certificate_validity"  # E-TIME-OUTSIDE-CERT
    TIME_IN_FUTURE = "time.in_future"  # E-TIME-FUTURE
    TIME_THRESHOLD_NOT_MET = "time.threshold_not_met"
    TSA_INVALID = "tsa.invalid"  # malformed token, bad CMS signature
    TSA_IMPRINT_MISMATCH = "tsa.imprint_mismatch"  # E-TSA-IMPRINT
    TSA_UNTRUSTED = "tsa.untrusted"  # E-TSA-UNTRUSTED
    TSA_VALIDITY = "tsa.not_valid_at_time"  # E-TSA-VALIDITY
    TSA_WEAK_HASH = "tsa.weak_hash"  # E-TSA-WEAKHASH
    TSA_DUPLICATE = "tsa.duplicate_timestamp"  # E-TSA-DUP
    CERT_CHAIN_INVALID = "cert.chain_invalid"  # E-CERT-CHAIN
    CERT_KEY_USAGE = "cert.key_usage"  # E-CERT-KU
    CERT_EXT_KEY_USAGE = "cert.ext_key_usage"  # E-CERT-EKU
    SCT_THRESHOLD_NOT_MET = "sct.threshold_not_met"  # E-SCT
    IDENTITY_MISMATCH = "identity.mismatch"  # E-ID-MISMATCH
    IDENTITY_ISSUER_CONFLICT = "identity.issuer_conflict"  # E-ID-ISSUER
    IDENTITY_NO_CERTIFICATE = "identity.no_certificate"  # E-ID-NOCERT
    SIGNATURE_INVALID = "signature.invalid"  # E-SIG-INVALID
    SIGNATURE_ENCODING = "signature.bad_encoding"  # E-SIG-ENCODING
    ARTIFACT_DIGEST_MISMATCH = "artifact.digest_mismatch"  # E-DIGEST-MISMATCH
    DSSE_SUBJECT_MISMATCH = "dsse.subject_mismatch"  # E-INTOTO-SUBJECT
    DSSE_PAYLOAD_TYPE = "dsse.payload_type"  # E-DSSE-TYPE
    DSSE_PREDICATE_TYPE = "dsse.predicate_type_mismatch"
    DSSE_SUBJECT_NAME = "dsse.subject_name_mismatch"
    KEY_HINT_NOT_THIS_KEY = "key.hint_mismatch"
    ED25519_NEEDS_ARTIFACT = "signature.ed25519_needs_artifact"  # E-ED25519-NEEDS-ARTIFACT
    ALGORITHM_UNSUPPORTED = "algorithm.unsupported"  # E-ALG-UNSUPPORTED
    KEY_UNKNOWN = "key.unknown"  # E-KEY-UNKNOWN
    POLICY_INVALID = "policy.invalid"
    # the gate (`airseal gate`): per-artifact outcomes that `verify` has no code for
    GATE_NO_RULE = "gate.no_rule"
    GATE_DENIED = "gate.denied"
    GATE_UNSIGNED = "gate.unsigned"
    GATE_ORPHAN_EVIDENCE = "gate.orphan_evidence"
    GATE_ARTIFACT_CHANGED = "gate.artifact_changed"
    GATE_UNSAFE_FILE = "gate.unsafe_file"
    GATE_WORKER_LOST = "gate.worker_lost"
    # `airseal gate merge` (exit 3, an InputError): shard reports that do not make one gate
    GATE_MERGE_REFUSED = "gate.merge_refused"

    # --- trust root state (exit 4) ---
    TRUSTROOT_NOT_FOUND = "trustroot.not_found"
    TRUSTROOT_STALE = "trustroot.stale"
    TUF_EXPIRED = "trustroot.tuf_expired"
    TUF_ROLLBACK = "trustroot.tuf_rollback"
    TUF_UNSIGNED = "trustroot.tuf_unsigned"
    TUF_BAD_METADATA = "trustroot.tuf_bad_metadata"
    TUF_HASH_MISMATCH = "trustroot.tuf_hash_mismatch"
    TUF_MEDIA_INCOMPLETE = "trustroot.tuf_media_incomplete"
    TUF_FETCH_FAILED = "trustroot.fetch_failed"
    TRUST_NAME_UNKNOWN = "trustroot.unknown_trust"
    TRUST_STORE_ERROR = "trustroot.store_error"
    TUF_OVERSIZED = "trustroot.tuf_oversized"
    TUF_MEDIA_UNSAFE = "trustroot.tuf_media_unsafe"
    TUF_ERROR = "trustroot.tuf_error"  # a TUF refusal airseal has no specific code for

    # --- token (exit 5) ---
    HSM_LIBRARY_NOT_FOUND = "hsm.library_not_found"
    HSM_TOKEN_NOT_FOUND = "hsm.token_not_found"  # noqa: S105 - a reason code, not a secret
    HSM_PIN_INCORRECT = "hsm.pin_incorrect"
    HSM_PIN_MISSING = "hsm.pin_missing"
    HSM_KEY_NOT_FOUND = "hsm.key_not_found"
    HSM_KEY_AMBIGUOUS = "hsm.key_ambiguous"
    HSM_KEY_UNUSABLE = "hsm.key_unusable"
    HSM_MECHANISM_UNSUPPORTED = "hsm.mechanism_unsupported"
    HSM_URI_INVALID = "hsm.uri_invalid"
    HSM_DEVICE_ERROR = "hsm.device_error"
    HSM_KEY_EXISTS = "hsm.key_exists"
    HSM_SELF_CHECK_FAILED = "hsm.self_check_failed"
    HSM_IMPORT_REFUSED = "hsm.import_refused"

    # --- a service at signing: timestamp authority, transparency log (exit 6) ---
    TSA_REQUEST_FAILED = "tsa.request_failed"
    TLOG_UPLOAD_FAILED = "tlog.upload_failed"
    TLOG_BAD_RESPONSE = "tlog.bad_response"
    SIGNING_CONFIG_INVALID = "signing.config_invalid"
    SIGNING_NO_SERVICE = "signing.no_usable_service"
    SIGNING_BUNDLE_UNVERIFIED = "signing.bundle_not_verified"


class CheckResult(Record):
    """One check of a verification, as `-v` and `--json` show it."""

    name: str
    """The check's name in docs/verification.md, e.g. "tlog.inclusion_proof"."""
    ok: bool
    detail: str


class AirsealError(Exception):
    """Root of every error airseal reports to a person. `exit_code` is the CLI's exit status.

    `check` names the failed check; `checks` holds the checks that ran before it (filled in
    by the verifier, empty elsewhere); `context` the values that disagreed.
    """

    exit_code = 70

    def __init__(
        self,
        reason: Reason,
        detail: str,
        *,
        context: Mapping[str, Any] | None = None,
        check: str | None = None,
        checks: Sequence[CheckResult] = (),
    ) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail
        self.context: dict[str, Any] = dict(context or {})
        self.check = check
        self.checks: tuple[CheckResult, ...] = tuple(checks)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled whole (process pools, Dask): the default would call __init__ with the message.
        return type(self), (self.reason, self.detail), self.__dict__


class VerificationError(AirsealError):
    """The bundle does not prove what was asked (exit 1)."""

    exit_code = 1


class InputError(AirsealError):
    """Malformed or unsupported input: bundle, key, certificate, trusted root file (exit 3)."""

    exit_code = 3


class TrustRootError(AirsealError):
    """Trust root missing, expired, or a TUF refresh refused (exit 4)."""

    exit_code = 4


class HsmError(AirsealError):
    """Token problem: module, token, PIN, key, mechanism (exit 5)."""

    exit_code = 5


class ServiceError(AirsealError):
    """A network service at signing (timestamp authority, transparency log) is unreachable or
    refuses (exit 6)."""

    exit_code = 6


EXIT_INTERNAL = 70
"""Exit status for a bug; the others are each family's `exit_code`."""

EXIT_USAGE = 2
"""Exit status for a contradictory or incomplete command line (as click uses)."""
EXIT_INTERRUPTED = 130
"""Exit status after Ctrl-C (128 + SIGINT)."""

__all__ = [
    "AirsealError",
    "CheckResult",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_USAGE",
    "HsmError",
    "InputError",
    "Reason",
    "ServiceError",
    "TrustRootError",
    "VerificationError",
]
