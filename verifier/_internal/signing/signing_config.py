"""Sigstore signing config v0.2: which transparency logs and timestamp authorities to use.

The document (`application/vnd.dev.sigstore.signingconfig.v0.2+json`) lists services, each
with a `url`, a `majorApiVersion`, a `validFor` window and an `operator`, and a selector per
kind (`ALL`, `ANY`, `EXACT` with a `count`). Selection follows the Sigstore clients
(sigstore-go's `SelectService(s)`):

1. keep the services valid now (`validFor.start <= now < validFor.end`);
2. keep those whose `majorApiVersion` this client speaks (Rekor 1 and 2, TSA 1);
3. keep only the highest such version (a log offering v2 is used as v2);
4. `ALL`: every one left; `ANY`: the first one; `EXACT`: the first `count` of distinct
   operators (too few is an error). A selector without a config means `ANY`.

The config only names services: it is not trusted for verification (the trusted root is).
Fulcio and OIDC entries are read past; airseal signs with token keys.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from verifier._internal.limits import DEFAULT_LIMITS
from verifier._internal.record import Record
from verifier._internal.timefmt import parse_rfc3339
from verifier.errors import InputError, Reason

MEDIA_TYPE = "application/vnd.dev.sigstore.signingconfig.v0.2+json"
REKOR_VERSIONS = (1, 2)
TSA_VERSIONS = (1,)


class Service(Record):
    url: str
    major_api_version: int
    operator: str


class ServicePlan(Record):
    """The logs and timestamp authorities one signing run uses."""

    logs: tuple[Service, ...]
    tsas: tuple[Service, ...]


def _invalid(detail: str) -> InputError:
    return InputError(Reason.SIGNING_CONFIG_INVALID, detail)


def load_signing_config(data: bytes, source: str) -> dict[str, Any]:
    """Parse a signing config; checks the media type and the shape this module reads."""
    if len(data) > DEFAULT_LIMITS.max_signing_config_bytes:
        raise _invalid(f"{source} is larger than {DEFAULT_LIMITS.max_signing_config_bytes} bytes")
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _invalid(f"{source} is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise _invalid(f"{source} is not a JSON object")
    if doc.get("mediaType") != MEDIA_TYPE:
        raise _invalid(f"{source} has media type {str(doc.get('mediaType'))[:80]!r}; airseal reads {MEDIA_TYPE}")
    for name in ("rekorTlogUrls", "tsaUrls"):
        value = doc.get(name, [])
        if not isinstance(value, list) or not all(isinstance(s, dict) for s in value):
            raise _invalid(f"{source}: {name} must be a list of service objects")
    return doc


def _services(doc: dict[str, Any], name: str, source: str) -> list[tuple[Service, datetime, datetime | None]]:
    out = []
    for index, raw in enumerate(doc.get(name, [])):
        where = f"{source}: {name}[{index}]"
        url, major, operator = raw.get("url"), raw.get("majorApiVersion"), raw.get("operator", "")
        if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
            raise _invalid(f"{where}.url must be an http(s) URL")
        if not isinstance(major, int) or isinstance(major, bool) or major < 1:
            raise _invalid(f"{where}.majorApiVersion must be a positive integer")
        valid = raw.get("validFor")
        if not isinstance(valid, dict) or not isinstance(valid.get("start"), str):
            raise _invalid(f"{where}.validFor.start is required")
        start = parse_rfc3339(valid["start"], f"{where}.validFor.start", Reason.SIGNING_CONFIG_INVALID)
        end = valid.get("end")
        end = None if end is None else parse_rfc3339(end, f"{where}.validFor.end", Reason.SIGNING_CONFIG_INVALID)
        out.append((Service(url.rstrip("/"), major, str(operator)), start, end))
    return out


def _select(
    doc: dict[str, Any], name: str, config_name: str, versions: tuple[int, ...], now: datetime, source: str
) -> tuple[Service, ...]:
    valid = [s for s, start, end in _services(doc, name, source) if start <= now and (end is None or now < end)]
    usable = [s for s in valid if s.major_api_version in versions]
    if not usable:
        return ()
    top = max(s.major_api_version for s in usable)
    usable = [s for s in usable if s.major_api_version == top]
    config = doc.get(config_name) or {}
    selector = config.get("selector", "ANY") if isinstance(config, dict) else "ANY"
    if selector == "ALL":
        return tuple(usable)
    if selector == "ANY":
        return (usable[0],)
    if selector == "EXACT":
        count = config.get("count")
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise _invalid(f"{source}: {config_name}.count must be a positive integer for EXACT")
        picked: list[Service] = []
        operators: set[str] = set()
        for service in usable:
            if service.operator not in operators:
                picked.append(service)
                operators.add(service.operator)
            if len(picked) == count:
                return tuple(picked)
        raise InputError(
            Reason.SIGNING_NO_SERVICE,
            f"{source}: {config_name} asks for {count} services of distinct operators; {len(picked)} are valid now",
        )
    raise _invalid(f"{source}: {config_name}.selector {str(selector)[:20]!r} is not ALL, ANY or EXACT")


def select_services(doc: dict[str, Any], source: str, now: datetime | None = None) -> ServicePlan:
    """The logs and TSAs a signing run uses, chosen as Sigstore clients choose them."""
    now = now or datetime.now(timezone.utc)
    return ServicePlan(
        logs=_select(doc, "rekorTlogUrls", "rekorTlogConfig", REKOR_VERSIONS, now, source),
        tsas=_select(doc, "tsaUrls", "tsaConfig", TSA_VERSIONS, now, source),
    )


__all__ = ["MEDIA_TYPE", "Service", "ServicePlan", "load_signing_config", "select_services"]
