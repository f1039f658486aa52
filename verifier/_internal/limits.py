"""Every bound on untrusted input and on what airseal reads or receives, in one place.

Each cap says what it bounds and why the value is enough: Sigstore's real evidence sits far
below each one, so the caps only stop hostile or broken input before it costs memory or time.
Code elsewhere reads these values; it never writes a number of its own.
"""

from __future__ import annotations

from typing import Any


class Limits:
    """Caps, each a class attribute holding its default; an instance may override some.

    Frozen and hashable (trusted roots are cached per content and limits). A plain class, not a
    NamedTuple: a NamedTuple of this many fields compiles its constructor at import, which
    every cold `airseal verify` would pay. `_replace(**caps)` returns a copy with some caps
    changed, as a NamedTuple's does.
    """

    # --- evidence read by `verify` and the gate ------------------------------------------------
    max_bundle_bytes: int = 16 * 1024 * 1024
    """A bundle (or evidence file in another format); real ones are a few KiB."""
    max_trusted_root_bytes: int = 4 * 1024 * 1024
    """A trusted_root.json; public-good's is about 10 KiB."""
    max_evidence_bundles: int = 1024
    """Bundles in one evidence file (GitHub JSON Lines, PEP 740 provenance, npm response)."""
    max_key_bytes: int = 1024 * 1024
    """A PEM public key or certificate file."""
    max_tlog_entries: int = 32
    max_rfc3161_timestamps: int = 32
    max_intoto_subjects: int = 1024
    max_digests_per_subject: int = 32
    max_checkpoint_signatures: int = 64
    max_inclusion_proof_hashes: int = 64
    max_certificates_in_chain: int = 10
    max_tsa_embedded_certificates: int = 16
    """Certificates inside one RFC 3161 token."""
    max_tsa_path_length: int = 6
    """Certificates between a TSA signer and its anchor, exclusive of both."""

    # --- artifacts ----------------------------------------------------------------------------
    hash_chunk_bytes: int = 1024 * 1024
    """Read size when hashing an artifact: memory stays constant whatever the file size."""
    max_ed25519_message_bytes: int = 256 * 1024 * 1024
    """Pure Ed25519 signs the whole message in one call, so signing reads it into memory."""

    # --- the gate (`airseal gate`) -----------------------------------------------------------------
    gate_max_policy_bytes: int = 1024 * 1024
    """A gate policy file (TOML); a realistic one is a few KiB."""
    gate_max_rules: int = 4096
    gate_max_globs_per_rule: int = 1024
    gate_max_keys_per_rule: int = 64
    gate_max_evidence_per_artifact: int = 16
    """Evidence files paired with one artifact by name (F.sigstore.json, F.bundle, ...)."""
    gate_max_attested_subjects: int = 1_000_000
    """Subjects of unpaired DSSE attestations the gate indexes by path: the one structure that
    grows with the tree (about 200 bytes each); past it the gate stops with input.too_large."""
    gate_batch_artifacts: int = 32
    """Artifacts per task sent to a worker: amortises inter-process overhead."""
    gate_inflight_batches_per_job: int = 4
    """Tasks queued per worker: bounds the parent's memory whatever the tree size."""
    gate_max_worker_restarts: int = 2
    """Pools rebuilt after a worker dies; past it the run stops, marked incomplete."""
    gate_html_max_rows: int = 20_000
    """Rows of each section of report.html (results.jsonl always has every artifact)."""
    gate_dask_min_partition: int = 64
    gate_dask_max_partition: int = 512
    """Artifacts per Dask task (`--dask`): about 8 tasks per worker thread, within these bounds,
    so the scheduler's work per artifact stays constant (partitions, not tasks per file)."""
    gate_dask_inflight_per_thread: int = 4
    """Dask tasks in flight per worker thread: the scheduler holds a bounded number of tasks."""

    # --- services at signing --------------------------------------------------------------------
    max_service_response_bytes: int = 1024 * 1024
    """A timestamp authority's or transparency log's reply."""
    max_signing_config_bytes: int = 1024 * 1024
    """A signing config (`--signing-config`); public-good's is about 2 KiB."""
    service_timeout_seconds: float = 30.0
    """One HTTP request to a log or TSA at signing (connect and each read)."""
    service_attempts: int = 3
    """Tries per log upload on a network error or HTTP 5xx/429 (the same entry each time)."""
    service_concurrency: int = 8
    """Log and TSA requests in flight at once while the token signs the next artifacts."""

    # --- trust store and TUF media ----------------------------------------------------------------
    max_store_file_bytes: int = 1024 * 1024
    """A small file of the trust store (config, state record, pointer)."""
    max_tuf_record_bytes: int = 8 * 1024 * 1024
    """One metadata or target file recorded during a TUF refresh."""
    tuf_root_max_bytes: int = 512_000
    tuf_timestamp_max_bytes: int = 16_384
    tuf_snapshot_max_bytes: int = 2_000_000
    tuf_targets_max_bytes: int = 5_000_000
    tuf_max_root_rotations: int = 256
    tuf_max_delegations: int = 8
    max_pack_bytes: int = 64 * 1024 * 1024
    """A trust pack (`trust export`) on removable media."""
    max_pack_member_bytes: int = 8 * 1024 * 1024
    max_pack_total_bytes: int = 128 * 1024 * 1024
    max_pack_members: int = 4096
    max_pack_manifest_bytes: int = 1024 * 1024
    max_media_peek_bytes: int = 8 * 1024 * 1024
    """Reading a metadata file from media to see which versions it carries, before TUF runs."""
    max_grace_days: int = 30
    """Longest grace an operator may configure for expired TUF metadata."""


    def __init__(self, **caps: int) -> None:
        for name, value in caps.items():
            if name.startswith("_") or not isinstance(getattr(Limits, name, None), int):
                raise TypeError(f"Limits has no cap named {name!r}")
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int")
            object.__setattr__(self, name, value)  # the instance's own value shadows the default

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Limits is frozen: use _replace()")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Limits is frozen")

    def _replace(self, **caps: int) -> Limits:
        """A copy with some caps changed (as a NamedTuple's `_replace`)."""
        return Limits(**{**vars(self), **caps})

    def _key(self) -> tuple[tuple[str, int], ...]:
        return tuple(sorted(vars(self).items()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Limits) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return "Limits(" + ", ".join(f"{k}={v}" for k, v in self._key()) + ")"


DEFAULT_LIMITS = Limits()
