"""Signing-config selection (pure), Rekor v1 entry conversion, and the pipeline's ordering and
fail-fast behaviour, without services."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest

from verifier._internal.signing.pipeline import Pipeline
from verifier._internal.signing.rekor_client import v1_entry_to_bundle
from verifier._internal.signing.signing_config import MEDIA_TYPE, load_signing_config, select_services
from verifier.errors import InputError, Reason, ServiceError

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)


def _svc(url: str, major: int, start: str = "2026-01-01T00:00:00Z", end: str | None = None, operator: str = "op") -> dict:
    valid = {"start": start} | ({"end": end} if end else {})
    return {"url": url, "majorApiVersion": major, "validFor": valid, "operator": operator}


def _config(logs: list[dict], tsas: list[dict] = (), log_selector: dict | None = None) -> dict:
    doc = {"mediaType": MEDIA_TYPE, "caUrls": [], "oidcUrls": [], "rekorTlogUrls": list(logs), "tsaUrls": list(tsas)}
    if log_selector:
        doc["rekorTlogConfig"] = log_selector
    return doc


def test_highest_api_version_valid_now_wins() -> None:
    doc = _config([_svc("https://v1", 1), _svc("https://v2-old", 2, end="2026-02-01T00:00:00Z"), _svc("https://v2", 2),
                   _svc("https://v3", 3)], [_svc("https://tsa/api/v1/timestamp", 1)])
    plan = select_services(doc, "sc.json", NOW)
    assert [(s.url, s.major_api_version) for s in plan.logs] == [("https://v2", 2)]
    assert [s.url for s in plan.tsas] == ["https://tsa/api/v1/timestamp"]


def test_not_yet_valid_is_skipped_and_all_selects_every_one() -> None:
    doc = _config([_svc("https://a", 1), _svc("https://b", 1), _svc("https://later", 1, start="2027-01-01T00:00:00Z")],
                  log_selector={"selector": "ALL"})
    assert [s.url for s in select_services(doc, "sc", NOW).logs] == ["https://a", "https://b"]


def test_exact_needs_distinct_operators() -> None:
    doc = _config([_svc("https://a", 1, operator="x"), _svc("https://b", 1, operator="x"), _svc("https://c", 1, operator="y")],
                  log_selector={"selector": "EXACT", "count": 2})
    assert [s.url for s in select_services(doc, "sc", NOW).logs] == ["https://a", "https://c"]
    doc["rekorTlogConfig"]["count"] = 3
    with pytest.raises(InputError) as info:
        select_services(doc, "sc", NOW)
    assert info.value.reason is Reason.SIGNING_NO_SERVICE


@pytest.mark.parametrize("data", [b"[]", b"{", json.dumps({"mediaType": "application/json"}).encode(),
                                  json.dumps({"mediaType": MEDIA_TYPE, "rekorTlogUrls": {}}).encode()])
def test_malformed_configs_are_refused(data: bytes) -> None:
    with pytest.raises(InputError) as info:
        load_signing_config(data, "sc.json")
    assert info.value.reason is Reason.SIGNING_CONFIG_INVALID


def test_a_service_url_must_be_http() -> None:
    with pytest.raises(InputError):
        select_services(_config([_svc("file:///etc/passwd", 1)]), "sc", NOW)


def test_rekor_v1_entry_becomes_a_bundle_entry() -> None:
    from tests.support.services import HERE

    response = json.loads((HERE / "services" / "examples" / "rekor_v1_hashedrekord_v001.response.json").read_text())
    ((_, entry),) = response.items()
    converted = v1_entry_to_bundle(entry, "http://log")
    assert converted["kindVersion"] == {"kind": "hashedrekord", "version": "0.0.1"}
    assert converted["logIndex"] == "0" and converted["inclusionProof"]["treeSize"] == "1"
    assert converted["canonicalizedBody"] == entry["body"]
    with pytest.raises(ServiceError) as info:
        v1_entry_to_bundle({"body": "not base64"}, "http://log")
    assert info.value.reason is Reason.TLOG_BAD_RESPONSE


def test_pipeline_keeps_order_and_fails_fast() -> None:
    def slow_identity(i: int) -> int:
        time.sleep(0.01 * (5 - i % 5))
        return i

    with Pipeline[int](workers=4) as pipeline:
        for i in range(20):
            pipeline.submit(slow_identity, i)
        assert list(pipeline.results()) == list(range(20))

    def boom(i: int) -> int:
        if i == 3:
            raise ServiceError(Reason.TLOG_UPLOAD_FAILED, "down")
        time.sleep(0.01)
        return i

    submitted = 0
    with pytest.raises(ServiceError), Pipeline[int](workers=2) as pipeline:
        for i in range(1000):
            pipeline.submit(boom, i)
            submitted += 1
        list(pipeline.results())
    assert submitted < 1000  # stopped submitting once the failure was seen


def test_no_signing_config_option_is_a_timedelta_safe_default() -> None:
    assert select_services(_config([]), "sc", NOW + timedelta(days=1)).logs == ()
