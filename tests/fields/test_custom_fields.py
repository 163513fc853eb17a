"""Custom fields on spec-shaped v1 and v2 payloads: columns, labels, renames, collisions (no HTTP)."""

from __future__ import annotations

import pytest

from typing import Any

from pipedrive.fields.mapper import CustomFieldMapper, FieldDefinition, parse_field_definition
from pipedrive.entities import ApiVersion
from pipedrive.fields.rows import RowBuilder
from tests.helpers.custom_field_examples import ADDRESS, ENUM, MONEY, NAMING, RANGE, SET, USER

V2_DEFINITIONS: list[dict[str, Any]] = [
    {"field_code": "title", "field_name": "Title", "field_type": "varchar", "is_custom_field": False},
    {"field_code": "value", "field_name": "Value", "field_type": "monetary", "is_custom_field": False},
    {"field_code": ENUM, "field_name": "Customer Type", "field_type": "enum", "is_custom_field": True,
     "options": [{"id": 1, "label": "SMB"}, {"id": 2, "label": "Enterprise"}]},
    {"field_code": SET, "field_name": "Channels", "field_type": "set", "is_custom_field": True,
     "options": [{"id": 11, "label": "Email"}, {"id": 12, "label": "Phone"}]},
    {"field_code": MONEY, "field_name": "Budget", "field_type": "monetary", "is_custom_field": True},
    {"field_code": RANGE, "field_name": "Contract", "field_type": "daterange", "is_custom_field": True},
    {"field_code": ADDRESS, "field_name": "HQ", "field_type": "address", "is_custom_field": True},
    {"field_code": USER, "field_name": "Champion", "field_type": "user", "is_custom_field": True},
]


def _mapper(definitions: list[dict[str, Any]] = V2_DEFINITIONS, state: dict | None = None,
            api: ApiVersion = ApiVersion.V2, loader: Any = None, refresh: Any = None) -> CustomFieldMapper:
    parsed = [parse_field_definition(raw, api) for raw in definitions]
    return CustomFieldMapper("deal", parsed, NAMING, {} if state is None else state, loader, refresh=refresh)


def _row(mapper: CustomFieldMapper, record: dict[str, Any], api: ApiVersion = ApiVersion.V2) -> dict[str, Any]:
    return RowBuilder({}, mapper, api).build(record)


def test_v2_custom_fields_become_named_typed_columns() -> None:
    record = {
        "id": 1, "title": "Deal", "value": 10,
        "custom_fields": {
            ENUM: 2, SET: [11, 12],
            MONEY: {"value": 1500.5, "currency": "EUR"},
            RANGE: {"value": "2024-01-01", "until": "2024-12-31"},
            ADDRESS: {"value": "Main St 1, Tallinn", "locality": "Tallinn", "country": "Estonia"},
            USER: 7,
        },
    }
    row = _row(_mapper(), record)
    assert row == {
        "id": 1, "title": "Deal", "value": 10,
        "customer_type": "Enterprise", "channels": ["Email", "Phone"],
        "budget": 1500.5, "budget_currency": "EUR",
        "contract": "2024-01-01", "contract_until": "2024-12-31",
        "hq": "Main St 1, Tallinn", "hq_locality": "Tallinn", "hq_country": "Estonia",
        "champion": 7,
    }


