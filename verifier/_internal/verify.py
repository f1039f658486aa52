"""The verification orchestrator: docs/verification.md, step by step, every check recorded.

`verify_bundle` runs the steps of docs/verification.md in that document's order; each step is
one short function below whose docstring names its section. Two cheap steps come early on
purpose (§2 the artifact digest, §3 the signature of a key-based bundle): they answer the
likeliest mistakes ("not this file", "not this key") before the evidence is examined. Every
step must pass; the order only decides which failure is reported.

Pure apart from reading the artifact: no trust store, no network, no clock beyond `now`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Optional, Union

from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from verifier._internal.algorithms import (
    HASH_FROM_ENUM,
    describe_key,
    is_supported_key,
    key_hash_name,
    spki_sha256,
    ssh_fingerprint_sha256,
)
from verifier._internal.artifact import ArtifactInput, artifact_digests, map_artifact
from verifier._internal.bundle.model import (
    Bundle,
    CertificateMaterial,
    DsseEnvelope,
    MessageSignature,
    PublicKeyMaterial,
    TlogEntry,
)
from verifier._internal.crypto import verify_over_data, verify_over_digest
from verifier._internal.encoding import pae
from verifier._internal.keyio import spki_der
from verifier._internal.policy import VerificationPolicy
from verifier._internal.result import Threshold, TimeSource, TlogEvidence, VerificationResult, VerifiedSigner
from verifier._internal.timefmt import from_unix, iso
from verifier._internal.tlog import checkpoint as checkpoint_mod
from verifier._internal.tlog.entry import (
    SigningMaterial,
    parse_body,
    verify_entry_body,
    verify_signed_entry_timestamp,
)
from verifier._internal.tlog.merkle import leaf_hash, verify_inclusion
from verifier._internal.trustroot.model import TransparencyLog, TrustedRoot

if TYPE_CHECKING:
    from verifier._internal.intoto import Subject

from verifier.errors import AirsealError, CheckResult, Reason, VerificationError

FUTURE_SKEW = timedelta(minutes=5)
"""How far an integrated time may lie ahead of this machine's clock (clock drift)."""

# §4.4: a verified SET makes the integrated time a verified time for every Rekor v1 kind
# airseal reads (hashedrekord, dsse and intoto alike: the SET signs the same payload shape).
_TIMED_KINDS = {("hashedrekord", "0.0.1"), ("dsse", "0.0.1"), ("intoto", "0.0.2")}

VerifiedTime = tuple[datetime, TimeSource]
ParsedBody = Union[dict[str, Any], AirsealError]
"""A log entry's body, parsed once up front; a parse failure is kept and raised in §4."""


class _Recorder:
    """Collects the outcome of every check so `-v` and `--json` can show the whole story."""

    def __init__(self) -> None:
        self.checks: list[CheckResult] = []

    def ok(self, name: str, detail: str) -> None:
        self.checks.append(CheckResult(name, True, detail))

    def skipped(self, name: str, detail: str) -> None:
        self.checks.append(CheckResult(name, False, detail))


def verify_bundle(
    bundle: Bundle, trusted_root: TrustedRoot, artifact: ArtifactInput, policy: VerificationPolicy
) -> VerificationResult:
    """Verify a parsed bundle against a trusted root and a policy (docs/verification.md).

    Raises:
        VerificationError: the bundle does not prove what the policy asks (reason-coded); its
            `checks` lists the checks that passed before the failure.
        InputError: the artifact cannot be read, or the bundle exceeds a limit.
    """
    rec = _Recorder()
    try:
        return _verify(bundle, trusted_root, artifact, policy, rec)
    except VerificationError as err:
        err.checks = tuple(rec.checks)
        raise


