"""Destination maintenance after a chunk is loaded: what only the destination can change.

Rows gone upstream: a table read whole in the chunk holds, after the merge, every row the API returned with this
load's `_dlt_load_id`; a row with an older load id is gone upstream. Such rows are flagged
`is_deleted = true` with `deletion_found_time` (soft, the default) or deleted (`hard_delete`). A
row that comes back (a restored record) is merged again and is live again. Only complete reads
count: a read cut short (budget stop, error) yields nothing and marks nothing.

Rows a deletion sweep no longer found (`mark_swept`, see `pipedrive.sweeps`): flagged or deleted
the same way, with the rows of a deal's children.

Definitions that changed (`apply_field_changes`): an option renamed in Pipedrive does not change
the records that hold it, so they are not read again; the rows already loaded get the new label
here, in place, and the `deal_changes` rows the renamed field's name. A field whose type changed
moves to a new column; its records are read again so every row's value lands there.

Plain SQL through dlt's `sql_client` (tested on DuckDB and Postgres; standard SQL elsewhere).
"""

import json
from typing import Any, Collection, Dict, List, Mapping, Tuple

import dlt
from dlt.destinations.exceptions import DatabaseUndefinedRelation

from ..entities import DEAL_CHILDREN, ENTITIES
from ..fields.column_hints import DELETION_FOUND_COLUMN
from ..schedule import utc_now

SOFT_DELETE_COLUMN = "is_deleted"
CHANGES_TABLE = "deal_changes"
BATCH = 500
"""Keys per UPDATE / DELETE statement."""
DEPENDENT_ROWS: Dict[str, List[Tuple[str, str]]] = {
    "deals": [(child.table, "deal_id") for child in DEAL_CHILDREN],
    "persons": [("deal_participants", "person_id")],
}
"""Rows that go with a record a sweep found deleted: a deal's children, a person's participations
(Pipedrive removes them without touching the deal)."""


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


def entity_tables_of(field_set: str) -> List[str]:
    """Tables whose rows carry a field set's custom fields (`deal`: deals and leads)."""
    return sorted({e.table for e in ENTITIES if e.custom_field_set == field_set})


def _relabel(client: Any, table: str, column: str, field_type: str, labels: Mapping[str, str]) -> None:
    """Replaces old option labels with new ones in one column (enum: text; set: json list)."""
    qualified, escaped = client.make_qualified_table_name(table), client.escape_column_name(column)
    if field_type == "enum":
        cases = " ".join("WHEN %s THEN %s" for _ in labels)
        args = [value for pair in labels.items() for value in pair]
        marks = ", ".join("%s" for _ in labels)
        client.execute_sql(
            f"UPDATE {qualified} SET {escaped} = CASE {escaped} {cases} END WHERE {escaped} IN ({marks})",
            *args, *labels,
        )
        return
    # a set column holds a json list of labels: rewritten row by row, in Python (portable)
    key = client.escape_column_name("id")
    for row_id, value in client.execute_sql(f"SELECT {key}, {escaped} FROM {qualified} WHERE {escaped} IS NOT NULL"):
        items = json.loads(value) if isinstance(value, str) else value
        if isinstance(items, list) and any(item in labels for item in items):
            new = json.dumps([labels.get(item, item) for item in items])
            client.execute_sql(f"UPDATE {qualified} SET {escaped} = %s WHERE {key} = %s", new, row_id)


def apply_field_changes(pipeline: dlt.Pipeline, pending: Mapping[str, List[Dict[str, Any]]]) -> List[str]:
    """Makes rows already loaded follow the definitions: renamed options get their new labels,
    `deal_changes` rows the renamed field's name. Idempotent (a kill before the state is cleared
    applies them again next run).

    Returns:
        The field sets whose records must be read again (a field changed type: its values move to
        the field's new column).
    """
    reread = []
    with pipeline.sql_client() as client:
        for field_set, changes in pending.items():
            for change in changes:
                try:
                    if "relabel" in change:
                        for table in entity_tables_of(field_set):
                            _relabel(client, table, change["relabel"], change["field_type"], change["labels"])
                    elif "field_name" in change and field_set == "deal":
                        qualified = client.make_qualified_table_name(CHANGES_TABLE)
                        name, key = client.escape_column_name("field_name"), client.escape_column_name("field_key")
                        client.execute_sql(f"UPDATE {qualified} SET {name} = %s WHERE {key} = %s",
                                           change["field_name"], change["field_key"])
                    elif "retyped" in change and field_set not in reread:
                        reread.append(field_set)
                except DatabaseUndefinedRelation:
                    continue  # the table or column was never loaded: nothing to follow
    return reread


def mark_swept(
    pipeline: dlt.Pipeline, table: str, keys: Collection[Any], started: Any, hard_delete: bool, key: str = "id"
) -> List[Any]:
    """Flags (or deletes) the rows of `table` a complete sweep did not list, among those older than
    the sweep's start; for deals, their child rows too. Returns the keys marked."""
    found = utc_now()
    with pipeline.sql_client() as client:
        qualified = client.make_qualified_table_name(table)
        column, flag = client.escape_column_name(key), client.escape_column_name(SOFT_DELETE_COLUMN)
        updated = client.escape_column_name("update_time")
        try:
            rows = client.execute_sql(
                f"SELECT {column} FROM {qualified} WHERE ({flag} IS NULL OR {flag} = FALSE) AND {updated} < %s", started
            )
        except DatabaseUndefinedRelation:
            return []
        gone = sorted({row[0] for row in rows} - set(keys), key=str)
        targets = [(table, key), *DEPENDENT_ROWS.get(table, ())]
        for start in range(0, len(gone), BATCH):
            batch = gone[start:start + BATCH]
            marks = ", ".join("%s" for _ in batch)
            for target, target_key in targets:
                name = client.make_qualified_table_name(target)
                where = f"{client.escape_column_name(target_key)} IN ({marks})"
                try:
                    if hard_delete:
                        client.execute_sql(f"DELETE FROM {name} WHERE {where}", *batch)
                    elif target == table:
                        found_col = client.escape_column_name(DELETION_FOUND_COLUMN)
                        client.execute_sql(f"UPDATE {name} SET {flag} = TRUE, {found_col} = %s WHERE {where}", found, *batch)
                    else:
                        client.execute_sql(f"UPDATE {name} SET {flag} = TRUE WHERE {where}", *batch)
                except DatabaseUndefinedRelation:
                    continue
    return gone
