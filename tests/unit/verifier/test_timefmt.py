"""The one RFC 3339 formatter and parser."""

from __future__ import annotations

import datetime as dt

import pytest

from verifier import InputError
from verifier._internal.timefmt import from_unix, iso, parse_rfc3339


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01T11:22:33Z", dt.datetime(2026, 12, 1, 11, 22, 33, tzinfo=dt.timezone.utc)),
        ("2026-12-01T11:22:33.123456789Z", dt.datetime(2026, 12, 1, 11, 22, 33, 123456, tzinfo=dt.timezone.utc)),
        ("2026-12-01T13:22:33+02:00", dt.datetime(2026, 12, 1, 11, 22, 33, tzinfo=dt.timezone.utc)),
    ],
)
def test_parse(text: str, expected: dt.datetime) -> None:
    assert parse_rfc3339(text, "t") == expected


@pytest.mark.parametrize("text", ["2026-12-01", "2026-13-01T00:00:00Z", "2026-12-01T00:00:00", 5, None])
def test_refused(text: object) -> None:
    with pytest.raises(InputError):
        parse_rfc3339(text, "t")


def test_iso_is_utc_with_z_and_round_trips() -> None:
    when = from_unix(1_700_000_000)
    assert iso(when) == "2023-11-14T22:13:20Z"
    assert parse_rfc3339(iso(when), "t") == when