def _verify(
    bundle: Bundle, trusted_root: TrustedRoot, artifact: ArtifactInput, policy: VerificationPolicy, rec: _Recorder
) -> VerificationResult:
    now = policy.now or datetime.now(timezone.utc)
    material, signer = _step1_signer(bundle, policy, rec)
    is_cert = material.certificate_der is not None
    bodies = [_parse_body_once(entry) for entry in bundle.tlog_entries]
    digests = artifact_digests(artifact, _needed_hashes(bundle, material, bodies))

    _step2_artifact_digest(bundle, artifact, digests, rec)
    if not is_cert:
        _step3_signature_first(bundle, material, artifact, digests, policy, rec)
    tlog_evidence, integrated_times, unstamped = _step4_transparency_log(
        bundle, bodies, trusted_root, material, digests, now, rec
    )
    min_tlog, timestamp_instead = _tlog_threshold(policy, trusted_root)
    _require_tlog_entries(min_tlog, timestamp_instead, len(tlog_evidence), len(bundle.tlog_entries), not is_cert, rec)
    tsa_times, tsa_failures = _step5_rfc3161_timestamps(bundle, trusted_root, rec)
    times = integrated_times + tsa_times
    min_timestamps = _time_threshold(policy, is_cert, min_tlog, timestamp_instead)
    _step6_verified_times(times, min_timestamps, tsa_failures, len(bundle.rfc3161_timestamps), is_cert, rec)
    _step6_log_keys_at_verified_times(unstamped, times, rec)
    min_scts = _sct_threshold(policy, trusted_root, is_cert)
    scts = _step7_certificate(bundle, trusted_root, times, min_scts, rec)
    if is_cert:
        _step8_signature(bundle, material, artifact, digests, policy, rec)
        signer = _step9_identity(bundle, policy, signer, rec)
    return VerificationResult(
        signer=signer,
        artifact_digest=_primary_digest(digests),
        media_type=bundle.media_type,
        time_sources=tuple(source for _, source in times),
        tlog_entries=tuple(tlog_evidence),
        scts=scts,
        thresholds={
            "tlog_entries": Threshold(min_tlog, len(tlog_evidence)),
            "timestamps": Threshold(min_timestamps, len(times)),
            "scts": Threshold(min_scts, scts),
        },
        checks=tuple(rec.checks),
    )


# --- §1 Who must have signed ------------------------------------------------------------------


def _step1_signer(bundle: Bundle, policy: VerificationPolicy, rec: _Recorder) -> tuple[SigningMaterial, VerifiedSigner]:
    """§1: the bundle's certificate needs an identity policy; a bare-key bundle needs --key."""
    if isinstance(bundle.material, CertificateMaterial):
        if policy.identity is None:
            raise VerificationError(
                Reason.POLICY_INVALID,
                "the bundle is signed with a certificate: say whose it must be with"
                " --certificate-identity (or --certificate-identity-regexp)",
                check="policy",
            )
        leaf = bundle.material.leaf
        key = leaf.public_key()
        if not is_supported_key(key):
            raise VerificationError(
                Reason.ALGORITHM_UNSUPPORTED, f"{describe_key(key)} signing keys are not supported", check="signature"
            )
        material = SigningMaterial(key=key, certificate_der=bundle.material.leaf_der, spki_der=spki_der(key))
        return material, VerifiedSigner(kind="certificate")
    if policy.identity is not None and policy.key is None:
        raise VerificationError(
            Reason.IDENTITY_NO_CERTIFICATE,
            "an identity was asked for, but the bundle is signed with a bare key (no certificate):"
            " verify it with --key",
            check="policy",
        )
    if policy.key is None:
        raise VerificationError(
            Reason.KEY_UNKNOWN, "the bundle is signed with a key: give the public key with --key", check="policy"
        )
    hint = bundle.material.hint
    rec.ok("key", f"key {policy.key.key_id} from {policy.key.source}" + (f" (bundle hint {hint})" if hint else ""))
    signer = VerifiedSigner(kind="key", key_id=policy.key.key_id, key_type=describe_key(policy.key.key), hint=hint)
    return SigningMaterial(key=policy.key.key, certificate_der=None, spki_der=policy.key.spki_der), signer


def _parse_body_once(entry: TlogEntry) -> ParsedBody:
    """Parse a log body once for both the hash choice and §4; a failure waits for §4."""
    try:
        return parse_body(entry)
    except AirsealError as err:
        return err


def _needed_hashes(bundle: Bundle, material: SigningMaterial, bodies: Sequence[ParsedBody]) -> set[str]:
    """Every hash the evidence names, so the artifact is read once and hashed with each."""
    names = {"sha256"}
    key_hash = key_hash_name(material.key)
    if key_hash:
        names.add(key_hash)
    content = bundle.content
    if isinstance(content, MessageSignature) and content.digest_algorithm:
        names.add(HASH_FROM_ENUM[content.digest_algorithm])
    if isinstance(content, DsseEnvelope):
        from verifier._internal import intoto  # DSSE bundles only: message signatures skip the import

        names.update(intoto.subject_hash_names(content.payload))
    for entry, body in zip(bundle.tlog_entries, bodies):
        if isinstance(body, dict) and (entry.kind, entry.version) == ("hashedrekord", "0.0.1"):
            algorithm = body.get("spec", {}).get("data", {}).get("hash", {}).get("algorithm")
            if algorithm in ("sha256", "sha384", "sha512"):
                names.add(algorithm)
    return names


