"""RFC 6962 / RFC 9162 Merkle hashing and inclusion-proof verification. hashlib only."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from verifier.errors import Reason, VerificationError


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_inclusion_proof(index: int, tree_size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """Recompute the tree root from a leaf hash and its audit path (RFC 9162 §2.1.3.2).

    Raises:
        VerificationError: tlog.inclusion_proof_invalid when the path is malformed for
            (index, tree_size).
    """
    def bad(why: str) -> VerificationError:
        return VerificationError(
            Reason.TLOG_INCLUSION_PROOF_INVALID,
            f"inclusion proof is invalid: {why}",
            context={"index": index, "tree_size": tree_size, "proof_length": len(proof)},
            check="tlog.inclusion_proof",
        )

    if index < 0 or index >= tree_size:
        raise bad("leaf index is outside the tree")
    if any(len(p) != 32 for p in proof):
        raise bad("a proof hash is not 32 bytes")
    fn, sn, r = index, tree_size - 1, leaf
    for p in proof:
        if sn == 0:
            raise bad("proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise bad("proof is shorter than the tree is deep")
    return r


def verify_inclusion(index: int, tree_size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Raises VerificationError(tlog.inclusion_proof_invalid) unless the proof reaches `root`."""
    computed = root_from_inclusion_proof(index, tree_size, leaf, proof)
    if computed != root:
        raise VerificationError(
            Reason.TLOG_INCLUSION_PROOF_INVALID,
            "inclusion proof does not lead to the checkpoint's root hash",
            context={"computed_root": computed.hex(), "expected_root": root.hex(), "index": index},
            check="tlog.inclusion_proof",
        )
