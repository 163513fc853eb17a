"""Authentication and routing over real HTTP."""

from __future__ import annotations

from typing import Any

import requests

UNAUTHORIZED = {"success": False, "error": "unauthorized access", "errorCode": 401,
                "error_info": "Please check developers.pipedrive.com", "data": None, "additional_data": None}


def test_header_query_and_bearer_tokens(make_sim: Any) -> None:
    server = make_sim(oauth_tokens=["oauth-abc"])
    url = f"{server.base_url}/api/v2/pipelines"
    assert requests.get(url, headers={"x-api-token": server.token}).status_code == 200
    assert requests.get(url, params={"api_token": server.token}).status_code == 200
    assert requests.get(url, headers={"Authorization": "Bearer oauth-abc"}).status_code == 200
    assert requests.get(url, headers={"Authorization": f"Bearer {server.token}"}).status_code == 401


def test_wrong_or_missing_token_gets_the_real_401(sim_server: Any) -> None:
    url = f"{sim_server.base_url}/v1/users/me"
    for headers in ({}, {"x-api-token": "wrong"}):
        response = requests.get(url, headers=headers)
        assert response.status_code == 401
        assert response.json() == UNAUTHORIZED
        assert "x-ratelimit-limit" in response.headers


def test_v1_under_both_prefixes_v2_only_under_api(sim_server: Any, sim_session: requests.Session) -> None:
    base = sim_server.base_url
    for path in ("/v1/currencies", "/api/v1/currencies", "/api/v2/deals"):
        assert sim_session.get(base + path).status_code == 200, path
    for path in ("/v2/deals", "/api/v2/currencies", "/api/v1/nothing"):
        response = sim_session.get(base + path)
        assert response.status_code == 404, path
        assert response.json()["success"] is False


def test_users_me_and_goals(sim_server: Any, sim_session: requests.Session) -> None:
    me = sim_session.get(f"{sim_server.base_url}/v1/users/me").json()
    assert me["data"]["id"] == sim_server.account.current_user()["id"]
    goals = sim_session.get(f"{sim_server.base_url}/v1/goals/find").json()["data"]["goals"]
    assert isinstance(goals, list)


def test_non_get_is_405(sim_server: Any, sim_session: requests.Session) -> None:
    assert sim_session.post(f"{sim_server.base_url}/api/v2/deals", json={}).status_code == 405


def test_rate_limit_headers_on_errors_and_token_not_logged(sim_server: Any) -> None:
    base = sim_server.base_url
    for path, status in (("/api/v2/deals?limit=0", 400), ("/api/v2/unknown", 404)):
        response = requests.get(f"{base}{path}&api_token={sim_server.token}" if "?" in path
                                else f"{base}{path}?api_token={sim_server.token}")
        assert response.status_code == status
        assert {"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"} <= set(response.headers)
    assert all("api_token" not in entry.params for entry in sim_server.log)
