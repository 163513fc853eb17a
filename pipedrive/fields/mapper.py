"""Readable custom fields: hash keys become named, typed columns; option ids become labels.

Pipedrive keys custom fields by a 40-character hash: at the top level of v1 records (with
`<hash>_currency`, `<hash>_until`, `<hash>_<address part>` siblings) and inside the
`custom_fields` object of v2 records (monetary `{value, currency}`, daterange `{value, until}`,
address `{value, street_number, ...}`). `CustomFieldMapper` turns both shapes into the same
columns: `<name>`, `<name>_currency`, `<name>_until`, `<name>_<part>`.

Column names are decided once per hash and remembered in the source state, so a renamed field
keeps its column; option labels are remembered too, so records that still carry a deleted
option id keep resolving. Two fields whose names normalize to the same column, or to a built-in
column, get deterministic suffixes instead of overwriting each other.
"""

import re
import threading
import unicodedata
from dataclasses import dataclass, field
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    List,
    Mapping,
    MutableMapping,
    Optional,
    Set,
    Tuple,
)

from dlt.common.normalizers.naming import NamingConvention

from ..entities import ApiVersion

# sub-values a field type can carry next to its main value (v2 object keys / v1 key suffixes)
SUBFIELD_SUFFIXES: Mapping[str, Tuple[str, ...]] = {
    "monetary": ("currency",),
    "daterange": ("until",),
    "timerange": ("until", "timezone_name"),
    "address": (
        "subpremise",
        "street_number",
        "route",
        "sublocality",
        "locality",
        "admin_area_level_1",
        "admin_area_level_2",
        "country",
        "postal_code",
        "formatted_address",
    ),
}
# field types whose value is the id of another Pipedrive object (v1 may send an object)
REFERENCE_TYPES = frozenset(
    {"user", "org", "people", "deal", "deals", "lead", "project", "stage", "activity", "pipeline"}
)
# field types whose values `_convert` changes (labels, ids out of objects)
CONVERTED_TYPES = frozenset({"enum", "set"}) | REFERENCE_TYPES
# columns no custom field may take, whatever the entity
RESERVED_COLUMNS = frozenset(
    {
        "id",
        "custom_fields",
        "is_deleted",
        "is_archived",
        "add_time",
        "update_time",
        "_dlt_id",
        "_dlt_load_id",
    }
)
MAIN_VALUE_KEY = "value"

# how `CustomFieldMapper.column_plan` says a field's value becomes columns (`fields.rows.RowBuilder`)
PLAIN_VALUE = 0
"""The value as it is."""
SUBFIELD_VALUE = 1
"""A `{value, <suffix>: ...}` object: main column plus `<column>_<suffix>` siblings."""
REFERENCE_VALUE = 2
"""The id of another object; v1 may send the object (`value`/`id` taken out of it)."""
LABELED_VALUE = 3
"""Option id(s) of an `enum` / `set` field: labels through `CustomFieldMapper.convert`."""


@dataclass(frozen=True)
class FieldDefinition:
    """A field definition in one shape for v1 and v2 `*Fields` items.

    Attributes:
        code: The hash (custom) or the built-in key (`title`, `value`, ...).
        name: Display name.
        field_type: Pipedrive field type (`enum`, `set`, `monetary`, ...; any string).
        is_custom: True for user-created fields.
        options: Current option id (as string) -> label.
        deleted_options: Deleted option id -> last label (v1 `options_deleted`).
    """

    code: str
    name: str
    field_type: str
    is_custom: bool
    options: Mapping[str, str]
    deleted_options: Mapping[str, str]



def _options(raw: Any) -> Dict[str, str]:
    if not isinstance(raw, list):
        return {}
    return {
        str(option["id"]): str(option.get("label"))
        for option in raw
        if isinstance(option, dict) and option.get("id") is not None
    }