def test_v1_top_level_hashes_and_siblings_become_the_same_columns() -> None:
    v1_definitions = [
        {"key": "title", "name": "Title", "field_type": "varchar", "edit_flag": False},
        {"key": ENUM, "name": "Customer Type", "field_type": "enum", "edit_flag": True,
         "options": [{"id": 1, "label": "SMB"}], "options_deleted": [{"id": 2, "label": "Enterprise"}]},
        {"key": SET, "name": "Channels", "field_type": "set", "edit_flag": True,
         "options": [{"id": 11, "label": "Email"}, {"id": 12, "label": "Phone"}]},
        {"key": MONEY, "name": "Budget", "field_type": "monetary", "edit_flag": True},
        {"key": RANGE, "name": "Contract", "field_type": "daterange", "edit_flag": True},
        {"key": ADDRESS, "name": "HQ", "field_type": "address", "edit_flag": True},
        {"key": USER, "name": "Champion", "field_type": "user", "edit_flag": True},
    ]
    record = {
        "id": 1, "title": "Deal", ENUM: "2", SET: "11,12",
        MONEY: 1500.5, f"{MONEY}_currency": "EUR",
        RANGE: "2024-01-01", f"{RANGE}_until": "2024-12-31",
        ADDRESS: "Main St 1", f"{ADDRESS}_locality": "Tallinn", f"{ADDRESS}_formatted_address": "Main St 1, Tallinn",
        USER: {"id": 7, "name": "Ann", "value": 7},
    }
    row = _row(_mapper(v1_definitions, api=ApiVersion.V1), record, ApiVersion.V1)
    assert row == {
        "id": 1, "title": "Deal", "customer_type": "Enterprise", "channels": ["Email", "Phone"],
        "budget": 1500.5, "budget_currency": "EUR",
        "contract": "2024-01-01", "contract_until": "2024-12-31",
        "hq": "Main St 1", "hq_locality": "Tallinn", "hq_formatted_address": "Main St 1, Tallinn",
        "champion": 7,
    }


def test_renamed_field_keeps_its_column_and_mapping_shows_new_name() -> None:
    state: dict = {}
    _mapper(state=state)
    renamed = [dict(d, field_name="Segment") if d["field_code"] == ENUM else d for d in V2_DEFINITIONS]
    mapper = _mapper(renamed, state=state)
    assert _row(mapper, {"custom_fields": {ENUM: 1}}) == {"customer_type": "SMB"}
    row = next(r for r in mapper.mapping_rows() if r["hash_key"] == ENUM)
    assert (row["name"], row["column_name"]) == ("Segment", "customer_type")


def test_renamed_and_deleted_options_keep_resolving() -> None:
    state: dict = {}
    _mapper(state=state)
    changed = []
    for definition in V2_DEFINITIONS:
        if definition["field_code"] == ENUM:  # option 1 renamed, option 2 deleted (v2 drops it)
            definition = dict(definition, options=[{"id": 1, "label": "Small business"}])
        changed.append(definition)
    mapper = _mapper(changed, state=state)
    assert _row(mapper, {"custom_fields": {ENUM: 1}}) == {"customer_type": "Small business"}
    assert _row(mapper, {"custom_fields": {ENUM: 2}}) == {"customer_type": "Enterprise"}


def test_deleted_option_unknown_to_state_is_read_from_v1_once() -> None:
    calls = []

    def loader() -> list[FieldDefinition]:
        calls.append(1)
        return [FieldDefinition(ENUM, "Customer Type", "enum", True, {}, {"3": "Legacy"})]

    mapper = _mapper(loader=loader)
    assert _row(mapper, {"custom_fields": {ENUM: 3}}) == {"customer_type": "Legacy"}
    assert _row(mapper, {"custom_fields": {ENUM: 99}}) == {"customer_type": "99"}
    assert calls == [1]


def test_an_option_added_since_the_definitions_were_read_is_resolved_by_one_reread() -> None:
    calls = []

    def refresh() -> list[FieldDefinition]:
        calls.append(1)
        added = [dict(d, options=[*d["options"], {"id": 3, "label": "Partner"}]) if d["field_code"] == ENUM else d
                 for d in V2_DEFINITIONS]
        return [parse_field_definition(raw, ApiVersion.V2) for raw in added]

    mapper = _mapper(refresh=refresh)
    assert _row(mapper, {"custom_fields": {ENUM: 3}}) == {"customer_type": "Partner"}
    assert _row(mapper, {"custom_fields": {ENUM: 4}}) == {"customer_type": "4"}  # unknown even now
    assert calls == [1]  # one re-read per run, whatever else is unknown


@pytest.mark.parametrize(
    "name, column",
    [
        ("Address (deal)", "address_deal"),  # dlt alone: address_dealx
        ("Référence client ✓", "reference_client"),  # dlt alone: r_f_rence_client_x
        ("Deal Size (€)", "deal_size"),
        ("Zürich  office -- HQ", "zurich_office_hq"),
    ],
)
def test_field_names_become_clean_columns(name: str, column: str) -> None:
    code = "5" * 40
    definitions = V2_DEFINITIONS + [
        {"field_code": code, "field_name": name, "field_type": "varchar", "is_custom_field": True}
    ]
    assert _mapper(definitions).column_of(code) == column


