"""The step-by-step reference shaping of a record, the oracle `pipedrive.fields.RowBuilder` (the
one-pass shaping the source uses) is compared against: rename the custom fields, flatten nested
objects, apply defaults, leave nulls out - each step on its own, the obvious way."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

from pipedrive.entities import ApiVersion
from pipedrive.fields.mapper import CONVERTED_TYPES, MAIN_VALUE_KEY, SUBFIELD_SUFFIXES, CustomFieldMapper, MappedField

NESTED_SEPARATOR = "__"
ZERO_DATE_PREFIX = "0000-00-00"


def flatten_record(record: Mapping[str, Any], prefix: str = "") -> Dict[str, Any]:
    """Nested dicts as `a__b` keys, lists kept, `0000-00-00...` dates as None."""
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
            flat[f"{prefix}{key}"] = value
    return flat


def apply_defaults(record: Dict[str, Any], defaults: Mapping[str, Any]) -> Dict[str, Any]:
    """Sets `defaults` on keys the record lacks or holds None (in place)."""
    for key, value in defaults.items():
        if record.get(key) is None:
            record[key] = value
    return record


def _write(mapper: CustomFieldMapper, out: Dict[str, Any], mapped: MappedField, value: Any) -> None:
    if value is None or value == "":
        out[mapped.column] = None
    elif isinstance(value, dict) and mapped.field_type in SUBFIELD_SUFFIXES:
        for key, sub_value in value.items():
            if key == MAIN_VALUE_KEY:
                out[mapped.column] = None if sub_value == "" else sub_value
            else:
                out[mapped.sibling_column(key)] = sub_value
    elif mapped.field_type in CONVERTED_TYPES:
        out[mapped.column] = mapper.convert(mapped, value)
    else:
        out[mapped.column] = value


def rename_custom_fields(mapper: CustomFieldMapper, record: Mapping[str, Any], api: ApiVersion) -> Dict[str, Any]:
    """The record with its custom fields under their columns (v2: out of `custom_fields`; v1: the
    top-level hashes and their `<hash>_<part>` siblings)."""
    out: Dict[str, Any] = {}
    if ApiVersion(api) is ApiVersion.V2:
        custom = record.get("custom_fields")
        out.update((k, v) for k, v in record.items() if k != "custom_fields" or not isinstance(custom, dict))
        for code, value in (custom or {}).items() if isinstance(custom, dict) else ():
            mapped = mapper.fields.get(code)
            if mapped is None:
                if value is not None:
                    out[code] = value
            elif value not in (None, ""):
                _write(mapper, out, mapped, value)
        return out
    for key, value in record.items():
        mapped = mapper.fields.get(key)
        if mapped is not None:
            if value is not None:
                _write(mapper, out, mapped, value)
            continue
        head, separator, suffix = key.partition("_")
        parent = mapper.fields.get(head) if separator else None
        if parent is not None:
            if value is not None:
                out[parent.sibling_column(suffix)] = value
        elif value is not None:
            out[key] = value
    return out


def reference_row(
    record: Mapping[str, Any],
    defaults: Mapping[str, Any] = {},
    mapper: Optional[CustomFieldMapper] = None,
    api: ApiVersion = ApiVersion.V2,
) -> Dict[str, Any]:
    """The row the source should load for `record`, shaped step by step."""
    renamed = rename_custom_fields(mapper, record, api) if mapper is not None else dict(record)
    row = apply_defaults(flatten_record({k: v for k, v in renamed.items() if v is not None}), defaults)
    return {key: value for key, value in row.items() if value is not None}