def parse_field_definition(raw: Mapping[str, Any], api: ApiVersion) -> FieldDefinition:
    """Reads a raw `*Fields` item of either API version.

    Args:
        raw: One item of `/api/v2/dealFields` (field_code, field_name, is_custom_field) or of
            `/v1/dealFields` (key, name, edit_flag, options_deleted).
        api: API version the item came from.

    Returns:
        The version-independent definition.
    """
    if ApiVersion(api) is ApiVersion.V2:
        code, name = raw.get("field_code"), raw.get("field_name")
        is_custom = raw.get("is_custom_field")
    else:
        code, name, is_custom = raw.get("key"), raw.get("name"), raw.get("edit_flag")
    return FieldDefinition(
        code=str(code),
        name=str(name if name is not None else code),
        field_type=str(raw.get("field_type") or ""),
        is_custom=bool(is_custom),
        options=_options(raw.get("options")),
        deleted_options=_options(raw.get("options_deleted")),
    )


def readable_identifier(name: str) -> str:
    """Field name -> words dlt's naming convention turns into a clean column name.

    dlt's snake_case maps every non-ASCII character and a trailing symbol to `_`/`x`
    (`Référence client (€)` -> `r_f_rence_client_x`), so accents are folded to ASCII first
    (NFKD) and any other symbol becomes a word break: `Référence client (€)` ->
    `reference_client`. A name with no ASCII letter or digit left becomes `field` (the caller
    disambiguates collisions).
    """
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    words = re.sub(r"[^0-9A-Za-z]+", " ", folded).split()
    return "_".join(words) or "field"


@dataclass
class MappedField:
    """State of one custom field: its stable column and everything needed to convert values."""

    code: str
    column: str
    name: str
    field_type: str
    options: Dict[str, str]
    retired_columns: List[str] = field(default_factory=list)
    """Columns the field used before its type changed (they keep their rows' old values)."""
    deleted: bool = False
    """The field is gone from the definitions (its column is never given to another field)."""

    def sibling_column(self, suffix: str) -> str:
        """Column of a sub-value, e.g. `<column>_currency`."""
        return f"{self.column}_{suffix}"

    def to_state(self) -> Dict[str, Any]:
        state: Dict[str, Any] = {
            "column": self.column,
            "name": self.name,
            "field_type": self.field_type,
            "options": dict(self.options),
        }
        if self.retired_columns:
            state["retired_columns"] = list(self.retired_columns)
        if self.deleted:
            state["deleted"] = True
        return state

    @classmethod
    def from_state(cls, code: str, state: Mapping[str, Any]) -> "MappedField":
        return cls(
            code=code,
            column=state["column"],
            name=state["name"],
            field_type=state["field_type"],
            options=dict(state.get("options") or {}),
            retired_columns=list(state.get("retired_columns") or []),
            deleted=bool(state.get("deleted")),
        )


def column_type(field_type: str) -> Tuple[str, Tuple[str, ...]]:
    """What a field type needs of its columns: the main column's kind and its sub-value columns.
    A type change between types with the same needs keeps the column (varchar -> text)."""
    if field_type in ("enum", "varchar", "varchar_auto", "varchar_options", "text", "phone", "address", "time", "timerange"):
        kind = "text"
    elif field_type in REFERENCE_TYPES:
        kind = "id"
    else:
        kind = field_type
    return kind, SUBFIELD_SUFFIXES.get(field_type, ())


def _columns_of(column: str, field_type: str) -> List[str]:
    return [column] + [f"{column}_{suffix}" for suffix in SUBFIELD_SUFFIXES.get(field_type, ())]


