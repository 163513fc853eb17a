"""The destination a pipeline process loaded, compared with the simulator's ground truth."""

from __future__ import annotations

from typing import Any, Dict, List, Sequence

import dlt
import pytest

from tests.helpers.ground_truth import CHILD_KEYS, as_utc, assert_children_match, assert_pipeline_equals_truth, fetch

from ._harness import PIPELINE_NAME, PipelineRunner

__all__ = ["CHILD_KEYS", "assert_deals_equal_truth", "assert_destination_equals_truth", "attach", "fetch", "row_count"]


def attach(runner: PipelineRunner, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The pipeline a runner's processes used, attached in this process."""
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(runner.duckdb_path))
    return dlt.attach(pipeline_name=PIPELINE_NAME, pipelines_dir=str(runner.pipelines_dir))


def assert_destination_equals_truth(
    runner: PipelineRunner, monkeypatch: pytest.MonkeyPatch, truth: Dict[str, List[Dict[str, Any]]],
) -> Dict[str, int]:
    """Every entity and deal-child row is there exactly once, with its latest `update_time`;
    nothing else is there.

    Returns:
        Rows compared per table.
    """
    return assert_pipeline_equals_truth(attach(runner, monkeypatch), truth)


def assert_deals_equal_truth(
    runner: PipelineRunner, monkeypatch: pytest.MonkeyPatch, truth: Dict[str, List[Dict[str, Any]]],
    children: Sequence[str],
) -> Dict[str, int]:
    """Like `assert_destination_equals_truth` for a run of the deal listings and some children."""
    pipeline = attach(runner, monkeypatch)
    rows = fetch(pipeline, "deals", ["id", "update_time"])
    assert sorted(r["id"] for r in rows) == sorted(d["id"] for d in truth["deals"])
    latest = {d["id"]: as_utc(d["update_time"]) for d in truth["deals"]}
    assert all(as_utc(r["update_time"]) == latest[r["id"]] for r in rows)
    compared = {"deals": len(rows)}
    compared.update(assert_children_match(pipeline, truth, children))
    return compared


def row_count(runner: PipelineRunner, monkeypatch: pytest.MonkeyPatch, table: str) -> int:
    """Rows of one table (0 when it does not exist yet)."""
    pipeline = attach(runner, monkeypatch)
    if table not in pipeline.default_schema.tables:
        return 0
    with pipeline.sql_client() as client:
        return int(client.execute_sql(f"SELECT count(*) FROM {client.make_qualified_table_name(table)}")[0][0])
