"""`pipedrive.chunking` used as a library: a loop of `pipeline.run()` over tiny chunks makes
progress through a group of rows sharing one `update_time` that is larger than a chunk, and ends
with every row once."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, List

import dlt
import pytest

from pipedrive import pipedrive_source
from pipedrive.chunking import chunk_selection, pending_resources
from pipedrive_sim.pytest_plugin import UNTHROTTLED

MAX_CHUNKS = 60


def test_chunks_cross_a_same_timestamp_group_larger_than_a_chunk(
    make_sim: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    server = make_sim(burst_limit=UNTHROTTLED)
    truth = server.account.ground_truth()
    deals = [d for d in truth["deals"] if not d["is_archived"]]
    same_second = max(sum(d["update_time"] == t["update_time"] for d in deals) for t in deals)
    assert same_second >= 3  # the account's edge case: more rows in one second than a chunk holds

    pipeline = dlt.pipeline("chunks", destination=dlt.destinations.duckdb(str(tmp_path / "c.duckdb")),
                            pipelines_dir=str(tmp_path / "p"), dataset_name="d")
    names: List[str] = ["deals"]
    chunks = 0
    while names and chunks < MAX_CHUNKS:
        source = pipedrive_source(api_token="sim-token", base_url=server.base_url, page_size=2, max_pages_per_chunk=1)
        pipeline.run(source.with_resources(*names), loader_file_format="jsonl")
        chunks += 1
        names = chunk_selection(source.with_resources("deals"), pending_resources(pipeline.state["sources"]["pipedrive"]))
    assert not names, f"still pending after {MAX_CHUNKS} chunks"
    assert chunks > len(deals) // 2 // 2  # really one 2-row page per chunk (a few chunks read more)
    with pipeline.sql_client() as client:
        ids = [row[0] for row in client.execute_sql("SELECT id FROM deals")]
    assert sorted(ids) == sorted(d["id"] for d in deals)
