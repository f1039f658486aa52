"""Sign an in-toto Statement as a DSSE envelope in a v0.3 bundle: what `attest` does, and what
the gate's Verification Summary Attestation uses. One composition of `sign_pae`,
`verification_material` and `dsse_bundle`, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Optional

from verifier._internal import intoto
from verifier._internal.bundle import build
from verifier._internal.signing.sign import Signer, sign_pae


def sign_statement(
    signer: Signer,
    payload: bytes,
    *,
    key_hint: Optional[str] = None,
    certificate_der: Optional[bytes] = None,
    evidence: Optional[Callable[[bytes], tuple[list[dict[str, Any]], list[bytes]]]] = None,
) -> dict[str, Any]:
    """The bundle (protobuf-JSON dict) of a DSSE envelope over `payload` (an in-toto Statement).

    `evidence(signature)` may return the transparency-log entries and RFC 3161 responses for
    the signature (`attest --rekor-url/--tsa-url`); without it the bundle carries neither.
    """
    signature = sign_pae(signer, intoto.PAYLOAD_TYPE, payload)
    entries, timestamps = evidence(signature) if evidence is not None else ([], [])
    material = build.verification_material(
        key_hint=key_hint,
        certificate_der=certificate_der,
        rfc3161_responses=timestamps or None,
        tlog_entries=entries,
    )
    return build.dsse_bundle(payload, intoto.PAYLOAD_TYPE, signature, material)


__all__ = ["sign_statement"]
