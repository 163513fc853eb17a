"""Deal children: products, field changes, stage changes, participants and followers.

Every child table is a `dlt.transformer` fed by the pages of a deals listing (`deals` and
`deals_archived`, both rows of the entity table with `parent=...`). A transformer does not
request anything for a deal directly: it puts the deal into its persistent `DealQueue` (dlt
resource state) and then takes deals from the queue head while the run's token budget allows.
So deals are processed oldest change first, a token cap ends the run cleanly with the rest still
queued, and the next run starts with them (the inclusive deals cursor re-lists the newest deal
of the previous run, which is enough to wake the transformers even when nothing changed).

Requests fan out as deferred callables: a transformer yields one zero-argument function per
deal (per batch of 100 deals for `/deals/products`); dlt runs them in its extract thread pool
(`[extract] workers`) and every request goes through the client's one shared rate limiter.

Merge semantics (proved by `tests/children/`):
- snapshot children (products, participants, followers): `merge` with `merge_key="deal_id"`
  (delete-insert): every fetched deal replaces all its rows, so removed products disappear. A
  deal that needs no request (no products left, or deleted with `hard_delete=True`) gets one
  tombstone row (`_tombstone=true`, dlt `hard_delete` hint): its old rows are deleted and the
  tombstone itself is never inserted. Tombstones fill the key columns with 0 (no real id is 0).
- history children (`deal_changes`, `deal_stage_changes`): `merge` on `change_id`, only changes
  newer than what earlier runs loaded are emitted (incremental on the change time).
- deleted deals (kept by Pipedrive 30 days): `hard_delete=False` flags the deal's child rows
  `is_deleted=true`; `hard_delete=True` removes them.

Stage changes only: when `deal_stage_changes` is selected without `deal_changes`, a deal's
changelog is read only if its `stage_change_time` is set and, on incremental runs, not older than
the previous run's floor: a deal whose other fields were edited but whose stage did not move has
no stage change to load (`stage_changed_since`).
"""

import threading
from datetime import datetime, timedelta
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence

import dlt
from dlt.common import logger
from dlt.common.schema.typing import TTableSchemaColumns
from dlt.extract.resource import DltResource

from .child_budget import ChildTokenBudget
from .chunking import history_floor
from .child_queue import DealQueue, QueuedDeal, deal_fingerprint
from .client import PipedriveClient, TDataPage
from .deal_history import STAGE_FIELD, FieldNamer, change_rows, changes_since, stage_change_rows
from .entities import ENTITIES_BY_NAME, Entity, TimestampFormat
from .errors import NotFoundError, TokenBudgetExceededError
from .field_sets import FieldSetCache
from .records import flatten_record
from .timestamps import format_timestamp, parse_timestamp

TOMBSTONE_COLUMN = "_tombstone"
DELETED_COLUMN = "is_deleted"
TOMBSTONE_KEY_VALUE = 0
CHANGELOG_OVERLAP = timedelta(hours=1)
"""Changes this much older than the newest deal of the previous run are read again (they
merge on `change_id`): covers a change written while the previous run was listing deals."""
STAGES_ENTITY = "stages"
TIMESTAMP_HINTS = ("add_time", "update_time", "time")


STAGE_ONLY_STATE_KEY = "stage_only_skipped"


def _is_deleted(deal: Mapping[str, Any]) -> bool:
    return deal.get("is_deleted") is True or deal.get("status") == "deleted"


def stage_changed_since(deal: Mapping[str, Any], since: Optional[datetime]) -> bool:
    """Whether a listed deal can have stage changes at or after `since` (None: ever).

    Pipedrive stamps `stage_change_time` when a deal changes stage (some accounts also at its
    creation). A deal without one never moved; one stamped before `since` has no stage change
    that earlier runs did not load. Either way its changelog holds nothing for
    `deal_stage_changes`. A stamp equal to `add_time` is not taken as "never moved": an
    automation can move a deal within the second it was created.

    Args:
        deal: A deals-listing row.
        since: Earliest change time still to load (None: the whole history).
    """
    changed = deal.get("stage_change_time")
    if not changed:
        return False
    return since is None or parse_timestamp(changed) >= since


