"""Whatever left the stored schema and the destination out of step - a table dropped by hand,
runs that overlapped on two machines, a local pipeline folder restored from an old backup - the
next `load` repairs it and continues incrementally, without a full refresh, ending equal to the
simulator's ground truth."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Callable

import dlt
import pytest

from pipedrive.run import load
from pipedrive_sim.pytest_plugin import UNTHROTTLED
from tests.helpers.ground_truth import assert_pipeline_equals_truth

BUDGET = {"max_tokens_per_run": 10_000_000}


@pytest.fixture
def setup(make_sim: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    server = make_sim(burst_limit=UNTHROTTLED)

    def pipeline() -> Any:
        return dlt.pipeline("heal", destination=dlt.destinations.duckdb(str(tmp_path / "h.duckdb")),
                            pipelines_dir=str(tmp_path / "p"), dataset_name="d")

    def run(**options: Any) -> Any:
        return load(pipeline(), api_token=server.token, base_url=server.base_url, **BUDGET, **options)

    return server, pipeline, run


def _change(account: Any) -> None:
    """An hour of activity that every table can follow incrementally (no person is deleted: the
    API cannot report that; the deletion sweep covers it)."""
    truth = account.ground_truth()
    deals = [d for d in truth["deals"] if not d.get("is_deleted") and not d.get("is_archived")]
    account.clock.advance(hours=1)
    account.update("deals", deals[0]["id"], {"value": 12345.0})
    account.create("deals", {"title": "new deal", "value": 9.0})
    account.delete("deals", deals[1]["id"])
    account.archive("deals", deals[2]["id"])
    account.update("persons", truth["persons"][0]["id"], {"name": "Renamed"})
    account.create("persons", {"name": "New"})
    account.update("notes", truth["notes"][0]["id"], {"content": "edited"})


def _drop(pipeline: Any, *tables: str) -> None:
    with pipeline.sql_client() as client:
        for table in tables:
            client.execute_sql(f"DROP TABLE {client.make_qualified_table_name(table)}")


def test_tables_dropped_by_hand_are_reloaded_and_the_rest_continues(setup: Any) -> None:
    server, pipeline, run = setup
    run()
    requests_of_full_load = len(server.log)
    # the stored schema still lists them: without the repair every later load fails
    _drop(pipeline(), "users", "persons", "deal_products")
    _change(server.account)
    server.reset_log()
    messages: list[str] = []
    summary = run(progress=messages.append)
    assert any("deal_products, persons, users missing in the destination" in m for m in messages), messages
    assert_pipeline_equals_truth(summary.pipeline, server.account.ground_truth())
    # only the dropped tables (and, for a deal child, the deal listings) were read from scratch
    endpoints = {entry.endpoint for entry in server.log}
    assert "v2 /organizations" in endpoints and len(server.log) < requests_of_full_load * 2


def test_a_missing_table_the_stored_schema_declares_without_any_change(setup: Any) -> None:
    """What overlapping runs left in the field: a schema version stored for a table whose creation
    was lost; the next load has nothing new, so dlt would not migrate and every load failed."""
    server, pipeline, run = setup
    run()
    run()
    _drop(pipeline(), "users", "deal_fields")
    summary = run()
    assert summary.rows["users"] == len(server.account.ground_truth()["users"])
    assert summary.rows["deal_fields"] == len(server.account.fields("deal", "v2"))
    run()  # and the pipeline stays healthy
    assert_pipeline_equals_truth(pipeline(), server.account.ground_truth())


def test_a_local_folder_restored_from_an_old_backup(setup: Any, tmp_path: Path) -> None:
    server, pipeline, run = setup
    run(tables=["users"])
    shutil.copytree(tmp_path / "p", tmp_path / "backup")
    server.account.clock.advance(hours=1)
    run()
    _change(server.account)
    shutil.rmtree(tmp_path / "p")
    shutil.copytree(tmp_path / "backup", tmp_path / "p")  # the state of before the full load
    summary = run()
    assert_pipeline_equals_truth(summary.pipeline, server.account.ground_truth())
