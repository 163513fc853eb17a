"""Listings: every `Entity` row of the table becomes one dlt resource.

A listing pages through its endpoint with the run's client, shapes each page into rows
(`fields.RowBuilder`) and yields it; every table merges on its key. What differs between listings
follows from their row (`Entity` properties):

- incremental listings send their cursor as `updated_since` where the API filters, and skip the
  read altogether when `/v1/recents` shows nothing new for them (`pipedrive.recents`);
- listings read whole (reference tables) are read only when due (`pipedrive.schedule`), keep their
  pages until the read is complete and then yield them: a complete read is what lets the run mark
  the rows it no longer returned as deleted, and a partial one must change nothing;
- newest-first listings that cannot filter keep their pages until the read ends too: a partial read
  would move the cursor past rows it never reached.

Budget stops: when the daily token budget or `max_tokens_per_run` is spent (`BudgetStop`), a
listing ends cleanly. What it yielded is loaded and its cursor moves only that far; a chunkable
listing flags that it has more pages, so the next run continues there.

Chunks: dlt saves no state for a failed extract, so a run that dies after reading 200 pages keeps
nothing. A chunkable listing (`Entity.is_chunkable`) therefore reads at most `max_pages` pages per
`pipeline.run()` and records in its resource state whether the listing has more
(`MORE_PAGES_KEY`); its cursor moves to the last row read, the chunk is loaded and checkpointed,
and the run protocol (`pipedrive.run`) runs the pipeline again for the listings with more pages.
A chunk ends only once its last row is newer than where it started, so rows sharing one
`update_time` beyond a chunk's size cannot make the loop spin in place. With the protocol's
default chunk size, listings other than the deals read more pages per chunk above the Growth
plan's burst limit (`RunSession.pages_per_chunk`).
"""

import json
from typing import Any, Callable, Dict, Iterator, List, Mapping, MutableMapping, Optional, Set

import dlt
from dlt.common import logger
from dlt.extract.resource import DltResource

from .deal_children.queue import queued_deals
from .entities import DEAL_LISTINGS, ENTITIES, Entity, format_timestamp, to_updated_since
from .fields import FieldSetCache, RowBuilder
from .fields.column_hints import builtin_column_hints, custom_field_hints, deletion_hints
from .http import TDataPage
from .http.errors import BudgetStop, PipedriveConfigError, UnsupportedMediaTypeError
from .http.read_ahead import read_ahead
from .recents import ITEM_OF_TABLE, READ_FROM_KEY, changed_items
from .schedule import MORE_PAGES_KEY, READ_AT_KEY, ReferenceWatch, due_now, is_due, record_complete_read, utc_now
from .session import RunSession
from .sweeps import note_swept, sweep_name

HAD_MORE_PAGES_KEY = "had_more_pages"
"""Resource state: `more_pages` as the previous run left it (stable during a run)."""
_OLD_MORE_PAGES_KEY = "chunk_pending"
"""The name of `more_pages` before 2026-12 (read once, so a chunked backfill continues)."""
TRows = List[Dict[str, Any]]
HISTORY_TABLES = tuple(sorted({e.table for e in ENTITIES}))
"""Tables that can keep every version of their records (`pipedrive_source(history=...)`): every
listing's table. Not the deal children (a deal's products, participants and followers replace
each other per deal; its changes are a history already) nor the field tables."""


def history_tables(history: Any) -> Set[str]:
    """The tables `pipedrive_source(history=...)` names: True, False/None, a list of tables, or the
    same as config text (`true`, `deals,persons`, `["deals"]`: dlt hands environment values over
    as text, and cannot coerce into a bool-or-list type).

    Raises:
        PipedriveConfigError: A table that cannot keep history; the message lists those that can.
    """
    if isinstance(history, str):
        text = history.strip()
        if text.lower() in ("true", "false", "none", ""):
            history = text.lower() == "true"
        else:
            try:
                history = json.loads(text)
            except ValueError:
                history = text.split(",")
    if history is True:
        return set(HISTORY_TABLES)
    if not history:
        return set()
    if not isinstance(history, (list, tuple, set, frozenset)):
        history = [history]
    tables = {str(name).strip() for name in history if str(name).strip()}
    unknown = sorted(tables - set(HISTORY_TABLES))
    if unknown:
        raise PipedriveConfigError(
            f"history: {', '.join(unknown)} cannot keep history; choose from {', '.join(HISTORY_TABLES)}"
        )
    return tables


