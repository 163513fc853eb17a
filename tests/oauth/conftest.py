"""Fixtures of the OAuth tests: a simulator with an OAuth client, the source configured the dlt way
(`SOURCES__PIPEDRIVE__OAUTH__*` environment variables), DuckDB pipelines under `tmp_path`."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dlt
import pytest

from pipedrive.http.oauth import PipedriveOAuth
from pipedrive_sim import SimServer
from pipedrive_sim.http.oauth import ENDPOINT as TOKEN_ENDPOINT
from pipedrive_sim.pytest_plugin import UNTHROTTLED
from tests.helpers.loader import dlt_env  # noqa: F401 - fixture used by _oauth_env

CLIENT_ID = "pd-test-client"
CLIENT_SECRET = "pdCLIENTsecret0123456789abcdef"
REFRESH_TOKEN = "pdREFRESHtoken0123456789abcdef"
API_TOKEN = "pdAPItoken0123456789abcdef0123"
"""Accepted by the simulators here, but only the API-token comparison run sends it."""
ENV = "SOURCES__PIPEDRIVE__OAUTH__"


@pytest.fixture(autouse=True)
def _oauth_env(dlt_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """On top of `dlt_env` (no telemetry, fast retries, cwd in tmp_path): no Pipedrive config
    from elsewhere, no token shared across tests."""
    for key in list(os.environ):
        if key.startswith("SOURCES__PIPEDRIVE__"):
            monkeypatch.delenv(key)
    PipedriveOAuth.clear_shared()
    yield
    PipedriveOAuth.clear_shared()


def configure_oauth(
    monkeypatch: pytest.MonkeyPatch, server: SimServer, secret: str = CLIENT_SECRET, refresh_token: str = REFRESH_TOKEN
) -> None:
    """`[sources.pipedrive.oauth]` through environment variables, token URL on the simulator."""
    monkeypatch.setenv(ENV + "CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv(ENV + "CLIENT_SECRET", secret)
    monkeypatch.setenv(ENV + "REFRESH_TOKEN", refresh_token)
    monkeypatch.setenv(ENV + "TOKEN_URL", f"{server.base_url}/oauth/token")


@pytest.fixture
def oauth_sim(make_sim: Callable[..., SimServer], monkeypatch: pytest.MonkeyPatch) -> Callable[..., SimServer]:
    """Factory: a simulator with one OAuth client and refresh token, and the source configured for it.

    No `base_url` is configured: the source finds the simulator through `api_domain`.
    """

    def factory(secret: str = CLIENT_SECRET, **server_kwargs: Any) -> SimServer:
        server_kwargs.setdefault("burst_limit", UNTHROTTLED)
        server = make_sim(
            token=API_TOKEN,
            oauth_clients={CLIENT_ID: CLIENT_SECRET},
            oauth_refresh_tokens=[REFRESH_TOKEN],
            **server_kwargs,
        )
        configure_oauth(monkeypatch, server, secret)
        return server

    return factory


@pytest.fixture
def make_pipeline(tmp_path: Path) -> Callable[[str], dlt.Pipeline]:
    """Factory: a DuckDB pipeline (dev_mode) with its working dir under `tmp_path/pipelines`."""

    def factory(name: str = "pd_oauth") -> dlt.Pipeline:
        return dlt.pipeline(
            pipeline_name=name, destination="duckdb", pipelines_dir=str(tmp_path / "pipelines"), dev_mode=True
        )

    return factory


def token_requests(server: SimServer) -> list[Any]:
    """`POST /oauth/token` entries of the simulator log."""
    return [e for e in server.log if e.endpoint == TOKEN_ENDPOINT]


def api_401s(server: SimServer) -> list[Any]:
    """API requests the simulator answered 401."""
    return [e for e in server.log if e.endpoint != TOKEN_ENDPOINT and e.status == 401]


def revoke_on_rows(server: SimServer, source: Any, resource: str, rows: set[int]) -> None:
    """Revokes every access token while `resource` yields its n-th row for each n in `rows`
    (mid-run: the next pages of the resource and the other resources are requested after it)."""
    counter = itertools.count(1)

    def maybe_revoke(row: Any) -> Any:
        if next(counter) in rows:
            server.oauth.revoke_all()
        return row

    source.resources[resource].add_map(maybe_revoke)


def row_counts(pipeline: dlt.Pipeline) -> dict[str, int]:
    """Rows per data table."""
    with pipeline.sql_client() as client:
        return {
            table: client.execute_sql(f"SELECT count(*) FROM {table}")[0][0]
            for table in pipeline.default_schema.data_table_names()
        }
