"""RFC 6962 / RFC 9162 Merkle tree used by the virtual transparency logs (test support only)."""

from __future__ import annotations

import hashlib


def leaf_hash(data: bytes) -> bytes:
    """`SHA-256(0x00 || data)`."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """`SHA-256(0x01 || left || right)`."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """Largest power of two strictly smaller than n (n >= 2)."""
    k = 1
    while k << 1 < n:
        k <<= 1
    return k


class MerkleTree:
    """Append-only list of leaf hashes with root and inclusion-proof computation (RFC 6962 §2.1)."""

    def __init__(self) -> None:
        self.leaf_hashes: list[bytes] = []

    def __len__(self) -> int:
        return len(self.leaf_hashes)

    def append(self, data: bytes) -> int:
        """Append raw leaf bytes; returns the new leaf's index."""
        self.leaf_hashes.append(leaf_hash(data))
        return len(self.leaf_hashes) - 1

    def _mth(self, lo: int, hi: int) -> bytes:
        n = hi - lo
        if n == 0:
            return hashlib.sha256(b"").digest()
        if n == 1:
            return self.leaf_hashes[lo]
        k = _split(n)
        return node_hash(self._mth(lo, lo + k), self._mth(lo + k, hi))

    def root(self, size: int | None = None) -> bytes:
        size = len(self) if size is None else size
        if not 0 <= size <= len(self):
            raise ValueError("size out of range")
        return self._mth(0, size)

    def _path(self, m: int, lo: int, hi: int) -> list[bytes]:
        n = hi - lo
        if n <= 1:
            return []
        k = _split(n)
        if m < k:
            return self._path(m, lo, lo + k) + [self._mth(lo + k, hi)]
        return self._path(m - k, lo + k, hi) + [self._mth(lo, lo + k)]

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Audit path for leaf `index` in the tree of the first `size` leaves (bottom-up order)."""
        size = len(self) if size is None else size
        if not 0 <= index < size <= len(self):
            raise ValueError("index/size out of range")
        return self._path(index, 0, size)
