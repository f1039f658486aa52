"""Transparency-log clients for signing: Rekor v1 (`/api/v1/log/entries`) and Rekor v2
(`/api/v2/log/entries`), returning each entry as a bundle's `TransparencyLogEntry` (v0.3).

Rekor v1: a proposed entry (hashedrekord 0.0.1 for a message signature, dsse 0.0.1 for an
envelope) answers 201 with `{uuid: LogEntry}`; the same entry again answers 409 with the
existing entry's `Location`, which is fetched instead of logging a duplicate. The entry's body
(what the log rewrote, e.g. a DSSE entry), SET and inclusion proof (hex hashes) are mapped to
the bundle's names (base64).

Rekor v2: a `CreateEntryRequest` (hashedrekord 0.0.2: a digest, a signature, a public key and
its `keyDetails`) answers 201 with the `TransparencyLogEntry` itself (protobuf JSON). A 409
names the existing index only: Rekor v2's write API cannot return an existing entry's proof
(that needs the log's tile API, which the POSIX server does not serve), so it is an error
that says so. Rekor v2 has no integrated time and no SET: the time comes from a TSA.

HTTP is stdlib urllib, imported only when a URL is used; every reply is capped
(`max_service_response_bytes`), every request has a timeout, and a network error or HTTP
5xx/429 is retried (`service_attempts`, the same request each time: idempotent through the
409 handling). Replies are checked for shape here; their cryptography (SET, inclusion proof,
checkpoint signature, body against the bundle) is checked by `verify_bundle` before any
bundle is written.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from typing import Any

from verifier._internal.limits import DEFAULT_LIMITS
from verifier._internal.record import Record
from verifier.errors import Reason, ServiceError

V1_ENTRIES = "/api/v1/log/entries"
V2_ENTRIES = "/api/v2/log/entries"
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class Reply(Record):
    status: int
    headers: Mapping[str, str]
    body: bytes


class _Unreachable(Exception):
    """A request that got no HTTP answer (connection refused or reset, timeout)."""


def _upload_failed(detail: str) -> ServiceError:
    return ServiceError(Reason.TLOG_UPLOAD_FAILED, detail)


def _bad_response(detail: str) -> ServiceError:
    return ServiceError(Reason.TLOG_BAD_RESPONSE, detail)


def _http(method: str, url: str, body: bytes | None, timeout: float) -> Reply:
    import urllib.error
    import urllib.request

    limit = DEFAULT_LIMITS.max_service_response_bytes
    headers = {"Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310 - http(s) only, checked by the caller
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:  # noqa: S310 - http(s) only
            return Reply(reply.status, dict(reply.headers), _read_capped(reply, limit, url))
    except urllib.error.HTTPError as exc:
        try:
            data = exc.read(limit + 1)[:limit]
        except OSError:
            data = b""
        return Reply(exc.code, dict(exc.headers or {}), data)
    except (urllib.error.URLError, OSError) as exc:
        raise _Unreachable(str(getattr(exc, "reason", exc))) from exc


def _read_capped(reply: Any, limit: int, url: str) -> bytes:
    data: bytes = reply.read(limit + 1)
    if len(data) > limit:
        raise _bad_response(f"the transparency log at {url} answered with more than {limit} bytes")
    return data


def send(method: str, url: str, body: bytes | None = None, *, what: str) -> Reply:
    """One request with retries on no answer, 429 and 5xx; the last reply otherwise.

    Raises:
        ServiceError: tlog.upload_failed when no attempt got an answer (or every one a 5xx).
    """
    if not url.lower().startswith(("http://", "https://")):
        raise _upload_failed(f"the transparency log URL must be http(s), got {url!r}")
    attempts = max(1, DEFAULT_LIMITS.service_attempts)
    last = ""
    cause: BaseException | None = None
    for attempt in range(attempts):
        if attempt:
            time.sleep(0.2 * 3 ** (attempt - 1))
        try:
            reply = _http(method, url, body, DEFAULT_LIMITS.service_timeout_seconds)
        except _Unreachable as exc:
            last = f"cannot reach {what} at {url}: {exc}"
            cause = exc
            continue
        if reply.status in _RETRY_STATUSES:
            last = f"{what} at {url} answered HTTP {reply.status}: {_message(reply.body)}"
            continue
        return reply
    raise _upload_failed(f"{last} ({attempts} attempts)") from cause


def _message(body: bytes) -> str:
    """The `message` of a Rekor error body, or its first 200 characters."""
    try:
        doc = json.loads(body)
        message = doc.get("message") if isinstance(doc, dict) else None
        if isinstance(message, str):
            return message[:300]
    except (ValueError, UnicodeDecodeError):
        pass
    return body[:200].decode("utf-8", "replace")


def _json_object(reply: Reply, url: str) -> dict[str, Any]:
    try:
        doc = json.loads(reply.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad_response(f"the transparency log at {url} answered with something other than JSON") from exc
    if not isinstance(doc, dict):
        raise _bad_response(f"the transparency log at {url} answered with a JSON {type(doc).__name__}, not an object")
    return doc


def pem_of(spki_der: bytes) -> bytes:
    text = base64.b64encode(spki_der).decode("ascii")
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    return ("-----BEGIN PUBLIC KEY-----\n" + "\n".join(lines) + "\n-----END PUBLIC KEY-----\n").encode("ascii")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# ----------------------------------------------------------------------------- Rekor v1


class RekorV1:
    """A Rekor v1 log at `url` (base URL, no path)."""

    major = 1

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def describe(self) -> str:
        return f"the transparency log (Rekor v1) at {self.url}"

    def upload_hashedrekord(self, hash_name: str, digest: bytes, signature: bytes, spki_der: bytes) -> dict[str, Any]:
        """Log a hashedrekord 0.0.1 entry (digest as hex, key as base64 of its PEM)."""
        proposed = {
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": hash_name, "value": digest.hex()}},
                "signature": {"content": _b64(signature), "publicKey": {"content": _b64(pem_of(spki_der))}},
            },
        }
        return self._upload(proposed)

    def upload_dsse(self, payload: bytes, payload_type: str, signature: bytes, spki_der: bytes) -> dict[str, Any]:
        """Log a dsse 0.0.1 entry; the log checks the signature over PAE and rewrites it."""
        envelope = {"payload": _b64(payload), "payloadType": payload_type, "signatures": [{"keyid": "", "sig": _b64(signature)}]}
        proposed = {
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {"proposedContent": {"envelope": json.dumps(envelope), "verifiers": [_b64(pem_of(spki_der))]}},
        }
        return self._upload(proposed)

    def _upload(self, proposed: dict[str, Any]) -> dict[str, Any]:
        url = self.url + V1_ENTRIES
        reply = send("POST", url, json.dumps(proposed).encode(), what=self.describe())
        if reply.status == 409:
            # Already logged (our own earlier attempt, or a retry of this run): fetch it.
            location = {k.lower(): v for k, v in reply.headers.items()}.get("location")
            if not location:
                raise _upload_failed(f"{self.describe()} says the entry exists but gives no Location: {_message(reply.body)}")
            target = location if location.startswith(("http://", "https://")) else self.url + "/" + location.lstrip("/")
            return self._fetch(target)
        if reply.status != 201:
            raise _upload_failed(f"{self.describe()} refused the entry: HTTP {reply.status}: {_message(reply.body)}")
        uuid, entry = self._one_entry(reply, url)
        if not _has_proof(entry):
            return self._fetch(self.url + V1_ENTRIES + "/" + uuid)
        return v1_entry_to_bundle(entry, self.url)

    def _fetch(self, url: str, tries: int = 10) -> dict[str, Any]:
        """GET an existing entry; waits (briefly) until it has an inclusion proof."""
        for attempt in range(tries):
            reply = send("GET", url, what=self.describe())
            if reply.status != 200:
                raise _upload_failed(f"{self.describe()} did not return the existing entry {url}: HTTP {reply.status}")
            _, entry = self._one_entry(reply, url)
            if _has_proof(entry) or attempt == tries - 1:
                return v1_entry_to_bundle(entry, self.url)
            time.sleep(0.2)
        raise AssertionError("unreachable")  # pragma: no cover

    def _one_entry(self, reply: Reply, url: str) -> tuple[str, dict[str, Any]]:
        doc = _json_object(reply, url)
        if len(doc) != 1:
            raise _bad_response(f"{self.describe()} answered with {len(doc)} entries, not 1")
        ((uuid, entry),) = doc.items()
        if not isinstance(entry, dict):
            raise _bad_response(f"{self.describe()} answered with an entry that is not an object")
        return uuid, entry


def _has_proof(entry: dict[str, Any]) -> bool:
    verification = entry.get("verification")
    return isinstance(verification, dict) and isinstance(verification.get("inclusionProof"), dict)


def v1_entry_to_bundle(entry: dict[str, Any], url: str) -> dict[str, Any]:
    """A Rekor v1 LogEntry as a bundle's TransparencyLogEntry (hex -> base64, names)."""
    where = f"the transparency log (Rekor v1) at {url}"
    try:
        body_b64 = entry["body"]
        body = json.loads(base64.b64decode(body_b64, validate=True))
        verification = entry["verification"]
        proof = verification["inclusionProof"]
        converted: dict[str, Any] = {
            "logIndex": str(int(entry["logIndex"])),
            "logId": {"keyId": _b64(bytes.fromhex(entry["logID"]))},
            "kindVersion": {"kind": str(body["kind"]), "version": str(body["apiVersion"])},
            "integratedTime": str(int(entry["integratedTime"])),
            "inclusionPromise": {"signedEntryTimestamp": str(verification["signedEntryTimestamp"])},
            "inclusionProof": {
                "logIndex": str(int(proof["logIndex"])),
                "rootHash": _b64(bytes.fromhex(proof["rootHash"])),
                "treeSize": str(int(proof["treeSize"])),
                "hashes": [_b64(bytes.fromhex(h)) for h in proof["hashes"]],
                "checkpoint": {"envelope": str(proof["checkpoint"])},
            },
            "canonicalizedBody": body_b64,
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise _bad_response(f"{where} answered with a log entry airseal cannot read ({type(exc).__name__}: {exc})") from exc
    return converted


# ----------------------------------------------------------------------------- Rekor v2


class RekorV2:
    """A Rekor v2 log at `url` (base URL, no path)."""

    major = 2

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def describe(self) -> str:
        return f"the transparency log (Rekor v2) at {self.url}"

    def upload_hashedrekord(self, digest: bytes, signature: bytes, spki_der: bytes, key_details: str) -> dict[str, Any]:
        """Log a hashedrekord 0.0.2 entry: the digest (the key's hash), signature and key."""
        request = {
            "hashedRekordRequestV002": {
                "digest": _b64(digest),
                "signature": {
                    "content": _b64(signature),
                    "verifier": {"publicKey": {"rawBytes": _b64(spki_der)}, "keyDetails": key_details},
                },
            }
        }
        url = self.url + V2_ENTRIES
        reply = send("POST", url, json.dumps(request).encode(), what=self.describe())
        if reply.status == 409:
            raise _upload_failed(
                f"{self.describe()} already holds this entry ({_message(reply.body)}); Rekor v2's write API does"
                " not return an existing entry's proof, so airseal cannot bundle it: sign again (a new signature"
                " is a new entry)"
            )
        if reply.status not in (200, 201):
            raise _upload_failed(f"{self.describe()} refused the entry: HTTP {reply.status}: {_message(reply.body)}")
        return v2_entry_to_bundle(_json_object(reply, url), self.url)


def v2_entry_to_bundle(entry: dict[str, Any], url: str) -> dict[str, Any]:
    """A Rekor v2 TransparencyLogEntry, checked for shape; nulls and a zero integrated time
    dropped (proto3 JSON leaves zero values out, as cosign writes them)."""
    where = f"the transparency log (Rekor v2) at {url}"
    try:
        proof = entry["inclusionProof"]
        converted: dict[str, Any] = {
            "logIndex": str(int(entry.get("logIndex", 0))),
            "logId": {"keyId": str(entry["logId"]["keyId"])},
            "kindVersion": {"kind": str(entry["kindVersion"]["kind"]), "version": str(entry["kindVersion"]["version"])},
            "inclusionProof": {
                "logIndex": str(int(proof.get("logIndex", 0))),
                "rootHash": str(proof["rootHash"]),
                "treeSize": str(int(proof["treeSize"])),
                "hashes": [str(h) for h in proof.get("hashes") or []],
                "checkpoint": {"envelope": str(proof["checkpoint"]["envelope"])},
            },
            "canonicalizedBody": str(entry["canonicalizedBody"]),
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise _bad_response(f"{where} answered with a log entry airseal cannot read ({type(exc).__name__}: {exc})") from exc
    if int(entry.get("integratedTime") or 0):
        converted["integratedTime"] = str(int(entry["integratedTime"]))
    return converted


def client_for(url: str, major: int) -> RekorV1 | RekorV2:
    if major == 1:
        return RekorV1(url)
    if major == 2:
        return RekorV2(url)
    raise ValueError(f"Rekor API version {major} is not supported")


__all__ = ["RekorV1", "RekorV2", "Reply", "client_for", "pem_of", "send", "v1_entry_to_bundle", "v2_entry_to_bundle"]
