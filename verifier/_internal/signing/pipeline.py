"""Logged signing: per-signature service work (timestamps, log uploads), bundle building and
verification, pipelined with the token's signing.

The token signs in the caller's thread (behind its lock, as always); each signature is handed
to `Pipeline.submit`, whose worker threads (`service_concurrency`, 8) ask the TSA(s) for a
timestamp, upload the entry to the log(s), build the bundle and verify it against the trusted
root the user named (`verify_bundle`, default thresholds, the token's public key as the
policy key). The caller takes the results in order (`Pipeline.results`) and stages them in an
`AtomicBatch`; a failure anywhere raises, pending work is cancelled, and nothing is written.

What goes to which log:
- message signature: Rekor v1 hashedrekord 0.0.1 (the signer's digest); Rekor v2 hashedrekord
  0.0.2 (the digest of the key's `keyDetails` hash, which is the signer's hash);
- DSSE envelope: Rekor v1 dsse 0.0.1 (the log verifies PAE and rewrites the entry); Rekor v2
  hashedrekord 0.0.2 over the digest of PAE (Rekor v2 has no DSSE type).
Pure Ed25519 cannot be logged as a hashedrekord (Rekor signs-checks a digest: only Ed25519ph
would do), RSA-PSS keys have no hashedrekord key details airseal verifies, and Rekor v2 gives
no time: `check_loggable` says so before any signing.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from verifier._internal.algorithms import hashedrekord_v2_key_details
from verifier._internal.artifact import ArtifactInput
from verifier._internal.bundle.build import ArtifactDigest
from verifier._internal.encoding import pae
from verifier._internal.limits import DEFAULT_LIMITS
from verifier._internal.policy import TrustedKey, VerificationPolicy
from verifier._internal.record import Record
from verifier._internal.signing.rekor_client import RekorV1, RekorV2
from verifier._internal.trustroot.model import TrustedRoot
from verifier.errors import AirsealError, Reason, ServiceError

T = TypeVar("T")


class NotLoggable(Exception):
    """This key or content cannot go to the chosen log(s); the message says what to change."""


class Services(Record):
    """What one signing run sends each signature to, and what it verifies against."""

    logs: tuple[RekorV1 | RekorV2, ...]
    tsa_urls: tuple[str, ...]
    trusted_root: TrustedRoot | None
    """None: no trusted root was named and no log is used (TSA only): not verified here."""
    trust_description: str
    key: TrustedKey


def check_loggable(logs: tuple[RekorV1 | RekorV2, ...], tsa_urls: tuple[str, ...], key_type: str, *,
                   rsa_pss: bool, dsse: bool) -> None:
    """Refuse, before any token work, what the chosen logs cannot take (NotLoggable)."""
    if not logs:
        return
    v2 = [log for log in logs if isinstance(log, RekorV2)]
    if v2 and not tsa_urls:
        raise NotLoggable(
            f"Rekor v2 ({v2[0].url}) records no integrated time, so a bundle needs an RFC 3161 timestamp:"
            " add --tsa-url URL (or a signing config with tsaUrls)"
        )
    if rsa_pss:
        raise NotLoggable("RSA-PSS signatures cannot be logged as hashedrekord entries airseal verifies: drop --rsa-pss")
    if key_type == "ed25519":
        if v2:
            raise NotLoggable(
                "Rekor v2 does not take Ed25519 signatures (it logs Ed25519ph, prehashed, only), and a token's"
                " Ed25519 key signs pure Ed25519: use an ECDSA or RSA key for Rekor v2"
                + ("" if dsse else ", or a Rekor v1 log for attestations")
            )
        if not dsse:
            raise NotLoggable(
                "a Rekor v1 hashedrekord entry checks a signature over the digest (Ed25519ph), but a token's"
                " Ed25519 key signs the whole file: use an ECDSA or RSA key to log `sign`"
                " (`attest` with Ed25519 works: Rekor v1 checks DSSE signatures over PAE)"
            )


def _v2_details(key: TrustedKey) -> tuple[str, str]:
    details = hashedrekord_v2_key_details(key.key)
    if details is None:  # pragma: no cover - check_loggable refused these
        raise NotLoggable("this key type cannot be logged in Rekor v2")
    return details


def message_evidence(services: Services, digest: ArtifactDigest, signature: bytes) -> tuple[list[dict[str, Any]], list[bytes]]:
    """(tlog entries, RFC 3161 responses) for a message signature over `digest`."""
    timestamps = _timestamps(services, signature)
    entries = []
    for log in services.logs:
        if isinstance(log, RekorV1):
            entries.append(log.upload_hashedrekord(digest.hash_name, digest.digest, signature, services.key.spki_der))
        else:
            details, hash_name = _v2_details(services.key)
            if hash_name != digest.hash_name:  # pragma: no cover - the signer's hash is the key's
                raise NotLoggable(f"Rekor v2 wants a {hash_name} digest for this key, not {digest.hash_name}")
            entries.append(log.upload_hashedrekord(digest.digest, signature, services.key.spki_der, details))
    return entries, timestamps


def dsse_evidence(
    services: Services, payload: bytes, payload_type: str, signature: bytes
) -> tuple[list[dict[str, Any]], list[bytes]]:
    """(tlog entries, RFC 3161 responses) for a DSSE envelope's one signature."""
    timestamps = _timestamps(services, signature)
    entries = []
    for log in services.logs:
        if isinstance(log, RekorV1):
            entries.append(log.upload_dsse(payload, payload_type, signature, services.key.spki_der))
        else:
            details, hash_name = _v2_details(services.key)
            digest = hashlib.new(hash_name, pae(payload_type, payload)).digest()
            entries.append(log.upload_hashedrekord(digest, signature, services.key.spki_der, details))
    return entries, timestamps


