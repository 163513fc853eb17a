"""Accounting and the /_sim/ control API over real HTTP; page-serving speed."""

from __future__ import annotations

import statistics
import time
from typing import Any

import requests


def test_log_and_stats_totals(sim_server: Any, sim_session: requests.Session) -> None:
    base = sim_server.base_url
    sim_session.get(f"{base}/api/v2/deals", params={"limit": 2})
    sim_session.get(f"{base}/v1/deals/{sim_server.account.records('deals')[0]['id']}/flow")
    sim_session.get(f"{base}/api/v2/deals", params={"limit": "x"})
    requests.get(f"{base}/api/v2/deals")
    log = sim_server.log
    assert [(e.status, e.token_cost) for e in log] == [(200, 10), (200, 40), (400, 10), (401, 0)]
    assert log[0].params == {"limit": "2"} and log[0].endpoint == "v2 /deals"
    stats = requests.get(f"{base}/_sim/stats").json()["data"]
    assert stats["requests"] == 4 and stats["tokens_spent"] == 60
    assert stats["endpoints"]["v2 /deals"] == {"requests": 3, "tokens": 20, "statuses": {"200": 1, "400": 1, "401": 1}}
    assert stats["endpoints"]["v1 /deals/{id}/flow"]["tokens"] == 40
    assert len(sim_server.log) == 4  # control calls are not logged
    requests.post(f"{base}/_sim/log/reset")
    assert sim_server.stats()["requests"] == 0


def test_control_mutations_and_clock(sim_server: Any, sim_session: requests.Session) -> None:
    base = sim_server.base_url
    created = requests.post(f"{base}/_sim/records/deals", json={"title": "via control"}).json()["data"]
    got = sim_session.get(f"{base}/api/v2/deals", params={"ids": created["id"]}).json()["data"]
    assert [d["title"] for d in got] == ["via control"]
    before = sim_server.account.clock.now()
    now = requests.post(f"{base}/_sim/clock/advance", json={"hours": 2}).json()["data"]["now"]
    assert now.startswith((before.replace(microsecond=0) + __import__("datetime").timedelta(hours=2)).isoformat()[:16])
    updated = requests.post(f"{base}/_sim/records/deals/{created['id']}/update", json={"title": "renamed"})
    assert updated.status_code == 200
    since = sim_session.get(f"{base}/api/v2/deals", params={"updated_since": now}).json()["data"]
    assert [d["title"] for d in since] == ["renamed"]
    truth = requests.get(f"{base}/_sim/ground_truth").json()["data"]
    assert any(d["id"] == created["id"] for d in truth["deals"])
    assert requests.post(f"{base}/_sim/records/deals/999999/update", json={}).status_code == 400
    assert requests.get(f"{base}/_sim/nothing").status_code == 404


def test_500_record_page_is_served_well_under_10ms(make_sim: Any, sim_account: Any) -> None:
    for i in range(520):
        sim_account.create("persons", {"name": f"bulk {i}"})
    server = make_sim(account=sim_account, burst_limit=1_000_000)
    with requests.Session() as session:
        session.headers["x-api-token"] = server.token
        url = f"{server.base_url}/api/v2/persons"
        assert len(session.get(url, params={"limit": 500}).json()["data"]) == 500  # warm the index
        timings = []
        for _ in range(20):
            started = time.perf_counter()
            response = session.get(url, params={"limit": 500})
            timings.append(time.perf_counter() - started)
            assert response.status_code == 200
    assert statistics.median(timings) < 0.010
