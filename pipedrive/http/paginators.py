"""dlt paginators for the two Pipedrive paging styles."""

from typing import Any, Callable, List, Mapping, Optional

from dlt.common.jsonpath import compile_path
from dlt.sources.helpers.requests import Request, Response
from dlt.sources.helpers.rest_client.paginators import (
    BasePaginator,
    JSONResponseCursorPaginator,
    SinglePagePaginator,
)

from ..entities import Entity, Paging, to_updated_since

NEXT_CURSOR_PATH = compile_path("additional_data.next_cursor")
"""Compiled once: dlt parses a path given as text for every paginator, and a run builds one per
request of every per-deal endpoint (7% of a run's interpreter time at Ultimate's 240 requests/s)."""


class V2CursorPaginator(JSONResponseCursorPaginator):
    """v2 (and v1 `/projects`, `/tasks`) cursor paging: `cursor` + `limit`.

    The next cursor is `additional_data.next_cursor`; it is null on the last page.

    Args:
        limit: Page size sent as `limit`.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(cursor_path=NEXT_CURSOR_PATH, cursor_param="cursor")
        self.limit = limit

    def init_request(self, request: Request) -> None:
        request.params = {**(request.params or {}), "limit": self.limit}
        super().init_request(request)


def _v1_pagination(body: Any) -> Mapping[str, Any]:
    """Returns the v1 pagination block in either documented shape.

    Most endpoints use `additional_data.pagination`; some (`/leads`, `/deals/{id}/flow`,
    `/dealFields` in parts of the spec) put the same keys directly under `additional_data`.
    """
    if not isinstance(body, dict):
        return {}
    additional = body.get("additional_data")
    if not isinstance(additional, dict):
        return {}
    nested = additional.get("pagination")
    if isinstance(nested, dict):
        return nested
    return additional


class V1OffsetPaginator(BasePaginator):
    """v1 offset paging: `start` + `limit`, following `next_start`.

    Continues while `more_items_in_collection` is true. Uses `next_start` when given, otherwise
    `start + number of rows received` (never skips rows if the server caps `limit`).

    Args:
        limit: Page size sent as `limit`.
    """

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.start = 0

    def init_request(self, request: Request) -> None:
        self.start = 0
        request.params = {**(request.params or {}), "start": 0, "limit": self.limit}

    def update_state(self, response: Response, data: Optional[List[Any]] = None) -> None:
        pagination = _v1_pagination(response.json())
        more = bool(pagination.get("more_items_in_collection"))
        next_start = pagination.get("next_start")
        received = len(data or [])
        if more and not isinstance(next_start, int):
            next_start = self.start + received
        if not more or received == 0 or next_start <= self.start:
            self._has_next_page = False
            return
        self.start = next_start
        self._has_next_page = True

    def update_request(self, request: Request) -> None:
        request.params = {**(request.params or {}), "start": self.start}

    def __str__(self) -> str:
        return f"V1OffsetPaginator(start={self.start}, limit={self.limit})"


class V1KeysetPaginator(BasePaginator):
    """Pages a v1 listing sorted by `update_time` ascending by moving `updated_since`, not `start`.

    Offset paging over an ascending `update_time` listing skips rows when a row already read is
    updated during the run: it moves to the end and every later row shifts one position left,
    so the row at the next offset is never returned, and its `update_time` is older than the
    final cursor, so no later run returns it either. Here each next page asks for
    `updated_since = <update_time of the last row>` from `start=0` instead: rows updated
    meanwhile only move further right, nothing shifts below the filter. Rows of the last row's
    second are read again (merged on the primary key). A page that lies entirely within one
    second (or has no timestamps) advances `start` within that second.

    Args:
        limit: Page size sent as `limit`.
        cursor_field: Timestamp field the listing is sorted by (`update_time`).
        since_param: The server-side filter parameter (`updated_since`).
        to_since: Formats a cursor value for `since_param` (RFC 3339, whole seconds).
    """

    def __init__(
        self,
        limit: int,
        cursor_field: str,
        since_param: str,
        to_since: Callable[[Any], Optional[str]] = to_updated_since,
    ) -> None:
        super().__init__()
        self.limit = limit
        self.cursor_field = cursor_field
        self.since_param = since_param
        self.to_since = to_since
        self.since: Optional[str] = None
        self.start = 0

    def init_request(self, request: Request) -> None:
        self.start = 0
        self.since = (request.params or {}).get(self.since_param)
        request.params = {**(request.params or {}), "start": 0, "limit": self.limit}

    def update_state(self, response: Response, data: Optional[List[Any]] = None) -> None:
        rows = data or []
        more = bool(_v1_pagination(response.json()).get("more_items_in_collection"))
        if not more or not rows:
            self._has_next_page = False
            return
        last = rows[-1].get(self.cursor_field) if isinstance(rows[-1], dict) else None
        last_since = self.to_since(last) if last else None
        if last_since is None or last_since == self.since:
            self.start += len(rows)
        else:
            self.since, self.start = last_since, 0
        self._has_next_page = True

    def update_request(self, request: Request) -> None:
        params = {**(request.params or {}), "start": self.start}
        if self.since is not None:
            params[self.since_param] = self.since
        request.params = params

    def __str__(self) -> str:
        return f"V1KeysetPaginator({self.since_param}={self.since}, start={self.start})"


def paginator_for(entity: Entity) -> BasePaginator:
    """The paginator of an entity's listing: keyset paging where `Entity.pages_by_keyset`, else
    the endpoint's own style."""
    if entity.pages_by_keyset and entity.cursor is not None and entity.cursor.since_param:
        return V1KeysetPaginator(entity.page_size, entity.cursor.field, entity.cursor.since_param)
    return make_paginator(entity.paging, entity.page_size)


def make_paginator(paging: Paging, page_size: int) -> BasePaginator:
    """Builds a fresh paginator for one listing.

    Args:
        paging: Paging style of the endpoint.
        page_size: `limit` to request.

    Returns:
        A new paginator instance (paginators are stateful, never share them).
    """
    if paging is Paging.CURSOR:
        return V2CursorPaginator(page_size)
    if paging is Paging.OFFSET:
        return V1OffsetPaginator(page_size)
    return SinglePagePaginator()

