"""Timestamp formats of the Pipedrive API versions.

The data layer keeps time as integer epoch seconds (UTC) and renders it per API version:
v2 uses RFC 3339 (`2024-01-01T10:20:00Z`), v1 uses `2024-01-01 10:20:00` (UTC, no offset),
except the few v1 fields the v1 spec declares as `format: date-time`, which are RFC 3339 too.
"""

from __future__ import annotations

import calendar
import time
from datetime import datetime
from zoneinfo import ZoneInfo

DAY = 86400
#: The company's time zone (its users' `timezone_name`): `local_*_date` values are dates there.
COMPANY_TIMEZONE = "Europe/Tallinn"
_COMPANY_ZONE = ZoneInfo(COMPANY_TIMEZONE)


def v2_ts(ts: int | None) -> str | None:
    """Format epoch seconds as an RFC 3339 UTC timestamp (`None` stays `None`)."""
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def v1_ts(ts: int | None) -> str | None:
    """Format epoch seconds as a v1 `YYYY-MM-DD HH:MM:SS` UTC timestamp."""
    if ts is None:
        return None
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))


def date_str(ts: int | None) -> str | None:
    """Format epoch seconds as a `YYYY-MM-DD` date."""
    if ts is None:
        return None
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


def local_date(ts: int | None) -> str | None:
    """Format epoch seconds as the `YYYY-MM-DD` date in the company's time zone.

    A deal won at 23:30 UTC in winter is won the next day in Tallinn: Pipedrive's
    `local_won_date` and friends are the dates the users saw, not UTC dates.
    """
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, _COMPANY_ZONE).strftime("%Y-%m-%d")


def parse_ts(value: str | None) -> int | None:
    """Parse a v1 or v2 timestamp (or a bare date) back to epoch seconds."""
    if value is None:
        return None
    text = value.replace("T", " ").rstrip("Z")
    if "." in text:
        text = text.split(".", 1)[0]
    fmt = "%Y-%m-%d %H:%M:%S" if " " in text else "%Y-%m-%d"
    return calendar.timegm(time.strptime(text, fmt))


def v2_to_v1(value: str | None) -> str | None:
    """Convert an RFC 3339 timestamp string to the v1 format (dates pass unchanged)."""
    if value is None or "T" not in value:
        return value
    return value[:10] + " " + value[11:19]
