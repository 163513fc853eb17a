"""Mutation API of `Account`: timestamps, versions, deal history, deletion, fields."""

from __future__ import annotations

import pytest

from pipedrive_sim import Account


@pytest.fixture()
def account() -> Account:
    return Account.generate("tiny", seed=5)


def _now_v2(account: Account) -> str:
    return account.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")


def test_clock_start_and_advance(account: Account) -> None:
    start = account.clock.now()
    assert start.tzinfo is not None and start.year == 2026
    assert (account.clock.advance(days=1, hours=2) - start).total_seconds() == 26 * 3600
    with pytest.raises(ValueError):
        account.clock.advance(seconds=-1)
    oldest = min(d["add_time"] for d in account.records("deals"))
    assert oldest < f"{start.year - 2}"  # generated history spans years


def test_create_stamps_times_and_bumps_version(account: Account) -> None:
    account.clock.advance(minutes=5)
    before = account.version("deals")
    hash_key = next(f["field_code"] for f in account.fields("deal", "v2") if f["field_type"] == "monetary"
                    and f["is_custom_field"])
    rec = account.create("deals", {"title": "x", "custom_fields": {hash_key: {"value": 5, "currency": "EUR"}}})
    assert account.version("deals") > before
    assert rec["add_time"] == rec["update_time"] == _now_v2(account)
    assert rec["custom_fields"][hash_key] == {"value": 5, "currency": "EUR"}
    assert all(v is None for k, v in rec["custom_fields"].items() if k != hash_key)
    assert account.records("deals")[-1]["id"] == rec["id"]
    assert rec["id"] > max(account.data.deletions.by_entity["deals"])  # ids are never reused


def test_update_deal_logs_flow_and_changelog(account: Account) -> None:
    deal = next(d for d in account.records("deals") if not d["is_deleted"])
    stages = [s["id"] for s in account.records("stages") if s["pipeline_id"] == deal["pipeline_id"]]
    target = next(s for s in stages if s != deal["stage_id"])
    account.clock.advance(hours=1)
    new = account.update("deals", deal["id"], {"stage_id": target, "value": 123.0})
    assert new["update_time"] == new["stage_change_time"] == _now_v2(account)
    flow = [i for i in account.deal_flow(deal["id"]) if i["object"] == "dealChange"]
    logged = {i["data"]["field_key"]: i["data"] for i in flow[:2]}
    assert logged["stage_id"]["old_value"] == deal["stage_id"] and logged["stage_id"]["new_value"] == target
    assert logged["value"]["new_value"] == 123.0
    assert logged["stage_id"]["log_time"] == _now_v2(account).replace("T", " ").rstrip("Z")
    changelog = account.deal_changelog(deal["id"])
    assert {c["field_key"] for c in changelog[:2]} == {"stage_id", "value"}
    assert next(c for c in changelog if c["field_key"] == "stage_id")["new_value"] == str(target)
    assert deal["stage_id"] != target  # the old record object was not mutated


def test_update_custom_field_logged_by_hash(account: Account) -> None:
    key = next(f["field_code"] for f in account.fields("deal", "v2") if f["field_type"] == "varchar"
               and f["is_custom_field"])
    deal_id = account.records("deals")[0]["id"]
    account.update("deals", deal_id, {"custom_fields": {key: "new text"}})
    top = next(i for i in account.deal_flow(deal_id) if i["object"] == "dealChange")["data"]
    assert top["field_key"] == key and top["new_value"] == "new text"


def test_delete_deal_kept_30_days(account: Account) -> None:
    deal = next(d for d in account.records("deals") if not d["is_deleted"])
    account.delete("deals", deal["id"])
    listed = {d["id"]: d for d in account.records("deals")}
    assert listed[deal["id"]]["is_deleted"] is True and listed[deal["id"]]["status"] == "deleted"
    version = account.version("deals")
    account.clock.advance(days=29)
    assert deal["id"] in {d["id"] for d in account.records("deals")}
    account.clock.advance(days=2)
    assert deal["id"] not in {d["id"] for d in account.records("deals")}
    assert account.version("deals") > version
    assert account.deal_flow(deal["id"]) == []
    with pytest.raises(KeyError):
        account.update("deals", deal["id"], {"title": "gone"})


def test_delete_other_entities_removes_them(account: Account) -> None:
    for entity in ("persons", "organizations", "activities", "products", "notes", "leads"):
        rec_id = account.records(entity)[1]["id"]
        before = account.version(entity)
        account.delete(entity, rec_id)
        assert rec_id not in {r["id"] for r in account.records(entity)}, entity
        assert account.version(entity) > before


def test_deal_product_rows_update_the_deal(account: Account) -> None:
    deal = next(d for d in account.records("deals") if d["products_count"] == 0 and not d["is_deleted"])
    product = account.records("products")[0]
    account.clock.advance(seconds=30)
    row = account.create("deal_products", {"deal_id": deal["id"], "product_id": product["id"], "quantity": 2})
    after = next(d for d in account.records("deals") if d["id"] == deal["id"])
    assert after["products_count"] == 1 and after["update_time"] == _now_v2(account)
    assert [r["id"] for r in account.deal_products(deal["id"])] == [row["id"]]
    assert row["quantity"] == 2 and row["currency"] == deal["currency"]
    account.clock.advance(seconds=30)
    account.delete("deal_products", row["id"])
    after = next(d for d in account.records("deals") if d["id"] == deal["id"])
    assert after["products_count"] == 0 and after["update_time"] == _now_v2(account)
    assert account.deal_products(deal["id"]) == []


