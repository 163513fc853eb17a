"""`pipedrive.run.load` as a library call with tiny chunks makes progress through a group of rows
sharing one `update_time` that is larger than a chunk, and ends with every row once."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import dlt
import pytest

from pipedrive.run import load
from pipedrive_sim.pytest_plugin import UNTHROTTLED


def test_chunks_cross_a_same_timestamp_group_larger_than_a_chunk(
    make_sim: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    server = make_sim(burst_limit=UNTHROTTLED)
    deals = server.account.ground_truth()["deals"]
    live = [d for d in deals if not d["is_archived"]]
    same_second = max(sum(d["update_time"] == t["update_time"] for d in live) for t in live)
    assert same_second >= 3  # the account's edge case: more rows in one second than a chunk holds

    pipeline = dlt.pipeline("chunks", destination=dlt.destinations.duckdb(str(tmp_path / "c.duckdb")),
                            pipelines_dir=str(tmp_path / "p"), dataset_name="d")
    summary = load(pipeline, tables=["deals"], chunk_pages=1, page_size=2,
                   api_token="sim-token", base_url=server.base_url)
    assert summary.chunks > len(live) // 2 // 2  # really one 2-row page per chunk (a few read more)
    with pipeline.sql_client() as client:
        ids = [row[0] for row in client.execute_sql("SELECT id FROM deals")]
    assert sorted(ids) == sorted(d["id"] for d in deals)
    assert summary.rows["deals"] == len(deals)