def _primary_digest(digests: Mapping[str, bytes]) -> str:
    name = "sha256" if "sha256" in digests else sorted(digests)[0]
    return f"{name}:{digests[name].hex()}"


# --- §2 The artifact digest (early) -------------------------------------------------------------


def _step2_artifact_digest(bundle: Bundle, artifact: ArtifactInput, digests: Mapping[str, bytes], rec: _Recorder) -> None:
    """§2: a message signature's messageDigest, if any, must be the artifact's."""
    content = bundle.content
    if not isinstance(content, MessageSignature) or content.digest_algorithm is None:
        return
    name = HASH_FROM_ENUM[content.digest_algorithm]
    ours = digests.get(name)
    if ours is None:
        raise VerificationError(
            Reason.ARTIFACT_DIGEST_MISMATCH,
            f"the bundle names a {name} digest but a {artifact.describe().split(':')[0]} digest was given",
            check="artifact.digest",
        )
    if ours != content.digest:
        raise VerificationError(
            Reason.ARTIFACT_DIGEST_MISMATCH,
            "the artifact is not the one that was signed (digest differs)",
            context={"artifact": f"{name}:{ours.hex()}", "bundle": f"{name}:{(content.digest or b'').hex()}"},
            check="artifact.digest",
        )
    rec.ok("artifact.digest", f"{name}:{ours.hex()} matches the bundle")


# --- §3 and §8 The signature ------------------------------------------------------------------


def _step3_signature_first(
    bundle: Bundle,
    material: SigningMaterial,
    artifact: ArtifactInput,
    digests: Mapping[str, bytes],
    policy: VerificationPolicy,
    rec: _Recorder,
) -> None:
    """§3: a key bundle's signature is checked before its evidence, so a wrong --key says so.

    Then the bundle's own names for its key (§3.1) must not name another key.
    """
    _verify_content(bundle, material, artifact, digests, policy, rec)
    _key_names_agree(bundle, material, rec)


def _key_names_agree(bundle: Bundle, material: SigningMaterial, rec: _Recorder) -> None:
    """§3.1: a key hint or DSSE keyid written as a SHA-256 key id must be the verifying key's.

    Recognised spellings: base64 (airseal, sigstore clients), `SHA256:` + unpadded base64
    (npm, ssh), 64 hex digits. Anything else is an opaque name and stays informational. A
    `SHA256:` name is OpenSSH's fingerprint, the SHA-256 of the key's SSH wire encoding (what
    npm's registry keys and publish attestations carry), or the SHA-256 of the SPKI.
    """
    names = []
    if isinstance(bundle.material, PublicKeyMaterial) and bundle.material.hint:
        names.append(("publicKey.hint", bundle.material.hint))
    if isinstance(bundle.content, DsseEnvelope) and bundle.content.keyid:
        names.append(("DSSE keyid", bundle.content.keyid))
    ours = spki_sha256(material.spki_der)
    for where, name in names:
        named = _sha256_key_id(name)
        if named is not None and named != ours and name.startswith("SHA256:") and named == ssh_fingerprint_sha256(material.key):
            named = ours
        if named is not None and named != ours:
            raise VerificationError(
                Reason.KEY_HINT_NOT_THIS_KEY,
                f"the bundle's {where} names another key than the one that verified",
                context={where: name, "key": base64.b64encode(ours).decode()},
                check="key",
            )
        if named is not None:
            rec.ok("key.hint", f"{where} names the verifying key")


def _sha256_key_id(name: str) -> Optional[bytes]:
    """The 32 bytes a key name spells, if it is a recognisable SHA-256 key id; else None."""
    text = name[7:] if name.startswith("SHA256:") else name
    if len(text) == 64 and all(c in "0123456789abcdefABCDEF" for c in text):
        return bytes.fromhex(text)
    if len(text) in (43, 44):
        padded = text + "=" * (-len(text) % 4)
        try:
            raw = base64.b64decode(padded, validate=True)
        except (binascii.Error, ValueError):
            return None
        return raw if len(raw) == 32 else None
    return None


