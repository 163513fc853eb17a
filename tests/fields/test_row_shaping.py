"""`RowBuilder` (the one-pass row shaping of listings and deal children) against the step-by-step
reference shaping kept in `tests/helpers/reference_shaping.py`: rows must match it value for value.
"""

from __future__ import annotations

import copy
from typing import Any, Mapping, Optional

import pytest

from pipedrive.entities import ApiVersion
from pipedrive.fields.mapper import CustomFieldMapper, parse_field_definition
from pipedrive.fields.rows import RowBuilder
from tests.helpers.custom_field_examples import ADDRESS, ENUM, MONEY, NAMING, RANGE, SET, USER
from tests.helpers.reference_shaping import reference_row


TEXT = "e1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
DATE = "f1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
UNKNOWN = "0" * 40
CUSTOM = [
    (ENUM, "Customer Type", "enum", [{"id": 1, "label": "SMB"}, {"id": 2, "label": "Enterprise"}]),
    (SET, "Channels", "set", [{"id": 11, "label": "Email"}, {"id": 12, "label": "Phone"}]),
    (MONEY, "Budget", "monetary", None),
    (RANGE, "Contract", "daterange", None),
    (ADDRESS, "HQ", "address", None),
    (USER, "Champion", "user", None),
    (TEXT, "Note text", "text", None),
    (DATE, "Renewal", "date", None),
]
DEFAULTS = {"is_archived": False}


def _mapper(api: ApiVersion, extra: Optional[list] = None) -> CustomFieldMapper:
    if api is ApiVersion.V2:
        raw = [{"field_code": "title", "field_name": "Title", "field_type": "varchar", "is_custom_field": False}]
        raw += [{"field_code": c, "field_name": n, "field_type": t, "is_custom_field": True, "options": o}
                for c, n, t, o in CUSTOM + (extra or [])]
    else:
        raw = [{"key": "title", "name": "Title", "field_type": "varchar", "edit_flag": False}]
        raw += [{"key": c, "name": n, "field_type": t, "edit_flag": True, "options": o}
                for c, n, t, o in CUSTOM + (extra or [])]
    return CustomFieldMapper("deal", [parse_field_definition(r, api) for r in raw], NAMING, {})


def _assert_same(record: dict, mapper: Optional[CustomFieldMapper], api: ApiVersion,
                 defaults: Mapping[str, Any] = DEFAULTS) -> dict:
    original = copy.deepcopy(record)
    row = RowBuilder(defaults, mapper, api).build(record)
    assert row == reference_row(record, defaults, mapper, api)
    assert record == original  # the raw record is left as it was
    return row


V2_RECORD = {
    "id": 1, "title": "Deal", "is_archived": None, "owner_id": None, "label_ids": [1, 2],
    "close_time": "0000-00-00 00:00:00", "add_time": "2024-01-01T10:00:00Z", "empty": {},
    "location": {"value": "Main St", "country": "EE", "sub": {"a": 1, "b": None}, "none": None},
    "custom_fields": {
        ENUM: 2, SET: [11, 12], MONEY: {"value": 1500.5, "currency": "EUR"},
        RANGE: {"value": "", "until": "2024-12-31"},
        ADDRESS: {"value": "Main St 1", "locality": "Tallinn", "route": None, "postal_code": ""},
        USER: {"id": 7, "name": "Ann"}, TEXT: "", DATE: "0000-00-00", UNKNOWN: {"x": 1},
    },
    "is_deleted": False,
}


def test_v2_row_equals_the_stepwise_shaping() -> None:
    row = _assert_same(V2_RECORD, _mapper(ApiVersion.V2), ApiVersion.V2)
    assert row["customer_type"] == "Enterprise" and row["budget_currency"] == "EUR"
    assert row["is_archived"] is False and "owner_id" not in row and "close_time" not in row


@pytest.mark.parametrize("custom", [None, [], "x", {}, {ENUM: None, SET: None, MONEY: None}])
def test_v2_missing_or_malformed_custom_fields(custom: Any) -> None:
    _assert_same({"id": 1, "title": "Deal", "custom_fields": custom, "x": 1}, _mapper(ApiVersion.V2), ApiVersion.V2)


def test_v2_values_of_every_kind() -> None:
    builtin: dict = {}
    mapper = _mapper(ApiVersion.V2)
    values = [None, "", 0, 1.5, True, "text", "0000-00-00 00:00:00", [1, 2], "11,12", {}, {"value": 3},
              {"id": 4}, {"value": None, "currency": "EUR"}, {"value": {"nested": 1}, "until": ""},
              {"value": "", "street_number": "", "extra": 1}, "1", 1]
    for code, _, _, _ in CUSTOM + [(UNKNOWN, "", "", None)]:
        for value in values:
            _assert_same({"id": 1, **builtin, "custom_fields": {code: value, TEXT: "x"}}, mapper, ApiVersion.V2)


def test_v1_row_equals_the_stepwise_shaping() -> None:
    record = {
        "id": 1, "title": "Deal", ENUM: "2", SET: "11,12", MONEY: 1500.5, f"{MONEY}_currency": "EUR",
        RANGE: "2024-01-01", f"{RANGE}_until": "0000-00-00", ADDRESS: "Main St 1",
        f"{ADDRESS}_locality": None, USER: {"id": 7, "name": "Ann", "value": 7}, TEXT: "",
        "user": {"id": 1, "email": "a@b.c"}, "org_id": None, "not_a_hash_key": 3, "is_archived": None,
    }
    row = _assert_same(record, _mapper(ApiVersion.V1), ApiVersion.V1)
    assert row["champion"] == 7 and row["contract"] == "2024-01-01" and "contract_until" not in row


def test_without_mapper_is_flatten_without_nulls() -> None:
    _assert_same(dict(V2_RECORD, custom_fields={"a": {"b": None, "c": 1}}), None, ApiVersion.V2)
    _assert_same({"id": 1, "user": {"id": 2, "name": None}, "x": None}, None, ApiVersion.V1, {})


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        # a custom column named like a built-in key the definitions do not list: the custom value wins
        ({"id": 1, "note_text": "builtin", "custom_fields": {TEXT: "custom"}}, {"id": 1, "note_text": "custom"}),
        # ... but a null never overwrites a value
        ({"id": 1, "note_text": "builtin", "custom_fields": {TEXT: None}}, {"id": 1, "note_text": "builtin"}),
        # a nested key that is also a flat key: the later non-null one
        ({"a__b": 1, "a": {"b": None}}, {"a__b": 1}),
        ({"a": {"b": 2}, "a__b": 3}, {"a__b": 3}),
        # a sibling column that is another field's column
        ({"id": 1, "custom_fields": {MONEY: {"value": 1, "extra": 2}, "5" * 40: "x"}},
         {"id": 1, "budget": 1, "budget_extra": "x"}),
    ],
)
def test_colliding_columns_keep_the_last_non_null_value(record: dict, expected: dict) -> None:
    mapper = _mapper(ApiVersion.V2, extra=[("5" * 40, "Budget extra", "varchar", None)])
    assert RowBuilder({}, mapper, ApiVersion.V2).build(record) == expected


def test_defaults_replace_nulls_and_missing_keys() -> None:
    assert _assert_same({"id": 1, "is_archived": None, "x": 2}, None, ApiVersion.V2)["is_archived"] is False
    assert _assert_same({"id": 1, "x": 2}, None, ApiVersion.V2)["is_archived"] is False
    assert RowBuilder({"is_archived": True}).build({"is_archived": False}) == {"is_archived": False}
