"""Conversions between Pipedrive's timestamp formats.

v1 returns `2024-01-31 10:20:30` (UTC, no zone), v2 and v1 leads return RFC 3339
(`2024-01-31T10:20:30Z`, leads with milliseconds). `updated_since` takes RFC 3339 on every
endpoint. Cursor values stay in the entity's own format (strings compare correctly only within
one format); they are converted only when sent to the API.
"""

from datetime import date, datetime, timezone
from typing import Any, Optional

from dlt.common.time import ensure_pendulum_datetime

from .entities import TimestampFormat

_FORMATS = {
    TimestampFormat.V1: "%Y-%m-%d %H:%M:%S",
    TimestampFormat.RFC3339: "%Y-%m-%dT%H:%M:%SZ",
    TimestampFormat.RFC3339_MS: "%Y-%m-%dT%H:%M:%S.000Z",
}


def parse_timestamp(value: Any) -> datetime:
    """Parses any Pipedrive timestamp, date or datetime into an aware UTC datetime.

    Naive values (v1) are UTC.
    """
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    return ensure_pendulum_datetime(value).in_timezone("UTC")


def format_timestamp(value: Any, fmt: TimestampFormat) -> str:
    """Formats a timestamp the way an entity's cursor column stores it.

    Args:
        value: datetime, date or timestamp string.
        fmt: Target format.
    """
    return parse_timestamp(value).strftime(_FORMATS[TimestampFormat(fmt)])


def to_updated_since(value: Optional[Any]) -> Optional[str]:
    """RFC 3339 value for `updated_since`, truncated to whole seconds (the filter is inclusive,
    so truncating can only re-read rows of the same second, never skip one)."""
    if value is None or value == "":
        return None
    return format_timestamp(value, TimestampFormat.RFC3339)
