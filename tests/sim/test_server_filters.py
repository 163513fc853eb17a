"""Filters and validation over real HTTP: inclusive/exclusive time bounds, statuses, ids, 400s."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import requests

from pipedrive_sim import SimServer


def ids(response: requests.Response) -> set[Any]:
    assert response.status_code == 200, response.text
    return {r["id"] for r in response.json()["data"]}


def test_updated_since_inclusive_and_until_exclusive(sim_server: SimServer, sim_session: requests.Session) -> None:
    url = f"{sim_server.base_url}/api/v2/persons"
    persons = sorted(sim_server.account.records("persons"), key=lambda p: p["update_time"])
    pivot = persons[len(persons) // 2]
    since = ids(sim_session.get(url, params={"updated_since": pivot["update_time"], "limit": 500}))
    until = ids(sim_session.get(url, params={"updated_until": pivot["update_time"], "limit": 500}))
    assert pivot["id"] in since
    assert pivot["id"] not in until
    assert since | until == {p["id"] for p in persons}
    assert not since & until


def test_bad_timestamp_is_400_naming_the_parameter(sim_server: SimServer, sim_session: requests.Session) -> None:
    response = sim_session.get(f"{sim_server.base_url}/api/v2/deals", params={"updated_since": "yesterday"})
    assert response.status_code == 400
    assert "updated_since" in response.json()["error"]


def test_deal_status_lists_and_deleted_retention(sim_server: SimServer, sim_session: requests.Session) -> None:
    url = f"{sim_server.base_url}/api/v2/deals"
    account = sim_server.account
    victim = next(d for d in account.records("deals") if d["status"] == "open" and not d["is_archived"])
    account.delete("deals", victim["id"])
    default = ids(sim_session.get(url, params={"limit": 500}))
    assert victim["id"] not in default
    with_deleted = ids(sim_session.get(url, params={"status": "open,deleted", "limit": 500}))
    assert victim["id"] in with_deleted
    won = sim_session.get(url, params={"status": "won", "limit": 500}).json()["data"]
    assert won and all(d["status"] == "won" for d in won)
    account.clock.advance(days=31)
    assert victim["id"] not in ids(sim_session.get(url, params={"status": "deleted", "limit": 500}))
    assert sim_session.get(url, params={"status": "open,bogus"}).status_code == 400


def test_archived_deals_only_in_archived_endpoint(sim_server: SimServer, sim_session: requests.Session) -> None:
    account = sim_server.account
    target = next(d for d in account.records("deals") if not d["is_archived"] and not d["is_deleted"])
    account.archive("deals", target["id"])
    assert target["id"] not in ids(sim_session.get(f"{sim_server.base_url}/api/v2/deals", params={"limit": 500}))
    archived = ids(sim_session.get(f"{sim_server.base_url}/api/v2/deals/archived", params={"limit": 500}))
    assert target["id"] in archived
    assert all(d["is_archived"] for d in account.records("deals") if d["id"] in archived)


def test_archived_projects_only_in_archived_endpoint(sim_server: SimServer, sim_session: requests.Session) -> None:
    account = sim_server.account
    url = f"{sim_server.base_url}/api/v2/projects"
    generated = {p["id"] for p in account.records("projects") if p["archive_time"] is not None}
    assert generated, "the account should hold archived projects"
    target = next(p for p in account.records("projects") if p["archive_time"] is None)
    account.archive("projects", target["id"])
    live = ids(sim_session.get(url, params={"limit": 500}))
    archived = ids(sim_session.get(f"{url}/archived", params={"limit": 500}))
    assert archived == generated | {target["id"]}
    assert not live & archived
    assert live | archived == {p["id"] for p in account.records("projects") if p["status"] != "deleted"}


def test_ids_and_owner_filters(sim_server: SimServer, sim_session: requests.Session) -> None:
    url = f"{sim_server.base_url}/api/v2/deals"
    deals = [d for d in sim_server.account.records("deals") if not d["is_archived"] and not d["is_deleted"]]
    wanted = {deals[0]["id"], deals[2]["id"]}
    assert ids(sim_session.get(url, params={"ids": ",".join(map(str, wanted))})) == wanted
    owner = deals[0]["owner_id"]
    assert ids(sim_session.get(url, params={"owner_id": owner, "limit": 500})) == {
        d["id"] for d in deals if d["owner_id"] == owner
    }
    too_many = ",".join(str(i) for i in range(1, 102))
    assert sim_session.get(url, params={"ids": too_many}).status_code == 400
    assert sim_session.get(url, params={"sort_by": "title"}).status_code == 400
    assert sim_session.get(url, params={"sort_direction": "up"}).status_code == 400
    assert sim_session.get(url, params={"owner_id": "me"}).status_code == 400


def test_stages_by_pipeline(sim_server: SimServer, sim_session: requests.Session) -> None:
    pipeline_id = sim_server.account.records("pipelines")[0]["id"]
    got = sim_session.get(f"{sim_server.base_url}/api/v2/stages", params={"pipeline_id": pipeline_id}).json()["data"]
    assert got and all(s["pipeline_id"] == pipeline_id for s in got)


def test_deal_products_batch(sim_server: SimServer, sim_session: requests.Session) -> None:
    url = f"{sim_server.base_url}/api/v2/deals/products"
    assert sim_session.get(url).status_code == 400
    assert sim_session.get(url, params={"deal_ids": ",".join(str(i) for i in range(1, 102))}).status_code == 400
    deal_ids = sorted({r["deal_id"] for r in sim_server.account.records("deal_products")})[:3]
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"deal_ids": ",".join(map(str, deal_ids)), "limit": 3, "sort_by": "deal_id"}
        if cursor:
            params["cursor"] = cursor
        body = sim_session.get(url, params=params).json()
        rows.extend(body["data"])
        cursor = body["additional_data"]["next_cursor"]
        if not cursor:
            break
    expected = [r for r in sim_server.account.records("deal_products") if r["deal_id"] in deal_ids]
    assert sorted(r["id"] for r in rows) == sorted(r["id"] for r in expected)
    assert [r["deal_id"] for r in rows] == sorted(r["deal_id"] for r in rows)


def test_notes_updated_since_and_sort(sim_server: SimServer, sim_session: requests.Session) -> None:
    notes = sorted(sim_server.account.records("notes"), key=lambda n: n["update_time"])
    pivot = notes[len(notes) // 2]["update_time"]
    since = pivot.replace(" ", "T") + "Z"
    body = sim_session.get(f"{sim_server.base_url}/v1/notes", params={"updated_since": since, "limit": 500}).json()
    assert {n["id"] for n in body["data"]} == {n["id"] for n in notes if n["update_time"] >= pivot}
    body = sim_session.get(f"{sim_server.base_url}/v1/notes", params={"sort": "update_time DESC"}).json()
    times = [n["update_time"] for n in body["data"]]
    assert times == sorted(times, reverse=True)


def test_recents_requires_and_clamps_since(sim_server: SimServer, sim_session: requests.Session) -> None:
    url = f"{sim_server.base_url}/v1/recents"
    missing = sim_session.get(url)
    assert missing.status_code == 400 and "since_timestamp" in missing.json()["error"]
    assert sim_session.get(url, params={"since_timestamp": "2026-01-01T00:00:00Z"}).status_code == 400
    now = sim_server.account.clock.now()
    body = sim_session.get(url, params={"since_timestamp": "2000-01-01 00:00:00", "limit": 500}).json()
    effective = datetime.strptime(body["additional_data"]["since_timestamp"], "%Y-%m-%d %H:%M:%S")
    assert abs(effective.replace(tzinfo=timezone.utc) - (now - timedelta(days=30))) < timedelta(seconds=2)
    deal = sim_server.account.update("deals", sim_server.account.records("deals")[0]["id"], {"title": "fresh"})
    recent = now.strftime("%Y-%m-%d %H:%M:%S")
    body = sim_session.get(url, params={"since_timestamp": recent, "items": "deal"}).json()
    assert [(i["item"], i["id"]) for i in body["data"]] == [("deal", deal["id"])]
    assert body["data"][0]["data"]["title"] == "fresh"
    assert sim_session.get(url, params={"since_timestamp": recent, "items": "lead"}).status_code == 400


def test_flow_items_and_all_changes(sim_server: SimServer, sim_session: requests.Session) -> None:
    account = sim_server.account
    deal_id = max((d["id"] for d in account.records("deals")), key=lambda i: len(account.deal_flow(i)))
    url = f"{sim_server.base_url}/v1/deals/{deal_id}/flow"
    everything = sim_session.get(url, params={"all_changes": "1", "limit": 500}).json()["data"]
    assert len(everything) == len(account.deal_flow(deal_id))
    kinds = {i["object"] for i in everything}
    one = sorted(kinds)[0]
    only = sim_session.get(url, params={"all_changes": "1", "items": one, "limit": 500}).json()["data"]
    assert only and {i["object"] for i in only} == {one}
    default = sim_session.get(url, params={"limit": 500}).json()["data"]
    custom = [i for i in everything if i["object"] == "dealChange" and len(i["data"].get("field_key", "")) == 40]
    assert len(default) == len(everything) - len(custom)


def test_custom_fields_parameter_limits_the_keys(sim_server: SimServer, sim_session: requests.Session) -> None:
    url = f"{sim_server.base_url}/api/v2/deals"
    deal = sim_session.get(url, params={"limit": 1}).json()["data"][0]
    keys = sorted(deal["custom_fields"])[:2]
    body = sim_session.get(url, params={"limit": 1, "custom_fields": ",".join(keys)}).json()
    assert sorted(body["data"][0]["custom_fields"]) == keys
    too_many = ",".join(f"{i:040x}" for i in range(16))
    assert sim_session.get(url, params={"custom_fields": too_many}).status_code == 400


def test_include_only_fields_need_include_fields(sim_server: SimServer, sim_session: requests.Session) -> None:
    url = f"{sim_server.base_url}/api/v2/deals"
    plain = sim_session.get(url, params={"limit": 1}).json()["data"][0]
    assert "products_count" not in plain
    extra = sim_session.get(url, params={"limit": 1, "include_fields": "products_count"}).json()["data"][0]
    assert "products_count" in extra and "first_won_time" not in extra