def test_names_without_latin_letters_get_a_stable_column() -> None:
    first, second = "6" * 40, "7" * 40
    definitions = V2_DEFINITIONS + [
        {"field_code": first, "field_name": "顧客", "field_type": "varchar", "is_custom_field": True},
        {"field_code": second, "field_name": "地域", "field_type": "varchar", "is_custom_field": True},
    ]
    columns = {_mapper(definitions).column_of(code) for code in (first, second)}
    assert len(columns) == 2 and all(c.startswith("field") for c in columns)


def test_colliding_names_are_disambiguated_deterministically() -> None:
    first, second = "1" * 40, "2" * 40
    definitions = V2_DEFINITIONS + [
        {"field_code": second, "field_name": "Region!", "field_type": "varchar", "is_custom_field": True},
        {"field_code": first, "field_name": "Region?", "field_type": "varchar", "is_custom_field": True},
        {"field_code": "3" * 40, "field_name": "Title", "field_type": "varchar", "is_custom_field": True},
        {"field_code": "4" * 40, "field_name": "Budget currency", "field_type": "varchar", "is_custom_field": True},
    ]
    columns = {code: _mapper(definitions).column_of(code) for code in (first, second, "3" * 40, "4" * 40, MONEY)}
    reordered = _mapper(list(reversed(definitions)))
    assert columns == {code: reordered.column_of(code) for code in columns}
    assert len(set(columns.values())) == len(columns)
    assert columns["3" * 40] != "title"  # built-in column is never overwritten
    # a field named like another field's sub-column and that field never share a column
    assert {columns["4" * 40]}.isdisjoint({columns[MONEY], f"{columns[MONEY]}_currency"})
    record = {"title": "Deal", "custom_fields": {first: "a", second: "b", "3" * 40: "c", MONEY: {"value": 1, "currency": "EUR"}, "4" * 40: "d"}}
    row = _row(_mapper(definitions), record)
    assert sorted(v for v in row.values() if isinstance(v, str)) == ["Deal", "EUR", "a", "b", "c", "d"]


def test_unknown_hash_is_kept_and_nulls_are_left_out() -> None:
    unknown = "f" * 40
    row = _row(_mapper(), {"custom_fields": {unknown: 5, ENUM: None, SET: None, MONEY: None}})
    assert row == {unknown: 5}


def test_rows_keep_lists_and_flatten_dicts() -> None:
    record = {"id": 1, "emails": [{"value": "a@b.c"}], "postal_address": {"value": "x", "country": "EE"},
              "first_won_time": "0000-00-00 00:00:00", "empty": {}}
    assert RowBuilder().build(record) == {
        "id": 1, "emails": [{"value": "a@b.c"}], "postal_address__value": "x", "postal_address__country": "EE",
    }


def test_custom_field_never_takes_a_builtin_record_key_missing_from_definitions() -> None:
    """Deal `currency` and lead `was_seen` are not in /dealFields but are record keys."""
    definitions = V2_DEFINITIONS + [
        {"field_code": "5" * 40, "field_name": "Currency", "field_type": "varchar", "is_custom_field": True},
        {"field_code": "6" * 40, "field_name": "Was seen", "field_type": "varchar", "is_custom_field": True},
    ]
    parsed = [parse_field_definition(raw, ApiVersion.V2) for raw in definitions]
    mapper = CustomFieldMapper("deal", parsed, NAMING, {}, reserved_columns=("currency", "was_seen"))
    lead = {"id": "x", "was_seen": True, "6" * 40: "custom", "currency": "EUR", "5" * 40: "c"}
    row = _row(mapper, lead, ApiVersion.V1)
    assert row["was_seen"] is True and row["currency"] == "EUR"
    assert row[mapper.column_of("6" * 40)] == "custom" and row[mapper.column_of("5" * 40)] == "c"