def child_columns(entity: Entity) -> TTableSchemaColumns:
    """Column hints every child table gets: tombstone, deletion flag, timestamps."""
    columns: TTableSchemaColumns = {
        TOMBSTONE_COLUMN: {
            "name": TOMBSTONE_COLUMN,
            "data_type": "bool",
            "nullable": True,
            "hard_delete": True,
        },
        DELETED_COLUMN: {"name": DELETED_COLUMN, "data_type": "bool", "nullable": True},
        "deal_id": {"name": "deal_id", "data_type": "bigint", "nullable": False},
    }
    for name in TIMESTAMP_HINTS:
        columns[name] = {"name": name, "data_type": "timestamp", "nullable": True}
    return columns


def _is_history(entity: Entity) -> bool:
    """History children keep every change (merge on the change key, incremental on time);
    snapshot children mirror the deal's current rows (delete-insert per deal)."""
    return entity.cursor_field is not None


class ChildRunContext:
    """What all deal-child transformers of one source run share.

    Args:
        client: The run's client.
        field_sets: The run's field-set cache (deal field names for `deal_changes`).
        hard_delete: The source's deletion mode.
        max_tokens_per_run: The run's token cap (None: no cap), see `child_budget`.
        entities: Entity rows by name (to find `stages` for stage -> pipeline).
    """

    def __init__(
        self,
        client: PipedriveClient,
        field_sets: FieldSetCache,
        hard_delete: bool,
        max_tokens_per_run: Optional[int] = None,
        entities: Mapping[str, Entity] = ENTITIES_BY_NAME,
    ) -> None:
        self.client = client
        self.field_sets = field_sets
        self.hard_delete = hard_delete
        self.entities = entities
        self.budget = ChildTokenBudget(client, max_tokens_per_run)
        self._stage_pipelines: Optional[Dict[int, int]] = None
        self._lock = threading.Lock()

    def stage_pipelines(self) -> Dict[int, int]:
        """Stage id -> pipeline id, read once per run (one 5-token request)."""
        with self._lock:
            if self._stage_pipelines is None:
                stages = self.entities.get(STAGES_ENTITY)
                self._stage_pipelines = {}
                if stages is not None:
                    for page in self.client.paginate_entity(stages):
                        for stage in page:
                            self._stage_pipelines[int(stage["id"])] = int(stage["pipeline_id"])
            return self._stage_pipelines


def tombstone(entity: Entity, deal_id: int) -> Dict[str, Any]:
    """A row that deletes every row of `deal_id` in a snapshot child table and is not inserted."""
    row: Dict[str, Any] = {key: TOMBSTONE_KEY_VALUE for key in entity.primary_key}
    row.update({"deal_id": deal_id, TOMBSTONE_COLUMN: True})
    return row