def test_archive_deal_lead_and_project(account: Account) -> None:
    deal = next(d for d in account.records("deals") if not d["is_archived"] and not d["is_deleted"])
    archived = account.archive("deals", deal["id"])
    assert archived["is_archived"] and archived["archive_time"] == _now_v2(account)
    lead = next(rec for rec in account.records("leads") if not rec["is_archived"])
    assert account.archive("leads", lead["id"])["is_archived"] is True
    project = next(p for p in account.records("projects") if p["archive_time"] is None)
    archived_project = account.archive("projects", project["id"])
    assert archived_project["archive_time"] == archived_project["update_time"] == _now_v2(account)
    assert "is_archived" not in archived_project  # v2 projects carry no flag (spec)
    with pytest.raises(ValueError):
        account.archive("persons", 1)


def test_add_and_rename_field(account: Account) -> None:
    version = account.version("deals")
    key = account.add_field("deal", "Priority 🔥", "enum", options=["P1", "P2"])
    assert account.version("deals") > version
    v2 = {f["field_code"]: f for f in account.fields("deal", "v2")}
    assert v2[key]["field_name"] == "Priority 🔥" and [o["label"] for o in v2[key]["options"]] == ["P1", "P2"]
    assert all(d["custom_fields"][key] is None for d in account.records("deals"))
    assert all(key in lead and lead[key] is None for lead in account.records("leads"))
    assert key in {f["key"] for f in account.fields("lead", "v1")}
    account.rename_field("deal", key, "Priorität")
    assert {f["key"]: f for f in account.fields("deal", "v1")}[key]["name"] == "Priorität"


def test_rename_and_delete_option_keeps_values(account: Account) -> None:
    key = account.add_field("person", "Tier", "set", options=["Gold", "Silver"])
    gold, silver = (o["id"] for o in {f["field_code"]: f for f in account.fields("person", "v2")}[key]["options"])
    person = account.records("persons")[0]
    account.update("persons", person["id"], {"custom_fields": {key: [gold, silver]}})
    account.rename_option("person", key, silver, "Argent")
    account.delete_option("person", key, gold)
    v2 = {f["field_code"]: f for f in account.fields("person", "v2")}[key]
    v1 = {f["key"]: f for f in account.fields("person", "v1")}[key]
    assert [(o["id"], o["label"]) for o in v2["options"]] == [(silver, "Argent")]
    assert v1["options_deleted"] == [{"id": gold, "label": "Gold"}]
    stored = next(p for p in account.records("persons") if p["id"] == person["id"])
    assert stored["custom_fields"][key] == [gold, silver]


def test_ground_truth_is_a_copy_and_has_all_entities(account: Account) -> None:
    truth = account.ground_truth()
    expected = {"deals", "persons", "organizations", "activities", "products", "pipelines", "stages", "projects",
                "tasks", "deal_products", "deal_followers", "activity_types", "currencies", "users", "filters",
                "notes", "files", "leads", "lead_labels", "lead_sources", "goals", "call_logs", "roles",
                "deal_participants", "deal_flow", "deal_changelog", "person_changelog", "organization_changelog"}
    assert set(truth) == expected
    truth["deals"][0]["title"] = "changed"
    truth["deals"][0]["custom_fields"].clear()
    assert account.records("deals")[0]["title"] != "changed"
    assert account.records("deals")[0]["custom_fields"]
    listed = {d["id"] for d in account.records("deals")}
    for entity in ("deal_flow", "deal_changelog", "deal_followers", "deal_participants"):
        assert truth[entity] and {r["deal_id"] for r in truth[entity]} <= listed, entity
    assert {r["deal_id"] for r in truth["deal_products"]} <= listed


def test_create_config_and_update_v1_records(account: Account) -> None:
    account.clock.advance(days=1)
    stage = account.create("stages", {"name": "Won back", "pipeline_id": 1, "order_nr": 9})
    assert stage["add_time"] == stage["update_time"] == _now_v2(account)
    assert stage["id"] == max(s["id"] for s in account.records("stages"))
    note = account.records("notes")[0]
    updated = account.update("notes", note["id"], {"content": "<p>新しい</p>"})
    assert updated["update_time"] == account.clock.now().strftime("%Y-%m-%d %H:%M:%S")
    lead = account.records("leads")[0]
    assert account.update("leads", lead["id"], {"title": "t"})["update_time"] == _now_v2(account)


def test_mutations_send_null_for_absent_values(account: Account) -> None:
    deal = account.create("deals", {"title": "no person", "person_id": None})
    assert deal["person_id"] is None and deal["won_time"] is None and deal["stage_id"] == 1
    assert "org_id" in deal and deal["org_id"] is None
    v1 = account.to_v1("deals", deal)
    assert "person_id" in v1 and v1["person_id"] is None and v1["won_time"] is None
    won = account.update("deals", deal["id"], {"status": "won"})
    assert won["won_time"] == won["close_time"] == won["first_won_time"] == _now_v2(account)
    account.clock.advance(minutes=1)
    reopened = account.update("deals", deal["id"], {"status": "open"})
    assert reopened["won_time"] is None and reopened["close_time"] is None
    assert reopened["first_won_time"] == won["first_won_time"]
