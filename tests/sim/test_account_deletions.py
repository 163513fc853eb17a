"""Deletions of every record kind, restore, the 30-day disappearance (issue 14), and the
person/organization field histories."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from pipedrive_sim import Account, SimServer

#: Kinds that leave every listing when deleted (deals stay listed as deleted; activity types,
#: users and currencies stay listed as inactive).
VANISHING = ("persons", "organizations", "activities", "products", "notes", "files", "leads", "call_logs",
             "pipelines", "stages", "lead_labels", "filters", "goals", "roles", "projects", "tasks", "deal_products")
RETAINED = ("activities", "files", "persons", "products", "organizations", "leads")


@pytest.fixture()
def account() -> Account:
    return Account.generate("tiny", seed=4)


def _first(account: Account, entity: str, **match: Any) -> dict[str, Any]:
    return next(r for r in account.records(entity) if all(r.get(k) == v for k, v in match.items()))


@pytest.mark.parametrize("entity", VANISHING)
def test_deleted_record_leaves_every_listing(account: Account, entity: str) -> None:
    rec = account.records(entity)[-1]
    before = account.version(entity)
    account.clock.advance(minutes=1)
    account.delete(entity, rec["id"])
    assert account.version(entity) > before
    assert rec["id"] not in {r["id"] for r in account.records(entity)}
    assert rec["id"] not in {r["id"] for r in account.ground_truth()[entity]}
    assert account.deleted_records(entity) == {rec["id"]: account.clock.now()}
    with pytest.raises(KeyError):
        account.update(entity, rec["id"], {})


def test_deleted_deal_stays_listed_as_deleted_and_activity_types_as_inactive(account: Account) -> None:
    deal = _first(account, "deals", status="won")
    account.delete("deals", deal["id"])
    listed = {d["id"]: d for d in account.ground_truth()["deals"]}[deal["id"]]
    assert (listed["status"], listed["is_deleted"]) == ("deleted", True)
    assert deal["id"] in account.deleted_records("deals")
    with pytest.raises(KeyError):
        account.delete("deals", deal["id"])  # already deleted



@pytest.mark.parametrize(("entity", "time_field"), [("activity_types", "update_time"), ("users", "modified"),
                                                    ("currencies", None)])
def test_marked_inactive_kinds_stay_listed(account: Account, entity: str, time_field: str | None) -> None:
    """Activity types are "marked as deleted", users deactivated, currencies turned off."""
    rec = _first(account, entity, active_flag=True)
    account.clock.advance(minutes=3)
    account.delete(entity, rec["id"])
    after = {r["id"]: r for r in account.records(entity)}[rec["id"]]
    assert after["active_flag"] is False
    if time_field:
        assert after[time_field] == "2026-11-01 12:03:00"
    assert rec["id"] in account.deleted_records(entity)


def test_lead_sources_cannot_be_deleted(account: Account) -> None:
    with pytest.raises(ValueError):
        account.delete("lead_sources", "API")
    assert "API" in {s["name"] for s in account.records("lead_sources")}


def test_the_six_core_kinds_and_leads_are_forgotten_after_30_days(account: Account) -> None:
    deleted = {entity: account.records(entity)[0]["id"] for entity in (*RETAINED, "notes")}
    for entity, rec_id in deleted.items():
        account.delete(entity, rec_id)
    at = account.clock.now()
    account.clock.advance(days=29, hours=23)
    assert all(account.deleted_records(e) == {deleted[e]: at} for e in RETAINED)
    account.clock.advance(hours=1)
    assert all(account.deleted_records(e) == {} for e in RETAINED)
    assert deleted["notes"] in account.deleted_records("notes")  # no retention to run out
    generated = account.edge_cases["deals:deleted_recent"]
    assert generated and not set(generated) & set(account.deleted_records("deals"))  # deleted > 30 days ago now


def test_restore_a_deal_brings_back_its_status(account: Account) -> None:
    deal = _first(account, "deals", status="won")
    account.delete("deals", deal["id"])
    account.clock.advance(days=3)
    restored = account.restore("deals", deal["id"])
    assert (restored["status"], restored["is_deleted"]) == ("won", False)
    assert restored["won_time"] == deal["won_time"]
    assert restored["update_time"] == account.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    assert deal["id"] not in account.deleted_records("deals")
    latest = account.deal_changelog(deal["id"])[0]
    assert (latest["field_key"], latest["old_value"], latest["new_value"]) == ("status", "deleted", "won")
    with pytest.raises(KeyError):
        account.restore("deals", deal["id"])  # not deleted any more


def test_restore_a_lead_within_30_days_only(account: Account) -> None:
    first, second = (lead["id"] for lead in account.records("leads")[:2])
    account.delete("leads", first)
    account.delete("leads", second)
    account.clock.advance(days=10)
    restored = account.restore("leads", first)
    assert first in {lead["id"] for lead in account.records("leads")}
    assert restored["update_time"] == account.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    account.clock.advance(days=21)
    with pytest.raises(KeyError):
        account.restore("leads", second)  # purged
    with pytest.raises(ValueError):
        account.restore("persons", account.records("persons")[0]["id"])


def test_person_and_organization_updates_are_logged(account: Account) -> None:
    person = account.records("persons")[0]
    account.clock.advance(minutes=7)
    account.update("persons", person["id"], {"name": "Renamed", "emails": [{"value": "a@b.c", "primary": True,
                                                                            "label": "work"}]})
    log = account.changelog("persons", person["id"])
    assert {(i["field_key"], i["new_value"]) for i in log[:2]} == {("name", "Renamed"), ("email", "a@b.c")}
    assert all(i["change_source"] == "api" and i["time"] == "2026-11-01 12:07:00" for i in log[:2])
    org = account.records("organizations")[0]
    account.update("organizations", org["id"], {"owner_id": 2})
    assert account.changelog("organizations", org["id"])[0]["field_key"] == "owner_id"
    rows = account.ground_truth()["person_changelog"]
    assert {r["person_id"] for r in rows} >= {person["id"]}


def test_generated_histories_end_at_the_current_values(account: Account) -> None:
    for entity in ("persons", "organizations"):
        ids = account.edge_cases[f"{entity}:with_history"]
        assert 4 in ids
        records = {r["id"]: r for r in account.records(entity)}
        for rec_id in ids:
            rec = records[rec_id]
            for item in account.changelog(entity, rec_id):
                assert item["time"] <= rec["update_time"].replace("T", " ").rstrip("Z")
                if item["field_key"] in ("name", "owner_id"):
                    assert item["new_value"] == str(rec[item["field_key"]]), (entity, rec_id, item)


def test_deletions_restore_and_changelogs_over_http(sim_server: SimServer, sim_session: requests.Session) -> None:
    base, account = sim_server.base_url, sim_server.account
    person = max(account.edge_cases["persons:with_history"], key=lambda i: len(account.changelog("persons", i)))
    assert len(account.changelog("persons", person)) >= 2
    page = sim_session.get(f"{base}/v1/persons/{person}/changelog", params={"limit": 1}).json()
    assert len(page["data"]) == 1 and page["additional_data"]["next_cursor"]
    everything = sim_session.get(f"{base}/api/v1/persons/{person}/changelog").json()["data"]
    assert everything == account.changelog("persons", person)
    org = account.edge_cases["organizations:with_history"][0]
    assert sim_session.get(f"{base}/v1/organizations/{org}/changelog").json()["data"]
    costs = {e.path: e.token_cost for e in sim_server.log}
    assert costs[f"/v1/persons/{person}/changelog"] == costs[f"/v1/organizations/{org}/changelog"] == 20

    control = f"{base}/_sim/records"
    assert requests.post(f"{control}/persons/{person}/delete").json()["success"]
    assert person not in {p["id"] for p in sim_session.get(f"{base}/api/v2/persons", params={"limit": 500}).json()["data"]}
    assert sim_session.get(f"{base}/v1/persons/{person}/changelog").status_code == 404
    deleted = requests.get(f"{base}/_sim/deleted/persons").json()["data"]
    assert [d["id"] for d in deleted] == [person]

    lead = account.records("leads")[0]["id"]
    requests.post(f"{control}/leads/{lead}/delete")
    assert lead not in {x["id"] for x in sim_session.get(f"{base}/v1/leads").json()["data"]}
    restored = requests.post(f"{control}/leads/{lead}/restore").json()
    assert restored["success"] and restored["data"]["id"] == lead
    assert lead in {x["id"] for x in sim_session.get(f"{base}/v1/leads").json()["data"]}
    refused = requests.post(f"{control}/lead_sources/API/delete").json()
    assert not refused["success"] and "ValueError" in refused["error"]
