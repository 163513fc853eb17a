"""The incremental cursor configuration (`listings._incremental`) run through dlt itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import dlt

from pipedrive.entities import ENTITIES_BY_NAME
from pipedrive.entities import TimestampFormat, format_timestamp, to_updated_since
from pipedrive.listings import _incremental


def _pipeline(tmp_path: Path) -> Any:
    return dlt.pipeline("pd_inc", destination="duckdb", pipelines_dir=str(tmp_path / "p"), dev_mode=True)


def _run(pipeline: Any, rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    entity = ENTITIES_BY_NAME["deals"]

    @dlt.resource(name="deals", primary_key="id", write_disposition="merge")
    def deals(cursor: dlt.sources.incremental[str] = _incremental(entity, None)) -> Iterator[Any]:
        yield [dict(row) for row in rows]

    pipeline.run(deals(), loader_file_format="jsonl")
    with pipeline.sql_client() as client:
        return [tuple(r) for r in client.execute_sql("SELECT id, title FROM deals ORDER BY id")]


def test_null_cursor_rows_load_and_same_second_updates_are_kept(tmp_path: Path) -> None:
    pipeline = _pipeline(tmp_path)
    first = [
        {"id": 1, "title": "a", "update_time": "2024-01-01T00:00:05Z"},
        {"id": 2, "title": "b", "update_time": None},  # never updated: must still load
    ]
    assert _run(pipeline, first) == [(1, "a"), (2, "b")]
    # the API re-sends rows of the cursor's second (inclusive updated_since): deal 1 changed again
    # within that second, deal 3 is new in that second
    second = [
        {"id": 1, "title": "a2", "update_time": "2024-01-01T00:00:05Z"},
        {"id": 3, "title": "c", "update_time": "2024-01-01T00:00:05Z"},
        {"id": 4, "title": "old", "update_time": "2023-12-31T23:59:59Z"},  # older than cursor: dropped
    ]
    assert _run(pipeline, second) == [(1, "a2"), (2, "b"), (3, "c")]


def test_start_date_and_updated_since_formats() -> None:
    assert format_timestamp("2024-05-01", TimestampFormat.V1) == "2024-05-01 00:00:00"
    assert format_timestamp("2024-05-01T10:00:00+02:00", TimestampFormat.RFC3339) == "2024-05-01T08:00:00Z"
    assert format_timestamp("2024-05-01", TimestampFormat.RFC3339_MS) == "2024-05-01T00:00:00.000Z"
    # v1 cursor values are UTC without zone; updated_since is RFC 3339, truncated to the second
    assert to_updated_since("2024-05-01 10:20:30") == "2024-05-01T10:20:30Z"
    assert to_updated_since("2020-10-14T11:30:36.551Z") == "2020-10-14T11:30:36Z"
    assert to_updated_since(None) is None
