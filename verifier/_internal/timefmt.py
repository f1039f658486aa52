"""RFC 3339 timestamps as tz-aware UTC datetimes. Leaf module."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from verifier.errors import InputError, Reason

_RFC3339 = re.compile(
    r"\A(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})\Z"
)


def parse_rfc3339(text: object, what: str, reason: Reason = Reason.TRUSTROOT_MALFORMED) -> datetime:
    if not isinstance(text, str):
        raise InputError(reason, f"{what} must be an RFC 3339 timestamp string")
    m = _RFC3339.match(text)
    if not m:
        raise InputError(reason, f"{what} is not an RFC 3339 timestamp: {text!r}")
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    frac = m.group(7)
    micro = int((frac[1:] + "000000")[:6]) if frac else 0
    zone = m.group(8)
    if zone in ("Z", "z"):
        tz = timezone.utc
    else:
        sign = 1 if zone[0] == "+" else -1
        tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    try:
        value = datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)
    except ValueError as exc:
        raise InputError(reason, f"{what} is not a valid date: {text!r}") from exc
    return value.astimezone(timezone.utc)


def from_unix(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
