"""Listings: every `Entity` row of the table becomes one dlt resource.

A listing pages through its endpoint with the run's client (sending the incremental cursor as
`updated_since` where the API filters), shapes each page into rows (`fields.RowBuilder`) and
yields it. What differs between listings follows from their row (`Entity` properties): keyset
paging, reading ahead in a thread, stopping at the cursor, dropping deleted rows.

Chunks: dlt saves no state for a failed extract, so a run that dies after reading 200 pages keeps
nothing. A chunkable listing (`Entity.is_chunkable`) therefore reads at most `max_pages` pages
per `pipeline.run()` and records in its resource state whether the listing has more
(`MORE_PAGES_KEY`); its cursor moves to the last row read, the chunk is loaded and checkpointed,
and the run protocol (`pipedrive.run`) runs the pipeline again for the listings with more pages.
A chunk ends only once its last row is newer than where it started, so rows sharing one
`update_time` beyond a chunk's size cannot make the loop spin in place.
"""

from typing import Any, Dict, Iterator, List, MutableMapping, Optional

import dlt
from dlt.common import logger
from dlt.extract.resource import DltResource

from .entities import Entity, format_timestamp, to_updated_since
from .fields import FieldSetCache, RowBuilder
from .fields.column_hints import builtin_column_hints, custom_field_hints, deletion_hints
from .http import PipedriveClient, TDataPage
from .http.errors import UnsupportedMediaTypeError
from .http.read_ahead import read_ahead

MORE_PAGES_KEY = "more_pages"
"""Resource state: True when the last run stopped before the end of the listing."""
HAD_MORE_PAGES_KEY = "had_more_pages"
"""Resource state: `more_pages` as the previous run left it (stable during a run)."""
_OLD_MORE_PAGES_KEY = "chunk_pending"
"""The name of `more_pages` before 2026-12 (read once, so a chunked backfill continues)."""


def limit_pages(
    pages: Iterator[TDataPage],
    *,
    max_pages: Optional[int],
    cursor_field: str,
    start_value: Optional[Any],
    page_size: Optional[int] = None,
) -> Iterator[TDataPage]:
    """Passes on at most `max_pages` pages of an ascending listing, then stops at a page end.

    Must run inside a dlt resource: it records in the resource state whether the listing has
    more pages (`MORE_PAGES_KEY`), after copying the previous run's answer to
    `HAD_MORE_PAGES_KEY` (`history_floor` reads it).

    Args:
        pages: Pages of raw records sorted by ascending `cursor_field`.
        max_pages: Pages per chunk (None: read to the end).
        cursor_field: The incremental cursor column.
        start_value: The cursor value this run started from (None on a first full run).
        page_size: The `limit` requested; a shorter page is the last one.
    """
    state = dlt.current.resource_state()
    had_more = state.pop(_OLD_MORE_PAGES_KEY, None) or state.get(MORE_PAGES_KEY)
    state[HAD_MORE_PAGES_KEY] = bool(had_more)
    count = 0
    last: Optional[Any] = None
    for page in pages:
        yield page
        count += 1
        if page:
            last = page[-1].get(cursor_field, last)
        if max_pages is None or (page_size is not None and len(page) < page_size):
            continue  # no chunks, or a short page: the listing ends here
        moved = last is not None and (start_value is None or str(last) > str(start_value))
        if count >= max_pages and moved:
            state[MORE_PAGES_KEY] = True
            close = getattr(pages, "close", None)
            if close is not None:
                close()
            return
    state[MORE_PAGES_KEY] = False


FLOOR_KEY = "history_floor"
"""Deal-child state: newest parent cursor below which every change is already loaded."""


def history_floor(
    child_state: MutableMapping[str, Any], previous_boundary: Optional[str], parent: str
) -> Optional[str]:
    """The cursor below which a history child (e.g. deal changes) already holds every change.

    A child that reads only changes newer than its previous run's newest parent row is right only
    when that run listed every parent row up to it. In a chunked backfill chunk `k` lists parents
    never listed before (their old changes were never read), so the floor moves to the previous
    run's boundary only when the parent's previous run ended its listing; during a backfill it
    stays where the backfill started (None on the first one: whole history).

    Args:
        child_state: The child's resource state (the floor is kept there).
        previous_boundary: Newest parent cursor value seen by the child's previous runs.
        parent: Resource name of the parent listing (e.g. `deals`).
    """
    resources = dlt.current.source_state().get("resources") or {}
    parent_state = resources.get(parent) or {}
    if FLOOR_KEY not in child_state or not parent_state.get(HAD_MORE_PAGES_KEY):
        child_state[FLOOR_KEY] = previous_boundary
    return child_state[FLOOR_KEY]  # type: ignore[no-any-return]


