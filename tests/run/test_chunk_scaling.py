"""The protocol's default chunk size follows the burst limit the API announces (more pages per
chunk above the Growth plan's 40 per 2 s), except for the deal listings; a chunk size the caller
chose is kept exactly. Tiny account, one-row pages: 30 activities, 22 deals."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest

from pipedrive.http import PipedriveClient
from pipedrive.run import DEFAULT_CHUNK_PAGES, load
from pipedrive.session import CHUNK_PAGES_LIMIT, MAX_CHUNK_SCALE, RunSession
from tests.helpers.loader import duckdb_pipeline

ROWS_PER_PAGE = 1


def _load(server: Any, tmp_path: Path, table: str, **options: Any) -> Any:
    pipeline = duckdb_pipeline(tmp_path, "chunk_scaling")
    summary = load(pipeline, tables=[table], page_size=ROWS_PER_PAGE, api_token=server.token,
                   base_url=server.base_url, **options)
    with pipeline.sql_client() as client:
        loaded = client.execute_sql(f"SELECT count(*) FROM {table}")[0][0]
    return summary, loaded


def _chunks_for(rows: int, pages_per_chunk: int) -> int:
    return -(-rows // (pages_per_chunk * ROWS_PER_PAGE))


@pytest.mark.parametrize("burst_limit, scale", [(CHUNK_PAGES_LIMIT, 1), (2 * CHUNK_PAGES_LIMIT, 2)])
def test_default_chunk_follows_the_announced_limit(
    make_sim: Callable[..., Any], tmp_path: Path, burst_limit: int, scale: int
) -> None:
    server = make_sim(burst_limit=burst_limit)
    activities = len(server.account.ground_truth()["activities"])
    assert DEFAULT_CHUNK_PAGES < activities <= 2 * DEFAULT_CHUNK_PAGES  # the account's shape the counts rely on
    summary, loaded = _load(server, tmp_path, "activities")
    assert summary.chunks == _chunks_for(activities, DEFAULT_CHUNK_PAGES * scale)  # 2 at Growth's limit, 1 at twice
    assert loaded == activities


def test_a_chosen_chunk_size_is_kept_at_any_limit(make_sim: Callable[..., Any], tmp_path: Path) -> None:
    server = make_sim(burst_limit=4 * CHUNK_PAGES_LIMIT)
    activities = len(server.account.ground_truth()["activities"])
    summary, loaded = _load(server, tmp_path, "activities", chunk_pages=DEFAULT_CHUNK_PAGES)
    assert summary.chunks == _chunks_for(activities, DEFAULT_CHUNK_PAGES) == 2
    assert loaded == activities


def test_deal_listings_keep_the_default_chunk_at_a_higher_limit(make_sim: Callable[..., Any], tmp_path: Path) -> None:
    server = make_sim(burst_limit=4 * CHUNK_PAGES_LIMIT)
    deals = server.account.ground_truth()["deals"]
    live = sum(not deal["is_archived"] for deal in deals)
    assert live > DEFAULT_CHUNK_PAGES * ROWS_PER_PAGE  # the account's shape the count relies on
    summary, loaded = _load(server, tmp_path, "deals")
    assert summary.chunks >= _chunks_for(live, DEFAULT_CHUNK_PAGES) == 2
    assert loaded == len(deals)


@pytest.mark.parametrize("announced, pages", [
    (None, DEFAULT_CHUNK_PAGES),  # nothing announced yet
    (20, DEFAULT_CHUNK_PAGES),  # Lite: never fewer pages than set
    (CHUNK_PAGES_LIMIT, DEFAULT_CHUNK_PAGES),
    (120, 3 * DEFAULT_CHUNK_PAGES),  # Ultimate, API token
    (480, MAX_CHUNK_SCALE * DEFAULT_CHUNK_PAGES),  # Ultimate, OAuth
    (1_000_000, MAX_CHUNK_SCALE * DEFAULT_CHUNK_PAGES),  # beyond any plan: capped
])
def test_pages_per_chunk_scales_with_the_announced_limit_up_to_the_highest_plan(
    announced: int | None, pages: int
) -> None:
    session = RunSession(scale_chunks=True)
    client = session.client_for(lambda: PipedriveClient("token", "http://127.0.0.1:9"))
    if announced is not None:
        client.rate_limiter.update_from_headers({"x-ratelimit-limit": str(announced)})
    assert session.pages_per_chunk(DEFAULT_CHUNK_PAGES) == pages
    assert RunSession(scale_chunks=False).pages_per_chunk(DEFAULT_CHUNK_PAGES) == DEFAULT_CHUNK_PAGES
