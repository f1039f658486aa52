"""Judging a bundle against several trusted roots: the one whose logs, CAs or TSAs it uses.

`--trusted-root` may be repeated, or name a JSON Lines file of roots (what `gh attestation
trusted-root` writes: public-good and GitHub's own instance). Each root is trusted on its own;
a bundle is verified (docs/verification.md) against the candidate roots in order, and the result
names the root that vouched for it (docs/verification.md A4).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

from verifier._internal.artifact import ArtifactInput
from verifier._internal.bundle.model import Bundle, CertificateMaterial
from verifier._internal.policy import VerificationPolicy
from verifier._internal.result import VerificationResult
from verifier._internal.trustroot.model import TrustedRoot
from verifier._internal.verify import verify_bundle
from verifier.errors import Reason, VerificationError


def verify_with_trusted_roots(
    bundle: Bundle,
    roots: Sequence[tuple[TrustedRoot, Optional[str]]],
    artifact: ArtifactInput,
    policy: VerificationPolicy,
) -> VerificationResult:
    """Judge a bundle against the trusted root(s) whose logs, CAs or TSAs it uses (A4).

    `roots` pairs each trusted root with its SHA-256 (hex). The candidates are the roots that
    list one of the bundle's log ids, the CA that issued its leaf, or (for a bundle with
    timestamps) a timestamp authority, in the order given; if none does, every root is a
    candidate. The first candidate that verifies wins and the result names it; if none does,
    the most specific failure is raised (`most_specific`).
    """
    candidates = [pair for pair in roots if _uses_root(bundle, pair[0])] or list(roots)
    failures: list[VerificationError] = []
    for root, digest in candidates:
        try:
            result = verify_bundle(bundle, root, artifact, policy)
        except VerificationError as err:
            if digest is not None:  # no root took part in a key-only bundle
                err.context.setdefault("trusted_root_sha256", digest)
            failures.append(err)
            continue
        return result._replace(trusted_root_sha256=digest)
    raise most_specific(failures)


def _uses_root(bundle: Bundle, root: TrustedRoot) -> bool:
    if any(root.tlog_by_id(entry.log_id) is not None for entry in bundle.tlog_entries):
        return True
    if isinstance(bundle.material, CertificateMaterial):
        issuer = bundle.material.leaf.issuer
        if any(ca.chain and ca.chain[0].subject == issuer for ca in root.certificate_authorities):
            return True
    return bool(bundle.rfc3161_timestamps and root.timestamp_authorities and not root.tlogs)


def most_specific(failures: Sequence[VerificationError]) -> VerificationError:
    """Of several failed attempts, the one that says most: a bundle about another artifact
    (dsse.subject_mismatch) says least; otherwise the one that got furthest (most checks
    passed), the first on a tie."""
    assert failures
    return max(
        failures,
        key=lambda err: (err.reason is not Reason.DSSE_SUBJECT_MISMATCH, sum(1 for c in err.checks if c.ok)),
    )


__all__ = ["most_specific", "verify_with_trusted_roots"]