def _step8_signature(
    bundle: Bundle,
    material: SigningMaterial,
    artifact: ArtifactInput,
    digests: Mapping[str, bytes],
    policy: VerificationPolicy,
    rec: _Recorder,
) -> None:
    """§8: the certificate's key signed the artifact (or the DSSE envelope naming it)."""
    _verify_content(bundle, material, artifact, digests, policy, rec)


def _verify_content(
    bundle: Bundle,
    material: SigningMaterial,
    artifact: ArtifactInput,
    digests: Mapping[str, bytes],
    policy: VerificationPolicy,
    rec: _Recorder,
) -> None:
    if isinstance(bundle.content, MessageSignature):
        _verify_message_signature(bundle.content, material, artifact, digests, rec)
    else:
        _verify_dsse(bundle.content, material, digests, policy, rec)


def _verify_message_signature(
    content: MessageSignature,
    material: SigningMaterial,
    artifact: ArtifactInput,
    digests: Mapping[str, bytes],
    rec: _Recorder,
) -> None:
    """§8.1: the signature over the artifact: the whole file for Ed25519, else its digest."""
    key = material.key
    if isinstance(key, ed25519.Ed25519PublicKey):
        if artifact.path is None:
            raise VerificationError(
                Reason.ED25519_NEEDS_ARTIFACT,
                "an Ed25519 signature covers the whole artifact: give the file, not its digest",
                check="signature",
            )
        mapped = map_artifact(artifact.path)
        view = memoryview(mapped)
        try:
            verify_over_data(key, content.signature, view, what="artifact signature")
        finally:
            view.release()  # before close: a mapping with a live view cannot be closed
            if not isinstance(mapped, bytes):
                mapped.close()
        rec.ok("signature", "Ed25519 signature over the artifact verifies")
        return
    hash_name = key_hash_name(key) or "sha256"
    if hash_name not in digests:
        raise VerificationError(
            Reason.ARTIFACT_DIGEST_MISMATCH,
            f"this key signs {hash_name} digests; give the artifact or its {hash_name} digest",
            check="signature",
        )
    try:
        verify_over_digest(key, content.signature, digests[hash_name], hash_name, what="artifact signature")
    except VerificationError:
        # Older clients signed P-384/P-521 messages over SHA-256 (sigstore-go keeps this for <= v0.3).
        if not (isinstance(key, ec.EllipticCurvePublicKey) and hash_name != "sha256" and "sha256" in digests):
            raise
        verify_over_digest(key, content.signature, digests["sha256"], "sha256", what="artifact signature")
        hash_name = "sha256"
    rec.ok("signature", f"{describe_key(key)} signature over the {hash_name} digest verifies")


def _verify_dsse(
    content: DsseEnvelope,
    material: SigningMaterial,
    digests: Mapping[str, bytes],
    policy: VerificationPolicy,
    rec: _Recorder,
) -> None:
    """§8.2: the signature over the envelope's PAE, then the artifact among its subjects.

    §8.3: what a wrapper or the policy adds: the statement's predicate type, and the name of
    the subject that carries the artifact's digest.
    """
    verify_over_data(material.key, content.signature, pae(content.payload_type, content.payload), what="DSSE signature")
    rec.ok("signature", "DSSE signature over the envelope verifies")
    from verifier._internal import intoto

    subjects = intoto.read_subjects(content.payload_type, content.payload)
    found = intoto.matching_subject(subjects, digests)
    if found is None:
        raise VerificationError(
            Reason.DSSE_SUBJECT_MISMATCH,
            "the artifact is not a subject of the signed in-toto statement",
            context={"artifact": _primary_digest(digests), "subjects": [s.name for s in subjects[:8]]},
            check="dsse.subject",
        )
    rec.ok("dsse.subject", f"artifact is subject {found.name!r} of the in-toto statement")
    if policy.predicate_type is not None:
        claimed = _predicate_type(content.payload)
        if claimed != policy.predicate_type:
            raise VerificationError(
                Reason.DSSE_PREDICATE_TYPE,
                "the statement's predicate type is not the one the evidence names",
                context={"statement": claimed, "expected": policy.predicate_type},
                check="dsse.predicate_type",
            )
        rec.ok("dsse.predicate_type", f"predicate type {claimed}")
    if policy.subject_name is not None:
        _subject_name_matches(subjects, digests, policy)
        rec.ok("dsse.subject_name", f"the subject is named {policy.subject_name!r}")


