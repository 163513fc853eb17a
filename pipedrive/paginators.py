"""dlt paginators for the two Pipedrive paging styles."""

from typing import Any, List, Mapping, Optional

from dlt.sources.helpers.requests import Request, Response
from dlt.sources.helpers.rest_client.paginators import (
    BasePaginator,
    JSONResponseCursorPaginator,
    SinglePagePaginator,
)

from .entities import Paging


class V2CursorPaginator(JSONResponseCursorPaginator):
    """v2 (and v1 `/projects`, `/tasks`) cursor paging: `cursor` + `limit`.

    The next cursor is `additional_data.next_cursor`; it is null on the last page.

    Args:
        limit: Page size sent as `limit`.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(cursor_path="additional_data.next_cursor", cursor_param="cursor")
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