def _timestamps(services: Services, signature: bytes) -> list[bytes]:
    if not services.tsa_urls:
        return []
    from verifier._internal.signing.timestamp_client import request_timestamp

    return [request_timestamp(url, signature) for url in services.tsa_urls]


def verify_before_write(services: Services, data: bytes, artifact: ArtifactInput, what: str) -> None:
    """Verify a bundle's bytes as `airseal verify --key` would (default thresholds; with no log,
    the timestamps asked for); raise ServiceError(signing.bundle_not_verified) otherwise."""
    if services.trusted_root is None:
        return
    from verifier._internal.bundle.parse import load_bundle
    from verifier._internal.verify import verify_bundle

    if services.logs:
        policy = VerificationPolicy(key=services.key)
    else:
        policy = VerificationPolicy(key=services.key, min_tlog_entries=0, min_timestamps=len(services.tsa_urls))
    try:
        verify_bundle(load_bundle(data), services.trusted_root, artifact, policy)
    except AirsealError as err:
        raise ServiceError(
            Reason.SIGNING_BUNDLE_UNVERIFIED,
            f"the bundle for {what} does not verify against {services.trust_description}"
            f" ({err.reason.value}: {err.detail}); nothing was written. Is this the trusted root of the log and"
            " TSA you signed with?",
            context={"cause": err.reason.value},
        ) from err


class Pipeline(Generic[T]):
    """A bounded thread pool whose results come back in submission order.

    `submit` fails fast: it re-raises the first failure of earlier work, so a batch stops
    signing as soon as a service is down. At most `4 * workers` items are in flight.
    """

    def __init__(self, workers: int = DEFAULT_LIMITS.service_concurrency) -> None:
        self._pool = cf.ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="airseal-service")
        self._futures: list[cf.Future[T]] = []
        self._pending: set[cf.Future[T]] = set()
        self._max_pending = 4 * max(1, workers)

    def submit(self, fn: Callable[..., T], *args: Any) -> None:
        self._reap(block=False)
        while len(self._pending) >= self._max_pending:
            self._reap(block=True)
        future = self._pool.submit(fn, *args)
        self._futures.append(future)
        self._pending.add(future)

    def _reap(self, *, block: bool) -> None:
        if not self._pending:
            return
        done, self._pending = cf.wait(self._pending, timeout=None if block else 0, return_when=cf.FIRST_COMPLETED)
        for future in done:
            error = future.exception()
            if error is not None:
                raise error

    def results(self) -> Iterator[T]:
        """Every result in submission order; the first failure (in completion order) raises."""
        while self._pending:
            self._reap(block=True)
        for future in self._futures:
            yield future.result()

    def close(self) -> None:
        """Cancel what has not started; wait for what has (an upload in flight finishes)."""
        for future in self._futures:
            future.cancel()
        self._pool.shutdown(wait=True)

    def __enter__(self) -> Pipeline[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = [
    "NotLoggable",
    "Pipeline",
    "Services",
    "check_loggable",
    "dsse_evidence",
    "message_evidence",
    "verify_before_write",
]
