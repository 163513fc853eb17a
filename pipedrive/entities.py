"""The declarative table of every Pipedrive entity the source loads.

One row (an `Entity`) describes one resource: which endpoint it reads, how that endpoint pages,
how it filters and sorts, how rows merge into the destination and which custom-field set
renames its hash keys. `pipedrive.resources` turns every row into a dlt resource, so adding an
entity is one line here.

Token costs are the `x-token-cost` of the operation in the official OpenAPI specs.
"""

from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Dict, Literal, Mapping, Optional, Tuple

TWriteDisposition = Literal["merge", "replace", "append"]
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
    """String format of an entity's cursor column, so start dates compare like the API's values."""

    V1 = "v1"
    """`2024-01-31 10:20:30` (UTC, no zone): most v1 entities."""
    RFC3339 = "rfc3339"
    """`2024-01-31T10:20:30Z`: every v2 entity."""
    RFC3339_MS = "rfc3339_ms"
    """`2024-01-31T10:20:30.000Z`: v1 leads and lead labels."""


def _frozen(mapping: Optional[Mapping[str, str]] = None) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Endpoint:
    """A GET list endpoint: where it is, how it pages and what one request costs.

    Attributes:
        name: Name of what the endpoint lists (a resource or field-set name).
        path: Path relative to the version base URL.
        api: API version of `path`.
        paging: Pagination style of the endpoint.
        token_cost: `x-token-cost` of one request (official OpenAPI specs).
        page_size: Largest `limit` the endpoint accepts (500 unless the spec says less).
    """

    name: str
    path: str
    api: ApiVersion
    paging: Paging
    token_cost: int
    page_size: int = 500


@dataclass(frozen=True)
class Entity(Endpoint):
    """One Pipedrive list endpoint and how it becomes a table.

    Attributes:
        name: dlt resource name (unique).
        path: Path relative to the version base URL, e.g. `/deals`. A child entity may use a
            `{id}` placeholder for the parent id (e.g. `/deals/{id}/flow`).
        api: API version of `path`.
        paging: Pagination style of the endpoint.
        token_cost: `x-token-cost` of one request to the endpoint.
        page_size: Largest `limit` the endpoint accepts (500 unless the spec says less).
        primary_key: Natural key the table merges on.
        write_disposition: `merge` for entities read incrementally or large, `replace` for small
            reference tables read in one request (a replace also drops rows deleted upstream).
        table_name: Destination table when it differs from `name` (archived listings load into
            the live table).
        cursor_field: Column tracked by `dlt.sources.incremental` (None: not incremental).
        cursor_format: String format of `cursor_field` values.
        updated_since_param: Query parameter the server filters `cursor_field >= value` with;
            None when the endpoint cannot filter (then the cursor filters client side).
        sort_params: Query parameters that sort the listing by `cursor_field`.
        sort_order: Order `sort_params` produce; `desc` lets the resource stop at the first
            row older than the cursor.
        custom_field_set: Field set whose hash keys are renamed in the records (`deal`, ...).
        extra_params: Constant query parameters (status lists, include_fields, ...).
        record_defaults: Values set on every record when the API omits them.
        data_selector: JSON path of the record list in the response body.
        soft_delete_column: Boolean column that marks a row deleted upstream.
        parent: Name of the entity whose records feed this child entity (None: top level).
        parent_key: Parent record field that identifies it (usually `id`).
        parent_ids_param: Query parameter taking a comma-separated batch of parent ids, for
            batched child endpoints such as `/deals/products?deal_ids=`.
        parent_batch_size: Most parent ids one batched request accepts.
        selected: Whether the resource runs by default.
    """

    primary_key: Tuple[str, ...] = ("id",)
    write_disposition: TWriteDisposition = "merge"
    table_name: Optional[str] = None
    cursor_field: Optional[str] = None
    cursor_format: TimestampFormat = TimestampFormat.RFC3339
    updated_since_param: Optional[str] = None
    sort_params: Mapping[str, str] = field(default_factory=_frozen)
    sort_order: Optional[TSortOrder] = None
    custom_field_set: Optional[str] = None
    extra_params: Mapping[str, str] = field(default_factory=_frozen)
    record_defaults: Mapping[str, object] = field(default_factory=_frozen)
    data_selector: str = "data"
    soft_delete_column: Optional[str] = None
    parent: Optional[str] = None
    parent_key: str = "id"
    parent_ids_param: Optional[str] = None
    parent_batch_size: int = 100
    selected: bool = True

    @property
    def table(self) -> str:
        """Destination table name."""
        return self.table_name or self.name

    @property
    def is_incremental(self) -> bool:
        """True when the resource keeps an `update_time` cursor between runs."""
        return self.cursor_field is not None

    @property
    def reads_every_page(self) -> bool:
        """True when every run reads the listing to its last page (a multi-page listing without
        a cursor): nothing cuts it short, so its pages can be read ahead (`pipedrive.read_ahead`)."""
        return not self.is_incremental and self.paging != Paging.NONE

    def base_params(self) -> Dict[str, str]:
        """Constant query parameters of every request (sort + extra params)."""
        return {**self.sort_params, **self.extra_params}