def _predicate_type(payload: bytes) -> Optional[str]:
    try:
        value = json.loads(payload).get("predicateType")
    except (ValueError, AttributeError, UnicodeDecodeError, RecursionError):
        return None
    return value if isinstance(value, str) else None


def _subject_name_matches(
    subjects: Sequence[Subject], digests: Mapping[str, bytes], policy: VerificationPolicy
) -> None:
    """§8.3: a subject with the artifact's digest carries the expected name (PEP 740: normalised)."""
    expected = policy.subject_name
    assert expected is not None
    if policy.subject_name_form == "pep740":
        from verifier._internal.formats.pep740 import normalise_dist_filename

        def norm(name: str) -> Optional[str]:
            return normalise_dist_filename(name)
    else:

        def norm(name: str) -> Optional[str]:
            return name

    want = norm(expected)
    from verifier._internal import intoto

    names = [s.name for s in subjects if intoto.matching_subject((s,), digests) is not None]
    if want is None or not any(name is not None and norm(name) == want for name in names):
        raise VerificationError(
            Reason.DSSE_SUBJECT_NAME,
            "the subject with the artifact's digest does not carry the artifact's name",
            context={"expected": expected, "subjects": names[:8]},
            check="dsse.subject_name",
        )


# --- §4 The transparency log ----------------------------------------------------------------------


def _step4_transparency_log(
    bundle: Bundle,
    bodies: Sequence[ParsedBody],
    trusted_root: TrustedRoot,
    material: SigningMaterial,
    digests: Mapping[str, bytes],
    now: datetime,
    rec: _Recorder,
) -> tuple[list[TlogEvidence], list[VerifiedTime], list[tuple[TransparencyLog, str]]]:
    """§4: each entry from a trusted log must commit to this bundle and be proven in the log.

    Returns the verified entries, the verified integrated times, and the entries with no
    verified time of their own (no SET: Rekor v2, or a proof-only Rekor v1 entry), whose
    log keys §6.2 judges at the bundle's verified times.
    """
    _refuse_duplicate_entries(bundle.tlog_entries)
    evidence: dict[bytes, TlogEvidence] = {}
    times: dict[bytes, VerifiedTime] = {}
    unstamped: list[tuple[TransparencyLog, str]] = []
    for entry, body in zip(bundle.tlog_entries, bodies):
        if isinstance(body, AirsealError):
            raise body  # §4.2: kind and version are checked before anything else about the entry
        log = trusted_root.tlog_by_id(entry.log_id)
        if log is None:
            rec.skipped("tlog.entry", f"entry {entry.log_index}: log {entry.log_id.hex()[:16]} is not trusted; skipped")
            continue
        where = f"{log.base_url} #{entry.log_index}"
        v2 = entry.kind == "hashedrekord" and entry.version == "0.0.2"
        if entry.inclusion_proof is None and (v2 or entry.signed_entry_timestamp is None):
            raise VerificationError(
                Reason.TLOG_NO_PROOF, f"log entry {where} has no inclusion proof", check="tlog.inclusion_proof"
            )
        verified_time = None
        if entry.signed_entry_timestamp is not None and not v2:
            verified_time = _verify_set(entry, log, now, where, rec)
        # The body before the proof: for Rekor v2 the proven leaf is the body rebuilt from the bundle.
        verify_entry_body(entry, bundle.content, material, digests, body)
        rec.ok("tlog.entry", f"{where}: {entry.kind} {entry.version} body matches the bundle")
        if entry.inclusion_proof is not None:
            _verify_inclusion(entry, log, v2)
            rec.ok("tlog.inclusion_proof", f"{where}: inclusion proof and checkpoint verify")
        evidence.setdefault(
            log.log_id,
            TlogEvidence(log.base_url, entry.log_index, f"{entry.kind} {entry.version}", iso(verified_time) if verified_time else None),
        )
        if verified_time is not None and (entry.kind, entry.version) in _TIMED_KINDS:
            times.setdefault(log.log_id, (verified_time, TimeSource("tlog", log.base_url, iso(verified_time))))
        if verified_time is None:
            unstamped.append((log, where))
    return list(evidence.values()), list(times.values()), unstamped


