"""Shaping raw records into table rows: the one path for listings and deal children.

The source runs with `max_table_nesting=0`: lists (emails, phones, label ids, set-field labels)
stay json columns, and nested objects are flattened here into `parent__child` columns (the names
dlt's own flattening would give), so addresses and `value.amount` become typed columns. Custom
fields become their mapper's columns (`CustomFieldMapper.column_plan`): v2 records carry them in
`custom_fields`, v1 records at the top level under their hash, with `<hash>_<part>` siblings.

Null values and Pipedrive's unset-date placeholder (`0000-00-00 00:00:00`) are left out of the
row (dlt loads a missing key as null, and does not write, compress and normalize it). A null never
overwrites a value; when two sources write one column, the later non-null one wins. The rows
equal the step-by-step composition (rename custom fields, flatten, apply defaults, drop nulls)
that `tests/fields/test_row_shaping.py` compares with the oracle (`tests/helpers/reference_shaping.py`).
"""

import re
from typing import Any, Collection, Dict, Mapping, Optional, Tuple

from ..entities import ApiVersion
from .mapper import LABELED_VALUE, MAIN_VALUE_KEY, REFERENCE_VALUE, SUBFIELD_VALUE, CustomFieldMapper

CUSTOM_FIELDS_KEY = "custom_fields"
"""Object of v2 records holding the custom-field values by hash."""
NESTED_SEPARATOR = "__"
ZERO_DATE_PREFIX = "0000-00-00"
"""Pipedrive's placeholder for an unset date: loaded as null."""

HASH_KEY = re.compile(r"[0-9a-f]{40}")
"""A custom field's key: a 40-character hash."""
_BUILTIN = ()
"""`RowBuilder._v1_keys` entry of a key that is not a custom field."""


class RowBuilder:
    """Builds the rows of one table in one pass per record.

    Args:
        defaults: Values set where the record lacks a key or holds null (`record_defaults`).
        mapper: Custom-field mapper of the table's field set (None: no custom fields).
        api: API version of the records (v2 nests custom fields under `custom_fields`).
        dropped_keys: Top-level keys left out of the row.
        id_objects: Top-level keys whose object value is loaded as its id (`value`, else `id`).
    """

    def __init__(
        self,
        defaults: Mapping[str, Any] = {},
        mapper: Optional[CustomFieldMapper] = None,
        api: ApiVersion = ApiVersion.V2,
        dropped_keys: Collection[str] = (),
        id_objects: Collection[str] = (),
    ) -> None:
        self.mapper = mapper
        # a null default only restates the null the row leaves out
        self.defaults: Dict[str, Any] = {k: v for k, v in defaults.items() if v is not None}
        self._plan = mapper.column_plan() if mapper is not None else {}
        self._v1 = mapper is not None and ApiVersion(api) is ApiVersion.V1
        self._custom_key = CUSTOM_FIELDS_KEY if mapper is not None and not self._v1 else None
        self._dropped = frozenset(dropped_keys)
        self._id_objects = frozenset(id_objects)
        # v1 key -> plan entry of a hash, (sibling column,) of `<hash>_<part>`, or _BUILTIN
        self._v1_keys: Dict[str, Tuple[Any, ...]] = {}

    def build(self, record: Mapping[str, Any]) -> Dict[str, Any]:
        """The row of one raw record (the record itself is not modified)."""
        row: Dict[str, Any] = {}
        custom: Optional[Mapping[str, Any]] = None
        dropped = self._dropped
        for key, value in record.items():
            if value is None or key in dropped:
                continue
            if self._v1:
                entry = self._v1_keys.get(key)
                if entry is None:
                    entry = self._learn_v1_key(key)
                if entry:
                    if len(entry) == 1:
                        self._put(row, entry[0], value)
                    else:
                        self._custom(row, entry, value)
                    continue
            # built-in keys (hot: the common cases inline)
            if type(value) is str:
                if value[:10] != ZERO_DATE_PREFIX:
                    row[key] = value
            elif isinstance(value, dict):
                if key == self._custom_key:
                    custom = value
                elif key in self._id_objects:
                    self._put(row, key, value.get("value", value.get("id")))
                elif value:
                    self._nested(row, key, value)
            else:
                row[key] = value
        if custom:
            plan = self._plan
            for code, value in custom.items():
                entry = plan.get(code)
                if entry is None:
                    entry = self._learn(code)
                    plan = self._plan
                if entry is None:  # unknown even to the current definitions: keeps its hash
                    self._put(row, code, value)
                elif value is not None:
                    self._custom(row, entry, value)
        for key, value in self.defaults.items():
            if key not in row:
                row[key] = value
        return row

    def _put(self, row: Dict[str, Any], column: str, value: Any) -> None:
        """Writes one value with the rules of the module docstring."""
        if value is None:
            return
        if type(value) is str:
            if value[:10] != ZERO_DATE_PREFIX:
                row[column] = value
        elif isinstance(value, dict):
            if value:
                self._nested(row, column, value)
        else:
            row[column] = value

    def _nested(self, row: Dict[str, Any], prefix: str, value: Mapping[str, Any]) -> None:
        """The keys of a nested object as `<prefix>__<key>` columns (recursively)."""
        for key, sub_value in value.items():
            self._put(row, f"{prefix}{NESTED_SEPARATOR}{key}", sub_value)

    def _custom(self, row: Dict[str, Any], entry: Tuple[Any, ...], value: Any) -> None:
        """One custom-field value into its column(s)."""
        column, kind, mapped = entry
        if value == "":
            return
        if kind == LABELED_VALUE:
            self._put(row, column, self.mapper.convert(mapped, value))  # type: ignore[union-attr]
        elif not isinstance(value, dict):
            self._put(row, column, value)
        elif kind == SUBFIELD_VALUE:
            for key, sub_value in value.items():
                if key == MAIN_VALUE_KEY:
                    if sub_value != "":
                        self._put(row, column, sub_value)
                else:
                    self._put(row, f"{column}_{key}", sub_value)
        elif kind == REFERENCE_VALUE:
            self._put(row, column, value.get("value", value.get("id")))
        else:
            self._put(row, column, value)

    def _learn(self, code: str) -> Optional[Tuple[Any, ...]]:
        """The plan entry of a field newer than the mapper's definitions (they are read again)."""
        if self.mapper is None:
            return None
        entry = self.mapper.learn(code)
        self._plan = self.mapper.column_plan()
        self._v1_keys.clear()
        return entry

    def _learn_v1_key(self, key: str) -> Tuple[Any, ...]:
        """Plan entry of a v1 hash key, `(sibling column,)` of `<hash>_<part>`, or `_BUILTIN`."""
        entry = self._plan.get(key)
        if entry is None and HASH_KEY.fullmatch(key):
            entry = self._learn(key)
        if entry is None:
            head, separator, suffix = key.partition("_")
            parent = self._plan.get(head) if separator else None
            entry = (f"{parent[0]}_{suffix}",) if parent is not None else _BUILTIN
        self._v1_keys[key] = entry
        return entry