@dataclass(frozen=True)
class FieldSet(Endpoint):
    """A `*Fields` endpoint: field definitions of one entity kind.

    Attributes:
        name: Field-set name (`deal`, `person`, ...), also the `entity` column of
            `custom_fields_mapping`.
        path: Path of the definitions endpoint relative to the version base URL.
        api: API version of `path` (v2 where it exists).
        paging: Pagination style of the endpoint.
        token_cost: `x-token-cost` of one request.
        page_size: Largest `limit` accepted.
        deleted_options_source: The v1 definitions endpoint of the same set, read only when a
            record holds an option id the v2 definitions no longer list (v2 drops deleted
            options, v1 keeps them in `options_deleted`).
    """

    deleted_options_source: Optional["FieldSet"] = None

    @property
    def table(self) -> str:
        """Destination table of the definitions, e.g. `deal_fields`."""
        return f"{self.name}_fields"

    @property
    def key_field(self) -> str:
        """Field attribute holding the hash / built-in key (`field_code` v2, `key` v1)."""
        return "field_code" if self.api is ApiVersion.V2 else "key"


V1, V2 = ApiVersion.V1, ApiVersion.V2
CURSOR, OFFSET, NONE = Paging.CURSOR, Paging.OFFSET, Paging.NONE

_V2_INCREMENTAL = dict(
    cursor_field="update_time",
    updated_since_param="updated_since",
    sort_params=_frozen({"sort_by": "update_time", "sort_direction": "asc"}),
    sort_order="asc",
    soft_delete_column="is_deleted",
)
_V1_SORT_ASC = _frozen({"sort": "update_time ASC"})
_V1_SORT_DESC = _frozen({"sort": "update_time DESC"})
_DEAL_INCLUDE_FIELDS = (
    "next_activity_id,last_activity_id,first_won_time,products_count,files_count,notes_count,"
    "followers_count,email_messages_count,activities_count,done_activities_count,"
    "undone_activities_count,participants_count,last_incoming_mail_time,"
    "last_outgoing_mail_time,source_lead_id"
)
_DEAL_PARAMS = _frozen(
    {"status": "open,won,lost,deleted", "include_fields": _DEAL_INCLUDE_FIELDS}
)

