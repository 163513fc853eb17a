"""Rate-limit header variants and a greedy neighbour on the same token (issue 13 section 2)."""

from __future__ import annotations

import time
from typing import Any

import requests

RATE_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")


def get(server: Any, path: str = "/api/v2/pipelines") -> requests.Response:
    return requests.get(server.base_url + path, headers={"x-api-token": server.token})


def test_fault_without_any_ratelimit_header(make_sim: Any) -> None:
    server = make_sim(burst_limit=1000)
    server.faults.add("no_ratelimit_headers", path="/pipelines", count=2)
    bare = [get(server) for _ in range(2)]
    assert all(r.status_code == 200 and r.json()["data"] for r in bare)
    assert all(not {h for h in r.headers if h.lower().startswith("x-ratelimit")} for r in bare)
    after, other = get(server), get(server, "/api/v2/stages")
    assert all(h in after.headers for h in RATE_HEADERS)  # count used up
    assert all(h in other.headers for h in RATE_HEADERS)  # other paths untouched
    assert server.stats()["tokens_spent"] == 4 * 5  # answered normally, so charged
    requests.post(f"{server.base_url}/_sim/faults", json={"kind": "no_ratelimit_headers", "path": "/stages", "count": 1})
    assert "x-ratelimit-limit" not in get(server, "/api/v2/stages").headers


def test_injected_burst_429_counts_toward_the_block(make_sim: Any) -> None:
    server = make_sim(burst_limit=1000, abuse_threshold=1, abuse_window_s=60)
    server.faults.add("rate_limited", path="/pipelines", count=2)
    limited = get(server)
    assert limited.status_code == 429 and limited.json()["errorCode"] == 429
    assert limited.headers["x-ratelimit-remaining"] == "0" and limited.headers["x-ratelimit-limit"] == "1000"
    assert get(server).status_code == 429
    assert get(server).status_code == 403  # two 429s ignored: the Cloudflare block
    stats = server.stats()
    assert stats["tokens_spent"] == 0 and stats["outcomes"]["fault:rate_limited"] == 2


def test_ratelimit_reset_is_relative_seconds(make_sim: Any) -> None:
    """FACTS: `x-ratelimit-reset` is the time left in the 2-second window, in seconds (not an
    epoch timestamp), on every answer, 429s included."""
    server = make_sim(burst_limit=3, abuse_threshold=1000)
    answers = [get(server) for _ in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert all(r.headers["x-ratelimit-reset"] in ("1", "2") for r in answers)
    unauthorized = requests.get(f"{server.base_url}/api/v2/pipelines", headers={"x-api-token": "wrong"})
    assert unauthorized.headers["x-ratelimit-reset"] == "2"  # no window of its own: the full window


def test_greedy_neighbour_fills_the_window_and_gets_the_token_blocked(make_sim: Any) -> None:
    server = make_sim(burst_limit=5, abuse_threshold=3, abuse_window_s=60, abuse_cooldown_s=60)
    neighbour = server.add_neighbour()
    assert neighbour.fire(5) == [200] * 5  # the whole window, on our token
    squeezed = get(server)
    assert squeezed.status_code == 429 and squeezed.headers["x-ratelimit-remaining"] == "0"
    assert neighbour.fire(3) == [429] * 3  # it never backs off ...
    blocked = get(server)
    assert blocked.status_code == 403 and "Cloudflare" in blocked.text  # ... and the token is blocked for us too
    assert neighbour.stats()["statuses"] == {"200": 5, "429": 3}
    assert server.stats()["budget"]["spent"] == 5 * 2  # its answered requests spent the company budget
    assert {e.path for e in server.log} == {"/api/v2/pipelines"}  # the neighbour is not in our log


def test_neighbour_over_the_control_api(make_sim: Any) -> None:
    server = make_sim(burst_limit=4, abuse_threshold=100)
    started = requests.post(f"{server.base_url}/_sim/neighbours", json={"fire": 4}).json()
    assert started["success"] and started["data"]["statuses"] == {"200": 4}
    assert get(server).status_code == 429
    requests.post(f"{server.base_url}/_sim/neighbours", json={"per_second": 200})
    deadline = time.monotonic() + 10
    while requests.get(f"{server.base_url}/_sim/neighbours").json()["data"][1]["sent"] < 3:
        assert time.monotonic() < deadline, "the background neighbour sent nothing"
        time.sleep(0.05)
    stopped = requests.post(f"{server.base_url}/_sim/neighbours/stop").json()["data"]
    assert [n["running"] for n in stopped] == [False, False]
