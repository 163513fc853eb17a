"""The deal-child transformers: one per `DealChild` row and deal listing (`DEAL_LISTINGS`).

A transformer does not request anything for a deal directly: it puts the deal into its persistent
`DealQueue` (dlt resource state) and then takes deals from the queue head while the run's token
budget allows. So deals are processed oldest change first, a token cap ends the run cleanly with
the rest still queued, and the next run starts with them (the inclusive deals cursor re-lists the
newest deal of the previous run, which is enough to wake the transformers even when nothing
changed).

Requests fan out to the run's `FanOut` pool (`pipedrive.http.concurrency`): one job per deal (per
batch of 100 deals for `/deals/products`), as many at once as the burst limit and the latency call
for, every request through the client's shared rate limiter. The transformer yields each job's rows
as it completes and None meanwhile, which dlt's extract loop takes as "nothing yet": the waiting
holds neither dlt's loop nor a thread of its extract pool, whose fixed size (`[extract] workers`)
capped every plan at ~39 requests/s when the jobs were deferred callables run there.

Merge semantics:
- snapshot children (products, participants, followers): `merge` with `merge_key="deal_id"`
  (delete-insert): a fetched deal replaces all its rows, so removed products disappear. A deal
  that needs no request (no products left, or deleted with `hard_delete=True`) gets one tombstone
  row (`_tombstone=true`, dlt's `hard_delete` hint): its old rows are deleted and the tombstone is
  never inserted. Tombstones fill the key columns with 0 (no real id is 0).
- history children (`deal_changes`, `deal_stage_changes`): `merge` on `change_id`; only changes
  newer than what earlier runs loaded are emitted.
- deleted deals (kept by Pipedrive 30 days): `hard_delete=False` flags the deal's child rows
  `is_deleted=true`; `hard_delete=True` removes them.

Stage changes only: when `deal_stage_changes` is selected without `deal_changes`, a deal's
changelog is read only if its `stage_change_time` is set and, on incremental runs, not older than
the previous run's floor: a deal whose other fields changed but whose stage did not move has no
stage change to load (`stage_changed_since`).
"""

import threading
from datetime import datetime, timedelta
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional

import dlt
from dlt.common import logger
from dlt.common.schema.typing import TTableSchemaColumns
from dlt.extract.resource import DltResource

from ..entities import (
    DEAL_CHILDREN,
    DEAL_LISTINGS,
    ENTITIES_BY_NAME,
    DealChild,
    TimestampFormat,
    child_resource_name,
    format_timestamp,
    parse_timestamp,
)
from ..fields import FieldSetCache, RowBuilder
from ..fields.column_hints import builtin_column_hints
from ..http import TDataPage
from ..http.concurrency import FanOut, deliver, in_flight_target
from ..http.errors import BudgetStop, NotFoundError
from ..listings import history_floor
from ..schedule import STAGE_PIPELINES_KEY
from ..session import RunSession
from .changelog import STAGE_FIELD, FieldNamer, as_int, change_rows, changes_since, stage_change_rows
from .queue import ChildTokenBudget, DealQueue, QueuedDeal, deal_fingerprint

TOMBSTONE_COLUMN = "_tombstone"
DELETED_COLUMN = "is_deleted"
TOMBSTONE_KEY_VALUE = 0
CHANGELOG_OVERLAP = timedelta(hours=1)
"""Changes this much older than the newest deal of the previous run are read again (they merge on
`change_id`): covers a change written while the previous run was listing deals."""
TIMESTAMP_HINTS = ("add_time", "update_time", "time")
STAGE_ONLY_STATE_KEY = "stage_only_skipped"


def _is_deleted(deal: Mapping[str, Any]) -> bool:
    return deal.get("is_deleted") is True or deal.get("status") == "deleted"


