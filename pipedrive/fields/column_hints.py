"""Column type hints: built-in Pipedrive columns and custom fields typed from their field type.

`RECORD_KEYS` lists the built-in record keys per table, from the item schemas of the official
specs. Two uses: a custom field never takes one of these column names, even when the `*Fields`
endpoint does not list the built-in (deal `currency`, the lead keys that share the deal field
set); and the known columns of a table are typed before its first row arrives.

Built-in columns are typed statically, only those the table's records have (`RECORD_KEYS`), so
`users` does not grow a `won_time` column; timestamps elsewhere are left to dlt's ISO timestamp
detection. Custom-field columns are typed once the field definitions are read, for every custom
field of the set (a stable, typed schema even before a record sets the field).

Custom-field hints are merged into the running resource (`dlt.current.resource()`) before its
first page is yielded, never attached to the data with `dlt.mark.with_hints`: item metadata
travels with the page into every transformer fed by the resource (the deal children), which
would then inherit the deal columns.
"""

from typing import FrozenSet, Mapping

from dlt.common.schema.typing import TColumnSchema, TDataType, TTableSchemaColumns

from ..entities import Entity
from .mapper import SUBFIELD_SUFFIXES, CustomFieldMapper

_DEAL = (
    "activities_count acv add_time arr channel channel_id close_time currency custom_fields "
    "done_activities_count email_messages_count expected_close_date files_count first_won_time "
    "followers_count id is_archived is_deleted label_ids last_activity_id last_incoming_mail_time "
    "last_outgoing_mail_time lost_reason lost_time mrr next_activity_id notes_count org_id origin "
    "origin_id owner_id participants_count person_id pipeline_id probability products_count "
    "smart_bcc_email source_lead_id stage_change_time stage_id status title "
    "undone_activities_count update_time value visible_to won_time archive_time"
)
# leads carry the deal custom fields next to their own keys
_LEAD = (
    "add_time cc_email channel channel_id creator_id expected_close_date id is_archived label_ids "
    "next_activity_id organization_id origin origin_id owner_id person_id source_deal_id "
    "source_name title update_time value visible_to was_seen"
)
_PERSON = (
    "activities_count add_time birthday closed_deals_count custom_fields doi_status "
    "done_activities_count email_messages_count emails files_count first_name followers_count id "
    "im is_deleted job_title label_ids last_activity_id last_incoming_mail_time last_name "
    "last_outgoing_mail_time lost_deals_count marketing_status name next_activity_id notes "
    "notes_count open_deals_count org_id owner_id participant_closed_deals_count "
    "participant_open_deals_count phones picture_id postal_address related_closed_deals_count "
    "related_lost_deals_count related_open_deals_count related_won_deals_count smart_bcc_email "
    "undone_activities_count update_time visible_to won_deals_count"
)
_ORGANIZATION = (
    "activities_count add_time address annual_revenue closed_deals_count custom_fields "
    "done_activities_count email_messages_count employee_count files_count followers_count id "
    "industry is_deleted label_ids last_activity_id linkedin lost_deals_count name "
    "next_activity_id notes_count open_deals_count owner_id people_count "
    "related_closed_deals_count related_lost_deals_count related_open_deals_count "
    "related_won_deals_count smart_bcc_email undone_activities_count update_time visible_to "
    "website won_deals_count"
)
_ACTIVITY = (
    "add_time attendees busy conference_meeting_client conference_meeting_id "
    "conference_meeting_url creator_user_id deal_id done due_date due_time duration id is_deleted "
    "lead_id location marked_as_done_time note org_id owner_id participants person_id priority "
    "project_id public_description subject type update_time"
)
_PRODUCT = (
    "add_time billing_frequency billing_frequency_cycles category code custom_fields description "
    "id is_deleted is_linkable name owner_id prices tax unit update_time visible_to"
)
# + `is_archived`: not in the v2 item schema, the source flags rows of `/projects/archived`
_PROJECT = (
    "add_time archive_time board_id custom_fields deal_ids description end_date health_status id "
    "is_archived label_ids org_ids owner_id person_ids phase_id start_date status "
    "status_change_time title update_time"
)
_NOTE = (
    "active_flag add_time content deal deal_id id last_update_user_id lead_id org_id organization "
    "person person_id pinned_to_deal_flag pinned_to_organization_flag pinned_to_person_flag "
    "pinned_to_project_flag pinned_to_task_flag project project_id task task_id update_time user "
    "user_id"
)

_TASK = (
    "add_time assignee_ids creator_id description due_date id is_done is_milestone "
    "marked_as_done_time parent_task_id priority project_id start_date title update_time"
)
_DEAL_PRODUCT = (
    "add_time billing_frequency billing_frequency_cycles billing_start_date comments currency "
    "deal_id discount discount_type id is_enabled item_price name order_nr product_id "
    "product_variation_id quantity sum tax tax_method update_time"
)
# the lead `value` object is flattened into these columns
_LEAD_FLATTENED = "value__amount value__currency"

