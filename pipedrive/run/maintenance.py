"""Destination maintenance after a chunk is loaded: what only the destination can tell.

A table read whole in the chunk holds, after the merge, every row the API returned with this
load's `_dlt_load_id`; a row with an older load id is gone upstream. Such rows are flagged
`is_deleted = true` with `deletion_found_time` (soft, the default) or deleted (`hard_delete`). A
row that comes back (a restored record) is merged again and is live again. Only complete reads
count: a read cut short (budget stop, error) yields nothing and marks nothing.

Plain SQL through dlt's `sql_client`, valid on DuckDB, Postgres, BigQuery and Snowflake.
"""

from typing import Collection, List, Mapping

import dlt
from dlt.destinations.exceptions import DatabaseUndefinedRelation

from ..fields.column_hints import DELETION_FOUND_COLUMN
from ..schedule import utc_now

SOFT_DELETE_COLUMN = "is_deleted"


def tables_read_whole(complete_reads: Mapping[str, str], selected: Mapping[str, str]) -> List[str]:
    """Tables every selected writer of which read whole in the chunk.

    Args:
        complete_reads: Resource -> table of the resources that completed a read.
        selected: Resource -> table of the chunk's selected resources.
    """
    tables = set(complete_reads.values())
    return sorted(
        table for table in tables
        if all(name in complete_reads for name, written in selected.items() if written == table)
    )


def mark_rows_gone(pipeline: dlt.Pipeline, tables: Collection[str], load_id: str, hard_delete: bool) -> int:
    """Flags (or deletes) the rows of `tables` that the complete reads of load `load_id` did not
    return; returns how many rows changed."""
    changed = 0
    with pipeline.sql_client() as client:
        for table in tables:
            qualified = client.make_qualified_table_name(table)
            flag, found = client.escape_column_name(SOFT_DELETE_COLUMN), client.escape_column_name(DELETION_FOUND_COLUMN)
            load = client.escape_column_name("_dlt_load_id")
            try:
                if hard_delete:
                    count = client.execute_sql(f"SELECT count(*) FROM {qualified} WHERE {load} <> %s", load_id)[0][0]
                    if count:
                        client.execute_sql(f"DELETE FROM {qualified} WHERE {load} <> %s", load_id)
                else:
                    alive = f"{load} <> %s AND ({flag} IS NULL OR {flag} = FALSE)"
                    count = client.execute_sql(f"SELECT count(*) FROM {qualified} WHERE {alive}", load_id)[0][0]
                    if count:
                        client.execute_sql(
                            f"UPDATE {qualified} SET {flag} = TRUE, {found} = %s WHERE {alive}", utc_now(), load_id
                        )
            except DatabaseUndefinedRelation:
                continue  # never loaded a row: nothing to mark
            changed += int(count)
    return changed
