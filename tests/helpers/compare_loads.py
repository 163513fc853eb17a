"""Table-by-table, column-by-column comparison of two loads of the same account: an incremental
pipeline against a fresh full load made at the same moment (the promise of issue 16).

Custom-field columns are matched through each load's `custom_fields_mapping` (a renamed field keeps
its first column name in the incremental load, by design); everything else by name. Rows match on
the table's primary key. What may legitimately differ is passed in `allowed` with its reason.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Set, Tuple

IGNORED_COLUMNS = {"_dlt_load_id", "_dlt_id", "deletion_found_time"}
"""dlt's bookkeeping, and when the incremental load found a row gone (a fresh load never did)."""


@dataclass
class Allowed:
    """Differences the comparison accepts, each with the reason the README gives.

    Attributes:
        columns: (table, column) -> reason: the column may differ or exist in one load only.
        extra_deleted_rows: The incremental load may keep rows flagged `is_deleted` that a fresh
            load does not have (soft deletion keeps history).
    """

    columns: Dict[Tuple[str, str], str] = field(default_factory=dict)
    extra_deleted_rows: bool = True


def _normal(value: Any) -> Any:
    """One representation per value across the two loads."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.dumps(json.loads(value), sort_keys=True)
        except ValueError:
            return value
    if isinstance(value, (list, dict)):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


def _rows(pipeline: Any, table: str) -> Tuple[List[str], Dict[Tuple[Any, ...], Dict[str, Any]]]:
    schema_table = pipeline.default_schema.get_table(table)
    keys = [name for name, column in schema_table["columns"].items() if column.get("primary_key")]
    with pipeline.sql_client() as client:
        with client.execute_query(f"SELECT * FROM {client.make_qualified_table_name(table)}") as cursor:
            names = [d[0] for d in cursor.description]
            rows = [dict(zip(names, row)) for row in cursor.fetchall()]
    return keys, {tuple(row[k] for k in keys): row for row in rows}


def _custom_columns(pipeline: Any) -> Dict[Tuple[str, str], str]:
    """(field set, hash) -> column, from the load's mapping table."""
    with pipeline.sql_client() as client:
        rows = client.execute_sql(
            f"SELECT entity, hash_key, column_name FROM {client.make_qualified_table_name('custom_fields_mapping')}"
        )
    return {(entity, code): column for entity, code, column in rows}


def column_renames(incremental: Any, fresh: Any) -> Dict[str, str]:
    """Column in the fresh load -> the same field's column in the incremental load, where they
    differ (renamed fields), sub-value columns included."""
    mine, theirs = _custom_columns(incremental), _custom_columns(fresh)
    renames = {}
    for key, column in theirs.items():
        old = mine.get(key)
        if old and old != column:
            renames[column] = old
            for suffix in ("currency", "until", "timezone_name", "subpremise", "street_number", "route",
                           "sublocality", "locality", "admin_area_level_1", "admin_area_level_2", "country",
                           "postal_code", "formatted_address"):
                renames[f"{column}_{suffix}"] = f"{old}_{suffix}"
    return renames


def compare_loads(incremental: Any, fresh: Any, allowed: Allowed, renames: Optional[Dict[str, str]] = None) -> List[str]:
    """Every difference between the two loads that `allowed` does not cover, as readable lines."""
    renames = column_renames(incremental, fresh) if renames is None else renames
    problems: List[str] = []
    fresh_tables = set(fresh.default_schema.data_table_names(seen_data_only=True))
    inc_tables = set(incremental.default_schema.data_table_names(seen_data_only=True))
    for table in sorted(fresh_tables - inc_tables):
        problems.append(f"{table}: only in the fresh load")
    for table in sorted(fresh_tables & inc_tables):
        keys, theirs = _rows(fresh, table)
        _, mine = _rows(incremental, table)
        missing = set(theirs) - set(mine)
        if missing:
            problems.append(f"{table}: {len(missing)} rows only in the fresh load, e.g. {sorted(missing, key=str)[:3]}")
        extra = set(mine) - set(theirs)
        flagged = {k for k in extra if mine[k].get("is_deleted") is True}
        if extra - (flagged if allowed.extra_deleted_rows else set()):
            bad = sorted(extra - flagged, key=str)
            problems.append(f"{table}: {len(bad)} rows only in the incremental load, e.g. {bad[:3]}")
        differing: Dict[str, List[Any]] = {}
        inverse = {inc: fresh_name for fresh_name, inc in renames.items()}
        for key in sorted(set(theirs) & set(mine), key=str):
            row_f, row_i = theirs[key], mine[key]
            for column in set(row_f) | {inverse.get(c, c) for c in row_i}:  # in the fresh load's names
                if column in IGNORED_COLUMNS or (table, column) in allowed.columns:
                    continue
                value_f = row_f.get(column)
                value_i = row_i.get(renames.get(column, column))
                if _normal(value_f) != _normal(value_i):
                    differing.setdefault(column, []).append((key, value_i, value_f))
        for column, cases in sorted(differing.items()):
            problems.append(f"{table}.{column}: {len(cases)} rows differ, e.g. (key, incremental, fresh) {cases[:2]}")
    return problems


def columns_only_in(incremental: Any, fresh: Any, table: str) -> Set[str]:
    """Columns of a table the incremental load has and the fresh one does not."""
    mine = set(incremental.default_schema.get_table(table)["columns"])
    theirs = set(fresh.default_schema.get_table(table)["columns"])
    return mine - theirs
