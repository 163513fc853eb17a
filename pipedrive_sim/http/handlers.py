"""Handler kinds of the route table: each turns (route, request) into a JSON body.

Handlers never mutate records; they read the :class:`~pipedrive_sim.http.index.IndexStore` (cached
sorted rows and serialized bytes) or the small per-deal lists of the account, and assemble the
body from cached byte chunks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson

from . import flow_filter
from .errors import bad_request, not_found
from .filters import FilterContext, build_predicate, parse_int_param
from .index import IndexStore, Row, SortedView, id_key, normalize
from .pagination import (
    V1_DEFAULT_LIMIT,
    V1_MAX_LIMIT,
    V2_DEFAULT_LIMIT,
    decode_cursor,
    encode_cursor,
    parse_int,
    parse_limit,
    v1_pagination,
)

if TYPE_CHECKING:
    from .routes import Route

OMIT: Any = object()
PAGE_PARAMS = frozenset({"cursor", "limit", "sort_by", "sort_direction", "start", "custom_fields", "include_fields",
                         "include_option_labels", "include_labels"})
MAX_CUSTOM_FIELDS = 15


@dataclass
class Request:
    """One API request as handlers see it.

    Attributes:
        params: query parameters (repeated keys joined with commas).
        args: path template arguments (e.g. ``{"id": "12"}``).
        account: the simulated account.
        store: cached indexes of the account.
        now: the account's virtual time.
        recents_max_age: how far back ``/recents`` looks.
        null_item_chance: for the ``recents_null_items`` fault: draws whether an item loses its data.
    """

    params: dict[str, str]
    args: dict[str, str]
    account: Any
    store: IndexStore
    now: datetime
    recents_max_age: timedelta = timedelta(days=30)
    null_item_chance: Callable[[], bool] | None = None

    def filter_context(self) -> FilterContext:
        """Context for :func:`~pipedrive_sim.http.filters.build_predicate`."""
        return FilterContext(now=self.now, lookup=self.store.get)


Handler = Callable[["Route", Request], bytes]


# ---------------------------------------------------------------------------------- body helpers
def envelope(chunks: Iterable[bytes], additional: Any = OMIT, null_if_empty: bool = False) -> bytes:
    """``{"success":true,"data":[...chunks],"additional_data":...}`` from pre-serialized items.

    With ``null_if_empty`` an empty list is ``"data":null``: what v1 lists with the
    ``additional_data.pagination`` envelope answer when there is nothing (e.g. the participants
    of a deal without any; Pipedrive's "Responses" page shows that shape).
    """
    items = b",".join(chunks)
    body = b'{"success":true,"data":' + (b"null" if null_if_empty and not items else b"[" + items + b"]")
    if additional is not OMIT:
        body += b',"additional_data":' + orjson.dumps(additional)
    return body + b"}"


def single(data: Any) -> bytes:
    """``{"success":true,"data":<object>}``."""
    return orjson.dumps({"success": True, "data": data})


def parse_sort(params: Mapping[str, str], allowed: tuple[str, ...]) -> tuple[str, bool]:
    """v2 ``sort_by``/``sort_direction`` -> (field, descending), or the 400."""
    sort_by = params.get("sort_by") or "id"
    if sort_by not in allowed:
        raise bad_request(f'Parameter "sort_by" must be one of: {", ".join(allowed)}')
    direction = (params.get("sort_direction") or "asc").lower()
    if direction not in ("asc", "desc"):
        raise bad_request('Parameter "sort_direction" must be one of: asc, desc')
    return sort_by, direction == "desc"


def row_renderer(params: Mapping[str, str]) -> Callable[[Row], bytes] | None:
    """Row renderer for v2 ``include_fields`` / ``custom_fields`` (max 15 keys); None: cached bytes."""
    raw_custom = params.get("custom_fields")
    raw_include = params.get("include_fields")
    if not raw_custom and not raw_include:
        return None
    custom = [k.strip() for k in raw_custom.split(",") if k.strip()] if raw_custom else None
    if custom is not None and len(custom) > MAX_CUSTOM_FIELDS:
        raise bad_request(f'Parameter "custom_fields" must contain at most {MAX_CUSTOM_FIELDS} keys')
    included = {k.strip() for k in raw_include.split(",")} if raw_include else set()
    return lambda row: row.render(tuple(k for k in row.strip if k not in included), custom)


def keyset_page(route: Route, req: Request, view_of: Callable[[str], SortedView], predicate: Any) -> bytes:
    """One v2 page over sorted rows with a keyset cursor."""
    sort_by, descending = parse_sort(req.params, route.sorts)
    limit = parse_limit(req.params, V2_DEFAULT_LIMIT, route.max_limit)
    direction = "desc" if descending else "asc"
    after = None
    if req.params.get("cursor"):
        cursor = decode_cursor(req.params["cursor"])
        if cursor.get("field") != sort_by or cursor.get("sortDirection") != direction or "id" not in cursor:
            raise bad_request('Parameter "cursor" does not match "sort_by"/"sort_direction"')
        after = (normalize(sort_by, cursor.get("fieldValue")), id_key(cursor["id"]))
    page: list[Row] = []
    for row in view_of(sort_by).iterate(after, descending):
        if predicate is None or predicate(row):
            page.append(row)
            if len(page) > limit:
                break
    next_cursor = None
    if len(page) > limit:
        page.pop()
        last = page[-1]
        next_cursor = encode_cursor(
            {"field": sort_by, "fieldValue": last.rec.get(sort_by), "sortDirection": direction, "id": last.id}
        )
    render = row_renderer(req.params)
    chunks = (r.raw for r in page) if render is None else (render(r) for r in page)
    return envelope(chunks, {"next_cursor": next_cursor})


def positional_page(items: list[bytes], req: Request, max_limit: int | None) -> bytes:
    """One v2-style cursor page over a small list without a sort key (cursor = position)."""
    limit = parse_limit(req.params, V2_DEFAULT_LIMIT, max_limit)
    start = 0
    if req.params.get("cursor"):
        start = decode_cursor(req.params["cursor"]).get("offset", -1)
        if not isinstance(start, int) or start < 0:
            raise bad_request("Invalid cursor")
    end = start + limit
    next_cursor = encode_cursor({"offset": end}) if end < len(items) else None
    return envelope(items[start:end], {"next_cursor": next_cursor})


def offset_window(rows: Iterable[Any], req: Request, route: Route) -> tuple[list[Any], int, int, bool]:
    """Apply v1 ``start``/``limit`` to an iterable -> (page, start, limit, more)."""
    start = parse_int(req.params, "start", 0, minimum=0) or 0
    maximum = route.max_limit or V1_MAX_LIMIT
    limit = parse_limit(req.params, min(V1_DEFAULT_LIMIT, maximum), maximum, clamp=route.max_limit is None)
    page: list[Any] = []
    skipped = 0
    for item in rows:
        if skipped < start:
            skipped += 1
            continue
        page.append(item)
        if len(page) > limit:
            break
    more = len(page) > limit
    return page[:limit], start, limit, more


def offset_additional(route: Route, start: int, limit: int, more: bool) -> dict[str, Any]:
    """v1 ``additional_data``: wrapped in ``pagination`` or flat, as the spec of the endpoint says."""
    pagination = v1_pagination(start, limit, more)
    if route.paging == "offset_flat":
        return {k: v for k, v in pagination.items() if k != "next_start"}
    return {"pagination": pagination}


def offset_body(route: Route, chunks: Iterable[bytes], start: int, limit: int, more: bool) -> bytes:
    """One v1 offset page; empty, it is ``data: null`` on ``pagination``-envelope lists (the
    flat-paged ``/leads`` answers ``[]``)."""
    additional = offset_additional(route, start, limit, more)
    return envelope(chunks, additional, null_if_empty=route.paging == "offset")


#: What a 404 for a missing record of an entity says.
NOT_FOUND = {"deals": "Deal not found", "persons": "Person not found", "organizations": "Organization not found"}


def record_row(req: Request, entity: str) -> Row:
    """The listed record whose id is in the path (``/deals/{id}/...``), or the 404."""
    rec_id = parse_int_param("id", req.args["id"])
    row = req.store.get(entity).by_id.get(rec_id)
    if row is None:
        raise not_found(NOT_FOUND[entity])
    return row


def deal_row(req: Request) -> Row:
    """The deal of a ``/deals/{id}/...`` path, or the 404."""
    return record_row(req, "deals")


def dumps_all(items: Iterable[Any]) -> list[bytes]:
    """Serialize each item."""
    return [orjson.dumps(i) for i in items]


# ---------------------------------------------------------------------------------- v2 handlers
def list_v2(route: Route, req: Request) -> bytes:
    """A v2 entity list: filters, ``sort_by``/``sort_direction``, keyset cursor."""
    assert route.entity
    index = req.store.get(route.entity)
    predicate = build_predicate(route.filters, req.params, req.filter_context())
    if predicate is None:
        return keyset_page(route, req, index.view, None)
    filter_params = tuple(sorted((k, v) for k, v in req.params.items() if k not in PAGE_PARAMS))
    base_key = (route.path, route.entity, index.version, req.now, filter_params)

    def view_of(field_name: str) -> SortedView:
        return req.store.memo((*base_key, field_name), lambda: index.view(field_name).filtered(predicate))

    return keyset_page(route, req, view_of, None)


def fields_v2(route: Route, req: Request) -> bytes:
    """v2 ``*Fields``: cursor paging over the field definitions."""
    with req.store.lock:
        fields = req.account.fields(route.field_set, "v2")
        items = dumps_all(fields)
    return positional_page(items, req, route.max_limit)


def deal_products(route: Route, req: Request) -> bytes:
    """``/deals/{id}/products`` and ``/deals/products?deal_ids=``: keyset over the deals' rows."""
    if "id" in route.path:
        deal_ids = [deal_row(req).id]
    else:
        raw = req.params.get("deal_ids")
        if not raw:
            raise bad_request('Parameter "deal_ids" is required')
        parts = [p.strip() for p in raw.strip("[]").split(",") if p.strip()]
        if len(parts) > 100:
            raise bad_request('Parameter "deal_ids" must contain at most 100 ids')
        deal_ids = [parse_int_param("deal_ids", p) for p in parts]
    groups = req.store.get("deal_products").group_by("deal_id")
    rows = [row for deal_id in dict.fromkeys(deal_ids) for row in groups.get(deal_id, ())]
    views: dict[str, SortedView] = {}

    def view_of(field_name: str) -> SortedView:
        if field_name not in views:
            views[field_name] = SortedView(field_name, rows)
        return views[field_name]

    return keyset_page(route, req, view_of, None)


def deal_followers(route: Route, req: Request) -> bytes:
    """``/api/v2/deals/{id}/followers``: cursor paging over the follower rows."""
    deal = deal_row(req)
    with req.store.lock:
        items = dumps_all(req.account.deal_followers(deal.id))
    return positional_page(items, req, route.max_limit)


# ---------------------------------------------------------------------------------- v1 handlers
def parse_v1_sort(route: Route, params: Mapping[str, str]) -> tuple[str, bool]:
    """v1 ``sort`` (``"update_time DESC, id ASC"``; the first key decides) -> (field, descending)."""
    raw = params.get("sort")
    if not raw:
        return "id", False
    first = raw.split(",")[0].strip().split()
    field_name = first[0]
    direction = first[1].upper() if len(first) > 1 else "ASC"
    if (route.sorts and field_name not in route.sorts) or direction not in ("ASC", "DESC") or len(first) > 2:
        allowed = ", ".join(route.sorts) if route.sorts else "first-level field keys"
        raise bad_request(f'Parameter "sort" must be "<field> ASC|DESC" with field one of: {allowed}')
    return field_name, direction == "DESC"


def list_v1(route: Route, req: Request) -> bytes:
    """A v1 entity list with ``start``/``limit`` (or everything when the endpoint has no paging)."""
    assert route.entity
    index = req.store.get(route.entity)
    predicate = build_predicate(route.filters, req.params, req.filter_context())
    sort_by, descending = parse_v1_sort(route, req.params)
    rows: Iterable[Row] = index.view(sort_by).iterate(None, descending)
    if predicate is not None:
        rows = filter(predicate, rows)
    if route.paging == "none":
        return envelope((r.raw for r in rows))
    page, start, limit, more = offset_window(rows, req, route)
    return offset_body(route, (r.raw for r in page), start, limit, more)


def fields_v1(route: Route, req: Request) -> bytes:
    """v1 ``*Fields`` (offset paging, or everything for activityFields/noteFields)."""
    with req.store.lock:
        items = dumps_all(req.account.fields(route.field_set, "v1"))
    if route.paging == "none":
        return envelope(items, {"pagination": v1_pagination(0, len(items), False)})
    page, start, limit, more = offset_window(items, req, route)
    return offset_body(route, page, start, limit, more)


def deal_flow(route: Route, req: Request) -> bytes:
    """``/deals/{id}/flow``: newest first; ``items`` filter; custom-field changes only with ``all_changes=1``."""
    deal = deal_row(req)
    kinds = flow_filter.wanted_kinds(req.params.get("items", ""))
    all_changes = req.params.get("all_changes") == "1"
    with req.store.lock:
        flow = req.account.deal_flow(deal.id)
    kept = (i for i in flow if flow_filter.matches(i, kinds, all_changes))
    page, start, limit, more = offset_window(kept, req, route)
    return offset_body(route, dumps_all(page), start, limit, more)


def changelog(route: Route, req: Request) -> bytes:
    """``/{deals|persons|organizations}/{id}/changelog``: newest first, cursor paging."""
    assert route.entity
    row = record_row(req, route.entity)
    with req.store.lock:
        items = dumps_all(req.account.changelog(route.entity, row.id))
    return positional_page(items, req, route.max_limit)


def deal_participants(route: Route, req: Request) -> bytes:
    """``/deals/{id}/participants``: offset paging."""
    deal = deal_row(req)
    with req.store.lock:
        items = dumps_all(req.account.deal_participants(deal.id))
    page, start, limit, more = offset_window(items, req, route)
    return offset_body(route, page, start, limit, more)


def users_me(route: Route, req: Request) -> bytes:
    """``/users/me``."""
    with req.store.lock:
        return single(req.account.current_user())


def goals_find(route: Route, req: Request) -> bytes:
    """``/goals/find``: ``{"data": {"goals": [...]}}``, active goals unless ``is_active=false``."""
    predicate = build_predicate(route.filters, req.params, req.filter_context())
    rows = req.store.get("goals").select(predicate)
    return b'{"success":true,"data":{"goals":[' + b",".join(r.raw for r in rows) + b"]}}"