SHARED_LISTINGS = ("stages",)
"""Listings other resources of a run read too (the stage changes need each stage's pipeline):
read once per run through `RunSession.memo`."""


def limit_pages(
    pages: Iterator[TDataPage],
    *,
    max_pages: Optional[Callable[[], int]],
    cursor_field: str,
    start_value: Optional[Any],
    page_size: Optional[int] = None,
) -> Iterator[TDataPage]:
    """Passes on at most `max_pages()` pages of an ascending listing, then stops at a page end.

    Must run inside a dlt resource: it records in the resource state whether the listing has more
    pages (`MORE_PAGES_KEY`), after copying the previous run's answer to `HAD_MORE_PAGES_KEY`
    (`history_floor` reads it). A budget stop leaves `MORE_PAGES_KEY` set.

    Args:
        pages: Pages of raw records sorted by ascending `cursor_field`.
        max_pages: Pages per chunk, asked after each page (the burst limit it may follow is known
            from the first response on); None: read to the end.
        cursor_field: The incremental cursor column.
        start_value: The cursor value this run started from (None on a first full run).
        page_size: The `limit` requested; a shorter page is the last one.
    """
    state = dlt.current.resource_state()
    had_more = state.pop(_OLD_MORE_PAGES_KEY, None) or state.get(MORE_PAGES_KEY)
    state[HAD_MORE_PAGES_KEY] = bool(had_more)
    state[MORE_PAGES_KEY] = True  # until the listing is read to its end
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
        if count >= max_pages() and moved:
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
    typed custom columns are merged into the running resource) on the first page, again whenever a
    record brings a field the mapper did not know.

    Custom-field hints go into `dlt.current.resource()`, not onto the data with
    `dlt.mark.with_hints`: item metadata would flow into the deal-child transformers.
    """

    def __init__(self, entity: Entity, field_sets: FieldSetCache) -> None:
        self.entity = entity
        self.field_sets = field_sets
        self._builder: Optional[RowBuilder] = None
        self._hinted_fields = -1

    def shape(self, page: TDataPage) -> TRows:
        """The rows of a non-empty page."""
        if self._builder is None:
            mapper = self.field_sets.mapper(self.entity.custom_field_set) if self.entity.custom_field_set else None
            self._builder = RowBuilder(
                self.entity.record_defaults, mapper, self.entity.api, self.entity.dropped_keys, self.entity.id_objects
            )
        build = self._builder.build
        rows = [build(record) for record in page]
        mapper = self._builder.mapper
        if mapper is not None and len(mapper.fields) != self._hinted_fields:
            self._hinted_fields = len(mapper.fields)
            columns = custom_field_hints(mapper)
            if columns:  # merging no columns would drop the resource's own column hints
                dlt.current.resource().merge_hints(dlt.mark.make_hints(columns=columns))
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


class ListingReader:
    """Reads one listing within one run: pages, shaping, schedules, budget stops.

    Args:
        entity: The listing's row.
        session: The run's session (client, lock, complete reads).
        field_sets: The run's field-set cache.
        refresh_hours: The listing's freshness interval (reference tables).
        force: Read a reference table even when not due.
        max_pages: Pages per chunk of a chunkable listing (None: all).
    """

    def __init__(
        self, entity: Entity, session: RunSession, field_sets: FieldSetCache, *, refresh_hours: float,
        force: bool, max_pages: Optional[int],
    ) -> None:
        self.entity = entity
        self.session = session
        self.field_sets = field_sets
        self.refresh_hours = refresh_hours
        self.force = force
        self.max_pages = max_pages

    def _raw_pages(self, params: Mapping[str, Any], start_value: Optional[Any]) -> Iterator[TDataPage]:
        client = self.session.client
        assert client is not None
        if self.entity.name in SHARED_LISTINGS:
            return iter(self.session.memo(self.entity.name, lambda: list(client.paginate_endpoint(self.entity))))
        raw = client.paginate_endpoint(self.entity, params)
        if self.entity.reads_every_page:
            raw = read_ahead(raw, name=self.entity.name)
        if self.entity.is_chunkable:
            raw = limit_pages(
                raw, max_pages=self._pages_per_chunk if self.max_pages else None,
                cursor_field=self.entity.cursor.field,  # type: ignore[union-attr]
                start_value=start_value, page_size=self.entity.page_size,
            )
        return raw

    def _pages_per_chunk(self) -> int:
        """Pages per chunk, scaled with the burst limit (`RunSession.pages_per_chunk`) except for
        the deal listings: each of their pages brings hundreds of per-deal requests, so their
        chunks are long anyway, and their size bounds what a killed run fetches again."""
        assert self.max_pages  # asked only for a listing read in chunks
        if self.entity.name in DEAL_LISTINGS:
            return self.max_pages
        return self.session.pages_per_chunk(self.max_pages)

    def _shaped(self, params: Mapping[str, Any], start_value: Optional[Any]) -> Iterator[TRows]:
        """Shaped non-empty pages; watches references and remembers the newest row read."""
        source_state = dlt.current.source_state()
        shaper = PageShaper(self.entity, self.field_sets)
        watch = ReferenceWatch(self.entity, source_state)
        for page in self._raw_pages(params, start_value):
            if not page:
                continue
            rows = shaper.shape(page)
            stale = watch.check(rows)
            if stale:
                with self.session.lock:
                    watch.flag(stale)
            yield rows

    def _read_complete(self, whole: bool = False) -> None:
        """Notes that the listing read everything up to now (what `/v1/recents` starts from); a
        read from scratch counts as a deletion sweep too (nothing older can be missing)."""
        state = dlt.current.resource_state()
        state[READ_AT_KEY] = utc_now().isoformat()
        if whole:
            note_swept(dlt.current.source_state(), [sweep_name(self.entity)])
        began = self.session.client.first_server_time if self.session.client else None
        if began is not None:
            state[READ_FROM_KEY] = began.isoformat()

    def _not_on_plan(self, error: UnsupportedMediaTypeError) -> None:
        """Skips a listing the account's plan does not have (415) until its next scheduled read:
        no more pages to read, no longer due now (else every chunk of the run would ask again),
        nothing to sweep (the sweep would meet the same 415)."""
        logger.warning(f"Pipedrive table {self.entity.table} skipped (feature not on the plan): {error}")
        state = dlt.current.resource_state()
        state[MORE_PAGES_KEY] = False
        source_state = dlt.current.source_state()
        with self.session.lock:
            record_complete_read(state, source_state, self.entity.table, ())
            note_swept(source_state, [sweep_name(self.entity)])

    def _nothing_new(self) -> bool:
        """True when `/v1/recents` shows no change for this listing since its newest row (and no
        deal children wait for the deal listing to wake them)."""
        entity = self.entity
        state = dlt.current.resource_state()
        if not entity.recents_item or self.force or state.get(MORE_PAGES_KEY) or not state.get(READ_FROM_KEY):
            return False  # never read (or its state was reset): nothing vouches for it
        source_state = dlt.current.source_state()
        if entity.name in DEAL_LISTINGS and queued_deals(source_state):
            return False
        changed = changed_items(self.session, source_state)
        return changed is not None and entity.recents_item not in changed

    def _newest_first(self, params: Mapping[str, Any], start_value: Optional[Any]) -> List[TRows]:
        """The pages of a newest-first listing down to the first page that reaches below the cursor,
        kept until the read ends (a partial read must not move the cursor)."""
        field = self.entity.cursor.field  # type: ignore[union-attr]
        pages = []
        for rows in self._shaped(params, start_value):
            pages.append(rows)
            if start_value is not None and str(rows[-1].get(field) or "") < str(start_value):
                break
        return pages

    def read_incremental(self, cursor: "dlt.sources.incremental[str]") -> Iterator[TRows]:
        """An incremental listing: from the cursor, pages as they come (kept until the end for
        newest-first listings)."""
        since_param = self.entity.cursor.since_param  # type: ignore[union-attr]
        params = {since_param: to_updated_since(cursor.start_value)} if since_param else {}
        try:
            if self._nothing_new():
                self._read_complete()  # recents vouched for everything up to this run
                return
            if self.entity.stops_at_cursor:
                pages = self._newest_first(params, cursor.start_value)
                self._read_complete(whole=cursor.start_value is None)
                yield from pages  # dlt closes this generator at the first row below the cursor
            else:
                yield from self._shaped(params, cursor.start_value)
                self._read_complete(whole=cursor.start_value is None)
        except BudgetStop as stop:
            logger.warning(f"{self.entity.name}: stopped by the token budget ({stop}); the next run continues")
        except UnsupportedMediaTypeError as error:
            self._not_on_plan(error)

    def read_whole(self) -> Iterator[TRows]:
        """A listing read whole: only when due; yields once the read is complete."""
        source_state = dlt.current.source_state()
        state = dlt.current.resource_state()
        if self.entity.table in ITEM_OF_TABLE:
            changed_items(self.session, source_state)  # recents may make this table due now
        forced = self.force or self.entity.table in due_now(source_state)
        if not is_due(state.get(READ_AT_KEY), self.refresh_hours, forced=forced):
            return
        try:
            pages = list(self._shaped({}, None))
        except BudgetStop as stop:
            logger.warning(f"{self.entity.name}: stopped by the token budget ({stop}); read again next run")
            return
        except UnsupportedMediaTypeError as error:
            self._not_on_plan(error)
            return
        with self.session.lock:
            record_complete_read(state, source_state, self.entity.table, (row for rows in pages for row in rows))
        key = self.entity.primary_key[0]
        self.session.completed(self.entity.name, self.entity.table, key, (row.get(key) for rows in pages for row in rows))
        yield from pages


def listing_resource(
    entity: Entity,
    session: RunSession,
    field_sets: FieldSetCache,
    *,
    start_date: Optional[Any] = None,
    hard_delete: bool = False,
    max_pages_per_chunk: Optional[int] = None,
    refresh_hours: Optional[float] = None,
    force_refresh: bool = False,
    history: bool = False,
) -> DltResource:
    """The dlt resource of one entity row.

    Args:
        entity: Row of the entity table.
        session: The run's session.
        field_sets: The run's field-set cache.
        start_date: Earliest `update_time` of the first run (incremental entities).
        hard_delete: Delete rows flagged deleted instead of keeping them with the flag.
        max_pages_per_chunk: Pages a run reads of a chunkable listing (None: all).
        refresh_hours: Freshness interval of a listing read whole (default: the row's).
        force_refresh: Read a listing read whole even when it is not due.
        history: Keep every version (dlt `scd2`): versions are identified by their content;
            incremental reads retire only the records they bring (`merge_key`), complete reads of a
            table read whole also the records they no longer list.
    """
    reader = ListingReader(
        entity, session, field_sets, max_pages=max_pages_per_chunk, force=force_refresh,
        refresh_hours=entity.refresh_hours if refresh_hours is None else refresh_hours,
    )
    if entity.cursor is not None:

        def read_incremental(
            cursor: dlt.sources.incremental[str] = _incremental(entity, start_date),
        ) -> Iterator[TRows]:
            yield from reader.read_incremental(cursor)

        generator: Any = read_incremental
    else:

        def read_all() -> Iterator[TRows]:
            yield from reader.read_whole()

        generator = read_all

    keys: Dict[str, Any] = {"primary_key": list(entity.primary_key), "write_disposition": "merge"}
    if history:
        keys = {
            "write_disposition": {"disposition": "merge", "strategy": "scd2", "boundary_timestamp": utc_now()},
            "merge_key": list(entity.primary_key) if entity.is_incremental else None,
        }
    return dlt.resource(
        generator,
        name=entity.name,
        table_name=entity.table,
        **keys,
        columns={**builtin_column_hints(entity.table), **deletion_hints(entity, hard_delete and not history)},
        selected=entity.selected,
        # listings overlap in dlt's extract pool: with network latency, one listing at a time
        # sends half the requests the burst window allows
        parallelized=True,
    )
