"""``/v1/recents``: every change since a timestamp, across item kinds, in the v1 shape.

Entries of all requested kinds are merged and sorted by update time once per combination of
entity versions; a page is a bisect to ``since_timestamp`` plus an offset window. v2 records are
converted with ``account.to_v1`` on first use and cached on their row.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from datetime import datetime, timezone
from itertools import islice
from typing import TYPE_CHECKING, Any

import orjson

from ..data import V2_ENTITIES
from .errors import bad_request
from .handlers import Request, envelope, offset_window
from .index import Row, SortKey, id_key, parse_timestamp
from .pagination import v1_pagination

if TYPE_CHECKING:
    from .routes import Route

RECENT_ITEMS: Mapping[str, str] = {
    "activity": "activities",
    "activityType": "activity_types",
    "deal": "deals",
    "file": "files",
    "filter": "filters",
    "note": "notes",
    "person": "persons",
    "organization": "organizations",
    "pipeline": "pipelines",
    "product": "products",
    "stage": "stages",
    "user": "users",
}
V1_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def format_v1_time(epoch: float) -> str:
    """Epoch seconds -> ``YYYY-MM-DD HH:MM:SS`` (UTC)."""
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime(V1_TIME_FORMAT)


def recents(route: Route, req: Request) -> bytes:
    """``/recents``: v1-shaped changes since ``since_timestamp`` (clamped to the look-back window)."""
    raw_since = req.params.get("since_timestamp")
    if not raw_since:
        raise bad_request('Parameter "since_timestamp" is required')
    try:
        datetime.strptime(raw_since, V1_TIME_FORMAT)
    except ValueError:
        raise bad_request('Parameter "since_timestamp" must be in the format YYYY-MM-DD HH:MM:SS') from None
    since = parse_timestamp(raw_since)
    oldest = (req.now - req.recents_max_age).timestamp()
    since = max(since, oldest)
    kinds = [k.strip() for k in req.params.get("items", "").split(",") if k.strip()]
    unknown = [k for k in kinds if k not in RECENT_ITEMS]
    if unknown:
        raise bad_request(f'Parameter "items" must be a comma separated list of: {", ".join(RECENT_ITEMS)}')
    entries = recent_entries(req, tuple(kinds or RECENT_ITEMS))
    first = bisect_left(entries, (since,))
    page, start, limit, more = offset_window(islice(entries, first, None), req, route)
    chunks = []
    for ts, item, _, rec_id, row in page:
        data = b"null" if req.null_item_chance is not None and req.null_item_chance() else recent_bytes(req, item, row)
        chunks.append(b'{"item":"' + item.encode() + b'","id":' + orjson.dumps(rec_id) + b',"data":' + data + b"}")
    additional = {
        "since_timestamp": format_v1_time(since),
        "last_timestamp_on_page": format_v1_time(page[-1][0] if page else since),
        "pagination": v1_pagination(start, limit, more),
    }
    return envelope(chunks, additional, null_if_empty=True)


def recent_entries(req: Request, kinds: tuple[str, ...]) -> list[tuple[float, str, SortKey, Any, Row]]:
    """All recents entries ``(update_ts, item, id_key, id, row)`` of the item kinds, sorted (cached per versions)."""
    entities = tuple(RECENT_ITEMS[k] for k in kinds)
    key = ("recents", kinds, req.store.versions(entities))

    def build() -> list[tuple[float, str, SortKey, Any, Row]]:
        entries = [
            (row.update_ts, kind, id_key(row.id), row.id, row)
            for kind, entity in zip(kinds, entities)
            for row in req.store.get(entity).rows
            if row.update_ts is not None
        ]
        entries.sort(key=lambda e: (e[0], e[1], e[2]))
        return entries

    return req.store.memo(key, build)


def recent_bytes(req: Request, item: str, row: Row) -> bytes:
    """The v1 JSON of a recents item (v2 entities converted with ``account.to_v1``, cached per row)."""
    entity = RECENT_ITEMS[item]
    if entity not in V2_ENTITIES:
        return row.raw
    if row.v1_raw is None:
        with req.store.lock:
            row.v1_raw = orjson.dumps(req.account.to_v1(entity, row.rec))
    return row.v1_raw
