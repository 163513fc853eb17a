"""Reference records change through the mutation API, and embedded copies follow the records
they copy without touching the records that embed them (issues 16 and 18)."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from pipedrive_sim import Account, SimServer

V1_NOW = "2026-11-01 12:05:00"
V2_NOW = "2026-11-01T12:05:00Z"
#: kind -> (name key, last-change key and the value it gets 5 minutes after START (None: the kind
#: has no timestamp), what a delete does: "gone" or "inactive").
KINDS: dict[str, tuple[str, str | None, str | None, str]] = {
    "users": ("name", "modified", V1_NOW, "inactive"),
    "pipelines": ("name", "update_time", V2_NOW, "gone"),
    "stages": ("name", "update_time", V2_NOW, "gone"),
    "currencies": ("name", None, None, "inactive"),
    "activity_types": ("name", "update_time", V1_NOW, "inactive"),
    "roles": ("name", None, None, "gone"),
    "lead_labels": ("name", "update_time", V2_NOW, "gone"),
    "filters": ("name", "update_time", V1_NOW, "gone"),
    "goals": ("title", None, None, "gone"),
    "projects": ("title", "update_time", V2_NOW, "gone"),
    "tasks": ("title", "update_time", V2_NOW, "gone"),
}


@pytest.fixture()
def account() -> Account:
    return Account.generate("tiny", seed=8)


def _by_id(account: Account, entity: str) -> dict[Any, dict[str, Any]]:
    return {r["id"]: r for r in account.records(entity)}


@pytest.mark.parametrize("entity", KINDS)
def test_reference_kind_create_update_delete(account: Account, entity: str) -> None:
    name_key, time_key, now, deleted = KINDS[entity]
    shape = list(account.records(entity)[0])
    account.clock.advance(minutes=5)
    created = account.create(entity, {name_key: "Créé ✓"})
    assert list(created) == shape  # every key of the kind, in the API's order
    assert _by_id(account, entity)[created["id"]][name_key] == "Créé ✓"
    if time_key:
        assert created[time_key] == now
    old = account.records(entity)[0]
    account.clock.advance(minutes=5)
    updated = account.update(entity, old["id"], {name_key: "Renamed"})
    assert updated[name_key] == "Renamed"
    if time_key:
        assert updated[time_key] == now.replace(":05:", ":10:")
    else:
        assert updated == {**old, name_key: "Renamed"}  # nothing else moves
    deals_before = account.records("deals")
    account.delete(entity, created["id"])
    after = _by_id(account, entity)
    if deleted == "gone":
        assert created["id"] not in after
    else:
        assert after[created["id"]]["active_flag"] is False
    assert created["id"] in account.deleted_records(entity)
    assert account.records("deals") == deals_before  # records referring to them are not touched


def test_deactivated_user_is_listed_inactive(account: Account) -> None:
    user = account.records("users")[1]
    account.delete("users", user["id"])
    assert _by_id(account, "users")[user["id"]]["active_flag"] is False
    assert account.update("users", user["id"], {"active_flag": True})["active_flag"] is True


def _note_with(account: Account, key: str) -> dict[str, Any]:
    return next(n for n in account.records("notes") if n[key] is not None)


def test_notes_embed_their_records_as_they_are_now(account: Account) -> None:
    account.clock.advance(minutes=5)
    note = _note_with(account, "person_id")
    account.update("persons", note["person_id"], {"name": "Nimi Uus"})
    deal_note = _note_with(account, "deal_id")
    account.update("deals", deal_note["deal_id"], {"title": "Uus tehing"})
    account.update("users", note["user_id"], {"name": "Kasutaja"})
    lead_note = _note_with(account, "lead_id")
    account.update("leads", lead_note["lead_id"], {"title": "Uus lead"})
    notes = _by_id(account, "notes")
    assert notes[note["id"]]["person"] == {"name": "Nimi Uus"}
    assert notes[note["id"]]["user"]["name"] == "Kasutaja"
    assert notes[deal_note["id"]]["deal"] == {"title": "Uus tehing"}
    assert notes[lead_note["id"]]["lead"] == {"title": "Uus lead"}
    for before in (note, deal_note, lead_note):
        assert notes[before["id"]]["update_time"] == before["update_time"]  # the note did not change


def test_files_deal_products_and_participants_follow(account: Account) -> None:
    files = account.records("files")
    linked = {kind: next(f for f in files if f[f"{kind}_id"] is not None) for kind in ("deal", "person", "org", "product")}
    for kind, entity, key in (("deal", "deals", "title"), ("person", "persons", "name"),
                              ("org", "organizations", "name"), ("product", "products", "name")):
        account.update(entity, linked[kind][f"{kind}_id"], {key: f"New {kind}"})
    after = _by_id(account, "files")
    for kind, file in linked.items():
        assert after[file["id"]][f"{kind}_name"] == f"New {kind}"
        assert after[file["id"]]["update_time"] == file["update_time"]
    row = account.records("deal_products")[0]
    account.update("products", row["product_id"], {"name": "Renamed product"})
    renamed = _by_id(account, "deal_products")[row["id"]]
    assert renamed["name"] == "Renamed product" and renamed["update_time"] == row["update_time"]
    deal = next(d for d in account.records("deals") if not d["is_deleted"])
    person = next(p for p in account.records("persons") if p["id"] not in
                  {r["person"]["id"] for r in account.deal_participants(deal["id"])})
    added = account.create("deal_participants", {"deal_id": deal["id"], "person_id": person["id"]})
    account.update("persons", person["id"], {"name": "Osaleja"})
    row = next(r for r in account.deal_participants(deal["id"]) if r["id"] == added["id"])
    assert row["person"]["name"] == row["person_id"]["name"] == "Osaleja"
    account.delete("persons", person["id"])
    assert added["id"] not in {r["id"] for r in account.deal_participants(deal["id"])}


def test_rename_option_moves_only_the_definitions(account: Account) -> None:
    field = next(f for f in account.fields("deal", "v2") if f["is_custom_field"] and f["field_type"] == "enum")
    option = field["options"][0]["id"]
    deals = account.records("deals")
    account.clock.advance(hours=1)
    account.rename_option("deal", field["field_code"], option, "Nouvelle étiquette")
    assert account.records("deals") == deals  # values are ids: no record changes, no update_time moves
    v2 = next(f for f in account.fields("deal", "v2") if f["field_code"] == field["field_code"])
    v1 = next(f for f in account.fields("deal", "v1") if f["key"] == field["field_code"])
    assert {o["id"]: o["label"] for o in v2["options"]}[option] == "Nouvelle étiquette"
    assert {o["id"]: o["label"] for o in v1["options"]}[option] == "Nouvelle étiquette"
    lead_field = next(f for f in account.fields("lead", "v1") if f["key"] == field["field_code"])
    assert {o["id"]: o["label"] for o in lead_field["options"]}[option] == "Nouvelle étiquette"


def test_embedded_copies_follow_over_http(sim_server: SimServer, sim_session: requests.Session) -> None:
    base, account = sim_server.base_url, sim_server.account
    note = _note_with(account, "person_id")
    first = sim_session.get(f"{base}/v1/notes", params={"limit": 500}).json()["data"]
    assert {n["id"]: n for n in first}[note["id"]]["person"]["name"] != "Über Neu"
    assert requests.post(f"{base}/_sim/records/persons/{note['person_id']}/update", json={"name": "Über Neu"}).json()["success"]
    notes = {n["id"]: n for n in sim_session.get(f"{base}/v1/notes", params={"limit": 500}).json()["data"]}
    assert notes[note["id"]]["person"] == {"name": "Über Neu"}
    assert notes[note["id"]]["update_time"] == note["update_time"]
    since = sim_session.get(f"{base}/v1/notes", params={"updated_since": "2026-11-01T11:00:00Z"}).json()
    assert note["id"] not in {n["id"] for n in since["data"] or []}  # not an update of the note
    org = account.records("organizations")[0]
    requests.post(f"{base}/_sim/records/users/{org['owner_id']}/update", json={"name": "Omanik"})
    recents = sim_session.get(f"{base}/v1/recents", params={"since_timestamp": "2026-10-02 12:00:00",
                                                            "items": "organization", "limit": 500}).json()["data"]
    owners = {i["id"]: i["data"]["owner_id"]["name"] for i in recents or []}
    assert all(name == "Omanik" for oid, name in owners.items()
               if _by_id(account, "organizations")[oid]["owner_id"] == org["owner_id"])
