"""Bounds on untrusted input. One frozen object so every cap is visible in one place."""

from __future__ import annotations

from typing import NamedTuple



class Limits(NamedTuple):
    max_bundle_bytes: int = 16 * 1024 * 1024
    max_trusted_root_bytes: int = 4 * 1024 * 1024
    max_tlog_entries: int = 32
    max_rfc3161_timestamps: int = 32
    max_intoto_subjects: int = 1024
    max_digests_per_subject: int = 32
    max_checkpoint_signatures: int = 64
    max_inclusion_proof_hashes: int = 64
    max_certificates_in_chain: int = 10


DEFAULT_LIMITS = Limits()
