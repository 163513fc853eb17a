"""Shaping of one raw record into one table row (no surprise child tables).

The source runs with `max_table_nesting=0`: lists (emails, phones, label_ids, set-field labels)
stay json columns. Nested dicts are flattened here into `parent__child` columns (the same names
dlt's own flattening would produce), so addresses and `value.amount` become typed columns.
These functions are the reference shaping; `pipedrive.row_builder.RowBuilder` produces the same
rows in one pass for the listings.
"""

from typing import Any, Dict, Mapping

NESTED_SEPARATOR = "__"
ZERO_DATE_PREFIX = "0000-00-00"
"""Pipedrive's placeholder for an unset date (`0000-00-00 00:00:00`): loaded as null."""


def flatten_record(record: Mapping[str, Any], prefix: str = "") -> Dict[str, Any]:
    """Flattens nested dicts into `a__b` keys; keeps lists as they are.

    Pipedrive's placeholder `0000-00-00 00:00:00` dates become None.

    Args:
        record: A record, possibly with nested dicts.
        prefix: Key prefix used for recursion.

    Returns:
        A new flat dict.
    """
    flat: Dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, dict):
            if value:
                flat.update(flatten_record(value, f"{prefix}{key}{NESTED_SEPARATOR}"))
            else:
                flat[f"{prefix}{key}"] = None
        elif isinstance(value, str) and value[:10] == ZERO_DATE_PREFIX:
            flat[f"{prefix}{key}"] = None
        else:
            flat[f"{prefix}{key}" if prefix else key] = value
    return flat


def apply_defaults(record: Dict[str, Any], defaults: Mapping[str, Any]) -> Dict[str, Any]:
    """Sets `defaults` on keys the record lacks or holds None (in place)."""
    for key, value in defaults.items():
        if record.get(key) is None:
            record[key] = value
    return record
