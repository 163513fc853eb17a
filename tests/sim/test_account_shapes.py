"""Record and field-definition shapes: the v2 and v1 rules of the Pipedrive API."""

from __future__ import annotations

import re
from typing import Any

import pytest

from pipedrive_sim import Account

V2_TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
V1_TS = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
HASH = re.compile(r"^[0-9a-f]{40}$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
V2_CUSTOM = ("deals", "persons", "organizations", "activities", "products", "projects")
V2_TIMED = V2_CUSTOM + ("pipelines", "stages", "tasks", "deal_products")
ADDRESS_PARTS = ("street_number", "route", "sublocality", "locality", "admin_area_level_1",
                 "admin_area_level_2", "country", "postal_code", "formatted_address")


@pytest.fixture(scope="module")
def account() -> Account:
    return Account.generate("tiny", seed=3)


def _types(account: Account, field_set: str) -> dict[str, str]:
    return {f["field_code"]: f["field_type"] for f in account.fields(field_set, "v2") if f["is_custom_field"]}


def test_v2_timestamps_and_booleans(account: Account) -> None:
    for entity in V2_TIMED:
        for rec in account.records(entity):
            for key in ("add_time", "update_time"):
                assert V2_TS.match(rec[key]), (entity, key, rec[key])
            for key, value in rec.items():
                if key.startswith("is_"):
                    assert isinstance(value, bool), (entity, key)


def test_v1_timestamps(account: Account) -> None:
    for entity in ("notes", "files"):
        for rec in account.records(entity):
            assert V1_TS.match(rec["add_time"]) and V1_TS.match(rec["update_time"]), entity
    for item in account.deal_flow(account.records("deals")[5]["id"]):
        assert V1_TS.match(item["timestamp"]), item
        if item["object"] == "dealChange":
            assert item["data"]["log_time"] == item["timestamp"]


def _check_v2_value(ftype: str, value: Any, options: set[int]) -> None:
    if value is None:
        return
    if ftype == "monetary":
        assert set(value) == {"value", "currency"} and isinstance(value["value"], (int, float))
    elif ftype == "daterange":
        assert set(value) == {"value", "until"}
    elif ftype == "timerange":
        assert set(value) == {"value", "until", "timezone_name"}
    elif ftype == "address":
        assert set(value) == {"value", *ADDRESS_PARTS}
    elif ftype == "enum":
        assert isinstance(value, int) and value in options
    elif ftype == "set":
        assert isinstance(value, list) and all(isinstance(v, int) and v in options for v in value)
    elif ftype in ("user", "org", "people", "int"):
        assert isinstance(value, int) and not isinstance(value, bool)
    elif ftype == "boolean":
        assert isinstance(value, bool)
    else:
        assert isinstance(value, (str, float, int))


def test_v2_custom_fields_shape(account: Account) -> None:
    for entity, field_set in zip(V2_CUSTOM, ("deal", "person", "organization", "activity", "product", "project")):
        defs = {f["key"]: f for f in account.fields(field_set, "v1")}
        types = _types(account, field_set)
        assert len(set(types.values())) >= 18, field_set
        seen = set()
        for rec in account.records(entity):
            cf = rec["custom_fields"]
            assert set(cf) == set(types), entity
            for key, value in cf.items():
                assert HASH.match(key)
                assert key not in rec  # v2 never puts custom values at the top level
                ids = {o["id"] for o in (defs[key]["options"] or []) + defs[key].get("options_deleted", [])}
                _check_v2_value(types[key], value, ids)
                if value is not None:
                    seen.add(types[key])
        if entity in ("deals", "persons", "activities"):
            assert {"monetary", "address", "set", "enum", "timerange"} <= seen, entity


def test_v1_lead_custom_fields_flat(account: Account) -> None:
    types = _types(account, "deal")
    leads = account.records("leads")
    for lead in leads:
        assert UUID.match(lead["id"]) and "custom_fields" not in lead
        assert all(UUID.match(label) for label in lead["label_ids"])
        for key, ftype in types.items():
            assert key in lead
            value = lead[key]
            if ftype == "monetary":
                assert f"{key}_currency" in lead
            if ftype in ("daterange", "timerange"):
                assert f"{key}_until" in lead
            if ftype == "address":
                assert all(f"{key}_{part}" in lead for part in ADDRESS_PARTS)
            if ftype == "set" and value is not None:
                assert re.match(r"^\d+(,\d+)*$", value)
            if ftype == "enum" and value is not None:
                assert isinstance(value, str) and value.isdigit()


def test_to_v1_flattens_deal(account: Account) -> None:
    types = _types(account, "deal")
    deal = next(d for d in account.records("deals") if any(v is not None for v in d["custom_fields"].values()))
    v1 = account.to_v1("deals", deal)
    assert "custom_fields" not in v1 and V1_TS.match(v1["update_time"])
    assert v1["user_id"] == deal["owner_id"] and v1["active"] is (not deal["is_deleted"])
    assert v1["deleted"] is deal["is_deleted"] and v1["visible_to"] == str(deal["visible_to"])
    for key in ("person_id", "org_id", "won_time", "lost_time", "first_won_time"):
        # like the real API: the key is sent, null when there is no value (never 0 or "")
        assert key in v1 and v1[key] not in (0, ""), key
        assert (v1[key] is None) is (deal[key] is None), key
    for key, ftype in types.items():
        value = deal["custom_fields"][key]
        if ftype == "monetary" and value:
            assert v1[key] == value["value"] and v1[f"{key}_currency"] == value["currency"]
        elif ftype == "set" and value:
            assert v1[key] == ",".join(map(str, value))
        elif ftype not in ("monetary", "set", "enum", "daterange", "timerange", "address"):
            assert v1[key] == value


def test_field_definitions_both_shapes(account: Account) -> None:
    v1_keys = {"id", "key", "name", "order_nr", "field_type", "add_time", "update_time", "active_flag",
               "edit_flag", "options", "is_subfield", "mandatory_flag", "bulk_edit_allowed"}
    v2_keys = {"field_code", "field_name", "field_type", "is_custom_field", "is_optional_response_field",
               "options", "subfields"}
    for field_set in ("deal", "person", "organization", "activity", "product", "project"):
        v2 = account.fields(field_set, "v2")
        v1 = account.fields(field_set, "v1")
        assert [f["field_code"] for f in v2] == [f["key"] for f in v1]
        for f in v2:
            assert v2_keys <= set(f)
            if f["options"]:
                assert all({"id", "label", "color", "add_time", "update_time"} <= set(o) for o in f["options"])
            if f["field_type"] == "monetary" and f["is_custom_field"]:
                assert [s["field_code"] for s in f["subfields"]] == [f["field_code"] + "_currency"]
        for f in v1:
            assert v1_keys <= set(f)
    assert account.fields("lead", "v1") and account.fields("note", "v1")
    with pytest.raises(KeyError):
        account.fields("lead", "v2")


def test_deleted_options_v1_listed_v2_dropped(account: Account) -> None:
    v1 = {f["key"]: f for f in account.fields("deal", "v1")}
    v2 = {f["field_code"]: f for f in account.fields("deal", "v2")}
    deleted = [(k, o["id"]) for k, f in v1.items() for o in f.get("options_deleted", [])]
    assert deleted
    for key, option_id in deleted:
        assert option_id not in {o["id"] for o in v2[key]["options"]}
        assert option_id not in {o["id"] for o in v1[key]["options"]}
    assert any("(renamed)" in f["field_name"] for f in v2.values())


def test_string_ids_and_name_only_sources(account: Account) -> None:
    assert all(UUID.match(label["id"]) for label in account.records("lead_labels"))
    assert all(set(src) == {"name"} for src in account.records("lead_sources"))
    assert all(isinstance(g["id"], str) for g in account.records("goals"))
    me = account.current_user()
    assert me["is_you"] is True and me["company_domain"]


@pytest.mark.parametrize("entity", ["deals", "persons", "organizations", "activities", "products", "projects",
                                    "tasks", "notes", "files", "call_logs", "leads", "deal_products"])
def test_no_missing_keys_null_instead(entity: str) -> None:
    """Every record of an entity has the same keys: a value that is absent is a null, never a
    missing key (the real API sends the key with null), also for records made by `create`."""
    fresh = Account.generate("tiny", seed=4)
    if entity != "deal_products":  # rows need a deal and a product; covered by generation
        fresh.create(entity, {})
    records = fresh.records(entity)
    keys = set(records[0])
    for rec in records:
        assert set(rec) == keys, (entity, rec.get("id"), keys ^ set(rec))
