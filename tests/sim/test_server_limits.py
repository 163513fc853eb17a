"""Rate limits over real HTTP: headers, burst 429, daily budget, Cloudflare 403."""

from __future__ import annotations

import time
from typing import Any

import requests


def get(server: Any, path: str, **headers: str) -> requests.Response:
    return requests.get(server.base_url + path, headers={"x-api-token": server.token, **headers})


def test_rate_limit_headers_and_burst_429(make_sim: Any) -> None:
    server = make_sim(burst_limit=5, abuse_threshold=1000)
    responses = [get(server, "/api/v2/pipelines") for _ in range(7)]
    assert [r.status_code for r in responses] == [200] * 5 + [429] * 2
    assert [r.headers["x-ratelimit-remaining"] for r in responses[:5]] == ["4", "3", "2", "1", "0"]
    assert all(r.headers["x-ratelimit-limit"] == "5" for r in responses)
    assert 1 <= int(responses[-1].headers["x-ratelimit-reset"]) <= 2
    body = responses[-1].json()
    assert body["success"] is False and body["errorCode"] == 429
    time.sleep(2.05)
    assert get(server, "/api/v2/pipelines").status_code == 200
    assert server.stats()["rate_limited"] == 2


def test_plan_limits_and_oauth_multiplier(make_sim: Any) -> None:
    server = make_sim(plan="lite", oauth_tokens=["o-tok"])
    assert get(server, "/api/v2/pipelines").headers["x-ratelimit-limit"] == "20"
    oauth = requests.get(f"{server.base_url}/api/v2/pipelines", headers={"Authorization": "Bearer o-tok"})
    assert oauth.headers["x-ratelimit-limit"] == "80"


def test_daily_budget_charges_token_cost_then_429s(make_sim: Any) -> None:
    server = make_sim(daily_budget=35, burst_limit=1000)
    assert get(server, "/api/v2/deals").status_code == 200  # 10
    assert get(server, "/v1/notes").status_code == 200  # 20 -> 30 spent
    assert get(server, "/api/v2/pipelines").status_code == 200  # 5 -> 35 spent
    exhausted = get(server, "/api/v2/pipelines")
    assert exhausted.status_code == 429
    assert "budget" in exhausted.json()["error"].lower()
    stats = server.stats()
    assert stats["tokens_spent"] == 35 and stats["budget_exhausted"] == 1
    assert stats["endpoints"]["v1 /notes"]["tokens"] == 20
    requests.post(f"{server.base_url}/_sim/budget/reset")
    assert get(server, "/api/v2/pipelines").status_code == 200


def test_default_budget_follows_plan_and_seats(make_sim: Any) -> None:
    assert make_sim(plan="premium", seats=3).budget.total == 30_000 * 5 * 3


def test_budget_resets_on_virtual_midnight(make_sim: Any) -> None:
    server = make_sim(daily_budget=10, burst_limit=1000)
    assert get(server, "/api/v2/deals").status_code == 200
    assert get(server, "/api/v2/deals").status_code == 429
    server.account.clock.advance(days=1)
    assert get(server, "/api/v2/deals").status_code == 200


def test_hammering_past_429_gets_cloudflare_403_until_cooldown(make_sim: Any) -> None:
    server = make_sim(burst_limit=2, abuse_threshold=3, abuse_window_s=5, abuse_cooldown_s=0.5)
    statuses = [get(server, "/api/v2/pipelines").status_code for _ in range(8)]
    assert statuses[:2] == [200, 200] and statuses[2:6] == [429] * 4
    blocked = get(server, "/api/v2/pipelines")
    assert blocked.status_code == 403
    assert blocked.headers["content-type"].startswith("text/html")
    assert "Cloudflare" in blocked.text
    assert server.stats()["blocked_403"] >= 1
    time.sleep(2.1)
    assert get(server, "/api/v2/pipelines").status_code == 200
