"""The simulator's `POST /oauth/token` over HTTP: grants, client authentication, error codes,
access-token expiry and revocation, rotation, accounting (no token budget cost, body never logged)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import requests

from pipedrive_sim import SimServer
from pipedrive_sim.http.oauth import ENDPOINT

CLIENT = ("sim-client", "sim-client-secret")
REFRESH = "sim-refresh-configured"


@pytest.fixture
def server(make_sim: Callable[..., SimServer]) -> SimServer:
    return make_sim(oauth_clients={CLIENT[0]: CLIENT[1]}, oauth_refresh_tokens=[REFRESH], oauth_codes=["code-1"])


def post(server: SimServer, auth: tuple[str, str] | None = CLIENT, **form: str) -> requests.Response:
    return requests.post(f"{server.base_url}/oauth/token", auth=auth, data=form, timeout=10)


def bearer(server: SimServer, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    return requests.get(f"{server.base_url}/api/v2/deals", headers=headers, timeout=10).status_code


def test_refresh_grant_answers_the_spec_shape_and_the_token_works(server: SimServer) -> None:
    budget = server.budget.remaining
    answer = post(server, grant_type="refresh_token", refresh_token=REFRESH)
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"access_token", "token_type", "refresh_token", "scope", "expires_in", "api_domain"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3599
    assert body["refresh_token"] == REFRESH and body["api_domain"] == server.base_url
    assert bearer(server, body["access_token"]) == 200
    assert server.budget.remaining == budget - 10  # the deals listing; the token request was free
    entry = server.log[0]
    assert (entry.endpoint, entry.method, entry.status, entry.token_cost) == (ENDPOINT, "POST", 200, 0)
    assert REFRESH not in repr(server.log) and REFRESH not in str(server.stats())


def test_authorization_code_is_single_use(server: SimServer) -> None:
    first = post(server, grant_type="authorization_code", code="code-1", redirect_uri="http://localhost:8080/cb")
    assert first.status_code == 200 and first.json()["refresh_token"] != REFRESH
    again = post(server, grant_type="authorization_code", code="code-1", redirect_uri="http://localhost:8080/cb")
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")
    # the refresh token from the code exchange works
    assert post(server, grant_type="refresh_token", refresh_token=first.json()["refresh_token"]).status_code == 200


@pytest.mark.parametrize(
    ("auth", "form", "status", "error"),
    [
        (None, {"grant_type": "refresh_token", "refresh_token": REFRESH}, 401, "invalid_client"),
        ((CLIENT[0], "wrong"), {"grant_type": "refresh_token", "refresh_token": REFRESH}, 401, "invalid_client"),
        (("other", CLIENT[1]), {"grant_type": "refresh_token", "refresh_token": REFRESH}, 401, "invalid_client"),
        (CLIENT, {"grant_type": "refresh_token", "refresh_token": "nope"}, 400, "invalid_grant"),
        (CLIENT, {"refresh_token": REFRESH}, 400, "invalid_request"),
        (CLIENT, {"grant_type": "password"}, 400, "unsupported_grant_type"),
        (CLIENT, {"grant_type": "authorization_code", "code": "code-1"}, 400, "invalid_request"),
    ],
)
def test_errors(server: SimServer, auth: tuple[str, str] | None, form: dict[str, str], status: int, error: str) -> None:
    answer = post(server, auth, **form)
    assert answer.status_code == status
    assert answer.json()["success"] is False and answer.json()["error"] == error
    assert server.log[-1].outcome == ("unauthorized" if status == 401 else "error")


def test_json_body_is_refused(server: SimServer) -> None:
    answer = requests.post(
        f"{server.base_url}/oauth/token", auth=CLIENT, json={"grant_type": "refresh_token", "refresh_token": REFRESH}
    )
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_request")


def test_access_token_expires_on_the_wall_clock_and_revoke_all(make_sim: Callable[..., SimServer]) -> None:
    server = make_sim(oauth_clients=dict([CLIENT]), oauth_refresh_tokens=[REFRESH], oauth_expires_in=0.3)
    token = post(server, grant_type="refresh_token", refresh_token=REFRESH).json()["access_token"]
    assert bearer(server, token) == 200
    time.sleep(0.35)
    assert bearer(server, token) == 401
    server.oauth.configure(expires_in=60)
    token = post(server, grant_type="refresh_token", refresh_token=REFRESH).json()["access_token"]
    revoked = requests.post(f"{server.base_url}/_sim/oauth/revoke", timeout=10).json()["data"]["revoked"]
    assert revoked >= 1 and bearer(server, token) == 401
    assert post(server, grant_type="refresh_token", refresh_token=REFRESH).status_code == 200  # refresh still valid


def test_rotation_retires_the_used_refresh_token(make_sim: Callable[..., SimServer]) -> None:
    server = make_sim(oauth_clients=dict([CLIENT]), oauth_refresh_tokens=[REFRESH], rotate_refresh_tokens=True)
    new = post(server, grant_type="refresh_token", refresh_token=REFRESH).json()["refresh_token"]
    assert new != REFRESH
    assert post(server, grant_type="refresh_token", refresh_token=REFRESH).json()["error"] == "invalid_grant"
    assert post(server, grant_type="refresh_token", refresh_token=new).status_code == 200


def test_faults_apply_to_the_token_endpoint(server: SimServer) -> None:
    server.faults.add("error", path=r"^/oauth/token", count=1, status=502)
    assert post(server, grant_type="refresh_token", refresh_token=REFRESH).status_code == 502
    assert post(server, grant_type="refresh_token", refresh_token=REFRESH).status_code == 200
