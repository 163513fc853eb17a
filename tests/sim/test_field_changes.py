"""Custom fields that change type, go away, or share names (issue 13 section 3)."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from pipedrive_sim import Account, SimServer


@pytest.fixture()
def account() -> Account:
    return Account.generate("tiny", seed=6)


def _field(account: Account, field_set: str, code: str, api: str = "v2") -> dict[str, Any] | None:
    key = "field_code" if api == "v2" else "key"
    return next((f for f in account.fields(field_set, api) if f[key] == code), None)


def _custom(account: Account, field_type: str) -> str:
    return next(f["field_code"] for f in account.fields("deal", "v2") if f["is_custom_field"] and f["field_type"] == field_type)


def _values(account: Account, code: str) -> dict[int, Any]:
    return {d["id"]: d["custom_fields"].get(code) for d in account.records("deals")}


def test_text_to_number_keeps_numbers_and_loses_the_rest(account: Account) -> None:
    code = account.add_field("deal", "Budget", "varchar")
    deals = [d["id"] for d in account.records("deals")[:3]]
    for deal_id, text in zip(deals, ("12.5", "abc", "7")):
        account.update("deals", deal_id, {"custom_fields": {code: text}})
    lead = account.records("leads")[0]["id"]
    account.update("leads", lead, {"custom_fields": {code: "3,5"}})
    before = {d["id"]: d["update_time"] for d in account.records("deals")}
    versions = {e: account.version(e) for e in ("deals", "leads", "deal_fields", "lead_fields")}
    account.clock.advance(hours=1)
    account.change_field_type("deal", code, "double")
    assert [_values(account, code)[d] for d in deals] == [12.5, None, 7.0]
    assert {d["id"]: d["update_time"] for d in account.records("deals")} == before  # not touched by default
    assert {r["id"]: r for r in account.records("leads")}[lead][code] == 3.5  # decimal comma
    assert all(account.version(e) > v for e, v in versions.items())
    assert _field(account, "deal", code)["field_type"] == "double"
    assert _field(account, "deal", code, "v1")["field_type"] == "double"
    assert _field(account, "deal", code)["field_name"] == "Budget"


def test_touch_records_moves_update_time_only_where_the_value_changed(account: Account) -> None:
    code = _custom(account, "enum")
    values = _values(account, code)
    account.clock.advance(hours=1)
    account.change_field_type("deal", code, "set", touch_records=True)
    now = account.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    for deal in account.records("deals"):
        old = values[deal["id"]]
        assert deal["custom_fields"][code] == (None if old is None else [old])  # an id becomes a one-element set
        assert (deal["update_time"] == now) == (old is not None), deal["id"]
    assert _field(account, "deal", code)["options"]  # options kept


def test_set_to_enum_keeps_the_first_option_and_leads_follow(account: Account) -> None:
    code = _custom(account, "set")
    values = _values(account, code)
    leads = {r["id"]: r[code] for r in account.records("leads")}
    account.change_field_type("deal", code, "enum")
    assert _values(account, code) == {i: (v[0] if v else None) for i, v in values.items()}
    for lead in account.records("leads"):
        old = leads[lead["id"]]
        assert lead[code] == (None if old is None else old.split(",")[0])  # v1 enum: the id as a string


def test_text_to_options_and_options_to_text(account: Account) -> None:
    code = account.add_field("person", "Tier", "varchar")
    persons = [p["id"] for p in account.records("persons")[:3]]
    for person_id, tier in zip(persons, ("gold", "silver", "gold")):
        account.update("persons", person_id, {"custom_fields": {code: tier}})
    account.change_field_type("person", code, "enum")
    options = {o["label"]: o["id"] for o in _field(account, "person", code)["options"]}
    assert set(options) == {"gold", "silver"}
    got = {p["id"]: p["custom_fields"][code] for p in account.records("persons")}
    assert [got[i] for i in persons] == [options["gold"], options["silver"], options["gold"]]
    account.change_field_type("person", code, "text")
    got = {p["id"]: p["custom_fields"][code] for p in account.records("persons")}
    assert [got[i] for i in persons] == ["gold", "silver", "gold"]
    assert _field(account, "person", code)["options"] is None


def test_monetary_to_number_drops_the_currency_sibling_of_leads(account: Account) -> None:
    code = _custom(account, "monetary")
    lead = next(r for r in account.records("leads") if r[code] is not None)
    assert lead[f"{code}_currency"] is not None
    account.change_field_type("deal", code, "double")
    after = {r["id"]: r for r in account.records("leads")}[lead["id"]]
    assert after[code] == lead[code] and f"{code}_currency" not in after
    deal = next(d for d in account.records("deals") if d["custom_fields"][code] is not None)
    account.change_field_type("deal", code, "monetary")
    assert {d["id"]: d for d in account.records("deals")}[deal["id"]]["custom_fields"][code] == {
        "value": deal["custom_fields"][code], "currency": "EUR"}


def test_delete_field_removes_definition_and_values(account: Account) -> None:
    code = _custom(account, "daterange")
    before = {d["id"]: d["update_time"] for d in account.records("deals")}
    account.delete_field("deal", code)
    assert _field(account, "deal", code) is None and _field(account, "deal", code, "v1") is None
    assert _field(account, "lead", code, "v1") is None
    assert all(code not in d["custom_fields"] for d in account.records("deals"))
    assert all(code not in r and f"{code}_until" not in r for r in account.records("leads"))
    assert {d["id"]: d["update_time"] for d in account.records("deals")} == before
    with pytest.raises(KeyError):
        account.delete_field("deal", code)
    with pytest.raises(ValueError):
        account.delete_field("deal", "title")
    with pytest.raises(ValueError):
        account.change_field_type("deal", "value", "varchar")


def test_names_may_repeat_keys_never_do(account: Account) -> None:
    existing = next(f for f in account.fields("organization", "v2") if f["is_custom_field"])
    twin = account.add_field("organization", existing["field_name"], "varchar")
    assert twin != existing["field_code"]
    named = [f for f in account.fields("organization", "v2") if f["field_name"] == existing["field_name"]]
    assert len(named) == 2
    account.delete_field("organization", twin)
    again = account.add_field("organization", existing["field_name"], "varchar")
    assert again not in (twin, existing["field_code"])
    other = next(f for f in account.fields("organization", "v2") if f["is_custom_field"] and f["field_code"] != again)
    account.rename_field("organization", again, other["field_name"])
    assert sum(f["field_name"] == other["field_name"] for f in account.fields("organization", "v2")) == 2


def test_field_changes_over_http(sim_server: SimServer, sim_session: requests.Session) -> None:
    base = sim_server.base_url
    code = _custom(sim_server.account, "int")
    values = _values(sim_server.account, code)
    changed = requests.post(f"{base}/_sim/fields/deal/{code}/type", json={"field_type": "varchar"}).json()
    assert changed["success"], changed
    definition = next(f for f in sim_session.get(f"{base}/api/v2/dealFields", params={"limit": 500}).json()["data"]
                      if f["field_code"] == code)
    assert definition["field_type"] == "varchar"
    deals = sim_session.get(f"{base}/api/v2/deals", params={"limit": 500}).json()["data"]
    assert all(d["custom_fields"][code] == (None if values[d["id"]] is None else str(values[d["id"]])) for d in deals)
    assert requests.post(f"{base}/_sim/fields/deal/{code}/delete", json={}).json()["success"]
    fields = sim_session.get(f"{base}/v1/dealFields", params={"limit": 500}).json()["data"]
    assert code not in {f["key"] for f in fields}
    refused = requests.post(f"{base}/_sim/fields/deal/title/delete", json={}).json()
    assert not refused["success"] and "ValueError" in refused["error"]
