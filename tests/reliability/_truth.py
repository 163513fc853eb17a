"""The destination a pipeline process loaded, compared with the simulator's ground truth."""

from __future__ import annotations

from collections import Counter
from typing import Any, Dict, List, Sequence, Tuple

import dlt
import pytest

from tests.ecosystem._compare import as_utc, assert_matches_ground_truth, fetch

from ._harness import PIPELINE_NAME, PipelineRunner

# snapshot deal children: destination table -> key columns (also the ground-truth entity key)
CHILD_KEYS: Dict[str, Tuple[str, str]] = {
    "deal_products": ("deal_id", "id"),
    "deal_participants": ("deal_id", "id"),
    "deal_followers": ("deal_id", "user_id"),
}
ALL_CHILDREN = (*CHILD_KEYS, "deal_changes")


def attach(runner: PipelineRunner, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The pipeline a runner's processes used, attached in this process."""
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(runner.duckdb_path))
    return dlt.attach(pipeline_name=PIPELINE_NAME, pipelines_dir=str(runner.pipelines_dir))


def _keys(pipeline: Any, table: str, columns: Tuple[str, str]) -> List[Tuple[Any, Any]]:
    return [(row[columns[0]], row[columns[1]]) for row in fetch(pipeline, table, list(columns))]


def _assert_children(pipeline: Any, truth: Dict[str, List[Dict[str, Any]]], tables: Sequence[str]) -> Dict[str, int]:
    """Snapshot children hold exactly the API's rows; `deal_changes` every change once."""
    compared: Dict[str, int] = {}
    for table in tables:
        if table == "deal_changes":
            changes = [row["change_id"] for row in fetch(pipeline, table, ["change_id"])]
            assert len(changes) == len(set(changes)), "deal_changes: duplicated change_id"
            assert len(changes) == len(truth["deal_changelog"]), f"deal_changes: {len(changes)} != {len(truth['deal_changelog'])}"
            compared[table] = len(changes)
            continue
        columns = CHILD_KEYS[table]
        got = Counter(_keys(pipeline, table, columns))
        duplicated = [key for key, count in got.items() if count > 1]
        assert not duplicated, f"{table}: duplicated rows {duplicated[:5]}"
        expected = {(row[columns[0]], row[columns[1]]) for row in truth[table]}
        assert set(got) == expected, f"{table}: missing {sorted(expected - set(got))[:5]}, extra {sorted(set(got) - expected)[:5]}"
        compared[table] = len(expected)
    return compared


def assert_destination_equals_truth(
    runner: PipelineRunner, monkeypatch: pytest.MonkeyPatch, truth: Dict[str, List[Dict[str, Any]]],
) -> Dict[str, int]:
    """Every entity and deal-child row is there exactly once, with its latest `update_time`;
    nothing else is there.

    Returns:
        Rows compared per table.
    """
    pipeline = attach(runner, monkeypatch)
    compared = assert_matches_ground_truth(pipeline, truth)
    compared.update(_assert_children(pipeline, truth, ALL_CHILDREN))
    return compared


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
    compared.update(_assert_children(pipeline, truth, children))
    return compared


def row_count(runner: PipelineRunner, monkeypatch: pytest.MonkeyPatch, table: str) -> int:
    """Rows of one table (0 when it does not exist yet)."""
    pipeline = attach(runner, monkeypatch)
    if table not in pipeline.default_schema.tables:
        return 0
    with pipeline.sql_client() as client:
        return int(client.execute_sql(f"SELECT count(*) FROM {client.make_qualified_table_name(table)}")[0][0])