RECORD_KEYS: Mapping[str, FrozenSet[str]] = {
    "deals": frozenset(_DEAL.split()),
    "leads": frozenset(_LEAD.split()) | frozenset(_LEAD_FLATTENED.split()),
    "persons": frozenset(_PERSON.split()),
    "organizations": frozenset(_ORGANIZATION.split()),
    "activities": frozenset(_ACTIVITY.split()),
    "products": frozenset(_PRODUCT.split()),
    "projects": frozenset(_PROJECT.split()),
    "tasks": frozenset(_TASK.split()),
    "notes": frozenset(_NOTE.split()),
    "deal_products": frozenset(_DEAL_PRODUCT.split()),
}
"""Top-level record keys per table (v2 item schema + `include_fields`, v1 item schema)."""

TIMESTAMP_COLUMNS = (
    "add_time", "update_time", "close_time", "won_time", "lost_time", "first_won_time",
    "stage_change_time", "archive_time", "marked_as_done_time", "last_incoming_mail_time",
    "last_outgoing_mail_time", "status_change_time", "last_login", "created", "modified",
    "last_activity_date_time", "next_activity_date_time", "log_time", "start_time", "end_time",
)
DATE_COLUMNS = ("expected_close_date", "due_date", "start_date", "end_date")
DECIMAL_COLUMNS = ("value", "arr", "mrr", "acv", "value__amount", "tax")
# JSON has one number type: a whole price arrives as `100`, which dlt would type bigint, and the
# next `99.5` would then land in a variant column `item_price__v_double`
NUMBER_COLUMNS = ("sum", "item_price", "discount", "quantity")
BOOL_COLUMNS = (
    "is_deleted", "is_archived", "active_flag", "done", "busy", "is_done", "is_milestone",
)

BUILTIN_COLUMN_TYPES: Mapping[str, TDataType] = {
    **{name: "timestamp" for name in TIMESTAMP_COLUMNS},
    **{name: "date" for name in DATE_COLUMNS},
    **{name: "decimal" for name in DECIMAL_COLUMNS},
    **{name: "double" for name in NUMBER_COLUMNS},
    **{name: "bool" for name in BOOL_COLUMNS},
}

DELETION_FOUND_COLUMN = "deletion_found_time"
"""When the source found the row gone upstream (a complete read no longer returned it)."""

# custom field type -> type of its main column
CUSTOM_FIELD_TYPES: Mapping[str, TDataType] = {
    "date": "date",
    "daterange": "date",
    "monetary": "decimal",
    "double": "double",
    "int": "bigint",
    "boolean": "bool",
    "enum": "text",
    "set": "json",
    "json": "json",
    "varchar": "text",
    "varchar_auto": "text",
    "varchar_options": "text",
    "text": "text",
    "phone": "text",
    "address": "text",
    "time": "text",
    "timerange": "text",
    "user": "bigint",
    "org": "bigint",
    "people": "bigint",
    "deal": "bigint",
    "project": "bigint",
    "stage": "bigint",
    "activity": "bigint",
    "pipeline": "bigint",
    "lead": "text",
}
# custom field type -> type of each sub-value column
CUSTOM_SUBFIELD_TYPES: Mapping[str, TDataType] = {"daterange": "date"}


def custom_field_hints(mapper: CustomFieldMapper) -> TTableSchemaColumns:
    """Column hints for every custom field of a set (main column and sub-value columns).

    Args:
        mapper: The set's mapper (stable column names).

    Returns:
        dlt column schemas keyed by column name.
    """
    columns: TTableSchemaColumns = {}
    for mapped in mapper.fields.values():
        data_type = CUSTOM_FIELD_TYPES.get(mapped.field_type)
        if data_type is None:
            continue
        columns[mapped.column] = {"name": mapped.column, "data_type": data_type, "nullable": True}
        sub_type = CUSTOM_SUBFIELD_TYPES.get(mapped.field_type, "text")
        for suffix in SUBFIELD_SUFFIXES.get(mapped.field_type, ()):
            column = mapped.sibling_column(suffix)
            columns[column] = {"name": column, "data_type": sub_type, "nullable": True}
    return columns


def deletion_hints(entity: Entity, hard_delete: bool) -> TTableSchemaColumns:
    """Hints of the deletion columns: the entity's soft-delete flag, always typed `bool` (dlt
    deletes on any non-null value of a non-bool hard_delete column), with dlt's `hard_delete` hint
    when rows flagged deleted are to be removed; and the time the source found a row missing."""
    name = entity.soft_delete_column
    column: TColumnSchema = {"name": name, "data_type": "bool", "nullable": True}
    if hard_delete:
        column["hard_delete"] = True
    found: TColumnSchema = {"name": DELETION_FOUND_COLUMN, "data_type": "timestamp", "nullable": True}
    return {name: column, DELETION_FOUND_COLUMN: found}


def builtin_column_hints(table: str) -> TTableSchemaColumns:
    """Types of the table's known date, money, number and boolean columns (from `RECORD_KEYS`)."""
    known = RECORD_KEYS.get(table, frozenset())
    return {
        name: {"name": name, "data_type": data_type, "nullable": True}
        for name, data_type in sorted(BUILTIN_COLUMN_TYPES.items())
        if name in known
    }