class PageShaper:
    """Shapes the raw pages of one listing into rows; the custom-field mapper is built (and the
    typed custom columns are merged into the running resource) on the first page.

    Custom-field hints go into `dlt.current.resource()`, not onto the data with
    `dlt.mark.with_hints`: item metadata would flow into the deal-child transformers.
    """

    def __init__(self, entity: Entity, field_sets: FieldSetCache, hard_delete: bool) -> None:
        self.entity = entity
        self.field_sets = field_sets
        self.dropped_flag = entity.soft_delete_column if entity.drops_deleted_rows(hard_delete) else None
        self._builder: Optional[RowBuilder] = None

    def _prepare(self) -> RowBuilder:
        if self._builder is None:
            mapper = None
            if self.entity.custom_field_set:
                mapper = self.field_sets.mapper(self.entity.custom_field_set)
                dlt.current.resource().merge_hints(dlt.mark.make_hints(columns=custom_field_hints(mapper)))
            self._builder = RowBuilder(self.entity.record_defaults, mapper, self.entity.api)
        return self._builder

    def shape(self, page: TDataPage) -> List[Dict[str, Any]]:
        """The rows of a non-empty page (rows flagged deleted left out where the entity drops them)."""
        build = self._prepare().build
        rows = [build(record) for record in page]
        if self.dropped_flag:
            rows = [row for row in rows if row.get(self.dropped_flag) is not True]
        return rows


def _incremental(entity: Entity, start_date: Optional[Any]) -> "dlt.sources.incremental[str]":
    """The cursor of an incremental entity.

    `primary_key=()` turns off dlt's boundary deduplication: rows whose cursor equals the last
    value are loaded again and merged on the primary key. With it on, a row updated again within
    the cursor's second would be dropped as already seen.
    """
    cursor = entity.cursor
    assert cursor is not None
    return dlt.sources.incremental(
        cursor.field,
        initial_value=format_timestamp(start_date, cursor.format) if start_date else None,
        primary_key=(),
        on_cursor_value_missing="include",
        row_order="desc" if entity.stops_at_cursor else None,
    )


def listing_resource(
    entity: Entity,
    client: PipedriveClient,
    field_sets: FieldSetCache,
    *,
    start_date: Optional[Any] = None,
    hard_delete: bool = False,
    max_pages_per_chunk: Optional[int] = None,
) -> DltResource:
    """The dlt resource of one entity row.

    Args:
        entity: Row of the entity table.
        client: The run's client.
        field_sets: The run's field-set cache.
        start_date: Earliest `update_time` of the first run (incremental entities).
        hard_delete: Delete rows flagged deleted instead of keeping them with the flag.
        max_pages_per_chunk: Pages a run reads of a chunkable listing (None: all).
    """

    def pages(params: Dict[str, Any], start_value: Optional[Any]) -> Iterator[List[Dict[str, Any]]]:
        shaper = PageShaper(entity, field_sets, hard_delete)
        raw = client.paginate_endpoint(entity, params)
        if entity.reads_every_page:
            raw = read_ahead(raw, name=entity.name)
        if entity.is_chunkable:
            raw = limit_pages(
                raw, max_pages=max_pages_per_chunk, cursor_field=entity.cursor.field,  # type: ignore[union-attr]
                start_value=start_value, page_size=entity.page_size,
            )
        try:
            for page in raw:
                if page:
                    yield shaper.shape(page)
        except UnsupportedMediaTypeError as error:
            logger.warning(f"Pipedrive table {entity.table} skipped (feature not on the plan): {error}")

    if entity.cursor is not None:
        since_param = entity.cursor.since_param

        def read_incremental(
            cursor: dlt.sources.incremental[str] = _incremental(entity, start_date),
        ) -> Iterator[List[Dict[str, Any]]]:
            params = {since_param: to_updated_since(cursor.start_value)} if since_param else {}
            yield from pages(params, cursor.start_value)

        generator: Any = read_incremental
    else:

        def read_all() -> Iterator[List[Dict[str, Any]]]:
            yield from pages({}, None)

        generator = read_all

    return dlt.resource(
        generator,
        name=entity.name,
        table_name=entity.table,
        primary_key=list(entity.primary_key),
        write_disposition=entity.write_disposition,
        columns={**builtin_column_hints(entity), **deletion_hints(entity, hard_delete)},
        selected=entity.selected,
        # listings overlap in dlt's extract pool: with network latency, one listing at a time
        # sends half the requests the burst window allows
        parallelized=True,
    )
