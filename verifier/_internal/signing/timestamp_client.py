"""RFC 3161 client for `airseal sign --tsa-url`: request a timestamp over signature bytes.

Owns the TimeStampReq (SHA-256 imprint, certReq, random nonce), the HTTP POST (stdlib urllib,
imported only when a timestamp is requested so the sign path stays light), and the sanity
checks on the reply: status granted, same nonce, same imprint. It does not verify the TSA's
CMS signature or chain: that is the verifier's job against a trusted root
(verifier/_internal/tsa/verify.py); the reply's status is read by the verifier's own
`tsa.parse.read_status`, so both sides agree on what a refusal looks like.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from asn1crypto import tsp

from verifier._internal.limits import DEFAULT_LIMITS
from verifier._internal.tsa.parse import GRANTED, read_status
from verifier.errors import Reason, ServiceError

CONTENT_TYPE_QUERY = "application/timestamp-query"
CONTENT_TYPE_REPLY = "application/timestamp-reply"
TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class TimestampRequest:
    """A DER TimeStampReq and what its reply must echo."""

    der: bytes
    nonce: int
    imprint: bytes
    """SHA-256 of the timestamped bytes."""


def build_request(data: bytes) -> TimestampRequest:
    """A DER TimeStampReq over SHA-256(data), asking for the TSA certificate, with a nonce."""
    imprint = hashlib.sha256(data).digest()
    nonce = secrets.randbits(63) | 1  # positive and non-zero
    request = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": imprint},
            "nonce": nonce,
            "cert_req": True,
        }
    )
    return TimestampRequest(request.dump(), nonce, imprint)


def check_response(request: TimestampRequest, der: bytes) -> bytes:
    """Check a TimeStampResp against its request; returns the response DER unchanged.

    Raises:
        ServiceError: `tsa.request_failed` if not granted, malformed, or nonce/imprint differ.
    """
    try:
        status, text, _fail_info = read_status(der)
        if status not in GRANTED:
            raise _failed(f"the TSA refused the request: status {status}" + (f" ({'; '.join(text)})" if text else ""))
        response = tsp.TimeStampResp.load(der)
        token = response["time_stamp_token"]
        if token.native is None:
            raise _failed("the TSA reply has no timestamp token")
        info = token["content"]["encap_content_info"]["content"].parsed
        nonce = info["nonce"].native
        imprint = info["message_imprint"]
        algorithm = imprint["hash_algorithm"]["algorithm"].native
        hashed = imprint["hashed_message"].native
    except ServiceError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise _failed(f"the TSA reply is not a valid TimeStampResp: {exc}") from exc
    if nonce != request.nonce:
        raise _failed("the TSA reply's nonce differs from the request's: refusing it")
    if algorithm != "sha256" or hashed != request.imprint:
        raise _failed("the TSA timestamped something other than this signature: refusing it")
    return der


def request_timestamp(url: str, data: bytes, *, timeout: float = TIMEOUT_SECONDS) -> bytes:
    """POST a TimeStampReq over `data` to `url`; returns the checked TimeStampResp DER.

    Raises:
        ServiceError: `tsa.request_failed` for network errors, HTTP errors and bad replies.
    """
    import urllib.error
    import urllib.request

    if not url.lower().startswith(("http://", "https://")):
        raise _failed(f"--tsa-url must be an http(s) URL, got {url!r}")
    request = build_request(data)
    limit = DEFAULT_LIMITS.max_service_response_bytes
    http_request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
        url,
        data=request.der,
        method="POST",
        headers={"Content-Type": CONTENT_TYPE_QUERY, "Accept": CONTENT_TYPE_REPLY},
    )
    try:
        with urllib.request.urlopen(http_request, timeout=timeout) as reply:  # noqa: S310 - http(s) only, checked above
            body = reply.read(limit + 1)
    except urllib.error.HTTPError as exc:
        raise _failed(f"the TSA at {url} answered HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise _failed(f"cannot reach the TSA at {url}: {reason}") from exc
    if len(body) > limit:
        raise _failed(f"the TSA reply is larger than {limit} bytes")
    return check_response(request, body)


def _failed(message: str) -> ServiceError:
    """A `tsa.request_failed` ServiceError (exit 6)."""
    return ServiceError(Reason.TSA_REQUEST_FAILED, message)


__all__ = ["TimestampRequest", "build_request", "check_response", "request_timestamp"]
