"""One-pass shaping of the records of a listing into table rows (the hot path of extraction).

`RowBuilder` gives the rows `pipedrive.records` and `CustomFieldMapper.transform` define,
without null values, building each row in one pass instead of three (rename, flatten,
defaults) with intermediate dicts.
"""

from typing import Any, Dict, Mapping, Optional, Set, Tuple

from .custom_fields import (
    LABELED_VALUE,
    MAIN_VALUE_KEY,
    REFERENCE_VALUE,
    SUBFIELD_SUFFIXES,
    SUBFIELD_VALUE,
    CustomFieldMapper,
    MappedField,
)
from .entities import ApiVersion
from .records import NESTED_SEPARATOR, ZERO_DATE_PREFIX, apply_defaults, flatten_record

CUSTOM_FIELDS_KEY = "custom_fields"
"""Object of v2 records holding the custom-field values by hash."""


class _Collision(Exception):
    """A column is written twice in one record: only the step-by-step shaping orders it right."""


class RowBuilder:
    """Builds the rows of one entity in one pass per record, leaving out null values.

    The row equals `apply_defaults(flatten_record(mapper.transform(record, api)), defaults)`
    without its None values (dlt drops them while normalizing anyway, so the loaded table is the
    same), but is built without the intermediate dicts and with the per-field decisions taken
    once (`CustomFieldMapper.column_plan`): this runs for every record of every listing and was
    the largest cost of the source's own code in the throughput benchmark (bench/RESULTS.md,
    benchmark 3). Null values never written also spare dlt writing, compressing and normalizing
    them (a quarter of the values of a typical record).

    Column order is kept: custom columns follow the built-in ones as `transform` appends them.
    A record in which a derived column (custom, sibling or nested) would land on a key written
    or left out before is shaped step by step instead (`build_stepwise`), so overwrites and
    positions stay exactly those of the composition above.

    Args:
        defaults: Values set where the record lacks a key or holds None (`record_defaults`).
        mapper: Custom-field mapper of the entity's field set (None: no renaming).
        api: API version of the records (v2 nests custom fields under `custom_fields`).
    """

    def __init__(
        self,
        defaults: Mapping[str, Any],
        mapper: Optional[CustomFieldMapper] = None,
        api: ApiVersion = ApiVersion.V2,
    ) -> None:
        self.mapper = mapper
        self.api = ApiVersion(api)
        # a None default only restates the null the row leaves out
        self.defaults: Dict[str, Any] = {k: v for k, v in defaults.items() if v is not None}
        self._plan = mapper.column_plan() if mapper is not None else {}
        # every column the plan can write (main and declared siblings); when they are distinct,
        # none has a default and none looks nested (`__`), one set test per record
        # (`_custom_v2_unchecked`) rules out every collision of these columns
        self._siblings: Dict[str, Dict[str, str]] = {}
        names = []
        for code, (column, kind, mapped) in self._plan.items():
            names.append(column)
            if kind == SUBFIELD_VALUE:
                siblings = {s: f"{column}_{s}" for s in SUBFIELD_SUFFIXES[mapped.field_type]}
                names.extend(siblings.values())
                self._siblings[code] = {MAIN_VALUE_KEY: column, **siblings}
        self._planned = frozenset(names)
        self._planned_distinct = (
            len(self._planned) == len(names)
            and self._planned.isdisjoint(self.defaults)
            and not any(NESTED_SEPARATOR in name for name in names)
        )
        # v1 top-level key -> plan entry of a hash, (sibling column,) of `<hash>_<suffix>`,
        # or None for a built-in key; learned once per key
        self._v1_keys: Dict[str, Any] = {}

    def build(self, record: Dict[str, Any]) -> Dict[str, Any]:
        """Returns the row of one raw record (the record itself is not modified).

        Args:
            record: A record as the API returned it.
        """
        skipped: Set[str] = set()  # derived columns left out as null
        try:
            if self.mapper is None:
                row = self._flat(record, None, skipped)
            elif self.api is ApiVersion.V2:
                row = self._flat(record, CUSTOM_FIELDS_KEY, skipped)
                custom = record.get(CUSTOM_FIELDS_KEY)
                if isinstance(custom, dict):
                    if self._planned_distinct and self._planned.isdisjoint(record):
                        self._custom_v2_unchecked(row, record, custom, skipped)
                    else:
                        self._custom_v2(row, record, custom, skipped)
                elif CUSTOM_FIELDS_KEY in row:
                    del row[CUSTOM_FIELDS_KEY]  # `transform_v2` drops a malformed one too
            else:
                row = self._flat(record, None, skipped, self._v1_keys)
        except _Collision:
            return self.build_stepwise(record)
        for key, value in self.defaults.items():
            if key not in row:
                row[key] = value
        return row

    def build_stepwise(self, record: Dict[str, Any]) -> Dict[str, Any]:
        """The reference shaping, one step after the other (on a copy: `transform_v2` works in
        place)."""
        if self.mapper is not None:
            record = self.mapper.transform(dict(record), self.api)
        row = apply_defaults(flatten_record(record), self.defaults)
        return {key: value for key, value in row.items() if value is not None}

    # -- one pass (hot: keep the common cases inline) ----------------------------------------
    def _flat(
        self,
        record: Dict[str, Any],
        custom_key: Optional[str],
        skipped: Set[str],
        v1_keys: Optional[Dict[str, Any]] = None,
    ) -> Dict[str, Any]:
        """Built-in keys, flattened; `custom_key` (a dict value) is left for the mapper.

        With `v1_keys` (a v1 record, see `_v1_key`), hash keys and their `_<suffix>` siblings are
        renamed where they stand. One loop for both: the built-in branch runs for every field of
        every record, and a per-field method call cost ~15% of shaping time when measured.
        """
        row: Dict[str, Any] = {}
        defaults = self.defaults
        for key, value in record.items():
            if v1_keys is not None:
                entry = v1_keys[key] if key in v1_keys else self._v1_key(key)
                if entry is not None:
                    if len(entry) == 1:
                        self._put(row, record, entry[0], value, skipped)
                    else:
                        self._custom(row, record, entry, value, skipped)
                    continue
            if value is None:
                if key in defaults:
                    row[key] = defaults[key]
            elif isinstance(value, str):
                if value[:10] != ZERO_DATE_PREFIX:
                    row[key] = value
                elif key in defaults:
                    row[key] = defaults[key]
            elif isinstance(value, dict):
                if key == custom_key:
                    continue
                if value:
                    self._nested(row, record, f"{key}{NESTED_SEPARATOR}", value, skipped)
                elif key in defaults:
                    row[key] = defaults[key]
            else:
                row[key] = value
        return row

    def _nested(
        self,
        row: Dict[str, Any],
        record: Dict[str, Any],
        prefix: str,
        value: Mapping[str, Any],
        skipped: Set[str],
    ) -> None:
        """The keys of a nested dict as `<prefix><key>` columns (recursively).

        Hot (nested objects of v1 records): the common cases are `_write` inlined.
        """
        defaults = self.defaults
        for key, sub_value in value.items():
            column = f"{prefix}{key}"
            if column in row or column in record or column in skipped:
                raise _Collision(column)
            if sub_value is None:
                if column in defaults:
                    row[column] = defaults[column]
                else:
                    skipped.add(column)
            elif isinstance(sub_value, str) and sub_value[:10] != ZERO_DATE_PREFIX:
                row[column] = sub_value
            elif isinstance(sub_value, (str, dict)):
                self._write(row, record, column, sub_value, skipped)
            else:
                row[column] = sub_value

    def _put(
        self, row: Dict[str, Any], record: Dict[str, Any], column: str, value: Any, skipped: Set[str]
    ) -> None:
        """Writes one derived column, flattened like `flatten_record` would."""
        if column in row or column in record or column in skipped:
            raise _Collision(column)
        self._write(row, record, column, value, skipped)

    def _write(
        self, row: Dict[str, Any], record: Dict[str, Any], column: str, value: Any, skipped: Set[str]
    ) -> None:
        """`_put` of a column already checked for collisions."""
        if value is None:
            self._null(row, column, skipped)
        elif isinstance(value, str):
            if value[:10] != ZERO_DATE_PREFIX:
                row[column] = value
            else:
                self._null(row, column, skipped)
        elif isinstance(value, dict):
            if value:
                self._nested(row, record, f"{column}{NESTED_SEPARATOR}", value, skipped)
            else:
                self._null(row, column, skipped)
        else:
            row[column] = value

    def _label(self, mapped: MappedField, value: Any) -> Any:
        """The value of a labeled custom field (enum label, set labels, ...)."""
        if mapped.field_type == "enum" and isinstance(value, (int, str)):
            label = mapped.options.get(str(value))  # `_convert` without its lookups
            if label is not None:
                return label
        return self.mapper.convert(mapped, value)  # type: ignore[union-attr]

    def _null(self, row: Dict[str, Any], column: str, skipped: Set[str]) -> None:
        if column in self.defaults:
            row[column] = self.defaults[column]  # where `apply_defaults` replaces the None
        else:
            skipped.add(column)  # a later write of the same column is a collision

    def _subfields(
        self, row: Dict[str, Any], record: Dict[str, Any], column: str, value: Dict[str, Any],
        skipped: Set[str],
    ) -> None:
        """A `{value, <suffix>: ...}` object: `column` (checked by the caller) and siblings."""
        for key, sub_value in value.items():
            if key == MAIN_VALUE_KEY:
                # `_convert` of the main value turns "" into None
                self._write(row, record, column, None if sub_value == "" else sub_value, skipped)
            else:
                self._put(row, record, f"{column}_{key}", sub_value, skipped)

    def _custom(
        self,
        row: Dict[str, Any],
        record: Dict[str, Any],
        entry: Tuple[str, int, MappedField],
        value: Any,
        skipped: Set[str],
    ) -> None:
        """One custom-field value into its columns: `CustomFieldMapper._write`, flattened."""
        column, kind, mapped = entry
        if column in row or column in record or column in skipped:
            raise _Collision(column)
        if value is None or value == "":
            self._null(row, column, skipped)
        elif kind == SUBFIELD_VALUE and isinstance(value, dict):
            self._subfields(row, record, column, value, skipped)
        elif kind == LABELED_VALUE:
            self._write(row, record, column, self.mapper.convert(mapped, value), skipped)  # type: ignore[union-attr]
        elif kind == REFERENCE_VALUE and isinstance(value, dict):
            self._write(row, record, column, value.get("value", value.get("id")), skipped)
        else:
            self._write(row, record, column, value, skipped)

    def _custom_v2(
        self, row: Dict[str, Any], record: Dict[str, Any], custom: Dict[str, Any], skipped: Set[str]
    ) -> None:
        """The `custom_fields` object of a v2 record, appended after the built-in columns."""
        plan = self._plan
        defaults = self.defaults
        for code, value in custom.items():
            entry = plan.get(code)
            if entry is None:  # a field created after the definitions were read keeps its hash
                self._put(row, record, code, value, skipped)
                continue
            # `_custom` with the common values inline: null, empty, numbers, strings
            column = entry[0]
            if column in row or column in record or column in skipped:
                raise _Collision(column)
            if value is None or value == "":
                if column in defaults:
                    row[column] = defaults[column]
                else:
                    skipped.add(column)
                continue
            kind = entry[1]
            if kind == LABELED_VALUE:
                self._write(row, record, column, self._label(entry[2], value), skipped)
            elif isinstance(value, dict):
                if kind == SUBFIELD_VALUE:
                    self._subfields(row, record, column, value, skipped)
                elif kind == REFERENCE_VALUE:
                    self._write(row, record, column, value.get("value", value.get("id")), skipped)
                else:
                    self._write(row, record, column, value, skipped)
            elif not isinstance(value, str) or value[:10] != ZERO_DATE_PREFIX:
                row[column] = value
            else:
                self._null(row, column, skipped)

    def _custom_v2_unchecked(
        self, row: Dict[str, Any], record: Dict[str, Any], custom: Dict[str, Any], skipped: Set[str]
    ) -> None:
        """`_custom_v2` when no planned column can collide (see `__init__`): planned columns
        are written without checks and their nulls are just left out (no default applies);
        other columns (unknown hashes, undeclared siblings) are checked against the plan too."""
        plan = self._plan
        for code, value in custom.items():
            entry = plan.get(code)
            if entry is None:
                self._put_unplanned(row, record, code, value, skipped)
                continue
            if value is None or value == "":
                continue
            column, kind, mapped = entry
            if kind == LABELED_VALUE:
                self._write(row, record, column, self._label(mapped, value), skipped)
            elif isinstance(value, dict):
                if kind == SUBFIELD_VALUE:
                    siblings = self._siblings[code]
                    for key, sub_value in value.items():
                        name = siblings.get(key)
                        if name is None:
                            self._put_unplanned(row, record, f"{column}_{key}", sub_value, skipped)
                        elif sub_value is None or (sub_value == "" and name is column):
                            continue
                        elif isinstance(sub_value, str):
                            if sub_value[:10] != ZERO_DATE_PREFIX:
                                row[name] = sub_value
                        elif isinstance(sub_value, dict):
                            self._write(row, record, name, sub_value, skipped)
                        else:
                            row[name] = sub_value
                elif kind == REFERENCE_VALUE:
                    self._write(row, record, column, value.get("value", value.get("id")), skipped)
                else:
                    self._write(row, record, column, value, skipped)
            elif isinstance(value, str):
                if value[:10] != ZERO_DATE_PREFIX:
                    row[column] = value
            else:
                row[column] = value

    def _put_unplanned(
        self, row: Dict[str, Any], record: Dict[str, Any], column: str, value: Any, skipped: Set[str]
    ) -> None:
        """`_put` of a column outside the plan, next to planned columns written unchecked."""
        if column in self._planned:
            raise _Collision(column)
        self._put(row, record, column, value, skipped)

    def _v1_key(self, key: str) -> Any:
        """Plan entry of a hash key, `(sibling column,)` of a `<hash>_<suffix>` key, or None."""
        entry = self._plan.get(key)
        if entry is None:
            head, separator, suffix = key.partition("_")
            parent = self._plan.get(head) if separator else None
            entry = (f"{parent[0]}_{suffix}",) if parent is not None else None
        self._v1_keys[key] = entry
        return entry