def stage_changed_since(deal: Mapping[str, Any], since: Optional[datetime]) -> bool:
    """Whether a listed deal can have stage changes at or after `since` (None: ever).

    Pipedrive stamps `stage_change_time` when a deal changes stage; a deal without one never
    moved, one stamped before `since` has no stage change earlier runs did not load. A stamp equal
    to `add_time` is not taken as "never moved": an automation can move a deal within the second it
    was created.
    """
    changed = deal.get("stage_change_time")
    if not changed:
        return False
    return since is None or parse_timestamp(changed) >= since


def child_columns(table: str) -> TTableSchemaColumns:
    """Column hints of a child table: its known typed columns, tombstone, deletion flag, deal id,
    timestamps."""
    columns: TTableSchemaColumns = {
        **builtin_column_hints(table),
        TOMBSTONE_COLUMN: {"name": TOMBSTONE_COLUMN, "data_type": "bool", "nullable": True, "hard_delete": True},
        DELETED_COLUMN: {"name": DELETED_COLUMN, "data_type": "bool", "nullable": True},
        "deal_id": {"name": "deal_id", "data_type": "bigint", "nullable": False},
    }
    for name in TIMESTAMP_HINTS:
        columns[name] = {"name": name, "data_type": "timestamp", "nullable": True}
    return columns


def tombstone(child: DealChild, deal_id: int) -> Dict[str, Any]:
    """A row that deletes every row of `deal_id` in a snapshot child table and is not inserted."""
    row: Dict[str, Any] = {key: TOMBSTONE_KEY_VALUE for key in child.primary_key}
    row.update({"deal_id": deal_id, TOMBSTONE_COLUMN: True})
    return row


class ChildRunContext:
    """What all deal-child transformers of one source run share.

    Args:
        session: The run's session (its client; its budget stop ends the children cleanly).
        field_sets: The run's field-set cache (deal field names for `deal_changes`).
        hard_delete: The source's deletion mode.
        max_tokens_per_run: The run's token cap (None: no cap), see `ChildTokenBudget`.
    """

    def __init__(
        self,
        session: RunSession,
        field_sets: FieldSetCache,
        hard_delete: bool,
        max_tokens_per_run: Optional[int] = None,
    ) -> None:
        assert session.client is not None
        self.session = session
        self.client = session.client
        self.field_sets = field_sets
        self.hard_delete = hard_delete
        self.budget = ChildTokenBudget(session.client, max_tokens_per_run)
        self.fan_out = FanOut(self.in_flight, name="pipedrive-deal-children")
        self._stage_pipelines: Optional[Dict[int, int]] = None
        self._lock = threading.Lock()

    def in_flight(self) -> int:
        """Per-deal requests to run at once: what the run's limit and latency call for."""
        return in_flight_target(self.client.rate_limiter)

    def pending(self) -> int:
        """Jobs one transformer keeps submitted: twice the pool's target, so the pool never waits
        for a transformer to be served by dlt's loop, while the queue and the token budget are
        drained only as fast as the requests go."""
        return 2 * self.in_flight()

    def stage_pipelines(self, stages: Iterable[Optional[int]]) -> Dict[int, int]:
        """Stage id -> pipeline id: what the last read of `stages` kept in the state, or one
        5-token request when a stage is missing there (read once per run)."""
        with self._lock:
            if self._stage_pipelines is None:
                kept = dlt.current.source_state().get(STAGE_PIPELINES_KEY) or {}
                self._stage_pipelines = {int(k): int(v) for k, v in kept.items()}
            if any(stage is not None and stage not in self._stage_pipelines for stage in stages):
                entity = ENTITIES_BY_NAME["stages"]
                pages = self.session.memo(entity.name, lambda: list(self.client.paginate_endpoint(entity)))
                self._stage_pipelines.update((int(s["id"]), int(s["pipeline_id"])) for page in pages for s in page)
            return self._stage_pipelines


