"""Keys that recorded real Pipedrive responses carry (issue 13 section 5), and the v1 empty list.

Decisions per key (spec or not): docs/fidelity-findings.md, section "Keys of real responses".
"""

from __future__ import annotations

import re

import pytest
import requests

from pipedrive_sim import Account, SimServer

V1_FIELD_SETS = ("deal", "person", "organization", "product", "activity", "lead")
V1_FIELD_KEYS = ("group_id", "description", "json_column_flag", "picklist_data", "restriction_settings",
                 "user_restrictions")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@pytest.fixture()
def account() -> Account:
    return Account.generate("tiny", seed=3)


def test_v2_deals_carry_creator_and_local_close_dates(account: Account) -> None:
    deals = account.records("deals")
    users = {u["id"] for u in account.records("users")}
    assert all(d["creator_user_id"] in users for d in deals)
    assert any(d["creator_user_id"] != d["owner_id"] for d in deals)  # colleagues create deals too
    for deal in deals:
        for local, source in (("local_won_date", "won_time"), ("local_lost_date", "lost_time"),
                              ("local_close_date", "close_time")):
            assert (deal[local] is None) == (deal[source] is None), (deal["id"], local)
            assert deal[local] is None or DATE.match(deal[local])
    assert any(d["local_won_date"] for d in deals) and any(d["local_lost_date"] for d in deals)


def test_local_dates_are_dates_in_the_company_time_zone(account: Account) -> None:
    """Won at 22:30 UTC on 1 November is won on 2 November in Tallinn (UTC+2 in winter)."""
    deal = account.create("deals", {"title": "late win"})
    assert deal["creator_user_id"] == 1  # created through the API by the token's user
    account.clock.advance(hours=10, minutes=30)  # START is 12:00 UTC
    won = account.update("deals", deal["id"], {"status": "won"})
    assert won["won_time"].startswith("2026-11-01T22:30")
    assert won["local_won_date"] == won["local_close_date"] == "2026-11-02"
    reopened = account.update("deals", deal["id"], {"status": "open"})
    assert reopened["local_won_date"] is None and reopened["local_close_date"] is None
    changed = {i["field_key"] for i in account.deal_changelog(deal["id"])}
    assert "status" in changed and not {"local_won_date", "local_close_date"} & changed


def test_v1_notes_carry_lead_project_and_task_links(account: Account) -> None:
    notes = account.records("notes")
    for note in notes:
        assert {"lead_id", "lead", "project_id", "task_id", "pinned_to_lead_flag"} <= set(note)
    linked = {n["id"]: n for n in notes}[account.edge_cases["notes:lead_project_task"][0]]
    lead = {rec["id"]: rec for rec in account.records("leads")}[linked["lead_id"]]
    assert linked["lead"] == {"title": lead["title"]} and linked["pinned_to_lead_flag"] is True
    assert linked["project_id"] in {p["id"] for p in account.records("projects")}
    assert linked["task_id"] in {t["id"] for t in account.records("tasks")}
    assert all(n["lead"] is None for n in notes if n["lead_id"] is None)


def test_v1_leads_carry_archive_time(account: Account) -> None:
    leads = account.records("leads")
    assert all((lead["archive_time"] is not None) == lead["is_archived"] for lead in leads)
    live = next(lead for lead in leads if not lead["is_archived"])
    account.clock.advance(minutes=5)
    archived = account.archive("leads", live["id"])
    assert archived["is_archived"] is True and archived["archive_time"] == archived["update_time"]


def test_v1_users_carry_is_admin_and_signup_flow_variation(account: Account) -> None:
    users = account.records("users")
    assert [u["is_admin"] for u in users] == [1] + [0] * (len(users) - 1)
    assert users[0]["signup_flow_variation"] == "short_form"
    assert all("signup_flow_variation" in u for u in users)
    assert account.current_user()["is_admin"] == 1


def test_v1_field_definitions_carry_the_real_keys(account: Account) -> None:
    for field_set in V1_FIELD_SETS:
        for item in account.fields(field_set, "v1"):
            missing = [k for k in V1_FIELD_KEYS if k not in item]
            assert not missing, (field_set, item["key"], missing)
            assert item["json_column_flag"] is item["edit_flag"]  # custom values live in a JSON column
    deal = {f["key"]: f for f in account.fields("deal", "v1")}
    assert all(f["show_in_pipelines"] == {"show_in_all": True} for f in deal.values())
    assert (deal["title"]["use_field"], deal["title"]["link"]) == ("id", "/deal/")
    assert deal["won_time"]["bulk_edit_allowed_conditions"] == {"status": "=won"}
    org_name = {f["key"]: f for f in account.fields("organization", "v1")}["name"]
    assert org_name["link"] == "/organization/"
    assert "show_in_pipelines" not in org_name  # pipelines are a deal thing


def test_v2_field_definitions_carry_important_and_required_fields(account: Account) -> None:
    deal = {f["field_code"]: f for f in account.fields("deal", "v2")}
    assert deal["value"]["important_fields"] == {"enabled": True, "stage_ids": [2, 3]}
    assert deal["expected_close_date"]["required_fields"] == {"enabled": True, "stage_ids": [], "statuses": {"1": ["won"]}}
    assert deal["title"]["required_fields"] == {"enabled": False, "stage_ids": [], "statuses": {}}
    for field_set in ("person", "organization", "project"):
        for item in account.fields(field_set, "v2"):
            assert item["important_fields"] == {"enabled": False, "stage_ids": []}
            assert item["required_fields"] == {"enabled": False}
    for field_set in ("product", "activity"):  # their spec declares neither
        assert all("important_fields" not in f for f in account.fields(field_set, "v2"))


def test_v1_empty_list_is_data_null_with_pagination(sim_server: SimServer, sim_session: requests.Session) -> None:
    account = sim_server.account
    deal = next(d["id"] for d in account.records("deals")
                if not d["is_deleted"] and not d["is_archived"] and not account.deal_participants(d["id"]))
    base = sim_server.base_url
    body = sim_session.get(f"{base}/v1/deals/{deal}/participants").json()
    assert body == {"success": True, "data": None,
                    "additional_data": {"pagination": {"start": 0, "limit": 100, "more_items_in_collection": False}}}
    assert sim_session.get(f"{base}/api/v1/notes", params={"start": 10_000}).json()["data"] is None
    assert sim_session.get(f"{base}/api/v1/notes").json()["data"]  # a page with items stays a list
    leads = sim_session.get(f"{base}/v1/leads", params={"start": 10_000}).json()
    assert leads["data"] == [] and leads["additional_data"]["more_items_in_collection"] is False
