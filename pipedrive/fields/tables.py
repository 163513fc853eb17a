"""The tables that describe the fields themselves: `<set>_fields` (every definition, built-in and
custom, as the API returns it) and `custom_fields_mapping` (hash -> current name -> column).

Both are written only in runs that read the definitions (`FieldSetCache.is_due`) and merge on
their keys; a `<set>_fields` read is a complete read, so a field deleted in Pipedrive is flagged
`is_deleted` (removed with `hard_delete`) by the run protocol. The mapping keeps every field the
source ever mapped, deleted ones too: their columns still hold old values.
"""

from typing import Iterator, Sequence

import dlt
from dlt.common import logger
from dlt.extract.resource import DltResource

from ..entities import FieldSet
from ..http import TDataPage
from ..http.errors import BudgetStop
from ..schedule import due_now, record_complete_read
from ..session import RunSession
from .column_hints import DELETION_FOUND_COLUMN
from .definitions import MAPPING_TABLE, FieldSetCache


def field_set_resource(
    field_set: FieldSet, field_sets: FieldSetCache, session: RunSession, *, renames_records: bool,
    hard_delete: bool = False,
) -> DltResource:
    """Builds the `<set>_fields` resource: every field definition, custom and built-in.

    Args:
        field_set: The field set.
        field_sets: The run's field-set cache.
        session: The run's session (the read is recorded as complete).
        renames_records: True when an entity's records are renamed with this set; its custom
            fields then get a `column_name` column naming the table column holding their values.
        hard_delete: Remove definitions of deleted fields instead of flagging them.
    """

    def read_definitions() -> Iterator[TDataPage]:
        try:
            raw = field_sets.definitions(field_set.name)
        except BudgetStop as stop:  # the table stays due: read in the next run
            logger.warning(f"{field_set.table}: stopped by the token budget ({stop}); read again next run")
            return
        if raw is None:
            return  # not due: the table keeps what the last read loaded
        mapper = field_sets.mapper(field_set.name) if renames_records else None
        rows = []
        for item in raw:
            row = dict(item)
            if mapper is not None:
                row["column_name"] = mapper.column_of(str(item.get(field_set.key_field)))
            rows.append(row)
        with session.lock:
            record_complete_read(dlt.current.resource_state(), dlt.current.source_state(), field_set.table, rows)
        key = field_set.key_field
        session.completed(field_set.table, field_set.table, key, (item.get(key) for item in raw))
        yield rows

    return dlt.resource(
        read_definitions,
        name=field_set.table,
        primary_key=field_set.key_field,
        write_disposition="merge",
        columns={
            "options": {"data_type": "json"},
            "subfields": {"data_type": "json"},
            "is_deleted": {"data_type": "bool", **({"hard_delete": True} if hard_delete else {})},
            DELETION_FOUND_COLUMN: {"data_type": "timestamp"},
            **({"column_name": {"data_type": "text"}} if renames_records else {}),
        },
    )


def custom_fields_mapping_resource(field_sets: FieldSetCache, session: RunSession, names: Sequence[str]) -> DltResource:
    """Builds the `custom_fields_mapping` resource: hash -> name -> column of every field set, from
    the source state (no request of its own), in runs that read definitions or need it (`due_now`)."""

    def read_mapping() -> Iterator[TDataPage]:
        if MAPPING_TABLE not in due_now(dlt.current.source_state()) and not any(field_sets.is_due(n) for n in names):
            return
        rows = []
        try:
            for name in names:
                rows += field_sets.mapper(name).mapping_rows()
        except BudgetStop as stop:  # a set whose definitions could not be read: still due next run
            logger.warning(f"{MAPPING_TABLE}: stopped by the token budget ({stop}); written again next run")
        else:
            with session.lock:
                record_complete_read(dlt.current.resource_state(), dlt.current.source_state(), MAPPING_TABLE, ())
        yield rows

    return dlt.resource(
        read_mapping,
        name=MAPPING_TABLE,
        primary_key=["entity", "hash_key"],
        write_disposition="merge",
        columns={"options": {"data_type": "json"}},
    )