class CustomFieldMapper:
    """Converts the custom fields of one field set's records to named, typed columns.

    Args:
        field_set: Name of the field set (`deal`, ...), for messages.
        definitions: Current field definitions of the set.
        naming: dlt naming convention used for column names.
        state: Mutable mapping (a slice of `dlt.current.source_state()`) holding the hash ->
            column decisions and remembered option labels of earlier runs; updated in place.
        deleted_options_loader: Called at most once, when a record holds an option id no
            definition or earlier run knows (v2 definitions omit deleted options): returns
            definitions carrying `deleted_options` (the v1 `options_deleted`).
        reserved_columns: Built-in record keys of the entities using the set that the
            definitions may not list; no custom field takes these names.
        refresh: Reads the current definitions; called at most once, when a record holds a field
            or an option the mapper does not know (None: the definitions given are current).
        record_change: Called with each change the definitions show that rows already loaded must
            follow: `{"relabel": column, "field_type": ..., "labels": {old: new}}` for renamed
            options, `{"field_key": code, "field_name": new}` for a renamed field,
            `{"retyped": code}` for a type change or a deleted field (`pipedrive.run.maintenance`
            applies them).
    """

    def __init__(
        self,
        field_set: str,
        definitions: Iterable[FieldDefinition],
        naming: NamingConvention,
        state: MutableMapping[str, Any],
        deleted_options_loader: Optional[Callable[[], Iterable[FieldDefinition]]] = None,
        reserved_columns: Iterable[str] = (),
        refresh: Optional[Callable[[], Iterable[FieldDefinition]]] = None,
        record_change: Callable[[Dict[str, Any]], None] = lambda change: None,
    ) -> None:
        self.field_set = field_set
        self._record_change = record_change
        self.naming = naming
        self._state = state
        self._deleted_options_loader = deleted_options_loader
        self._refresh = refresh
        self._loader_lock = threading.RLock()
        self._plan: Optional[Dict[str, Tuple[str, int, MappedField]]] = None
        self._reserved = set(RESERVED_COLUMNS) | {naming.normalize_identifier(c) for c in reserved_columns}
        self.builtin_columns: Set[str] = set(self._reserved)
        self.fields: Dict[str, MappedField] = {
            code: MappedField.from_state(code, saved) for code, saved in state.items()
        }
        self._merge(list(definitions))

    def _merge(self, definitions: List[FieldDefinition]) -> None:
        """Merges definitions read from the API into the fields and saves them to the state."""
        self.builtin_columns |= {self.naming.normalize_identifier(d.code) for d in definitions if not d.is_custom}
        custom = [d for d in definitions if d.is_custom]
        if definitions:  # a complete read: a known field it no longer lists was deleted
            listed = {d.code for d in custom}
            for code, mapped in self.fields.items():
                if code not in listed and not mapped.deleted:
                    mapped.deleted = True  # its values left the records: read them again
                    self._record_change({"retyped": code})
                elif code in listed:
                    mapped.deleted = False
        self._merge_definitions(custom)
        for code, mapped in self.fields.items():
            self._state[code] = mapped.to_state()
        self._plan = None

    def _merge_definitions(self, custom: Iterable[FieldDefinition]) -> None:
        claimed: Set[str] = set(self.builtin_columns)
        for mapped in self.fields.values():
            claimed.update(_columns_of(mapped.column, mapped.field_type))
            claimed.update(mapped.retired_columns)
        for definition in sorted(custom, key=lambda d: d.code):
            known = self.fields.get(definition.code)
            options = dict(known.options) if known else {}
            options.update(definition.deleted_options)
            options.update(definition.options)
            if known is not None and column_type(known.field_type) != column_type(definition.field_type):
                # a type change: the values move to a new column of the new type; the old one keeps
                # the old type (never two types in one column, never a value lost)
                column = self._free_column(definition, claimed, prefer=f"{known.column}_{definition.field_type}")
                claimed.update(_columns_of(column, definition.field_type))
                known.retired_columns.append(known.column)
                known.column = column
                self._record_change({"retyped": definition.code})
            if known is not None:
                self._note_renames(known, definition)
                known.name, known.field_type = definition.name, definition.field_type
                known.options = options
                continue
            column = self._free_column(definition, claimed)
            claimed.update(_columns_of(column, definition.field_type))
            self.fields[definition.code] = MappedField(
                definition.code, column, definition.name, definition.field_type, options
            )

    def _note_renames(self, known: MappedField, definition: FieldDefinition) -> None:
        """Reports renamed options of a labeled field and a renamed field (rows carry both)."""
        if known.field_type in ("enum", "set") and known.field_type == definition.field_type:
            labels = {
                known.options[option]: label
                for option, label in definition.options.items()
                if option in known.options and known.options[option] != label
            }
            if labels:
                self._record_change({"relabel": known.column, "field_type": known.field_type, "labels": labels})
        if known.name != definition.name:
            self._record_change({"field_key": known.code, "field_name": definition.name})

    def learn(self, code: str, unknown_option: bool = False) -> Optional[Tuple[str, int, "MappedField"]]:
        """The plan entry of a field the mapper did not know when its plan was made, or of a known
        field holding an option it does not know: the current definitions are read once per run
        (a field or option created since they were last read), else None."""
        with self._loader_lock:
            if (unknown_option or code not in self.fields) and self._refresh is not None:
                refresh, self._refresh = self._refresh, None
                self._merge(list(refresh()))
        return self.column_plan().get(code)

    def _free_column(self, definition: FieldDefinition, claimed: Set[str], prefer: Optional[str] = None) -> str:
        base = self.naming.normalize_identifier(readable_identifier(definition.name))
        code = definition.code.lower()
        candidates = [base, f"{base}_custom", f"{base}_{code[:8]}", f"{base}_{code}"]
        if prefer is not None:
            candidates.insert(0, prefer)
        for candidate in candidates:
            candidate = self.naming.normalize_identifier(candidate)
            if not claimed.intersection(_columns_of(candidate, definition.field_type)):
                return candidate
        return self.naming.normalize_identifier(f"{base}_{definition.code}_{len(claimed)}")

    def _label(self, mapped: MappedField, option_id: Any) -> str:
        key = str(option_id)
        label = mapped.options.get(key)
        if label is None and self._refresh is not None:
            self.learn(mapped.code, unknown_option=True)  # an option added since the last read
            label = mapped.options.get(key)
        if label is None and self._deleted_options_loader is not None:
            with self._loader_lock:  # listings run in parallel threads: load once
                if self._deleted_options_loader is not None:
                    self._learn_deleted_options(self._deleted_options_loader())
            label = mapped.options.get(key)
        return label if label is not None else key

    def _learn_deleted_options(self, definitions: Iterable[FieldDefinition]) -> None:
        """Adds deleted option labels (never overriding a current label) and saves them."""
        self._deleted_options_loader = None
        for definition in definitions:
            mapped = self.fields.get(definition.code)
            if mapped is None:
                continue
            for option_id, label in definition.deleted_options.items():
                mapped.options.setdefault(option_id, label)
            self._state[mapped.code] = mapped.to_state()

    def column_of(self, code: str) -> Optional[str]:
        """Stable column of a hash, None if the hash is not a known custom field."""
        mapped = self.fields.get(code)
        return mapped.column if mapped else None

    def mapping_rows(self) -> List[Dict[str, Any]]:
        """Rows of the `custom_fields_mapping` table for this field set."""
        return [
            {
                "entity": self.field_set,
                "hash_key": mapped.code,
                "name": mapped.name,
                "column_name": mapped.column,
                "field_type": mapped.field_type,
                "options": [{"id": k, "label": v} for k, v in mapped.options.items()],
                "is_deleted": mapped.deleted,
            }
            for mapped in sorted(self.fields.values(), key=lambda m: m.code)
        ]

    def column_plan(self) -> Dict[str, Tuple[str, int, MappedField]]:
        """Hash -> (column, value kind, field): how each field's value becomes columns.

        For `pipedrive.fields.rows.RowBuilder`, which writes a whole row in one pass. The kinds are
        `PLAIN_VALUE`, `SUBFIELD_VALUE`, `REFERENCE_VALUE` and `LABELED_VALUE`. Built once and
        built again after the definitions were merged (`learn` read a field created meanwhile).
        """
        if self._plan is None:
            plan = {}
            for code, mapped in self.fields.items():
                if mapped.field_type in SUBFIELD_SUFFIXES:
                    kind = SUBFIELD_VALUE
                elif mapped.field_type in REFERENCE_TYPES:
                    kind = REFERENCE_VALUE
                elif mapped.field_type in CONVERTED_TYPES:
                    kind = LABELED_VALUE
                else:
                    kind = PLAIN_VALUE
                plan[code] = (mapped.column, kind, mapped)
            self._plan = plan
        return self._plan

    def convert(self, mapped: MappedField, value: Any) -> Any:
        """The column value of a labeled or reference value: labels for option ids, ids out of
        objects, None for empty values."""
        field_type = mapped.field_type
        if value is None or value == "":
            return None
        if field_type == "enum":
            if isinstance(value, dict):
                value = value.get("id", value.get("label"))
            return self._label(mapped, value)
        if field_type == "set":
            if isinstance(value, str):
                items: List[Any] = [part.strip() for part in value.split(",") if part.strip()]
            elif isinstance(value, list):
                items = [v.get("id", v.get("label")) if isinstance(v, dict) else v for v in value]
            else:
                items = [value]
            return [self._label(mapped, item) for item in items]
        if field_type in REFERENCE_TYPES and isinstance(value, dict):
            return value.get("value", value.get("id"))
        return value
