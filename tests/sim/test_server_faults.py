"""Fault injection over real HTTP: each kind, scoping by path and count, latency."""

from __future__ import annotations

import http.client
import time
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.faults


def get(server: Any, path: str, **kwargs: Any) -> requests.Response:
    return requests.get(server.base_url + path, headers={"x-api-token": server.token}, **kwargs)


def test_5xx_burst_scoped_by_path_and_count(sim_server: Any) -> None:
    sim_server.faults.add("error", path=r"/deals$", count=2, status=502)
    assert get(sim_server, "/api/v2/persons").status_code == 200
    assert [get(sim_server, "/api/v2/deals").status_code for _ in range(3)] == [502, 502, 200]
    assert sim_server.stats()["faults"] == 2
    assert sim_server.stats()["tokens_spent"] == 20  # faults cost nothing


def test_maintenance_and_html_error(sim_server: Any) -> None:
    sim_server.faults.add("maintenance", path="/persons", count=1)
    sim_server.faults.add("html_error", path="/organizations", count=1, status=504)
    maintenance = get(sim_server, "/api/v2/persons")
    assert maintenance.status_code == 503 and maintenance.json()["success"] is False
    html = get(sim_server, "/api/v2/organizations")
    assert html.status_code == 504 and html.headers["content-type"].startswith("text/html")


def test_probability_is_seeded(make_sim: Any) -> None:
    outcomes = []
    for _ in range(2):
        server = make_sim(burst_limit=1000, seed=7)
        server.faults.add("error", path="/pipelines", probability=0.5)
        outcomes.append([get(server, "/api/v2/pipelines").status_code for _ in range(12)])
    assert outcomes[0] == outcomes[1]
    assert set(outcomes[0]) == {200, 500}


def test_skip_then_fire(sim_server: Any) -> None:
    sim_server.faults.add("error", path="/deals", skip=2, count=1)
    assert [get(sim_server, "/api/v2/deals").status_code for _ in range(4)] == [200, 200, 500, 200]


def test_timeout_and_slow(sim_server: Any) -> None:
    sim_server.faults.add("timeout", path="/pipelines", count=1, delay_ms=1500)
    with pytest.raises(requests.exceptions.ReadTimeout):
        get(sim_server, "/api/v2/pipelines", timeout=0.3)
    sim_server.faults.add("slow", path="/stages", count=1, delay_ms=300)
    started = time.perf_counter()
    assert get(sim_server, "/api/v2/stages").status_code == 200
    assert time.perf_counter() - started >= 0.3


def test_connection_reset_mid_body(sim_server: Any) -> None:
    sim_server.faults.add("reset", path="/persons", count=1)
    with pytest.raises((requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError,
                        http.client.IncompleteRead)):
        get(sim_server, "/api/v2/persons")
    assert get(sim_server, "/api/v2/persons").status_code == 200


def test_truncated_json(sim_server: Any) -> None:
    sim_server.faults.add("truncated", path="/persons", count=1)
    response = get(sim_server, "/api/v2/persons")
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()


def test_null_data(sim_server: Any) -> None:
    sim_server.faults.add("null_data", path="/persons", count=1)
    body = get(sim_server, "/api/v2/persons").json()
    assert body["success"] is True and body["data"] is None


def test_recents_items_with_null_data(sim_server: Any) -> None:
    sim_server.faults.add("recents_null_items", path="/recents", count=1, item_probability=1.0)
    params = {"since_timestamp": "2000-01-01 00:00:00", "limit": 500}
    items = get(sim_server, "/v1/recents", params=params).json()["data"]
    assert items and all(i["data"] is None for i in items)
    assert all(i["data"] is not None for i in get(sim_server, "/v1/recents", params=params).json()["data"])


def test_latency_injection(make_sim: Any) -> None:
    server = make_sim(latency_ms=100, jitter_ms=50, burst_limit=1000)
    started = time.perf_counter()
    for _ in range(3):
        assert get(server, "/api/v2/pipelines").status_code == 200
    elapsed = time.perf_counter() - started
    assert 0.3 <= elapsed < 1.0


def test_faults_via_control_api(sim_server: Any) -> None:
    control = f"{sim_server.base_url}/_sim/faults"
    assert requests.post(control, json={"kind": "error", "path": "/deals", "status": 503}).status_code == 200
    assert get(sim_server, "/api/v2/deals").status_code == 503
    assert requests.post(f"{control}/clear").status_code == 200
    assert get(sim_server, "/api/v2/deals").status_code == 200
    assert requests.post(control, json={"kind": "nonsense"}).status_code == 400
