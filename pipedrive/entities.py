"""The declarative table of everything the source loads: listings, deal children, field sets.

One `Entity` row is one top-level resource (a listing endpoint and how it becomes a table), one
`DealChild` row is one table fed per deal, one `FieldSet` row is one `*Fields` endpoint. The
factories (`pipedrive.listings`, `pipedrive.deal_children`, `pipedrive.fields`) read only these
rows, so adding an incremental entity with custom fields is one line in `ENTITIES`.

Rows are built with keyword arguments through presets for the styles Pipedrive repeats
(`v2_listing`, `v1_listing` and the cursors `V2_UPDATED_SINCE`, `V1_UPDATED_SINCE`,
`V1_NEWEST_FIRST`); `twin` derives the second listing of a table (archived deals, leads and
projects, inactive goals) from its live row. Behaviour that follows from a row's fields is named
by the properties of `Entity` (`is_incremental`, `is_chunkable`, `pages_by_keyset`,
`stops_at_cursor`, `reads_every_page`), documented where they are defined.

Every table merges on its key. A listing without a cursor is read whole, at most every
`refresh_hours` (a freshness interval kept in its resource state), and a complete read marks the
rows it no longer returned as deleted (`pipedrive.run.maintenance`).

Token costs are the `x-token-cost` of each operation in the official OpenAPI specs (checked by
`tests/source/test_entities.py`).
"""

import dataclasses
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from enum import Enum
from types import MappingProxyType
from typing import Any, Literal, Mapping, Optional, Tuple

from dlt.common.time import ensure_pendulum_datetime

TSortOrder = Literal["asc", "desc"]


class ApiVersion(str, Enum):
    """Pipedrive API generation; v1 lives under `/api/v1`, v2 under `/api/v2`."""

    V1 = "v1"
    V2 = "v2"


class Paging(str, Enum):
    """How a list endpoint pages."""

    CURSOR = "cursor"
    """`cursor` + `limit`, next cursor in `additional_data.next_cursor` (v2 and some v1)."""
    OFFSET = "offset"
    """`start` + `limit`, `additional_data[.pagination].next_start` (classic v1)."""
    NONE = "none"
    """One request returns everything."""


class TimestampFormat(str, Enum):
    """String format of a cursor column: values compare correctly only within one format."""

    V1 = "%Y-%m-%d %H:%M:%S"
    """`2024-01-31 10:20:30` (UTC, no zone): most v1 entities."""
    RFC3339 = "%Y-%m-%dT%H:%M:%SZ"
    """`2024-01-31T10:20:30Z`: every v2 entity."""
    RFC3339_MS = "%Y-%m-%dT%H:%M:%S.000Z"
    """`2024-01-31T10:20:30.000Z`: v1 leads."""