class DealChildReader:
    """Feeds one child table from deal pages: queue, budget, deferred fetches, shaping.

    Args:
        entity: The child row of the entity table.
        context: The run's shared context.
    """

    def __init__(self, entity: Entity, context: ChildRunContext) -> None:
        self.entity = entity
        self.context = context
        self.history = _is_history(entity)
        self.batched = entity.parent_ids_param is not None
        self.cost = entity.token_cost
        self._queue: Optional[DealQueue] = None
        self._since: Optional[str] = None
        self._since_time: Optional[datetime] = None
        self._stage_only = False
        self._namer: Optional[FieldNamer] = None
        self._warned = False

    # -- queue -------------------------------------------------------------------------------
    def _attach(self) -> DealQueue:
        """Loads the queue from resource state on the first page of the run."""
        if self._queue is None:
            self._queue = DealQueue(dlt.current.resource_state())
            # chunked backfills (pipedrive.chunking): the floor only moves once the parent
            # listing was complete, else deals first listed in a later chunk lose old changes
            previous = history_floor(
                dlt.current.resource_state(),
                self._queue.previous_boundary,
                self.entity.parent or "",
            )
            if previous is not None:
                since = parse_timestamp(previous) - CHANGELOG_OVERLAP
                self._since = format_timestamp(since, TimestampFormat.V1)
                self._since_time = parse_timestamp(self._since)
            if self.history:
                self._stage_only = self._feeds_only_stage_changes()
            if self._queue.resumed:
                logger.info(
                    f"{self.entity.name}: resuming {self._queue.resumed} deals queued by earlier runs"
                )
            if self.history:
                self._namer = self._field_namer()
        return self._queue

    def _feeds_only_stage_changes(self) -> bool:
        """True when this history table runs unselected, only to feed a selected
        `deal_stage_changes` (dlt evaluates unselected parents of selected transformers)."""
        resources = dlt.current.source().resources
        own = resources.get(self.entity.name)
        children = [e.name for e in self.context.entities.values() if e.parent == self.entity.name]
        stage_only = (
            own is not None
            and not own.selected
            and any(name in resources and resources[name].selected for name in children)
        )
        state = dlt.current.resource_state()
        if stage_only:
            state[STAGE_ONLY_STATE_KEY] = True
        elif state.pop(STAGE_ONLY_STATE_KEY, False):
            logger.warning(
                f"{self.entity.table}: earlier runs loaded stage changes only and read no "
                "changelog of deals whose stage did not move; those deals' other field changes "
                f"are missing until `--full-refresh --resources deals,{self.entity.table}`"
            )
        return stage_only

    def _field_namer(self) -> FieldNamer:
        field_set = self.entity.custom_field_set
        if field_set is None:
            return FieldNamer({}, None)
        definitions = self.context.field_sets.definitions(field_set)
        builtin = {
            str(d.get("field_code", d.get("key"))): str(d.get("field_name", d.get("name")))
            for d in definitions
            if not d.get("is_custom_field", d.get("edit_flag"))
        }
        mapper = self.context.field_sets.mapper(field_set, dlt.current.source_schema().naming)
        return FieldNamer(builtin, mapper)

    def enqueue(self, page: Iterable[Mapping[str, Any]]) -> List[Dict[str, Any]]:
        """Queues the deals of a page that need requests; returns tombstones for the rest."""
        queue = self._attach()
        tombstones = []
        for deal in page:
            deal_id = int(deal[self.entity.parent_key])
            if not queue.is_new(deal_id, deal.get("update_time"), deal_fingerprint(deal)):
                continue
            deleted = _is_deleted(deal)
            if self._stage_only and not stage_changed_since(deal, None if deleted else self._since_time):
                continue  # no stage change to load; a deal already queued keeps its place
            no_products = self.batched and deal.get("products_count") == 0
            if not self.history and (no_products or (deleted and self.context.hard_delete)):
                queue.discard(deal_id)
                tombstones.append(tombstone(self.entity, deal_id))
                continue
            # deleted deals re-read their whole history to flag (or delete) every row
            queue.push(deal_id, None if deleted else self._since, deleted)
        return tombstones

    def _take(self, count: int) -> List[QueuedDeal]:
        """Takes up to `count` deals if the budget allows one more request."""
        budget = self.context.budget
        if not budget.try_reserve(self.cost):
            return []
        taken = []
        while len(taken) < count:
            deal = self._attach().pop()
            if deal is None:
                break
            taken.append(deal)
        if not taken:
            budget.release(self.cost)
        return taken

    def drain(self) -> Iterator[Callable[[], List[Dict[str, Any]]]]:
        """Yields one deferred fetch per deal (per batch), oldest queued first, within budget."""
        batch_size = self.entity.parent_batch_size if self.batched else 1
        while True:
            deals = self._take(batch_size)
            if not deals:
                break
            yield self._deferred(deals)
        queue = self._attach()
        queue.save()
        if self.context.budget.exhausted and len(queue):
            message = (
                f"{self.entity.name}: token cap reached ({self.context.budget.spent} tokens spent, "
                f"max_tokens_per_run={self.context.budget.cap}); {len(queue)} deals "
                "remain queued and the next run continues with them"
            )
            if not self._warned:
                logger.warning(message)
                self._warned = True
            else:
                logger.info(message)

    # -- fetching (runs in dlt's extract thread pool) ----------------------------------------
    def _deferred(self, deals: List[QueuedDeal]) -> Callable[[], List[Dict[str, Any]]]:
        def fetch() -> List[Dict[str, Any]]:
            try:
                if self.batched:
                    return self._fetch_batch(deals)
                return self._fetch_one(deals[0])
            except TokenBudgetExceededError:
                # an unreserved extra page hit the hard cap: drop the partial rows, retry next run
                self._attach().push_front(deals)
                self._attach().save()
                return []
            finally:
                self.context.budget.release(self.cost)

        return fetch

    def _pages(self, params: Mapping[str, Any], path: Optional[str] = None) -> Iterator[TDataPage]:
        entity = self.entity
        return self.context.client.paginate(
            path or entity.path,
            api=entity.api,
            paging=entity.paging,
            page_size=entity.page_size,
            token_cost=entity.token_cost,
            params={**entity.base_params(), **params},
            data_selector=entity.data_selector,
            bulk=True,
        )

    def _snapshot_rows(
        self, deal: QueuedDeal, records: Iterable[Mapping[str, Any]]
    ) -> List[Dict[str, Any]]:
        rows = []
        for record in records:
            row = flatten_record(record)
            row["deal_id"] = deal.deal_id
            row[DELETED_COLUMN] = deal.deleted
            rows.append(row)
        return rows or [tombstone(self.entity, deal.deal_id)]

    def _fetch_batch(self, deals: List[QueuedDeal]) -> List[Dict[str, Any]]:
        ids = ",".join(str(deal.deal_id) for deal in deals)
        by_deal: Dict[int, List[Mapping[str, Any]]] = {deal.deal_id: [] for deal in deals}
        for page in self._pages({str(self.entity.parent_ids_param): ids}):
            for record in page:
                by_deal.setdefault(int(record["deal_id"]), []).append(record)
        rows: List[Dict[str, Any]] = []
        for deal in deals:
            rows.extend(self._snapshot_rows(deal, by_deal[deal.deal_id]))
        return rows

    def _fetch_one(self, deal: QueuedDeal) -> List[Dict[str, Any]]:
        path = self.entity.path.replace("{id}", str(deal.deal_id))
        try:
            if not self.history:
                return self._snapshot_rows(
                    deal, (r for page in self._pages({}, path) for r in page)
                )
            items: List[Mapping[str, Any]] = []
            for page in self._pages({}, path):  # newest first: stop below `since`
                items.extend(page)
                if deal.since is not None and page and str(page[-1].get("time") or "") < deal.since:
                    break
        except NotFoundError as error:  # 404/410: the deal vanished since it was listed
            logger.warning(f"{self.entity.name}: deal {deal.deal_id} skipped: {error}")
            return [] if self.history else [tombstone(self.entity, deal.deal_id)]
        namer = self._namer or FieldNamer({}, None)
        rows = change_rows(deal.deal_id, changes_since(items, deal.since), namer)
        for row in rows:
            row[DELETED_COLUMN] = deal.deleted
            if deal.deleted and self.context.hard_delete:
                row[TOMBSTONE_COLUMN] = True
        return rows

    # -- the transformer body ----------------------------------------------------------------
    def __call__(self, page: TDataPage) -> Iterator[Any]:
        """Transformer body: tombstones first, then the deferred fetches.

        Every item is marked with the table name: a transformer's items otherwise inherit the
        meta of the parent's page, and the deals pages carry column hints (custom fields) that
        dlt would merge into this table and recompute its schema for every item.
        """
        tombstones = self.enqueue(page)
        if tombstones:
            yield dlt.mark.with_table_name(tombstones, self.entity.table)
        for fetch in self.drain():
            yield dlt.mark.with_table_name(fetch, self.entity.table)


