"""OAuth 2.0 end to end against the simulator over HTTP: full load, refresh before expiry, refresh on
401 after a mid-run revocation, refresh-token rotation, bad credentials, token-endpoint retries."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import dlt
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from pipedrive import pipedrive_source
from pipedrive.http.client import PipedriveClient
from pipedrive.entities import ApiVersion
from pipedrive.http.oauth import OAuthCredentialsError, PipedriveOAuth, PipedriveOAuthCredentials
from pipedrive_sim import SimServer

from .conftest import (
    API_TOKEN,
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    api_401s,
    configure_oauth,
    revoke_on_rows,
    row_counts,
    token_requests,
)

SOME = ("deals", "persons", "organizations", "activities", "notes", "leads", "users", "deal_fields")


def test_full_load_with_oauth_matches_the_api_token_load(
    oauth_sim: Callable[..., SimServer], make_pipeline: Callable[[str], dlt.Pipeline]
) -> None:
    server = oauth_sim()
    oauth_pipeline = make_pipeline("pd_oauth")
    info = oauth_pipeline.run(pipedrive_source(), loader_file_format="jsonl")  # credentials from env only
    assert not info.has_failed_jobs
    oauth_log = server.log
    assert len(token_requests(server)) == 1  # one exchange for the whole run, all workers
    assert not api_401s(server)
    assert len(oauth_log) > 20  # the API was reached through api_domain (no base_url configured)

    server.reset_log()
    token_pipeline = make_pipeline("pd_token")
    source = pipedrive_source(api_token=API_TOKEN, base_url=server.base_url, oauth=None)
    assert not token_pipeline.run(source, loader_file_format="jsonl").has_failed_jobs
    counts = row_counts(oauth_pipeline)
    assert counts == row_counts(token_pipeline)
    assert counts["deals"] > 0 and counts["deal_products"] > 0


def test_bearer_token_gets_the_oauth_burst_limit(oauth_sim: Callable[..., SimServer]) -> None:
    server = oauth_sim(burst_limit=None, plan="growth")
    credentials = PipedriveOAuthCredentials(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, refresh_token=REFRESH_TOKEN,
        token_url=f"{server.base_url}/oauth/token",
    )
    auth = PipedriveOAuth(credentials)
    client = PipedriveClient(auth, auth.api_domain or "")
    client.get("/users/me", api=ApiVersion.V1, token_cost=2)
    assert client.rate_limiter.limit == 4 * server.limiter.base_limit  # growth: 160 per 2 s, not 40
    assert "***" in repr(auth) and CLIENT_SECRET not in repr(auth) and REFRESH_TOKEN not in repr(auth)


def test_access_token_is_refreshed_before_it_expires(
    oauth_sim: Callable[..., SimServer], make_pipeline: Callable[[str], dlt.Pipeline]
) -> None:
    server = oauth_sim(oauth_expires_in=1.0, latency_ms=100)  # refreshed 0.75 s after each exchange
    started = time.monotonic()
    info = make_pipeline("pd_oauth").run(
        pipedrive_source(page_size=5).with_resources(*SOME), loader_file_format="jsonl"
    )
    elapsed = time.monotonic() - started
    assert not info.has_failed_jobs
    assert elapsed > 1.5, "the run must outlive two access tokens for this test to mean anything"
    assert len(token_requests(server)) >= 2
    assert all(e.status == 200 for e in token_requests(server))
    assert not api_401s(server)  # proactive: no request was sent with an expired token


def test_revocation_mid_run_costs_one_401_round_and_one_refresh(
    oauth_sim: Callable[..., SimServer], make_pipeline: Callable[[str], dlt.Pipeline]
) -> None:
    server = oauth_sim(latency_ms=5)
    source = pipedrive_source(page_size=5).with_resources(*SOME)
    revoke_on_rows(server, source, "deals", {1})
    pipeline = make_pipeline("pd_oauth")
    assert not pipeline.run(source, loader_file_format="jsonl").has_failed_jobs
    assert len(api_401s(server)) >= 1  # requests in flight with the revoked token
    assert len(token_requests(server)) == 2  # the initial exchange + one refresh shared by all workers
    ok_after = [e for e in server.log if e.time > api_401s(server)[0].time and e.status == 200]
    assert ok_after, "requests after the 401 were resent with the new token"
    assert row_counts(pipeline)["deals"] == len(
        [d for d in server.account.records("deals") if not d.get("is_archived")]
    )


def test_parallel_requests_rejected_together_share_one_refresh(
    oauth_sim: Callable[..., SimServer], make_pipeline: Callable[[str], dlt.Pipeline]
) -> None:
    server = oauth_sim(latency_ms=100)
    # revoked as the deals page passes, before any deal child is fetched: the fan-out then sends
    # its first burst with the revoked token, several requests within one 100-ms round trip
    # (revoked on the 3rd participants page instead, a busy machine had sometimes fetched every
    # child before that page was processed: no request was left to reject)
    source = pipedrive_source().with_resources("deals", "deal_participants", "deal_changes")
    revoke_on_rows(server, source, "deals", {1})
    assert not make_pipeline("pd_oauth").run(source, loader_file_format="jsonl").has_failed_jobs
    assert len(api_401s(server)) >= 2, "needs concurrent requests rejected with the same token"
    assert len(token_requests(server)) == 2  # one refresh under the lock, the others reuse it


def test_rotated_refresh_token_is_used_for_the_next_refresh(
    oauth_sim: Callable[..., SimServer],
    make_pipeline: Callable[[str], dlt.Pipeline],
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = oauth_sim(rotate_refresh_tokens=True, latency_ms=5)
    source = pipedrive_source(page_size=5).with_resources(*SOME)
    revoke_on_rows(server, source, "deals", {1, 11})
    assert not make_pipeline("pd_oauth").run(source, loader_file_format="jsonl").has_failed_jobs
    exchanges = token_requests(server)
    assert len(exchanges) == 3 and all(e.status == 200 for e in exchanges)  # old token retired each time
    assert "issued a new refresh token" in caplog.text

    # a new process starts from the configured refresh token, which the rotation retired
    PipedriveOAuth.clear_shared()
    with pytest.raises(OAuthCredentialsError) as failure:
        pipedrive_source()
    message = str(failure.value)
    assert "\n" not in message and "invalid_grant" in message
    assert "SOURCES__PIPEDRIVE__OAUTH__REFRESH_TOKEN" in message
    assert REFRESH_TOKEN not in message


def test_bad_client_secret_fails_at_source_creation_with_one_line(
    oauth_sim: Callable[..., SimServer],
) -> None:
    wrong = "wrongSECRET0123456789"
    server = oauth_sim(secret=wrong)
    with pytest.raises(OAuthCredentialsError) as failure:
        pipedrive_source()
    message = str(failure.value)
    assert "\n" not in message
    assert "401" in message and "invalid_client" in message
    assert "SOURCES__PIPEDRIVE__OAUTH__CLIENT_SECRET" in message and "client_secret" in message
    assert wrong not in message and CLIENT_SECRET not in message
    assert len(token_requests(server)) == 1  # a 4xx from the token endpoint is not retried
    assert len(server.log) == 1  # and no API request was made


def test_bad_client_secret_through_the_pipeline_script(
    oauth_sim: Callable[..., SimServer],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    import pipedrive_pipeline

    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt"))
    wrong = "wrongSECRET0123456789"
    server = oauth_sim(secret=wrong)
    code = pipedrive_pipeline.main(["--resources", "users"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("error: ") and "CLIENT_SECRET" in err[0]
    assert wrong not in err[0]
    assert [e.endpoint for e in server.log] == ["oauth /oauth/token"]


def test_pipeline_script_runs_with_oauth_only(
    oauth_sim: Callable[..., SimServer],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    import pipedrive_pipeline

    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt"))  # the script's pipeline lives there
    server = oauth_sim()
    assert pipedrive_pipeline.main(["--resources", "users,deals"]) == 0, capsys.readouterr().err
    assert len(token_requests(server)) == 1 and not api_401s(server)


def test_token_endpoint_5xx_is_retried(
    oauth_sim: Callable[..., SimServer], make_pipeline: Callable[[str], dlt.Pipeline]
) -> None:
    server = oauth_sim()
    server.faults.add("error", path=r"^/oauth/token", count=2, status=503)
    info = make_pipeline("pd_oauth").run(pipedrive_source().with_resources("users"), loader_file_format="jsonl")
    assert not info.has_failed_jobs
    assert [e.status for e in token_requests(server)] == [503, 503, 200]


def test_revoked_app_fails_with_a_reauthorize_message(
    oauth_sim: Callable[..., SimServer], make_pipeline: Callable[[str], dlt.Pipeline], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = oauth_sim()
    source = pipedrive_source(base_url=server.base_url).with_resources("users")
    # the app is uninstalled: the refresh after the 401 still works, but no bearer token is accepted
    monkeypatch.setattr(server.oauth, "accepts", lambda token: False)
    with pytest.raises(PipelineStepFailed) as failure:
        make_pipeline("pd_oauth").run(source, loader_file_format="jsonl")
    text = str(failure.value)
    assert "re-authorize" in text and "SOURCES__PIPEDRIVE__OAUTH__REFRESH_TOKEN" in text
    assert len(api_401s(server)) == 2  # the original request and the one resend, no loop
    assert CLIENT_SECRET not in text and REFRESH_TOKEN not in text


def test_api_token_and_oauth_together_are_refused(oauth_sim: Callable[..., SimServer]) -> None:
    oauth_sim()
    from pipedrive.http.errors import PipedriveConfigError

    with pytest.raises(PipedriveConfigError, match="both configured"):
        pipedrive_source(api_token=API_TOKEN)


def test_configure_helper_keeps_secrets_out_of_the_source_config(
    oauth_sim: Callable[..., SimServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = oauth_sim()
    configure_oauth(monkeypatch, server)
    source = pipedrive_source()
    assert CLIENT_SECRET not in repr(source) and REFRESH_TOKEN not in str(source)
