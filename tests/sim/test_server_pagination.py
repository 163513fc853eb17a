"""Pagination over real HTTP: v2 keyset cursors, v1 offsets, limits and their 400s."""

from __future__ import annotations

from typing import Any

import requests

from pipedrive_sim import SimServer


def walk_v2(session: requests.Session, url: str, **params: Any) -> tuple[list[dict[str, Any]], int]:
    """All rows of a v2 list and the number of pages."""
    rows: list[dict[str, Any]] = []
    pages = 0
    cursor = None
    while True:
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        body = session.get(url, params=query).json()
        pages += 1
        rows.extend(body["data"])
        cursor = body["additional_data"]["next_cursor"]
        if cursor is None:
            return rows, pages


def visible_deals(server: SimServer) -> list[dict[str, Any]]:
    return [d for d in server.account.records("deals") if not d["is_archived"] and not d["is_deleted"]]


def test_v2_cursor_walk_returns_every_live_deal_once(sim_server: SimServer, sim_session: requests.Session) -> None:
    expected = sorted(d["id"] for d in visible_deals(sim_server))
    rows, pages = walk_v2(sim_session, f"{sim_server.base_url}/api/v2/deals", limit=4)
    assert [r["id"] for r in rows] == expected
    assert pages == max(1, -(-len(expected) // 4))  # no empty trailing page, even on an exact multiple


def test_v2_exact_multiple_of_limit_ends_with_null_cursor(sim_server: SimServer, sim_session: requests.Session) -> None:
    n = len(visible_deals(sim_server))
    body = sim_session.get(f"{sim_server.base_url}/api/v2/deals", params={"limit": n}).json()
    assert len(body["data"]) == n
    assert body["additional_data"]["next_cursor"] is None
    body = sim_session.get(f"{sim_server.base_url}/api/v2/deals", params={"limit": n - 1}).json()
    assert body["additional_data"]["next_cursor"] is not None


def test_v2_sort_desc_by_update_time(sim_server: SimServer, sim_session: requests.Session) -> None:
    rows, _ = walk_v2(sim_session, f"{sim_server.base_url}/api/v2/deals", limit=5, sort_by="update_time",
                      sort_direction="desc")
    times = [r["update_time"] for r in rows]
    assert times == sorted(times, reverse=True)
    assert len(rows) == len(visible_deals(sim_server))


def test_keyset_cursor_is_stable_while_data_changes(sim_server: SimServer, sim_session: requests.Session) -> None:
    url = f"{sim_server.base_url}/api/v2/deals"
    first = sim_session.get(url, params={"limit": 5}).json()
    seen = [r["id"] for r in first["data"]]
    sim_server.account.delete("deals", seen[0])  # removing an already-served row must not shift the next page
    created = sim_server.account.create("deals", {"title": "late arrival"})
    cursor = first["additional_data"]["next_cursor"]
    ids = list(seen)
    while cursor:
        body = sim_session.get(url, params={"limit": 5, "cursor": cursor}).json()
        ids.extend(r["id"] for r in body["data"])
        cursor = body["additional_data"]["next_cursor"]
    assert len(ids) == len(set(ids))
    assert created["id"] in ids


def test_v2_limit_bounds(sim_server: SimServer, sim_session: requests.Session) -> None:
    url = f"{sim_server.base_url}/api/v2/persons"
    assert sim_session.get(url, params={"limit": 500}).status_code == 200
    for bad in ("501", "0", "abc"):
        response = sim_session.get(url, params={"limit": bad})
        assert response.status_code == 400, bad
        body = response.json()
        assert body["success"] is False and "limit" in body["error"]
        assert body["error_info"] == "Please check developers.pipedrive.com"
        assert body["data"] is None and body["additional_data"] is None
    assert sim_session.get(url, params={"cursor": "not-a-cursor!"}).status_code == 400


def test_v2_default_limit_is_100(make_sim: Any, sim_account: Any) -> None:
    for i in range(110):
        sim_account.create("persons", {"name": f"extra {i}"})
    server = make_sim(account=sim_account, burst_limit=10_000)
    body = requests.get(f"{server.base_url}/api/v2/persons", headers={"x-api-token": server.token}).json()
    assert len(body["data"]) == 100
    assert body["additional_data"]["next_cursor"]


def test_v1_offset_pagination_boundaries(sim_server: SimServer, sim_session: requests.Session) -> None:
    url = f"{sim_server.base_url}/v1/notes"
    total = len(sim_server.account.records("notes"))
    first = sim_session.get(url, params={"start": 0, "limit": 3}).json()
    assert first["additional_data"]["pagination"] == {"start": 0, "limit": 3, "more_items_in_collection": True,
                                                      "next_start": 3}
    last = sim_session.get(url, params={"start": total - 2, "limit": 2}).json()
    assert len(last["data"]) == 2
    assert last["additional_data"]["pagination"]["more_items_in_collection"] is False
    assert "next_start" not in last["additional_data"]["pagination"]
    ids: list[Any] = []
    start: int | None = 0
    while start is not None:
        page = sim_session.get(url, params={"start": start, "limit": 4}).json()
        ids.extend(n["id"] for n in page["data"])
        start = page["additional_data"]["pagination"].get("next_start")
    assert sorted(ids) == sorted(n["id"] for n in sim_server.account.records("notes"))
    assert sim_session.get(url, params={"start": -1}).status_code == 400


def test_v1_leads_use_flat_additional_data(sim_server: SimServer, sim_session: requests.Session) -> None:
    body = sim_session.get(f"{sim_server.base_url}/api/v1/leads", params={"limit": 2}).json()
    assert set(body["additional_data"]) == {"start", "limit", "more_items_in_collection"}
    assert all(not lead["is_archived"] for lead in body["data"])


def test_v1_documented_maximum_limits(sim_server: SimServer, sim_session: requests.Session) -> None:
    base = sim_server.base_url
    assert sim_session.get(f"{base}/v1/files", params={"limit": 100}).status_code == 200
    assert sim_session.get(f"{base}/v1/files", params={"limit": 101}).status_code == 400
    assert sim_session.get(f"{base}/v1/callLogs").status_code == 200
    response = sim_session.get(f"{base}/v1/callLogs", params={"limit": 51})
    assert response.status_code == 400 and "limit" in response.json()["error"]


def test_unpaged_v1_endpoints_return_everything(sim_server: SimServer, sim_session: requests.Session) -> None:
    body = sim_session.get(f"{sim_server.base_url}/v1/users").json()
    assert len(body["data"]) == len(sim_server.account.records("users"))
    assert "additional_data" not in body


def test_changelog_cursor_and_flow_offset(sim_server: SimServer, sim_session: requests.Session) -> None:
    deal_id = next(d["id"] for d in visible_deals(sim_server) if sim_server.account.deal_changelog(d["id"]))
    items = sim_server.account.deal_changelog(deal_id)
    url = f"{sim_server.base_url}/v1/deals/{deal_id}/changelog"
    got: list[Any] = []
    cursor = None
    while True:
        body = sim_session.get(url, params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        got.extend(body["data"])
        cursor = body["additional_data"]["next_cursor"]
        if not cursor:
            break
    assert got == items
    assert sim_session.get(f"{sim_server.base_url}/v1/deals/999999/flow").status_code == 404