def _write_hints(entity: Entity) -> Dict[str, Any]:
    hints: Dict[str, Any] = {
        "write_disposition": "merge",
        "primary_key": list(entity.primary_key),
        "columns": child_columns(entity),
    }
    if not _is_history(entity):
        hints["merge_key"] = "deal_id"
    return hints


def deal_child_resource(
    entity: Entity, parent: DltResource, context: ChildRunContext
) -> DltResource:
    """Builds the transformer of one child entity fed by `parent` (a deals listing).

    Args:
        entity: Child row of the entity table (`parent` names the deals listing).
        parent: The parent resource.
        context: The run's shared context.
    """
    reader = DealChildReader(entity, context)

    def read_children(page: TDataPage) -> Iterator[Any]:
        yield from reader(page)

    return _child_transformer(read_children, entity, parent)


def derived_stage_resource(
    entity: Entity, parent: DltResource, context: ChildRunContext
) -> DltResource:
    """Builds `deal_stage_changes`: the `stage_id` rows of its `deal_changes` parent, no requests.

    Selecting only this table still runs `deal_changes` (dlt evaluates unselected parents of a
    selected transformer without loading them).
    """

    def read_stage_changes(rows: TDataPage) -> Iterator[TDataPage]:
        moved = any(row.get("field_key") == STAGE_FIELD for row in rows)
        stage_rows = stage_change_rows(rows, context.stage_pipelines() if moved else {})
        if stage_rows:
            yield dlt.mark.with_table_name(stage_rows, entity.table)  # not the parent's table

    return _child_transformer(read_stage_changes, entity, parent)


