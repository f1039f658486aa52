"""One exception tree with stable reason codes; the CLI maps each family to an exit code.

Nearly a leaf: it imports only the `Record` base from the project. Codes are a public contract (scripts match on
them); `docs/reason-codes.md` lists every one and a test keeps the two in step. Add codes,
never rename or remove one that airseal has raised.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Any

from verifier._internal.record import Record


class Reason(str, enum.Enum):
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