def parse_timestamp(value: Any) -> datetime:
    """Any Pipedrive timestamp, date or datetime as an aware UTC datetime (naive v1 values are UTC)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    return ensure_pendulum_datetime(value).in_timezone("UTC")


def format_timestamp(value: Any, fmt: TimestampFormat) -> str:
    """A timestamp in the format a cursor column stores it."""
    return parse_timestamp(value).strftime(TimestampFormat(fmt).value)


def to_updated_since(value: Optional[Any]) -> Optional[str]:
    """RFC 3339 value for `updated_since` (every endpoint takes RFC 3339), whole seconds: the
    filter is inclusive, so truncating can only re-read rows of the same second, never skip one."""
    if value is None or value == "":
        return None
    return format_timestamp(value, TimestampFormat.RFC3339)


def frozen(mapping: Optional[Mapping[str, Any]] = None) -> Mapping[str, Any]:
    """A read-only copy of `mapping` (rows of the table are immutable)."""
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Cursor:
    """How an incremental listing is read: the cursor column and what the API does with it.

    Attributes:
        field: Column tracked by `dlt.sources.incremental`.
        format: String format of the column's values.
        since_param: Query parameter filtering `field >= value` on the server; None when the
            endpoint cannot filter (then the cursor filters client side).
        order: Order `sort_params` produce.
        sort_params: Query parameters that sort the listing by `field`.
    """

    field: str = "update_time"
    format: TimestampFormat = TimestampFormat.RFC3339
    since_param: Optional[str] = "updated_since"
    order: TSortOrder = "asc"
    sort_params: Mapping[str, str] = dataclasses.field(default_factory=frozen)


V2_UPDATED_SINCE = Cursor(sort_params=frozen({"sort_by": "update_time", "sort_direction": "asc"}))
"""v2: `updated_since` filter, oldest change first (deals, persons, organizations, activities,
products)."""
V1_UPDATED_SINCE = Cursor(format=TimestampFormat.V1, sort_params=frozen({"sort": "update_time ASC"}))
"""v1 with an `updated_since` filter (notes; leads with `format=RFC3339_MS`)."""
V1_NEWEST_FIRST = Cursor(
    format=TimestampFormat.V1, since_param=None, order="desc",
    sort_params=frozen({"sort": "update_time DESC"}),
)
"""v1 without a filter but sortable: newest first, the read stops at the stored cursor."""


@dataclass(frozen=True, kw_only=True)
class Endpoint:
    """A GET list endpoint: where it is, how it pages and what one request costs.

    Attributes:
        name: Unique name of what the endpoint feeds (a resource or field-set name).
        path: Path relative to the version base URL (`{id}`: a deal id, for deal children).
        api: API version of `path`.
        paging: Pagination style of the endpoint.
        token_cost: `x-token-cost` of one request.
        page_size: Largest `limit` the endpoint accepts (500 unless the spec says less).
        params: Constant query parameters (status lists, `include_fields`, ...).
        data_selector: JSON path of the record list in the response body.
        dropped_keys: Copies of other records embedded in a record (a note's `person` object, a
            file's `person_name`): left out, because the record is not read again when the other
            one changes; its id stays, and the other record's own table is always current.
        id_objects: Keys holding another record as an object: loaded as that record's id.
    """

    name: str
    path: str
    api: ApiVersion
    paging: Paging
    token_cost: int
    page_size: int = 500
    params: Mapping[str, str] = field(default_factory=frozen)
    data_selector: str = "data"
    dropped_keys: Tuple[str, ...] = ()
    id_objects: Tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Entity(Endpoint):
    """A top-level listing and how it becomes a table.

    Attributes:
        table_name: Destination table when it differs from `name` (twins share a table).
        primary_key: Natural key the table merges on.
        cursor: How the listing is read incrementally (None: read whole).
        refresh_hours: A listing read whole is read again once its last complete read is this
            old (its freshness interval); sooner when a record refers to one of its rows the
            source has not seen, or on `refresh_reference`.
        recents_item: The `/v1/recents` item kind that reports this listing's changes: a run
            whose one recents request shows none skips the listing.
        references: Column -> the table whose ids it holds (`stage_id` -> `stages`): a value the
            source has not seen makes that table due at once.
        custom_field_set: Field set whose hash keys are renamed in the records.
        record_defaults: Values set on every row that lacks the key.
        soft_delete_column: Boolean column Pipedrive sets on deleted rows (the source sets it on
            rows a complete read no longer returns).
        selected: Whether the resource runs by default.
    """

    table_name: Optional[str] = None
    primary_key: Tuple[str, ...] = ("id",)
    cursor: Optional[Cursor] = None
    refresh_hours: float = 24.0
    recents_item: Optional[str] = None
    references: Mapping[str, str] = field(default_factory=frozen)
    custom_field_set: Optional[str] = None
    record_defaults: Mapping[str, Any] = field(default_factory=frozen)
    soft_delete_column: str = "is_deleted"
    selected: bool = True

    @property
    def table(self) -> str:
        """Destination table name."""
        return self.table_name or self.name

    @property
    def is_incremental(self) -> bool:
        """The resource keeps a cursor between runs; otherwise it is read whole."""
        return self.cursor is not None

    @property
    def is_chunkable(self) -> bool:
        """A run may stop after any page and the next continue from the cursor: the API filters
        by the cursor and sorts ascending, so a page end is a valid cursor (`pipedrive.run.chunks`)."""
        return self.cursor is not None and self.cursor.order == "asc" and bool(self.cursor.since_param)

    @property
    def pages_by_keyset(self) -> bool:
        """A v1 offset listing that filters and sorts by its cursor pages by moving the filter,
        not the offset: an offset skips a row when one already read is edited mid-run
        (`pipedrive.http.paginators.V1KeysetPaginator`)."""
        return self.paging is Paging.OFFSET and self.is_chunkable

    @property
    def stops_at_cursor(self) -> bool:
        """Newest first without a filter: the read stops at the first row older than the cursor
        (dlt's `row_order="desc"`). Such a read keeps its rows until it ends: a partial one would
        move the cursor past the rows it did not reach."""
        return self.cursor is not None and self.cursor.order == "desc" and not self.cursor.since_param

    @property
    def reads_every_page(self) -> bool:
        """Read whole and paged: its pages can be read ahead in a thread (`pipedrive.http.read_ahead`)."""
        return self.cursor is None and self.paging is not Paging.NONE

    def base_params(self) -> Mapping[str, str]:
        """Constant query parameters of every request: the cursor's sort and `params`."""
        return {**(self.cursor.sort_params if self.cursor else {}), **self.params}


@dataclass(frozen=True, kw_only=True)
class DealChild(Endpoint):
    """A table fed per deal, from the pages of the deal listings (`DEAL_LISTINGS`).

    Attributes:
        primary_key: Key of a row.
        history: True: rows are changes, merged on their key and read only when newer than what
            earlier runs loaded; False: rows mirror the deal's current rows (a fetched deal
            replaces all its rows, `merge_key="deal_id"`).
        batch_param: Query parameter taking up to `batch_size` comma-separated deal ids (one
            request for many deals); None: one request per deal (`{id}` in `path`).
        batch_size: Most deal ids one batched request takes.
        derived_from: Another child whose rows this table is derived from, without requests.
        custom_field_set: Field set naming the fields in change rows.
        selected: Whether the resource runs by default.
    """

    primary_key: Tuple[str, ...]
    history: bool = False
    batch_param: Optional[str] = None
    batch_size: int = 100
    derived_from: Optional[str] = None
    custom_field_set: Optional[str] = None
    selected: bool = True

    @property
    def table(self) -> str:
        """Destination table name (both deal listings feed one table)."""
        return self.name


@dataclass(frozen=True, kw_only=True)
class FieldSet(Endpoint):
    """A `*Fields` endpoint: the field definitions of one entity kind.

    Attributes:
        name: Field-set name (`deal`, `person`, ...), also the `entity` column of
            `custom_fields_mapping`.
        deleted_options_source: The v1 definitions of the same set, read only when a record holds
            an option id the v2 definitions no longer list (v2 drops deleted options, v1 keeps
            them in `options_deleted`).
    """

    deleted_options_source: Optional["FieldSet"] = None
    refresh_hours: float = 24.0
    """The definitions are read again once this old, sooner when a record holds a field or an
    option the source does not know, or on `refresh_reference`."""

    @property
    def table(self) -> str:
        """Destination table of the definitions, e.g. `deal_fields`."""
        return f"{self.name}_fields"

    @property
    def key_field(self) -> str:
        """Attribute holding the hash or built-in key (`field_code` in v2, `key` in v1)."""
        return "field_code" if self.api is ApiVersion.V2 else "key"


V1, V2 = ApiVersion.V1, ApiVersion.V2
CURSOR, OFFSET, NONE = Paging.CURSOR, Paging.OFFSET, Paging.NONE


def v2_listing(name: str, path: str, *, token_cost: int = 10, **options: Any) -> Entity:
    """A v2 listing (cursor paging); incremental ones pass `cursor=V2_UPDATED_SINCE`."""
    return Entity(name=name, path=path, api=V2, paging=CURSOR, token_cost=token_cost, **options)


def v1_listing(
    name: str, path: str, *, paging: Paging = NONE, token_cost: int = 20, **options: Any
) -> Entity:
    """A v1 listing (most are one unpaged request)."""
    return Entity(name=name, path=path, api=V1, paging=paging, token_cost=token_cost, **options)


def twin(live: Entity, name: str, **changes: Any) -> Tuple[Entity, Entity]:
    """A table's live listing and a second listing loading into the same table.

    With `is_archived` in the changes' defaults, the live row gets `is_archived=False`.
    Both run in one load; a complete read of the table counts only when both listed it whole.
    """
    defaults = dict(changes.pop("record_defaults", {}))
    if defaults.get("is_archived"):
        live = replace(live, record_defaults=frozen({**live.record_defaults, "is_archived": False}))
    other = replace(
        live, name=name, table_name=live.table,
        record_defaults=frozen({**live.record_defaults, **defaults}), **changes,
    )
    return live, other


ARCHIVED = frozen({"is_archived": True})
_DEAL_INCLUDE_FIELDS = (
    "next_activity_id,last_activity_id,first_won_time,products_count,files_count,notes_count,"
    "followers_count,email_messages_count,activities_count,done_activities_count,"
    "undone_activities_count,participants_count,last_incoming_mail_time,"
    "last_outgoing_mail_time,source_lead_id"
)
_DEALS = dict(
    custom_field_set="deal", cursor=V2_UPDATED_SINCE,
    params=frozen({"status": "open,won,lost,deleted", "include_fields": _DEAL_INCLUDE_FIELDS}),
    references=frozen({"stage_id": "stages", "pipeline_id": "pipelines", "owner_id": "users"}),
)
_LEADS_CURSOR = replace(V1_UPDATED_SINCE, format=TimestampFormat.RFC3339_MS)


def _field_set(name: str, path: str, v1_paging: Optional[Paging]) -> FieldSet:
    """A v2 field set whose v1 twin (`v1_paging`) lists deleted options, or a v1-only set."""
    if v1_paging is None:
        return FieldSet(name=name, path=path, api=V2, paging=CURSOR, token_cost=10)
    v1 = FieldSet(name=name, path=path, api=V1, paging=v1_paging, token_cost=20)
    return FieldSet(name=name, path=path, api=V2, paging=CURSOR, token_cost=10, deleted_options_source=v1)


FIELD_SETS: Tuple[FieldSet, ...] = (
    _field_set("deal", "/dealFields", OFFSET),
    _field_set("person", "/personFields", OFFSET),
    _field_set("organization", "/organizationFields", OFFSET),
    _field_set("activity", "/activityFields", NONE),
    _field_set("product", "/productFields", OFFSET),
    _field_set("project", "/projectFields", None),
    FieldSet(name="lead", path="/leadFields", api=V1, paging=OFFSET, token_cost=20),
    FieldSet(name="note", path="/noteFields", api=V1, paging=NONE, token_cost=20),
)

OWNER = frozen({"owner_id": "users"})
"""Most records name their owner: a user the source has not seen makes `users` due at once."""
FOUR_TIMES_A_DAY, DAILY = 6.0, 24.0
"""Freshness intervals. Users, stages, pipelines, activity types and filters can wait a day
because `/v1/recents` reports their changes (they are then read at once), and an id a record
refers to that the source has not seen makes its table due at once too. Projects and tasks change
with daily work and nothing reports them: four times a day."""

# fmt: off
ENTITIES: Tuple[Entity, ...] = (
    # read whole: small configuration tables, each at most every `refresh_hours` (README: why these)
    v1_listing("currencies", "/currencies", refresh_hours=DAILY),
    v1_listing("activity_types", "/activityTypes", refresh_hours=DAILY),
    v1_listing("users", "/users", refresh_hours=DAILY),
    v1_listing("filters", "/filters", refresh_hours=DAILY),
    v1_listing("lead_labels", "/leadLabels", token_cost=10, refresh_hours=DAILY),
    v1_listing("lead_sources", "/leadSources", token_cost=2, primary_key=("name",), refresh_hours=DAILY),
    *twin(v1_listing("goals", "/goals/find", data_selector="data.goals", refresh_hours=DAILY), "goals_inactive", params=frozen({"is_active": "false"})),
    v1_listing("roles", "/roles", paging=OFFSET, refresh_hours=DAILY),
    v2_listing("pipelines", "/pipelines", token_cost=5, refresh_hours=DAILY),
    v2_listing("stages", "/stages", token_cost=5, refresh_hours=DAILY),
    # projects and tasks: neither filtered nor sorted by the API, a full read is the only exact option
    *twin(v2_listing("projects", "/projects", custom_field_set="project", refresh_hours=FOUR_TIMES_A_DAY), "projects_archived", path="/projects/archived", record_defaults=ARCHIVED),
    v2_listing("tasks", "/tasks", refresh_hours=FOUR_TIMES_A_DAY),
    v1_listing("call_logs", "/callLogs", paging=OFFSET, page_size=50, refresh_hours=DAILY),
    # incremental: the API filters by update_time and sorts oldest first
    *twin(v2_listing("deals", "/deals", **_DEALS, recents_item="deal"), "deals_archived", path="/deals/archived", token_cost=20, record_defaults=ARCHIVED, recents_item=None),
    v2_listing("persons", "/persons", custom_field_set="person", cursor=V2_UPDATED_SINCE, recents_item="person", references=OWNER),
    v2_listing("organizations", "/organizations", custom_field_set="organization", cursor=V2_UPDATED_SINCE, recents_item="organization", references=OWNER),
    v2_listing("activities", "/activities", custom_field_set="activity", cursor=V2_UPDATED_SINCE, params=frozen({"include_fields": "attendees"}), recents_item="activity", references=OWNER),
    v2_listing("products", "/products", custom_field_set="product", cursor=V2_UPDATED_SINCE, recents_item="product", references=OWNER),
    v1_listing("notes", "/notes", paging=OFFSET, custom_field_set="note", cursor=V1_UPDATED_SINCE, recents_item="note", references=frozen({"user_id": "users"}), dropped_keys=("deal", "person", "organization", "lead", "user")),
    # leads: /leads filters, /leads/archived only sorts (newest first, stops at the cursor); not in /recents
    *twin(v1_listing("leads", "/leads", paging=OFFSET, custom_field_set="deal", cursor=_LEADS_CURSOR, references=OWNER), "leads_archived", path="/leads/archived", token_cost=40, record_defaults=ARCHIVED, cursor=replace(V1_NEWEST_FIRST, format=TimestampFormat.RFC3339_MS)),
    v1_listing("files", "/files", paging=OFFSET, page_size=100, cursor=V1_NEWEST_FIRST, recents_item="file", references=frozen({"user_id": "users"}), dropped_keys=("deal_name", "person_name", "org_name", "product_name", "lead_name", "project_name")),
)
# fmt: on

DEAL_LISTINGS: Tuple[str, ...] = ("deals", "deals_archived")
"""The listings that feed the deal children; each child runs once per listing (the second as
`<child>_archived`), both into the child's table."""

DEAL_CHILDREN: Tuple[DealChild, ...] = (
    DealChild(name="deal_products", path="/deals/products", api=V2, paging=CURSOR, token_cost=10, primary_key=("deal_id", "id"), batch_param="deal_ids", dropped_keys=("name",)),
    # one 20-token changelog call per deal feeds deal_changes and deal_stage_changes (the flow costs 40)
    DealChild(name="deal_changes", path="/deals/{id}/changelog", api=V1, paging=CURSOR, token_cost=20, primary_key=("change_id",), history=True, custom_field_set="deal"),
    DealChild(name="deal_stage_changes", path="/deals/{id}/changelog", api=V1, paging=CURSOR, token_cost=0, primary_key=("change_id",), history=True, derived_from="deal_changes"),
    DealChild(name="deal_participants", path="/deals/{id}/participants", api=V1, paging=OFFSET, token_cost=10, primary_key=("deal_id", "id"), dropped_keys=("person", "related_item_data"), id_objects=("person_id",)),
    DealChild(name="deal_followers", path="/deals/{id}/followers", api=V2, paging=CURSOR, token_cost=10, primary_key=("deal_id", "user_id")),
)
# fmt: on

ENTITIES_BY_NAME: Mapping[str, Entity] = MappingProxyType({e.name: e for e in ENTITIES})
FIELD_SETS_BY_NAME: Mapping[str, FieldSet] = MappingProxyType({f.name: f for f in FIELD_SETS})


def child_resource_name(child: DealChild, listing: str) -> str:
    """Resource name of a child fed by one deal listing: `deal_products`,
    `deal_products_archived`."""
    suffix = listing[len(DEAL_LISTINGS[0]):]
    return f"{child.name}{suffix}"