def _child_transformer(
    read: Callable[[TDataPage], Iterator[Any]], entity: Entity, parent: DltResource
) -> DltResource:
    """Wraps `read` as the transformer of `entity`, fed by `parent`, with the entity's hints."""
    return dlt.transformer(
        read,
        data_from=parent,
        name=entity.name,
        table_name=entity.table,
        selected=entity.selected,
        **_write_hints(entity),
    )


def deal_child_resources(
    children: Sequence[Entity],
    parents: Mapping[str, DltResource],
    client: PipedriveClient,
    field_sets: FieldSetCache,
    *,
    hard_delete: bool = False,
    max_tokens_per_run: Optional[int] = None,
    entities: Mapping[str, Entity] = ENTITIES_BY_NAME,
) -> List[DltResource]:
    """Builds every child transformer whose parent resource is available.

    Args:
        children: Entity rows with `parent` set, parents before their own children.
        parents: Top-level resources by name (`deals`, `deals_archived`).
        client: The run's client.
        field_sets: The run's field-set cache.
        hard_delete: The source's deletion mode.
        max_tokens_per_run: The run's token cap (None: no cap).
        entities: Entity rows by name.

    Returns:
        The transformers, in the order of `children`.
    """
    context = ChildRunContext(client, field_sets, hard_delete, max_tokens_per_run, entities)
    built: Dict[str, DltResource] = dict(parents)
    resources = []
    for entity in children:
        parent = built.get(entity.parent or "")
        if parent is None:
            continue
        parent_entity = entities.get(entity.parent or "")
        if parent_entity is not None and parent_entity.parent is not None:
            resource = derived_stage_resource(entity, parent, context)
        else:
            resource = deal_child_resource(entity, parent, context)
        built[entity.name] = resource
        resources.append(resource)
    return resources