def _refuse_duplicate_entries(entries: Sequence[TlogEntry]) -> None:
    """§4.1: the same (log, index) twice would count one entry twice."""
    seen: set[tuple[bytes, int]] = set()
    for entry in entries:
        key = (entry.log_id, entry.log_index)
        if key in seen:
            raise VerificationError(
                Reason.TLOG_DUPLICATE_ENTRY,
                "the bundle lists the same log entry twice",
                context={"log_id": entry.log_id.hex(), "log_index": entry.log_index},
                check="tlog.entry",
            )
        seen.add(key)


def _verify_set(entry: TlogEntry, log: TransparencyLog, now: datetime, where: str, rec: _Recorder) -> datetime:
    """§4.4: the signed entry timestamp, the log key valid then, and not in the future."""
    verify_signed_entry_timestamp(entry, log)
    verified_time = from_unix(entry.integrated_time)
    if not log.valid_for.contains(verified_time):
        raise VerificationError(
            Reason.TLOG_KEY_VALIDITY,
            "the log's key was not valid at the entry's integrated time",
            context={
                "integrated_time": iso(verified_time),
                "key_valid_from": iso(log.valid_for.start),
                "key_valid_until": iso(log.valid_for.end) if log.valid_for.end else "open",
            },
            check="tlog.set",
        )
    if verified_time > now + FUTURE_SKEW:
        raise VerificationError(
            Reason.TIME_IN_FUTURE,
            "the entry's integrated time is in the future of this machine's clock",
            context={"integrated_time": iso(verified_time), "now": iso(now)},
            check="tlog.set",
        )
    rec.ok("tlog.set", f"{where}: signed entry timestamp verifies (integrated {iso(verified_time)})")
    return verified_time


def _verify_inclusion(entry: TlogEntry, log: TransparencyLog, v2: bool) -> None:
    """§4.6: the log signed the checkpoint, and the entry's leaf is in its tree."""
    proof = entry.inclusion_proof
    assert proof is not None and proof.checkpoint is not None
    if v2:
        if proof.log_index != entry.log_index:
            # Rekor v2 has one index: the entry's and the proof's must be the same number
            # (Rekor v1's differ by design: global index vs the shard's tree index).
            raise VerificationError(
                Reason.TLOG_LOG_INDEX_MISMATCH,
                "the entry's log index differs from its inclusion proof's",
                context={"entry_log_index": entry.log_index, "proof_log_index": proof.log_index},
                check="tlog.inclusion_proof",
            )
        body = checkpoint_mod.verify_checkpoint(
            proof.checkpoint.envelope, log, expected_origins=log.origins or (log.origin,), key_id=log.checkpoint_key_id or log.log_id
        )
        index = entry.log_index
    else:
        body = checkpoint_mod.verify_checkpoint(proof.checkpoint.envelope, log, expected_origins=None, key_id=log.log_id)
        index = proof.log_index
    if proof.tree_size != body.tree_size or proof.root_hash != body.root_hash:
        raise VerificationError(
            Reason.TLOG_CHECKPOINT_ROOT_MISMATCH,
            "the inclusion proof's tree does not match the signed checkpoint",
            context={
                "proof_tree_size": proof.tree_size,
                "checkpoint_tree_size": body.tree_size,
                "proof_root": proof.root_hash.hex(),
                "checkpoint_root": body.root_hash.hex(),
            },
            check="tlog.checkpoint",
        )
    verify_inclusion(index, body.tree_size, leaf_hash(entry.canonicalized_body), proof.hashes, body.root_hash)


def _tlog_threshold(policy: VerificationPolicy, trusted_root: TrustedRoot) -> tuple[int, bool]:
    """§4.7: how many log entries are needed, and whether a signed timestamp stands in for them.

    An explicit `min_tlog_entries` is used as given. Left as None it is 1, except for a trusted
    root that lists timestamp authorities but no transparency log (GitHub's instance logs
    nothing): there it is 0 and a signed timestamp is required instead (§6.1).
    """
    if policy.min_tlog_entries is not None:
        return policy.min_tlog_entries, False
    if not trusted_root.tlogs and trusted_root.timestamp_authorities:
        return 0, True
    return 1, False


def _sct_threshold(policy: VerificationPolicy, trusted_root: TrustedRoot, is_cert: bool) -> int:
    """§7.4: how many SCTs are needed.

    An explicit `min_scts` is used as given. Left as None it is 0 for a key (nothing carries an
    SCT) and 1 for a certificate, except under a trusted root that lists timestamp authorities
    and neither a transparency log nor a CT log (GitHub's instance: its Fulcio logs nowhere, so
    no SCT can ever verify); there the signed timestamp that §4.7 requires stands instead.
    """
    if policy.min_scts is not None:
        return policy.min_scts
    if not is_cert:
        return 0
    if not trusted_root.ctlogs and not trusted_root.tlogs and trusted_root.timestamp_authorities:
        return 0
    return 1


