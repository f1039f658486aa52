"""The verification orchestrator: spec §3, step by step, with every check recorded.

Order (sigstore-go's, which the spec's failure table assumes): transparency log, RFC 3161
timestamps, time, certificate path and SCTs, signature, identity. One check runs first: the
bundle's messageDigest against the artifact, because "this is not the artifact that was
signed" is the most useful thing to tell a person; and for key-based bundles the signature
runs right after it, so a wrong --key is reported as such. Every step must pass; the order
only decides which failure is reported.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from verifier._internal.keyio import spki_der
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from verifier._internal.timefmt import from_unix, iso
from verifier._internal.artifact import ArtifactInput, artifact_digests, read_artifact
from verifier._internal.bundle.model import Bundle, CertificateMaterial, DsseEnvelope, MessageSignature, TlogEntry
from verifier._internal.algorithms import HASH_FROM_ENUM, HASH_NAMES, describe_key, is_supported_key, key_hash_name
from verifier._internal.crypto import verify_over_data, verify_over_digest
from verifier.errors import InputError, Reason, VerificationError
from verifier._internal.limits import DEFAULT_LIMITS
from verifier._internal.policy import VerificationPolicy
from verifier._internal.result import CheckResult, TimeSource, TlogEvidence, VerificationResult
from verifier._internal.tlog import checkpoint as checkpoint_mod
from verifier._internal.encoding import pae
from verifier._internal.tlog.entry import SigningMaterial, parse_body, verify_entry_body, verify_signed_entry_timestamp
from verifier._internal.tlog.merkle import leaf_hash, verify_inclusion
from verifier._internal.trustroot.model import TrustedRoot

FUTURE_SKEW = timedelta(minutes=5)
INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
INTOTO_STATEMENT_TYPES = ("https://in-toto.io/Statement/v1", "https://in-toto.io/Statement/v0.1")


class _Recorder:
    """Collects the outcome of every check so `-v` and `--json` can show the whole story."""

    def __init__(self) -> None:
        self.checks: list[CheckResult] = []

    def ok(self, name: str, detail: str) -> None:
        self.checks.append(CheckResult(name, True, detail))


def verify_bundle(
    bundle: Bundle, trusted_root: TrustedRoot, artifact: ArtifactInput, policy: VerificationPolicy
) -> VerificationResult:
    """Verify a parsed bundle against a trusted root and a policy.

    Raises:
        VerificationError: the bundle does not prove what the policy asks (reason-coded).
        InputError: the artifact cannot be read.
    """
    rec = _Recorder()
    try:
        return _verify(bundle, trusted_root, artifact, policy, rec)
    except VerificationError as err:
        err.context.setdefault("_checks", list(rec.checks))
        raise


def _verify(
    bundle: Bundle, trusted_root: TrustedRoot, artifact: ArtifactInput, policy: VerificationPolicy, rec: _Recorder
) -> VerificationResult:
    now = policy.now or datetime.now(timezone.utc)
    material, signer = _signing_material(bundle, policy, rec)
    is_cert = material.certificate_der is not None
    min_timestamps = _time_threshold(policy, is_cert)
    min_scts = policy.min_scts if policy.min_scts is not None else (1 if is_cert else 0)

    digests = artifact_digests(artifact, _needed_hashes(bundle, material))
    artifact_digest = _primary_digest(digests)

    # The cheapest and most telling check first: is the bundle about this artifact at all?
    if isinstance(bundle.content, MessageSignature):
        _check_message_digest(bundle.content, artifact, digests, rec)
    # With a caller-supplied key, "wrong key" is the likeliest mistake: say so before the log
    # entry (which names the bundle's real key) gets a chance to report a mismatch.
    key_based = not isinstance(bundle.material, CertificateMaterial)
    if key_based:
        _verify_content(bundle, material, artifact, digests, rec)

    # Step 1: transparency log entries.
    tlog_evidence, integrated_times = _verify_tlog_entries(bundle, trusted_root, material, digests, now, rec)
    if len(tlog_evidence) < policy.min_tlog_entries:
        raise VerificationError(
            Reason.TLOG_THRESHOLD_NOT_MET,
            f"bundle has {len(tlog_evidence)} verified entries from trusted transparency logs;"
            f" {policy.min_tlog_entries} required",
            context={"entries_in_bundle": len(bundle.tlog_entries)},
            check="tlog.threshold",
        )
    rec.ok("tlog.threshold", f"{len(tlog_evidence)} of {policy.min_tlog_entries} required log(s)")

    # Step 2: RFC 3161 timestamps.
    tsa_times, tsa_failures = _verify_rfc3161(bundle, trusted_root, rec)

    # Step 3: establish time. A failing timestamp only matters when the rest fall short, and
    # then it is the most specific explanation there is.
    times = integrated_times + tsa_times
    if len(times) < min_timestamps:
        if tsa_failures:
            raise tsa_failures[0]
        raise VerificationError(
            Reason.TIME_NO_VERIFIED_TIMESTAMP,
            f"bundle has {len(times)} verified time source(s); {min_timestamps} required"
            + (" (a certificate can only be checked at a verified signing time)" if is_cert else ""),
            context={"rfc3161_timestamps": len(bundle.rfc3161_timestamps), "tlog_integrated_times": len(integrated_times)},
            check="time.threshold",
        )
    rec.ok("time.threshold", f"{len(times)} verified time source(s), {min_timestamps} required")

    # Steps 4-5: certificate path at every verified time, SCTs.
    scts = 0
    if isinstance(bundle.material, CertificateMaterial):
        scts = _verify_certificate(bundle.material, trusted_root, times, min_scts, rec)
    elif min_scts > 0:
        raise VerificationError(
            Reason.SCT_THRESHOLD_NOT_MET,
            f"{min_scts} SCT(s) required, but a key-based bundle has no certificate to carry them",
            check="certificate.sct",
        )

    # Step 7: the signature over the artifact or envelope (and in-toto subjects).
    if not key_based:
        _verify_content(bundle, material, artifact, digests, rec)

    # Step 6 last: only a fully verified signature has an identity worth comparing.
    if isinstance(bundle.material, CertificateMaterial):
        assert policy.identity is not None
        matched = policy.identity.verify(signer["_summary"])
        signer["identity"] = matched
        rec.ok("identity", f"{matched} issued by {signer['issuer']}")
    signer.pop("_summary", None)
    return VerificationResult(
        signer=signer,
        artifact_digest=artifact_digest,
        media_type=bundle.media_type,
        time_sources=tuple(t for _, t in times),
        tlog_entries=tuple(tlog_evidence),
        scts=scts,
        thresholds={
            "tlog_entries": {"required": policy.min_tlog_entries, "verified": len(tlog_evidence)},
            "timestamps": {"required": min_timestamps, "verified": len(times)},
            "scts": {"required": min_scts, "verified": scts},
        },
        checks=tuple(rec.checks),
    )


def _time_threshold(policy: VerificationPolicy, is_cert: bool) -> int:
    """How many verified times this bundle needs.

    A certificate is only ever judged at a verified time, so certificate bundles need at least
    one whatever the options say (a lower --min-timestamps cannot skip the chain check). A key
    bundle needs one by default too; `--min-tlog-entries 0` with no `--min-timestamps` is the
    explicit opt-out from observer evidence (no log, no time), like sigstore-go's
    WithNoObserverTimestamps.
    """
    if is_cert:
        return max(1, policy.min_timestamps or 0)
    if policy.min_timestamps is not None:
        return policy.min_timestamps
    return 1 if policy.min_tlog_entries > 0 else 0


def _signing_material(
    bundle: Bundle, policy: VerificationPolicy, rec: _Recorder
) -> tuple[SigningMaterial, dict[str, Any]]:
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
        from verifier._internal.pki.fulcio import summarize_certificate

        summary = summarize_certificate(leaf)
        spki = spki_der(key)
        signer = {
            "kind": "certificate",
            "identity": None,
            "sans": list(summary.sans),
            "issuer": summary.issuer,
            "certificate_serial": summary.serial,
            "_summary": summary,
        }
        return SigningMaterial(key=key, certificate_der=bundle.material.leaf_der, spki_der=spki), signer
    # Key-based bundle (§3.7).
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
    signer = {"kind": "key", "key_id": policy.key.key_id, "key_type": describe_key(policy.key.key), "hint": hint}
    return SigningMaterial(key=policy.key.key, certificate_der=None, spki_der=policy.key.spki_der), signer


def _needed_hashes(bundle: Bundle, material: SigningMaterial) -> set[str]:
    names = {"sha256"}
    key_hash = key_hash_name(material.key)
    if key_hash:
        names.add(key_hash)
    content = bundle.content
    if isinstance(content, MessageSignature) and content.digest_algorithm:
        names.add(HASH_FROM_ENUM[content.digest_algorithm])
    if isinstance(content, DsseEnvelope):
        names.update(_subject_hashes(content.payload))
    for entry in bundle.tlog_entries:
        if entry.kind == "hashedrekord" and entry.version == "0.0.1":
            try:
                alg = json.loads(entry.canonicalized_body)["spec"]["data"]["hash"]["algorithm"]
                if alg in ("sha256", "sha384", "sha512"):
                    names.add(alg)
            except (ValueError, KeyError, TypeError):
                pass
    return names


def _subject_hashes(payload: bytes) -> set[str]:
    """Hash algorithms the in-toto subjects use, so the artifact is hashed once with each."""
    try:
        subjects = json.loads(payload).get("subject", [])
        return {
            name
            for subject in subjects[: DEFAULT_LIMITS.max_intoto_subjects]
            for name in subject.get("digest", {})
            if name in ("sha256", "sha384", "sha512")
        }
    except (ValueError, AttributeError, TypeError, UnicodeDecodeError):
        return set()


def _primary_digest(digests: dict[str, bytes]) -> str:
    name = "sha256" if "sha256" in digests else sorted(digests)[0]
    return f"{name}:{digests[name].hex()}"


# --- Step 7: artifact and signature -------------------------------------------------------


def _verify_content(
    bundle: Bundle, material: SigningMaterial, artifact: ArtifactInput, digests: dict[str, bytes], rec: _Recorder
) -> None:
    if isinstance(bundle.content, MessageSignature):
        _verify_message_signature(bundle.content, material, artifact, digests, rec)
    else:
        _verify_dsse(bundle.content, material, digests, rec)


def _check_message_digest(
    content: MessageSignature, artifact: ArtifactInput, digests: dict[str, bytes], rec: _Recorder
) -> None:
    """The bundle's messageDigest, if any, must be the artifact's (spec §1.5)."""
    if content.digest_algorithm is not None:
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


def _verify_message_signature(
    content: MessageSignature,
    material: SigningMaterial,
    artifact: ArtifactInput,
    digests: dict[str, bytes],
    rec: _Recorder,
) -> None:
    key = material.key
    if isinstance(key, ed25519.Ed25519PublicKey):
        if artifact.path is None:
            raise VerificationError(
                Reason.ED25519_NEEDS_ARTIFACT,
                "an Ed25519 signature covers the whole artifact: give the file, not its digest",
                check="signature",
            )
        data = read_artifact(artifact.path)
        try:
            verify_over_data(key, content.signature, data, what="artifact signature")  # type: ignore[arg-type]
        finally:
            if hasattr(data, "close"):
                data.close()  # type: ignore[union-attr]
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


def _verify_dsse(content: DsseEnvelope, material: SigningMaterial, digests: dict[str, bytes], rec: _Recorder) -> None:
    verify_over_data(material.key, content.signature, pae(content.payload_type, content.payload), what="DSSE signature")
    rec.ok("signature", "DSSE signature over the envelope verifies")
    if content.payload_type != INTOTO_PAYLOAD_TYPE:
        raise VerificationError(
            Reason.DSSE_PAYLOAD_TYPE,
            f"DSSE payload type {content.payload_type!r} is not an in-toto statement; cannot match an artifact",
            check="dsse.subject",
        )
    try:
        statement = json.loads(content.payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise VerificationError(Reason.DSSE_SUBJECT_MISMATCH, "in-toto statement is not JSON", check="dsse.subject") from exc
    if not isinstance(statement, dict) or statement.get("_type") not in INTOTO_STATEMENT_TYPES:
        raise VerificationError(Reason.DSSE_SUBJECT_MISMATCH, "payload is not an in-toto Statement", check="dsse.subject")
    subjects = statement.get("subject")
    if not isinstance(subjects, list) or not subjects:
        raise VerificationError(Reason.DSSE_SUBJECT_MISMATCH, "in-toto statement has no subjects", check="dsse.subject")
    limits = DEFAULT_LIMITS
    if len(subjects) > limits.max_intoto_subjects:
        raise InputError(
            Reason.INPUT_TOO_LARGE, f"in-toto statement has more than {limits.max_intoto_subjects} subjects"
        )
    for subject in subjects:
        digest_map = subject.get("digest") if isinstance(subject, dict) else None
        if not isinstance(digest_map, dict):
            continue
        if len(digest_map) > limits.max_digests_per_subject:
            raise InputError(
                Reason.INPUT_TOO_LARGE,
                f"an in-toto subject has more than {limits.max_digests_per_subject} digests",
            )
        for name in ("sha256", "sha384", "sha512"):
            value = digest_map.get(name)
            if isinstance(value, str) and name in digests and value.lower() == digests[name].hex():
                rec.ok("dsse.subject", f"artifact is subject {subject.get('name')!r} of the in-toto statement")
                return
    raise VerificationError(
        Reason.DSSE_SUBJECT_MISMATCH,
        "the artifact is not a subject of the signed in-toto statement",
        context={
            "artifact": _primary_digest(digests),
            "subjects": [s.get("name") for s in subjects[:8] if isinstance(s, dict)],
        },
        check="dsse.subject",
    )


# --- Step 1: transparency log --------------------------------------------------------------


# Integrated times count as verified times only for these kinds (as sigstore-python does);
# intoto 0.0.2 entries still count as log evidence.
_TIMED_KINDS = {("hashedrekord", "0.0.1"), ("dsse", "0.0.1")}


def _is_v2(entry: TlogEntry) -> bool:
    return entry.kind == "hashedrekord" and entry.version == "0.0.2"


def _verify_tlog_entries(
    bundle: Bundle,
    trusted_root: TrustedRoot,
    material: SigningMaterial,
    digests: dict[str, bytes],
    now: datetime,
    rec: _Recorder,
) -> tuple[list[TlogEvidence], list[tuple[datetime, TimeSource]]]:
    seen: set[tuple[bytes, int]] = set()
    for entry in bundle.tlog_entries:
        key = (entry.log_id, entry.log_index)
        if key in seen:
            raise VerificationError(
                Reason.TLOG_DUPLICATE_ENTRY,
                "the bundle lists the same log entry twice",
                context={"log_id": entry.log_id.hex(), "log_index": entry.log_index},
                check="tlog.entry",
            )
        seen.add(key)

    evidence: dict[bytes, TlogEvidence] = {}
    times: dict[bytes, tuple[datetime, TimeSource]] = {}
    for entry in bundle.tlog_entries:
        body = parse_body(entry)  # kind/version checks come before anything else about the entry
        log = trusted_root.tlog_by_id(entry.log_id)
        if log is None:
            rec.checks.append(
                CheckResult("tlog.entry", False, f"entry {entry.log_index}: log {entry.log_id.hex()[:16]} is not trusted; skipped")
            )
            continue
        where = f"{log.base_url} #{entry.log_index}"
        v2 = _is_v2(entry)
        if entry.inclusion_proof is None and (v2 or entry.signed_entry_timestamp is None):
            raise VerificationError(
                Reason.TLOG_NO_PROOF, f"log entry {where} has no inclusion proof", check="tlog.inclusion_proof"
            )
        verified_time: Optional[datetime] = None
        if entry.signed_entry_timestamp is not None and not v2:
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
        # The body first: for Rekor v2 the proven leaf is the body rebuilt from the bundle.
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
    return list(evidence.values()), list(times.values())


def _verify_inclusion(entry: TlogEntry, log: Any, v2: bool) -> None:
    proof = entry.inclusion_proof
    assert proof is not None and proof.checkpoint is not None
    if v2:
        body = checkpoint_mod.verify_checkpoint(
            proof.checkpoint.envelope, log, expected_origin=log.origin, key_id=log.checkpoint_key_id or log.log_id
        )
        index = entry.log_index
    else:
        body = checkpoint_mod.verify_checkpoint(proof.checkpoint.envelope, log, expected_origin=None, key_id=log.log_id)
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


# --- Step 2: RFC 3161 ------------------------------------------------------------------------


def _verify_rfc3161(
    bundle: Bundle, trusted_root: TrustedRoot, rec: _Recorder
) -> tuple[list[tuple[datetime, TimeSource]], list[VerificationError]]:
    if not bundle.rfc3161_timestamps:
        return [], []
    from verifier._internal.tsa.verify import verify_timestamps  # asn1crypto only when a bundle has timestamps

    verified, failures = verify_timestamps(
        bundle.rfc3161_timestamps, bundle.signature, trusted_root.timestamp_authorities
    )
    for err in failures:
        rec.checks.append(CheckResult("tsa", False, f"{err.reason.value}: {err.detail}"))
    out = []
    for ts in verified:
        rec.ok("tsa", f"RFC 3161 timestamp {iso(ts.time)} from {ts.authority_name or ts.authority_uri}")
        out.append((ts.time, TimeSource("tsa", ts.authority_uri or ts.authority_name, iso(ts.time))))
    return out, failures


# --- Steps 4-5: certificate ------------------------------------------------------------------


def _verify_certificate(
    material: CertificateMaterial,
    trusted_root: TrustedRoot,
    times: list[tuple[datetime, TimeSource]],
    min_scts: int,
    rec: _Recorder,
) -> int:
    from verifier._internal.pki.chain import check_leaf_profile, verify_chain_at
    from verifier._internal.pki.sct import verify_embedded_scts

    leaf = material.leaf
    not_before, not_after = leaf.not_valid_before_utc, leaf.not_valid_after_utc
    for when, source in times:
        if not (not_before <= when <= not_after):
            raise VerificationError(
                Reason.TIME_OUTSIDE_CERT_VALIDITY,
                f"the signing certificate was not valid at the {source.kind} time {iso(when)}",
                context={"time": iso(when), "source": source.source, "certificate_valid": f"{iso(not_before)} .. {iso(not_after)}"},
                check="certificate.validity",
            )
    rec.ok("certificate.validity", f"certificate valid at every verified time ({iso(not_before)} .. {iso(not_after)})")
    check_leaf_profile(leaf)
    rec.ok("certificate.profile", "digitalSignature and codeSigning present, not a CA")
    if not times:  # unreachable through _time_threshold; refuse rather than skip the chain
        raise VerificationError(
            Reason.TIME_NO_VERIFIED_TIMESTAMP,
            "a certificate can only be checked at a verified signing time, and there is none",
            check="time.threshold",
        )
    chain: tuple[Any, ...] = ()
    for when, _source in times:
        chain = verify_chain_at(leaf, trusted_root.certificate_authorities, when)
    rec.ok("certificate.chain", f"chains to {chain[-1].subject.rfc4514_string()} at every verified time" if chain else "no time")
    if min_scts <= 0:
        return 0
    if len(chain) < 2:
        raise VerificationError(Reason.CERT_CHAIN_INVALID, "no issuer to check SCTs against", check="certificate.sct")
    scts = verify_embedded_scts(leaf, chain[1], trusted_root.ctlogs, min_scts)
    rec.ok("certificate.sct", f"{len(scts)} verified SCT(s) from trusted CT logs")
    return len(scts)


__all__ = ["verify_bundle"]