class DealChildReader:
    """Feeds one child table from the pages of one deal listing: queue, budget, fetch jobs,
    shaping.

    Args:
        child: The child's row of the table.
        listing: Resource name of the deal listing feeding it.
        context: The run's shared context.
    """

    def __init__(self, child: DealChild, listing: str, context: ChildRunContext) -> None:
        self.child = child
        self.name = child_resource_name(child, listing)
        self.listing = listing
        self.context = context
        self.batched = child.batch_param is not None
        self._queue: Optional[DealQueue] = None
        self._since: Optional[str] = None
        self._since_time: Optional[datetime] = None
        self._stage_only = False
        self._namer = FieldNamer({}, None)
        self._rows = RowBuilder(dropped_keys=child.dropped_keys, id_objects=child.id_objects)
        self._warned = False
        self._draining = False

    # -- queue -------------------------------------------------------------------------------
    def _attach(self) -> DealQueue:
        """Loads the queue from resource state on the first page of the run."""
        if self._queue is not None:
            return self._queue
        state = dlt.current.resource_state()
        self._queue = DealQueue(state)
        # chunked backfills: the floor only moves once the deal listing was complete, else deals
        # first listed in a later chunk would lose their old changes
        floor = history_floor(state, self._queue.previous_boundary, self.listing)
        if floor is not None:
            self._since = format_timestamp(parse_timestamp(floor) - CHANGELOG_OVERLAP, TimestampFormat.V1)
            self._since_time = parse_timestamp(self._since)
        if self.child.history:
            self._stage_only = self._feeds_only_stage_changes()
            self._namer = self._field_namer()
        if self._queue.resumed:
            logger.info(f"{self.name}: resuming {self._queue.resumed} deals queued by earlier runs")
        return self._queue

    def _feeds_only_stage_changes(self) -> bool:
        """True when this history table runs unselected, only to feed a selected stage-changes
        table derived from it (dlt evaluates unselected parents of selected transformers)."""
        resources = dlt.current.source().resources
        own = resources.get(self.name)
        derived = [
            child_resource_name(c, self.listing) for c in DEAL_CHILDREN if c.derived_from == self.child.name
        ]
        stage_only = (
            own is not None
            and not own.selected
            and any(name in resources and resources[name].selected for name in derived)
        )
        state = dlt.current.resource_state()
        if stage_only:
            state[STAGE_ONLY_STATE_KEY] = True
        elif state.pop(STAGE_ONLY_STATE_KEY, False):
            logger.warning(
                f"{self.child.table}: earlier runs loaded stage changes only and read no changelog "
                "of deals whose stage did not move; those deals' other field changes are missing "
                f"until `--full-refresh --resources deals,{self.child.table}`"
            )
        return stage_only

    def _field_namer(self) -> FieldNamer:
        if self.child.custom_field_set is None:
            return FieldNamer({}, None)
        field_set = self.child.custom_field_set
        fields = self.context.field_sets
        return FieldNamer(fields.builtin_names(field_set), fields.mapper(field_set))

    def enqueue(self, page: Iterable[Mapping[str, Any]]) -> List[Dict[str, Any]]:
        """Queues the deals of a page that need requests; returns tombstones for the rest."""
        queue = self._attach()
        tombstones = []
        for deal in page:
            deal_id = int(deal["id"])
            if not queue.is_new(deal_id, deal.get("update_time"), deal_fingerprint(deal)):
                continue
            deleted = _is_deleted(deal)
            if self._stage_only and not stage_changed_since(deal, None if deleted else self._since_time):
                continue  # no stage change to load; a deal already queued keeps its place
            no_products = self.batched and deal.get("products_count") == 0
            if not self.child.history and (no_products or (deleted and self.context.hard_delete)):
                queue.discard(deal_id)
                tombstones.append(tombstone(self.child, deal_id))
                continue
            # deleted deals (and restored ones) re-read their whole history to flag every row
            restored = self.child.history and queue.restored(deal_id, deleted)
            queue.push(deal_id, None if deleted or restored else self._since, deleted)
        return tombstones

    def _take(self, count: int) -> List[QueuedDeal]:
        """Takes up to `count` deals if the budget allows one more request."""
        budget = self.context.budget
        if self.context.session.stopped_by is not None or not budget.try_reserve(self.child.token_cost):
            return []
        taken = []
        while len(taken) < count:
            deal = self._attach().pop()
            if deal is None:
                break
            taken.append(deal)
        if not taken:
            budget.release(self.child.token_cost)
        return taken

    def drain(self) -> Iterator[Callable[[], List[Dict[str, Any]]]]:
        """Yields one fetch job per deal (per batch), oldest queued first, within budget."""
        batch_size = self.child.batch_size if self.batched else 1
        while True:
            deals = self._take(batch_size)
            if not deals:
                break
            yield self._deferred(deals)
        queue = self._attach()
        queue.save()
        if self.context.budget.exhausted and len(queue):
            budget = self.context.budget
            message = (
                f"{self.name}: token cap reached ({budget.spent} tokens spent, max_tokens_per_run="
                f"{budget.cap}); {len(queue)} deals remain queued and the next run continues with them"
            )
            logger.info(message) if self._warned else logger.warning(message)
            self._warned = True

    # -- fetching (runs in the fan-out pool) --------------------------------------------------
    def _deferred(self, deals: List[QueuedDeal]) -> Callable[[], List[Dict[str, Any]]]:
        def fetch() -> List[Dict[str, Any]]:
            try:
                return self._fetch_batch(deals) if self.batched else self._fetch_one(deals[0])
            except BudgetStop:
                # the daily budget or the hard cap: drop the partial rows, fetch them next run
                self._attach().push_front(deals)
                self._attach().save()
                return []
            finally:
                self.context.budget.release(self.child.token_cost)

        return fetch

    def _pages(self, params: Mapping[str, Any], path: Optional[str] = None) -> Iterator[TDataPage]:
        return self.context.client.paginate_endpoint(self.child, params, bulk=True, path=path)

    def _snapshot_rows(self, deal: QueuedDeal, records: Iterable[Mapping[str, Any]]) -> List[Dict[str, Any]]:
        rows = []
        for record in records:
            row = self._rows.build(record)
            row["deal_id"] = deal.deal_id
            row[DELETED_COLUMN] = deal.deleted
            rows.append(row)
        return rows or [tombstone(self.child, deal.deal_id)]

    def _fetch_batch(self, deals: List[QueuedDeal]) -> List[Dict[str, Any]]:
        ids = ",".join(str(deal.deal_id) for deal in deals)
        by_deal: Dict[int, List[Mapping[str, Any]]] = {deal.deal_id: [] for deal in deals}
        for page in self._pages({str(self.child.batch_param): ids}):
            for record in page:
                by_deal.setdefault(int(record["deal_id"]), []).append(record)
        rows: List[Dict[str, Any]] = []
        for deal in deals:
            rows.extend(self._snapshot_rows(deal, by_deal[deal.deal_id]))
        return rows

    def _fetch_one(self, deal: QueuedDeal) -> List[Dict[str, Any]]:
        path = self.child.path.replace("{id}", str(deal.deal_id))
        try:
            if not self.child.history:
                return self._snapshot_rows(deal, (r for page in self._pages({}, path) for r in page))
            items: List[Mapping[str, Any]] = []
            for page in self._pages({}, path):  # newest first: stop below `since`
                items.extend(page)
                if deal.since is not None and page and str(page[-1].get("time") or "") < deal.since:
                    break
        except NotFoundError as error:  # 404/410: the deal vanished since it was listed
            logger.warning(f"{self.name}: deal {deal.deal_id} skipped: {error}")
            return [] if self.child.history else [tombstone(self.child, deal.deal_id)]
        rows = change_rows(deal.deal_id, changes_since(items, deal.since), self._namer)
        for row in rows:
            row[DELETED_COLUMN] = deal.deleted
            if deal.deleted and self.context.hard_delete:
                row[TOMBSTONE_COLUMN] = True
        return rows

    # -- the transformer body ----------------------------------------------------------------
    def __call__(self, page: TDataPage) -> Iterator[Any]:
        """Tombstones first, then the rows of each fetch as it completes (None while none is
        ready: dlt's loop serves its other sources meanwhile).

        Every item is marked with the table name: a transformer's items otherwise inherit the
        meta of the parent's page, and the deals pages carry column hints (custom fields) that dlt
        would merge into this table and recompute its schema for every item.
        """
        tombstones = self.enqueue(page)
        if tombstones:
            yield dlt.mark.with_table_name(tombstones, self.child.table)
        if self._draining:
            return  # the fetches of an earlier page take this page's deals from the queue too
        for rows in deliver(self._drain_once(), self.context.fan_out, self.context.pending):
            yield None if rows is None else dlt.mark.with_table_name(rows, self.child.table)

    def _drain_once(self) -> Iterator[Callable[[], List[Dict[str, Any]]]]:
        """`drain`, flagged while it runs: one transformer call at a time drains the queue (each
        deals page is a call of its own; twenty calls draining one queue each kept twenty sets of
        jobs out)."""
        self._draining = True
        try:
            yield from self.drain()
        finally:
            self._draining = False


