"""Destination maintenance after a chunk is loaded: what only the destination can change.

Rows gone upstream (`mark_gone`): after a complete read of a table read whole, or a deletion sweep
of an incremental one (`pipedrive.sweeps`), the rows whose key the API no longer lists are flagged
`is_deleted = true` with `deletion_found_time` (soft, the default), deleted (`hard_delete`), or in
history mode their current version is closed; a deal's children and a person's participations go
with them. A record that comes back (restored) is merged again and is live again. Only complete
reads count: a read cut short (budget stop, error) yields nothing and marks nothing.

Definitions that changed (`apply_field_changes`): an option renamed in Pipedrive does not change
the records that hold it, so they are not read again; the rows already loaded get the new label
here, in place, and the `deal_changes` rows the renamed field's name. A field whose type changed
moves to a new column; its records are read again so every row's value lands there.

Plain SQL through dlt's `sql_client` (tested on DuckDB and Postgres; standard SQL elsewhere).
"""

import json
from typing import Any, Collection, Dict, List, Mapping, Optional, Set, Tuple

import dlt
from dlt.destinations.exceptions import DatabaseUndefinedRelation

from ..entities import DEAL_CHILDREN, ENTITIES
from ..fields.column_hints import DELETION_FOUND_COLUMN
from ..schedule import utc_now

SOFT_DELETE_COLUMN = "is_deleted"
VALID_FROM, VALID_TO = "_dlt_valid_from", "_dlt_valid_to"
"""dlt's `scd2` validity columns (history mode)."""
CHANGES_TABLE = "deal_changes"
BATCH = 500
"""Keys per UPDATE / DELETE statement."""
DEPENDENT_ROWS: Dict[str, List[Tuple[str, str]]] = {
    "deals": [(child.table, "deal_id") for child in DEAL_CHILDREN],
    "persons": [("deal_participants", "person_id")],
}
"""Rows that go with a record a sweep found deleted: a deal's children, a person's participations
(Pipedrive removes them without touching the deal)."""


def complete_tables(done: Mapping[str, Tuple[str, Collection[Any]]], writers: Mapping[str, str]) -> Dict[str, Set[Any]]:
    """Table -> every key it has upstream, for the tables all of whose writers read them whole.

    Args:
        done: Resource -> (table, keys) of the complete reads (or sweeps) of a chunk.
        writers: Resource -> table of the resources that must all have read a table.
    """
    tables = {table for table, _ in done.values()}
    return {
        table: set().union(*(set(keys) for written, keys in done.values() if written == table))
        for table in tables
        if all(name in done for name, written in writers.items() if written == table)
    }


def mark_gone(
    client: Any, table: str, keys: Collection[Any], *, hard_delete: bool, history: bool,
    older_than: Optional[Any] = None, key: str = "id",
) -> List[Any]:
    """Flags, deletes or (history mode) closes the rows of `table` whose key a complete read or
    sweep did not list, and the rows that depend on them; returns the keys marked.

    Args:
        client: An open `pipeline.sql_client()` of the pipeline that loaded the table (one for
            all tables of a chunk: opening one per table cost ~50 ms each).
        table: The table.
        keys: Every key the API lists now.
        hard_delete: Delete instead of flagging.
        history: The table keeps versions: close the current version instead.
        older_than: Only rows last updated before this (a sweep's start): a record created or
            changed while the sweep ran is not taken for deleted.
        key: The table's key column.
    """
    found = utc_now()
    qualified = client.make_qualified_table_name(table)
    column, flag = client.escape_column_name(key), client.escape_column_name(SOFT_DELETE_COLUMN)
    valid_to = client.escape_column_name(VALID_TO)
    alive = f"{valid_to} IS NULL" if history else f"({flag} IS NULL OR {flag} = FALSE)"
    args: List[Any] = []
    if older_than is not None:
        alive += f" AND {client.escape_column_name('update_time')} < %s"
        args.append(older_than)
    try:
        rows = client.execute_sql(f"SELECT {column} FROM {qualified} WHERE {alive}", *args)
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
                if history and target == table:
                    client.execute_sql(f"UPDATE {name} SET {valid_to} = %s WHERE {where} AND {valid_to} IS NULL", found, *batch)
                elif hard_delete:
                    client.execute_sql(f"DELETE FROM {name} WHERE {where}", *batch)
                elif target == table:
                    found_col = client.escape_column_name(DELETION_FOUND_COLUMN)
                    client.execute_sql(f"UPDATE {name} SET {flag} = TRUE, {found_col} = %s WHERE {where}", found, *batch)
                else:
                    client.execute_sql(f"UPDATE {name} SET {flag} = TRUE WHERE {where}", *batch)
            except DatabaseUndefinedRelation:
                continue
    return gone


def close_deleted_versions(client: Any, tables: Collection[str]) -> None:
    """History mode: a record Pipedrive reports deleted (a deal with `is_deleted`) arrives as a new
    version; that version is closed at once, so it is never current and "as of" a later time the
    record does not exist. `client`: an open `pipeline.sql_client()`."""
    for table in tables:
        qualified = client.make_qualified_table_name(table)
        flag, valid_from, valid_to = (client.escape_column_name(c) for c in (SOFT_DELETE_COLUMN, VALID_FROM, VALID_TO))
        try:
            client.execute_sql(f"UPDATE {qualified} SET {valid_to} = {valid_from} WHERE {flag} = TRUE AND {valid_to} IS NULL")
        except DatabaseUndefinedRelation:
            continue


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