# fmt: off
FIELD_SETS: Tuple[FieldSet, ...] = (
    FieldSet("deal", "/dealFields", V2, CURSOR, 10, deleted_options_source=FieldSet("deal", "/dealFields", V1, OFFSET, 20)),
    FieldSet("person", "/personFields", V2, CURSOR, 10, deleted_options_source=FieldSet("person", "/personFields", V1, OFFSET, 20)),
    FieldSet("organization", "/organizationFields", V2, CURSOR, 10, deleted_options_source=FieldSet("organization", "/organizationFields", V1, OFFSET, 20)),
    FieldSet("activity", "/activityFields", V2, CURSOR, 10, deleted_options_source=FieldSet("activity", "/activityFields", V1, NONE, 20)),
    FieldSet("product", "/productFields", V2, CURSOR, 10, deleted_options_source=FieldSet("product", "/productFields", V1, OFFSET, 20)),
    FieldSet("project", "/projectFields", V2, CURSOR, 10),
    FieldSet("lead", "/leadFields", V1, OFFSET, 20),
    FieldSet("note", "/noteFields", V1, NONE, 20),
)
# fmt: on

# fmt: off
ENTITIES: Tuple[Entity, ...] = (
    # reference tables: one request, replace (also drops rows deleted upstream)
    Entity("currencies", "/currencies", V1, NONE, 20, write_disposition="replace"),
    Entity("activity_types", "/activityTypes", V1, NONE, 20, write_disposition="replace"),
    Entity("users", "/users", V1, NONE, 20, write_disposition="replace"),
    Entity("filters", "/filters", V1, NONE, 20, write_disposition="replace"),
    Entity("lead_labels", "/leadLabels", V1, NONE, 10, write_disposition="replace"),
    Entity("lead_sources", "/leadSources", V1, NONE, 2, primary_key=("name",), write_disposition="replace"),
    Entity("goals", "/goals/find", V1, NONE, 20, write_disposition="replace", data_selector="data.goals"),
    Entity("goals_inactive", "/goals/find", V1, NONE, 20, table_name="goals", write_disposition="replace", data_selector="data.goals", extra_params=_frozen({"is_active": "false"})),
    Entity("roles", "/roles", V1, OFFSET, 20, write_disposition="replace"),
    Entity("pipelines", "/pipelines", V2, CURSOR, 5, write_disposition="replace", soft_delete_column="is_deleted"),
    Entity("stages", "/stages", V2, CURSOR, 5, write_disposition="replace", soft_delete_column="is_deleted"),
    # no server-side filter and no sort: a full read is the only correct option, replace keeps deletions;
    # archived projects (only in /projects/archived) share the table like goals/goals_inactive: both
    # run in one load package, so dlt truncates `projects` once before loading the rows of both
    Entity("projects", "/projects", V2, CURSOR, 10, write_disposition="replace", custom_field_set="project", record_defaults=_frozen({"is_archived": False})),
    Entity("projects_archived", "/projects/archived", V2, CURSOR, 10, table_name="projects", write_disposition="replace", custom_field_set="project", record_defaults=_frozen({"is_archived": True})),
    Entity("tasks", "/tasks", V2, CURSOR, 10, write_disposition="replace"),
    Entity("call_logs", "/callLogs", V1, OFFSET, 20, page_size=50, write_disposition="replace"),
    # v2 incremental: updated_since + ascending update_time
    Entity("deals", "/deals", V2, CURSOR, 10, custom_field_set="deal", extra_params=_DEAL_PARAMS, record_defaults=_frozen({"is_archived": False}), **_V2_INCREMENTAL),
    Entity("deals_archived", "/deals/archived", V2, CURSOR, 20, table_name="deals", custom_field_set="deal", extra_params=_DEAL_PARAMS, record_defaults=_frozen({"is_archived": True}), **_V2_INCREMENTAL),
    Entity("persons", "/persons", V2, CURSOR, 10, custom_field_set="person", **_V2_INCREMENTAL),
    Entity("organizations", "/organizations", V2, CURSOR, 10, custom_field_set="organization", **_V2_INCREMENTAL),
    Entity("activities", "/activities", V2, CURSOR, 10, custom_field_set="activity", extra_params=_frozen({"include_fields": "attendees"}), **_V2_INCREMENTAL),
    Entity("products", "/products", V2, CURSOR, 10, custom_field_set="product", **_V2_INCREMENTAL),
    # v1 incremental: updated_since (RFC 3339) + ascending sort
    Entity("notes", "/notes", V1, OFFSET, 20, cursor_field="update_time", cursor_format=TimestampFormat.V1, updated_since_param="updated_since", sort_params=_V1_SORT_ASC, sort_order="asc", custom_field_set="note"),
    Entity("leads", "/leads", V1, OFFSET, 20, cursor_field="update_time", cursor_format=TimestampFormat.RFC3339_MS, updated_since_param="updated_since", sort_params=_V1_SORT_ASC, sort_order="asc", custom_field_set="deal", record_defaults=_frozen({"is_archived": False})),
    # v1 without a filter but sortable: newest first, stop at the cursor
    Entity("leads_archived", "/leads/archived", V1, OFFSET, 40, table_name="leads", cursor_field="update_time", cursor_format=TimestampFormat.RFC3339_MS, sort_params=_V1_SORT_DESC, sort_order="desc", custom_field_set="deal", record_defaults=_frozen({"is_archived": True})),
    Entity("files", "/files", V1, OFFSET, 20, page_size=100, cursor_field="update_time", cursor_format=TimestampFormat.V1, sort_params=_V1_SORT_DESC, sort_order="desc"),
    # deal children (pipedrive/deal_children.py): fed by a deals listing, one queue per row; snapshot
    # children replace a deal's rows (merge_key deal_id), history children (cursor_field) merge per change
    Entity("deal_products", "/deals/products", V2, CURSOR, 10, primary_key=("deal_id", "id"), parent="deals", parent_ids_param="deal_ids", parent_batch_size=100),
    Entity("deal_changes", "/deals/{id}/changelog", V1, CURSOR, 20, primary_key=("change_id",), parent="deals", cursor_field="time", cursor_format=TimestampFormat.V1, custom_field_set="deal"),
    Entity("deal_stage_changes", "/deals/{id}/changelog", V1, CURSOR, 0, primary_key=("change_id",), parent="deal_changes", cursor_field="time", cursor_format=TimestampFormat.V1),
    Entity("deal_participants", "/deals/{id}/participants", V1, OFFSET, 10, primary_key=("deal_id", "id"), parent="deals"),
    Entity("deal_followers", "/deals/{id}/followers", V2, CURSOR, 10, primary_key=("deal_id", "user_id"), parent="deals"),
    Entity("deal_products_archived", "/deals/products", V2, CURSOR, 10, table_name="deal_products", primary_key=("deal_id", "id"), parent="deals_archived", parent_ids_param="deal_ids", parent_batch_size=100),
    Entity("deal_changes_archived", "/deals/{id}/changelog", V1, CURSOR, 20, table_name="deal_changes", primary_key=("change_id",), parent="deals_archived", cursor_field="time", cursor_format=TimestampFormat.V1, custom_field_set="deal"),
    Entity("deal_stage_changes_archived", "/deals/{id}/changelog", V1, CURSOR, 0, table_name="deal_stage_changes", primary_key=("change_id",), parent="deal_changes_archived", cursor_field="time", cursor_format=TimestampFormat.V1),
    Entity("deal_participants_archived", "/deals/{id}/participants", V1, OFFSET, 10, table_name="deal_participants", primary_key=("deal_id", "id"), parent="deals_archived"),
    Entity("deal_followers_archived", "/deals/{id}/followers", V2, CURSOR, 10, table_name="deal_followers", primary_key=("deal_id", "user_id"), parent="deals_archived"),
)
# fmt: on

ENTITIES_BY_NAME: Mapping[str, Entity] = MappingProxyType({e.name: e for e in ENTITIES})
FIELD_SETS_BY_NAME: Mapping[str, FieldSet] = MappingProxyType({f.name: f for f in FIELD_SETS})