def _require_tlog_entries(
    required: int, timestamp_instead: bool, verified: int, in_bundle: int, key_based: bool, rec: _Recorder
) -> None:
    """§4.7: enough entries from distinct trusted logs verified."""
    if verified < required:
        hint = ""
        if in_bundle == 0 and key_based:
            # A key-based bundle signed without a log (`airseal sign` without --rekor-url): say
            # how to accept it on purpose, or how to make a logged one.
            hint = (
                "; it was signed without a transparency log: pass --min-tlog-entries 0 to accept"
                " key-only evidence explicitly, or sign with --rekor-url / --signing-config"
            )
        raise VerificationError(
            Reason.TLOG_THRESHOLD_NOT_MET,
            f"bundle has {verified} verified entries from trusted transparency logs; {required} required{hint}",
            context={"entries_in_bundle": in_bundle},
            check="tlog.threshold",
        )
    if timestamp_instead:
        rec.ok("tlog.threshold", "the trusted root lists no transparency log: a signed timestamp is required instead")
    else:
        rec.ok("tlog.threshold", f"{verified} of {required} required log(s)")


# --- §5 RFC 3161 timestamps ---------------------------------------------------------------------


def _step5_rfc3161_timestamps(
    bundle: Bundle, trusted_root: TrustedRoot, rec: _Recorder
) -> tuple[list[VerifiedTime], list[VerificationError]]:
    """§5: each timestamp over the signature from a trusted authority; failures are kept for §6."""
    if not bundle.rfc3161_timestamps:
        return [], []
    from verifier._internal.tsa.verify import verify_timestamps  # asn1crypto only when a bundle has timestamps

    verified, failures = verify_timestamps(
        bundle.rfc3161_timestamps, bundle.signature, trusted_root.timestamp_authorities
    )
    for err in failures:
        rec.skipped("tsa", f"{err.reason.value}: {err.detail}")
    out = []
    for ts in verified:
        rec.ok("tsa", f"RFC 3161 timestamp {iso(ts.time)} from {ts.authority_name or ts.authority_uri}")
        out.append((ts.time, TimeSource("tsa", ts.authority_uri or ts.authority_name, iso(ts.time))))
    return out, failures


# --- §6 Verified times -----------------------------------------------------------------------------


def _time_threshold(policy: VerificationPolicy, is_cert: bool, min_tlog: int, timestamp_instead: bool) -> int:
    """§6.1: how many verified times this bundle needs.

    A certificate is only ever judged at a verified time, so certificate bundles need at least
    one whatever the options say. A key bundle needs one by default too; `--min-tlog-entries 0`
    without `--min-timestamps` is the explicit opt-out from observer evidence (no log, no time).
    When a signed timestamp stands in for the log (§4.7), at least one is needed.
    """
    if is_cert or timestamp_instead:
        return max(1, policy.min_timestamps or 0)
    if policy.min_timestamps is not None:
        return policy.min_timestamps
    return 1 if min_tlog > 0 else 0


def _step6_verified_times(
    times: Sequence[VerifiedTime],
    required: int,
    tsa_failures: Sequence[VerificationError],
    timestamps_in_bundle: int,
    is_cert: bool,
    rec: _Recorder,
) -> None:
    """§6: enough verified times; a failed timestamp is the explanation when they fall short."""
    if len(times) >= required:
        rec.ok("time.threshold", f"{len(times)} verified time source(s), {required} required")
        return
    if tsa_failures:
        raise tsa_failures[0]
    reason = Reason.TIME_NO_VERIFIED_TIMESTAMP if not times else Reason.TIME_THRESHOLD_NOT_MET
    raise VerificationError(
        reason,
        f"bundle has {len(times)} verified time source(s); {required} required"
        + (" (a certificate can only be checked at a verified signing time)" if is_cert and not times else ""),
        context={"rfc3161_timestamps": timestamps_in_bundle, "verified_times": len(times)},
        check="time.threshold",
    )


