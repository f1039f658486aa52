"""Strict parser: bytes -> Bundle (docs/verification.md A1). Raises InputError only; never verifies anything."""

from __future__ import annotations

from typing import Union

from cryptography import x509

from verifier._internal.algorithms import HASH_FROM_ENUM
from verifier._internal.bundle.model import (
    MEDIA_TYPES,
    Bundle,
    CertificateMaterial,
    Checkpoint,
    DsseEnvelope,
    InclusionProof,
    MessageSignature,
    PublicKeyMaterial,
    TlogEntry,
)
from verifier._internal.encoding import Obj, decode_b64, load_json, load_json_object, shorten, size_text
from verifier._internal.limits import DEFAULT_LIMITS, Limits
from verifier.errors import InputError, Reason


def load_bundle(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Bundle:
    """Parse a Sigstore bundle (media types 0.1–0.3) strictly.

    Raises:
        InputError: any shape, encoding, media-type or per-version rule is broken.
    """
    if len(data) > limits.max_bundle_bytes:
        raise InputError(Reason.INPUT_TOO_LARGE, f"bundle is larger than {size_text(limits.max_bundle_bytes)}")
    root = Obj(
        load_json_object(data, what="bundle"),
        "bundle",
        ("mediaType", "verificationMaterial", "messageSignature", "dsseEnvelope"),
    )
    media_type = root.raw("mediaType")
    if not isinstance(media_type, str) or media_type not in MEDIA_TYPES:
        raise InputError(
            Reason.BUNDLE_UNSUPPORTED_MEDIA_TYPE,
            "bundle has no mediaType" if media_type is None else f"unsupported bundle media type {shorten(media_type, 100)!r}",
            context={"supported": sorted(MEDIA_TYPES)},
        )
    version = MEDIA_TYPES[media_type]

    vm = root.obj(
        "verificationMaterial",
        ("publicKey", "x509CertificateChain", "certificate", "tlogEntries", "timestampVerificationData"),
    )
    assert vm is not None
    material = _parse_material(vm, version, limits)
    tlog_entries = tuple(
        _parse_tlog_entry(entry, version, limits)
        for entry in vm.objs(
            "tlogEntries",
            (
                "logIndex",
                "logId",
                "kindVersion",
                "integratedTime",
                "inclusionPromise",
                "inclusionProof",
                "canonicalizedBody",
            ),
            max_items=limits.max_tlog_entries,
        )
    )
    timestamps: tuple[bytes, ...] = ()
    tvd = vm.obj("timestampVerificationData", ("rfc3161Timestamps",), required=False)
    if tvd is not None:
        timestamps = tuple(
            ts.bytes("signedTimestamp")
            for ts in tvd.objs("rfc3161Timestamps", ("signedTimestamp",), max_items=limits.max_rfc3161_timestamps)
        )

    content = _parse_content(root, material, limits)
    return Bundle(
        media_type=media_type,
        version=version,
        material=material,
        tlog_entries=tlog_entries,
        rfc3161_timestamps=timestamps,
        content=content,
    )


def _parse_material(vm: Obj, version: str, limits: Limits) -> Union[CertificateMaterial, PublicKeyMaterial]:
    present = [k for k in ("publicKey", "x509CertificateChain", "certificate") if vm.has(k)]
    if len(present) > 1:
        raise InputError(Reason.BUNDLE_ONEOF, f"verificationMaterial has both {present[0]} and {present[1]}")
    if not present:
        raise InputError(
            Reason.BUNDLE_MISSING_MATERIAL,
            "verificationMaterial has no publicKey, certificate or x509CertificateChain",
        )
    kind = present[0]
    if kind == "publicKey":
        pk = vm.obj("publicKey", ("hint",))
        assert pk is not None
        return PublicKeyMaterial(hint=pk.str("hint", required=False))
    if kind == "certificate":
        cert_obj = vm.obj("certificate", ("rawBytes",))
        assert cert_obj is not None
        ders = [cert_obj.bytes("rawBytes")]
    else:
        if version == "0.3":
            raise InputError(
                Reason.BUNDLE_V03_CHAIN,
                "a v0.3 bundle must carry a single certificate, not x509CertificateChain",
            )
        chain = vm.obj("x509CertificateChain", ("certificates",))
        assert chain is not None
        ders = [
            c.bytes("rawBytes")
            for c in chain.objs("certificates", ("rawBytes",), max_items=limits.max_certificates_in_chain)
        ]
        if not ders:
            raise InputError(Reason.BUNDLE_EMPTY_CHAIN, "x509CertificateChain has no certificates")
    leaf = _load_certificate(ders[0], "leaf certificate")
    for i, der in enumerate(ders[1:], start=1):
        _load_certificate(der, f"certificate {i} of the chain")
    return CertificateMaterial(leaf=leaf, leaf_der=ders[0], chain_der=tuple(ders[1:]))


def _load_certificate(der: bytes, what: str) -> x509.Certificate:
    if not der:
        raise InputError(Reason.CERT_MALFORMED, f"{what} is empty")
    try:
        cert = x509.load_der_x509_certificate(der)
        # Touch the lazily-parsed parts now so a malformed certificate is an input error here,
        # not a surprise deep inside verification.
        cert.extensions  # noqa: B018
        cert.public_key()
        cert.not_valid_before_utc  # noqa: B018
        cert.issuer, cert.subject  # noqa: B018 - names are parsed lazily too (fuzz: bad issuer tag)
    except ValueError as exc:
        raise InputError(Reason.CERT_MALFORMED, f"{what} is not a valid DER X.509 certificate ({exc})") from exc
    except Exception as exc:  # cryptography raises UnsupportedAlgorithm and friends too
        raise InputError(Reason.CERT_MALFORMED, f"{what} cannot be used ({type(exc).__name__}: {exc})") from exc
    return cert


def _parse_tlog_entry(entry: Obj, version: str, limits: Limits) -> TlogEntry:
    # protobuf's JSON mapping omits fields that hold their default, so the entry at index 0
    # of a log (cosign, sigstore-go) arrives without logIndex: absent means 0, as protojson reads it.
    log_index = entry.int("logIndex", required=False)
    log_id_obj = entry.obj("logId", ("keyId",))
    assert log_id_obj is not None
    kv = entry.obj("kindVersion", ("kind", "version"))
    assert kv is not None
    integrated_time = entry.int("integratedTime", required=False)
    promise = entry.obj("inclusionPromise", ("signedEntryTimestamp",), required=False)
    set_bytes = promise.bytes("signedEntryTimestamp") if promise is not None else None
    proof_obj = entry.obj(
        "inclusionProof", ("logIndex", "rootHash", "treeSize", "hashes", "checkpoint"), required=False
    )
    if not entry.has("canonicalizedBody"):
        raise InputError(Reason.BUNDLE_TLOG_NO_BODY, f"{entry.path} has no canonicalizedBody")
    body = entry.bytes("canonicalizedBody")

    proof = None
    if proof_obj is not None:
        checkpoint_obj = proof_obj.obj("checkpoint", ("envelope",), required=False)
        envelope = checkpoint_obj.str("envelope", required=False) if checkpoint_obj is not None else ""
        hashes = proof_obj.list("hashes", max_items=limits.max_inclusion_proof_hashes)
        proof = InclusionProof(
            log_index=proof_obj.int("logIndex", required=False),
            root_hash=proof_obj.bytes("rootHash"),
            tree_size=proof_obj.int("treeSize"),
            hashes=tuple(decode_b64(h, f"{proof_obj.path}.hashes[{i}]") for i, h in enumerate(hashes)),
            checkpoint=Checkpoint(envelope) if envelope else None,
        )
        if proof.checkpoint is None:
            if version == "0.1":
                proof = None  # v0.1 proofs may lack a checkpoint; such a proof proves nothing
            else:
                raise InputError(
                    Reason.BUNDLE_CHECKPOINT_MISSING, f"{entry.path}.inclusionProof has no checkpoint"
                )

    if version == "0.1" and set_bytes is None:
        raise InputError(
            Reason.BUNDLE_V01_NO_PROMISE, f"{entry.path} has no inclusionPromise (required in v0.1 bundles)"
        )
    if version != "0.1" and proof is None:
        raise InputError(
            Reason.BUNDLE_NO_INCLUSION_PROOF,
            f"{entry.path} has no inclusionProof (required in v{version} bundles)",
        )
    return TlogEntry(
        log_index=log_index,
        log_id=log_id_obj.bytes("keyId"),
        kind=kv.str("kind"),
        version=kv.str("version"),
        integrated_time=integrated_time,
        signed_entry_timestamp=set_bytes,
        inclusion_proof=proof,
        canonicalized_body=body,
    )


def _parse_content(
    root: Obj, material: Union[CertificateMaterial, PublicKeyMaterial], limits: Limits
) -> Union[MessageSignature, DsseEnvelope]:
    has_msg, has_dsse = root.has("messageSignature"), root.has("dsseEnvelope")
    if has_msg and has_dsse:
        raise InputError(Reason.BUNDLE_ONEOF, "bundle has both messageSignature and dsseEnvelope")
    if not has_msg and not has_dsse:
        raise InputError(Reason.BUNDLE_MISSING_MATERIAL, "bundle has neither messageSignature nor dsseEnvelope")
    if has_msg:
        msg = root.obj("messageSignature", ("messageDigest", "signature"))
        assert msg is not None
        md = msg.obj("messageDigest", ("algorithm", "digest"), required=False)
        algorithm = digest = None
        if md is not None:
            algorithm = md.str("algorithm")
            if algorithm not in HASH_FROM_ENUM:
                raise InputError(
                    Reason.BUNDLE_MALFORMED_JSON, f"messageSignature.messageDigest.algorithm {algorithm!r} is not supported"
                )
            digest = md.bytes("digest")
        signature = msg.bytes("signature")
        if not signature:
            raise InputError(Reason.BUNDLE_MISSING_MATERIAL, "messageSignature.signature is empty")
        return MessageSignature(digest_algorithm=algorithm, digest=digest, signature=signature)

    env = root.obj("dsseEnvelope", ("payload", "payloadType", "signatures"))
    assert env is not None
    if env.raw("payload") is None:
        raise InputError(Reason.BUNDLE_DSSE_PAYLOAD, "dsseEnvelope.payload is missing")
    payload = env.bytes("payload")
    payload_type = env.str("payloadType")
    if payload_type == "application/vnd.in-toto+json":
        load_json(payload, what="dsseEnvelope payload (an in-toto JSON statement)", reason=Reason.BUNDLE_DSSE_PAYLOAD)
    sigs = env.objs("signatures", ("sig", "keyid"))
    if len(sigs) != 1:
        raise InputError(
            Reason.BUNDLE_DSSE_SIGNATURE_COUNT, f"dsseEnvelope must have exactly one signature, has {len(sigs)}"
        )
    sig = sigs[0].bytes("sig")
    if not sig:
        raise InputError(Reason.BUNDLE_MISSING_MATERIAL, "dsseEnvelope.signatures[0].sig is empty")
    keyid = sigs[0].str("keyid", required=False)
    if isinstance(material, PublicKeyMaterial) and material.hint and keyid and keyid != material.hint:
        raise InputError(
            Reason.BUNDLE_KEY_HINT_MISMATCH,
            "dsseEnvelope keyid does not match verificationMaterial.publicKey.hint",
            context={"keyid": keyid, "hint": material.hint},
        )
    return DsseEnvelope(payload=payload, payload_type=payload_type, signature=sig, keyid=keyid)
