"""Pagination parameters and cursors: v1 ``start``/``limit`` offsets and v2 opaque cursors.

v2 cursors are keyset cursors: they encode the sort field, the last row's sort value and id, and
the direction (``{"field": "id", "fieldValue": 7, "sortDirection": "asc", "id": 7}``, base64url
without padding, like the real API's examples). The next page starts strictly after that key, so
pages stay consistent while records are created, updated or deleted between requests. Lists
without ids (fields, followers, changelog) use a positional cursor ``{"offset": N}``.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from .errors import bad_request

V2_DEFAULT_LIMIT = 100
V2_MAX_LIMIT = 500
V1_DEFAULT_LIMIT = 100
V1_MAX_LIMIT = 500


def encode_cursor(payload: dict[str, Any]) -> str:
    """Encode a cursor payload as an opaque base64url string (no padding)."""
    return base64.urlsafe_b64encode(orjson.dumps(payload)).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> dict[str, Any]:
    """Decode a cursor made by :func:`encode_cursor`.

    Raises:
        ApiError: 400 when the cursor is not one of ours.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = orjson.loads(raw)
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise bad_request("Invalid cursor") from None
    if not isinstance(payload, dict):
        raise bad_request("Invalid cursor")
    return payload


def parse_int(params: dict[str, str], name: str, default: int | None = None, minimum: int | None = None) -> int | None:
    """Read an integer query parameter.

    Args:
        params: query parameters (last value wins).
        name: parameter name.
        default: value when absent or empty.
        minimum: smallest allowed value.

    Raises:
        ApiError: 400 naming the parameter when it is not an integer or is below ``minimum``.
    """
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f'Parameter "{name}" must be an integer, got "{raw}"') from None
    if minimum is not None and value < minimum:
        raise bad_request(f'Parameter "{name}" must be greater than or equal to {minimum}')
    return value


def parse_limit(params: dict[str, str], default: int, maximum: int | None, clamp: bool = False) -> int:
    """Read ``limit``: 400 when above ``maximum`` (or silently clamp when ``clamp``).

    Args:
        params: query parameters.
        default: value when absent.
        maximum: documented maximum, None for none.
        clamp: clamp instead of rejecting values above ``maximum``.
    """
    limit = parse_int(params, "limit", default, minimum=1)
    assert limit is not None
    if maximum is not None and limit > maximum:
        if clamp:
            return maximum
        raise bad_request(f'Parameter "limit" must be less than or equal to {maximum}')
    return limit


def v1_pagination(start: int, limit: int, more: bool) -> dict[str, Any]:
    """Build the v1 ``pagination`` object (``next_start`` only when there are more items)."""
    page: dict[str, Any] = {"start": start, "limit": limit, "more_items_in_collection": more}
    if more:
        page["next_start"] = start + limit
    return page