def _transformer(
    read: Callable[[TDataPage], Iterator[Any]], child: DealChild, name: str, parent: DltResource
) -> DltResource:
    """Wraps `read` as the transformer `name` of `child`, fed by `parent`, with its write hints."""
    hints: Dict[str, Any] = {"primary_key": list(child.primary_key), "columns": child_columns(child.table)}
    if not child.history:
        hints["merge_key"] = "deal_id"
    return dlt.transformer(
        read, data_from=parent, name=name, table_name=child.table, selected=child.selected,
        write_disposition="merge", **hints,
    )


def deal_child_resources(
    listings: Mapping[str, DltResource],
    session: RunSession,
    field_sets: FieldSetCache,
    *,
    hard_delete: bool = False,
    max_tokens_per_run: Optional[int] = None,
) -> List[DltResource]:
    """Builds every child transformer, for each deal listing among `listings`.

    A derived child (`deal_stage_changes`) is fed by the transformer it derives from and sends no
    request: it picks the `stage_id` changes of those rows.

    Args:
        listings: Top-level resources by name (the deal listings among them feed the children).
        session: The run's session.
        field_sets: The run's field-set cache.
        hard_delete: The source's deletion mode.
        max_tokens_per_run: The run's token cap (None: no cap).
    """
    context = ChildRunContext(session, field_sets, hard_delete, max_tokens_per_run)
    resources: List[DltResource] = []
    for listing in DEAL_LISTINGS:
        if listing not in listings:
            continue
        built: Dict[str, DltResource] = {}
        for child in DEAL_CHILDREN:
            name = child_resource_name(child, listing)
            if child.derived_from is None:
                resource = _transformer(
                    _queue_reader(DealChildReader(child, listing, context)), child, name, listings[listing]
                )
            else:
                resource = _transformer(
                    _stage_rows_reader(child, context), child, name, built[child.derived_from]
                )
            built[child.name] = resource
            resources.append(resource)
    return resources


def _queue_reader(reader: DealChildReader) -> Callable[[TDataPage], Iterator[Any]]:
    """A plain function around the reader: dlt builds transformers from functions."""

    def read_children(page: TDataPage) -> Iterator[Any]:
        yield from reader(page)

    return read_children


def _stage_rows_reader(child: DealChild, context: ChildRunContext) -> Callable[[TDataPage], Iterator[Any]]:
    """The body of a derived stage-changes transformer: the `stage_id` rows of its parent's rows."""

    def read_stage_changes(rows: TDataPage) -> Iterator[TDataPage]:
        moves = [row for row in rows if row.get("field_key") == STAGE_FIELD]
        stages = {as_int(row.get(key)) for row in moves for key in ("old_value", "new_value")}
        try:
            pipelines = context.stage_pipelines(stages) if moves else {}
        except BudgetStop:
            pipelines = {}  # the pipelines of the new stages stay null; the rows are kept
        stage_rows = stage_change_rows(rows, pipelines)
        if stage_rows:
            yield dlt.mark.with_table_name(stage_rows, child.table)  # not the parent's table

    return read_stage_changes
