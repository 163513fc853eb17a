"""Column type hints: built-in Pipedrive columns and custom fields typed from their field type.

Built-in columns are typed statically, only those the table's records have (`RECORD_KEYS`), so
`users` does not grow a `won_time` column; timestamps elsewhere are left to dlt's ISO timestamp
detection. Custom-field columns are typed once the field definitions are read, for every custom
field of the set (a stable, typed schema even before a record sets the field).

Custom-field hints are merged into the running resource (`dlt.current.resource()`) before its
first page is yielded, never attached to the data with `dlt.mark.with_hints`: item metadata
travels with the page into every transformer fed by the resource (the deal children), which
would then inherit the deal columns.
"""

from typing import Mapping

from dlt.common.schema.typing import TColumnSchema, TDataType, TTableSchemaColumns

from .builtin_columns import RECORD_KEYS
from .custom_fields import SUBFIELD_SUFFIXES, CustomFieldMapper
from .entities import Entity

TIMESTAMP_COLUMNS = (
    "add_time", "update_time", "close_time", "won_time", "lost_time", "first_won_time",
    "stage_change_time", "archive_time", "marked_as_done_time", "last_incoming_mail_time",
    "last_outgoing_mail_time", "status_change_time", "last_login", "created", "modified",
    "last_activity_date_time", "next_activity_date_time", "log_time", "start_time", "end_time",
)
DATE_COLUMNS = ("expected_close_date", "due_date", "start_date", "end_date")
DECIMAL_COLUMNS = ("value", "arr", "mrr", "acv", "value__amount", "tax")
BOOL_COLUMNS = (
    "is_deleted", "is_archived", "active_flag", "done", "busy", "is_done", "is_milestone",
)

BUILTIN_COLUMN_TYPES: Mapping[str, TDataType] = {
    **{name: "timestamp" for name in TIMESTAMP_COLUMNS},
    **{name: "date" for name in DATE_COLUMNS},
    **{name: "decimal" for name in DECIMAL_COLUMNS},
    **{name: "bool" for name in BOOL_COLUMNS},
}

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
    """Hints of the entity's soft-delete column.

    Always typed `bool` (dlt deletes on any non-null value of a non-bool hard_delete column);
    with `hard_delete=True` on a merge table it also carries dlt's `hard_delete` hint, so rows
    flagged deleted are removed from the destination instead of kept.
    """
    if entity.soft_delete_column is None:
        return {}
    name = entity.soft_delete_column
    column: TColumnSchema = {"name": name, "data_type": "bool", "nullable": True}
    if hard_delete and entity.write_disposition == "merge":
        column["hard_delete"] = True
    return {entity.soft_delete_column: column}


def builtin_column_hints(entity: Entity) -> TTableSchemaColumns:
    """Types of the entity's known date, money and boolean columns (from `RECORD_KEYS`)."""
    known = RECORD_KEYS.get(entity.table, frozenset())
    return {
        name: {"name": name, "data_type": data_type, "nullable": True}
        for name, data_type in sorted(BUILTIN_COLUMN_TYPES.items())
        if name in known
    }
