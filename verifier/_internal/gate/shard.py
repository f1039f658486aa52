"""Shards: which artifacts `airseal gate --shard K/N` judges. Pure.

Membership is a stable function of an artifact's path relative to its PATH, the same on every
machine, Python version and run: the first 8 bytes of SHA-256 over the path's UTF-8 bytes
(undecodable name bytes kept as they are: `surrogateescape`), read big-endian, modulo N; shard
K (1-based) holds the paths whose value is K - 1. Never Python's `hash()` (salted per process).
"""

from __future__ import annotations

import hashlib
import re
from typing import Optional

from verifier._internal.record import Record

_SHARD_RE = re.compile(r"\A([0-9]{1,6})/([0-9]{1,6})\Z")
MAX_SHARDS = 100_000


def shard_of(relpath: str, count: int) -> int:
    """The shard (1-based) of `count` that holds `relpath`."""
    digest = hashlib.sha256(relpath.encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


class Shard(Record):
    k: int
    """K, 1-based."""
    n: int
    """N."""

    def __str__(self) -> str:
        return f"{self.k}/{self.n}"

    def holds(self, relpath: str) -> bool:
        return self.n == 1 or shard_of(relpath, self.n) == self.k


def parse_shard(text: str) -> Optional[Shard]:
    """`K/N` with 1 <= K <= N <= MAX_SHARDS; None when malformed."""
    m = _SHARD_RE.match(text.strip())
    if not m:
        return None
    index, count = int(m.group(1)), int(m.group(2))
    if not 1 <= index <= count <= MAX_SHARDS:
        return None
    return Shard(index, count)


__all__ = ["MAX_SHARDS", "Shard", "parse_shard", "shard_of"]
