"""OAuth tokens (client secret, refresh tokens, every access token) never land in logs, exception
messages, the pipeline state, the trace, load packages or tables - checked by scanning."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import dlt
import pytest
from dlt.common import logger as dlt_logger

from pipedrive import pipedrive_source
from pipedrive_sim import SimServer
from tests.reliability._leaks import files_with, tables_with

from .conftest import CLIENT_SECRET, REFRESH_TOKEN, revoke_on_rows, token_requests

SOME = ("deals", "persons", "users", "deal_fields", "custom_fields_mapping", "deal_participants")


def test_oauth_tokens_are_nowhere_after_refreshes_and_rotation(
    oauth_sim: Callable[..., SimServer],
    make_pipeline: Callable[[str], dlt.Pipeline],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = oauth_sim(rotate_refresh_tokens=True, oauth_expires_in=30)
    pipeline = make_pipeline("pd_oauth")
    # dlt's logger does not propagate and is set up once per process: route it to caplog at DEBUG
    verbose = logging.getLogger("pd_oauth_test.dlt")
    verbose.setLevel(logging.DEBUG)
    monkeypatch.setattr(dlt_logger, "LOGGER", verbose)
    with caplog.at_level(logging.DEBUG):
        source = pipedrive_source(page_size=5).with_resources(*SOME)
        revoke_on_rows(server, source, "deals", {1, 6})  # two 401 rounds, two rotations
        info = pipeline.run(source, loader_file_format="jsonl")
        second = pipeline.run(pipedrive_source().with_resources("users"), loader_file_format="jsonl")
    assert not info.has_failed_jobs and not second.has_failed_jobs
    assert len(token_requests(server)) == 3

    secrets = [CLIENT_SECRET, REFRESH_TOKEN, *server.oauth.issued_tokens]
    assert len(secrets) == 2 + 3 + 3  # 3 access tokens, 3 rotated refresh tokens
    out, err = capfd.readouterr()
    assert caplog.text.count("Pipedrive OAuth: access token refreshed") == 3  # dlt's log was captured
    pipelines_dir = tmp_path / "pipelines"
    duckdb_file = Path(pipeline.destination_client().config.credentials.database)  # type: ignore[attr-defined]
    for secret in secrets:
        assert secret not in caplog.text
        assert secret not in out and secret not in err
        assert secret not in str(info) and secret not in str(second)
        assert secret not in str(pipeline.last_trace) and secret not in repr(pipeline.last_trace)
        assert secret not in str(pipeline.state)
        assert not files_with(secret, [pipelines_dir]), secret  # state, schemas, packages, pickled trace
        assert not tables_with(secret, duckdb_file), secret  # incl. _dlt_pipeline_state


def test_oauth_error_messages_never_carry_tokens(
    oauth_sim: Callable[..., SimServer], caplog: pytest.LogCaptureFixture
) -> None:
    from pipedrive.http.oauth import OAuthCredentialsError

    server = oauth_sim()
    server.oauth.refresh_tokens.clear()  # the configured refresh token was revoked
    with caplog.at_level(logging.DEBUG), pytest.raises(OAuthCredentialsError) as failure:
        pipedrive_source()
    text = f"{failure.value!s} {failure.value!r} {caplog.text}"
    assert "invalid_grant" in str(failure.value)
    assert REFRESH_TOKEN not in text and CLIENT_SECRET not in text
