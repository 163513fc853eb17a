"""The tables that describe the fields themselves: `<set>_fields` (every definition, built-in and
custom, as the API returns it) and `custom_fields_mapping` (hash -> current name -> column)."""

from typing import Iterator, Sequence

import dlt
from dlt.extract.resource import DltResource

from ..entities import FieldSet
from ..http import TDataPage
from .definitions import FieldSetCache

CUSTOM_FIELDS_MAPPING_TABLE = "custom_fields_mapping"


def field_set_resource(
    field_set: FieldSet, field_sets: FieldSetCache, *, renames_records: bool
) -> DltResource:
    """Builds the `<set>_fields` resource: every field definition, custom and built-in.

    Args:
        field_set: The field set.
        field_sets: The run's field-set cache.
        renames_records: True when an entity's records are renamed with this set; its custom
            fields then get a `column_name` column naming the table column holding their values.
    """

    def read_definitions() -> Iterator[TDataPage]:
        mapper = field_sets.mapper(field_set.name) if renames_records else None
        rows = []
        for raw in field_sets.definitions(field_set.name):
            row = dict(raw)
            if mapper is not None:
                row["column_name"] = mapper.column_of(str(raw.get(field_set.key_field)))
            rows.append(row)
        yield rows

    return dlt.resource(
        read_definitions,
        name=field_set.table,
        primary_key=field_set.key_field,
        write_disposition="replace",
        columns={
            "options": {"data_type": "json"},
            "subfields": {"data_type": "json"},
            **({"column_name": {"data_type": "text"}} if renames_records else {}),
        },
    )


def custom_fields_mapping_resource(field_sets: FieldSetCache, names: Sequence[str]) -> DltResource:
    """Builds the `custom_fields_mapping` resource: hash -> name -> column per field set."""

    def read_mapping() -> Iterator[TDataPage]:
        for name in names:
            yield field_sets.mapper(name).mapping_rows()

    return dlt.resource(
        read_mapping,
        name=CUSTOM_FIELDS_MAPPING_TABLE,
        primary_key=["entity", "hash_key"],
        write_disposition="replace",
        columns={"options": {"data_type": "json"}},
    )