def _step6_log_keys_at_verified_times(
    unstamped: Sequence[tuple[TransparencyLog, str]], times: Sequence[VerifiedTime], rec: _Recorder
) -> None:
    """§6.2: a log key judges an entry only inside its validity, for entries without a SET too.

    An entry with a SET was judged at its integrated time in §4.4. One without (Rekor v2, a
    proof-only Rekor v1 entry) is judged at every verified time of the bundle; with none at
    all it cannot be judged, and is refused.
    """
    for log, where in unstamped:
        if not times:
            raise VerificationError(
                Reason.TLOG_KEY_VALIDITY,
                f"log entry {where} has no verified time at which to judge the log's key",
                context={"key_valid_from": iso(log.valid_for.start), "key_valid_until": _until(log)},
                check="tlog.key_validity",
            )
        for when, source in times:
            if not log.valid_for.contains(when):
                raise VerificationError(
                    Reason.TLOG_KEY_VALIDITY,
                    f"the log's key was not valid at the {source.kind} time {iso(when)} (entry {where})",
                    context={"time": iso(when), "key_valid_from": iso(log.valid_for.start), "key_valid_until": _until(log)},
                    check="tlog.key_validity",
                )
        rec.ok("tlog.key_validity", f"{where}: the log's key is valid at every verified time")


def _until(log: TransparencyLog) -> str:
    return iso(log.valid_for.end) if log.valid_for.end else "open"


# --- §7 The certificate ----------------------------------------------------------------------------


def _step7_certificate(
    bundle: Bundle, trusted_root: TrustedRoot, times: Sequence[VerifiedTime], min_scts: int, rec: _Recorder
) -> int:
    """§7: the leaf valid at every verified time, Fulcio's profile, a trusted path, SCTs.

    Returns the number of verified SCTs (0 for key bundles, which may not ask for any).
    """
    material = bundle.material
    if not isinstance(material, CertificateMaterial):
        if min_scts > 0:
            raise VerificationError(
                Reason.SCT_THRESHOLD_NOT_MET,
                f"{min_scts} SCT(s) required, but a key-based bundle has no certificate to carry them",
                check="certificate.sct",
            )
        return 0
    from verifier._internal.pki.chain import check_leaf_profile, verify_chain_at, verify_leaf_validity
    from verifier._internal.pki.sct import verify_embedded_scts

    leaf = material.leaf
    not_before, not_after = leaf.not_valid_before_utc, leaf.not_valid_after_utc
    if not times:  # §6 guarantees one for certificates; refuse rather than skip the chain
        raise VerificationError(
            Reason.TIME_NO_VERIFIED_TIMESTAMP,
            "a certificate can only be checked at a verified signing time, and there is none",
            check="time.threshold",
        )
    verify_leaf_validity(leaf, [(when, source.kind, source.source) for when, source in times])
    rec.ok("certificate.validity", f"certificate valid at every verified time ({iso(not_before)} .. {iso(not_after)})")
    check_leaf_profile(leaf)
    rec.ok("certificate.profile", "digitalSignature and codeSigning present, not a CA")
    chain: tuple[Any, ...] = ()
    for when, _source in times:
        chain = verify_chain_at(leaf, trusted_root.certificate_authorities, when)
    rec.ok("certificate.chain", f"chains to {chain[-1].subject.rfc4514_string()} at every verified time")
    if min_scts <= 0:
        return 0
    if len(chain) < 2:
        raise VerificationError(Reason.CERT_CHAIN_INVALID, "no issuer to check SCTs against", check="certificate.sct")
    scts = verify_embedded_scts(leaf, chain[1], trusted_root.ctlogs, min_scts)
    rec.ok("certificate.sct", f"{len(scts)} verified SCT(s) from trusted CT logs")
    return len(scts)


# --- §9 Identity -------------------------------------------------------------------------------------


def _step9_identity(bundle: Bundle, policy: VerificationPolicy, signer: VerifiedSigner, rec: _Recorder) -> VerifiedSigner:
    """§9: last, because only a verified signature's identity is worth comparing."""
    from verifier._internal.pki.fulcio import summarize_certificate

    assert isinstance(bundle.material, CertificateMaterial) and policy.identity is not None
    summary = summarize_certificate(bundle.material.leaf)
    matched = policy.identity.verify(summary)
    rec.ok("identity", f"{matched} issued by {summary.issuer}")
    return signer._replace(
        identity=matched, issuer=summary.issuer, sans=summary.sans, certificate_serial=summary.serial
    )


__all__ = ["FUTURE_SKEW", "verify_bundle"]
