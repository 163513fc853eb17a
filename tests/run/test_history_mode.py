"""History mode (issue 14): tables loaded with `history=True` keep every version of a record (dlt
`scd2`). After updates and deletions over several simulated days - one run a day - the "as of"
query for each day returns exactly the records the simulator held that day, with their
`update_time` then, for every table in history mode; "current rows only" returns today's."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, Callable, Dict, List, Set, Tuple

import dlt
import pytest

import pipedrive.schedule
from pipedrive import HISTORY_TABLES, pipedrive_source
from pipedrive.run import load
from pipedrive.session import RunSession
from pipedrive_sim.pytest_plugin import UNTHROTTLED
from tests.helpers.ground_truth import as_utc

TABLES = ("deals", "persons", "organizations", "activities", "notes", "leads", "users", "stages")
AS_OF = "_dlt_valid_from <= %s AND (_dlt_valid_to IS NULL OR _dlt_valid_to > %s)"
CURRENT = "_dlt_valid_to IS NULL"


def _live(truth: Dict[str, List[Dict[str, Any]]], table: str) -> Set[Tuple[Any, Any]]:
    """(id, update_time) of the records a listing returns that day (deleted deals are listed for 30
    days, flagged: not current records)."""
    stamp = {"users": "modified"}.get(table, "update_time")
    return {(r["id"], as_utc(r.get(stamp)) if r.get(stamp) else None) for r in truth[table] if not r.get("is_deleted")}


def _a_day_of_work(account: Any, day: int) -> None:
    truth = account.ground_truth()
    deals = [d for d in truth["deals"] if not d.get("is_deleted") and not d.get("is_archived")]
    account.update("deals", deals[day]["id"], {"value": 100.0 * day})
    account.update("deals", deals[day + 5]["id"], {"title": f"day {day}"})
    account.delete("deals", deals[day + 10]["id"])
    account.update("persons", truth["persons"][day]["id"], {"name": f"Person of day {day}"})
    account.delete("persons", truth["persons"][day + 8]["id"])
    account.update("organizations", truth["organizations"][day]["id"], {"name": f"Org {day}"})
    account.create("activities", {"subject": f"call on day {day}"})
    account.update("notes", truth["notes"][day]["id"], {"content": f"day {day}"})
    account.update("leads", truth["leads"][day]["id"], {"title": f"lead of day {day}"})
    account.update("stages", truth["stages"][day]["id"], {"name": f"Stage {day}"})


def test_as_of_each_day_equals_what_pipedrive_held_that_day(
    make_sim: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    server = make_sim(size="tiny", burst_limit=UNTHROTTLED)
    account = server.account
    monkeypatch.setattr(pipedrive.schedule, "clock", account.clock.now)
    pipeline = dlt.pipeline("history", destination=dlt.destinations.duckdb(str(tmp_path / "h.duckdb")),
                            pipelines_dir=str(tmp_path / "p"), dataset_name="d")
    days: List[Tuple[dt.datetime, Dict[str, Set[Tuple[Any, Any]]]]] = []
    for day in range(4):
        if day:
            account.clock.advance(hours=1)
            _a_day_of_work(account, day)
            account.clock.advance(hours=23)  # the run of the next morning
        load(pipeline, api_token=server.token, base_url=server.base_url, history=True, deletion_sweep_hours=0,
             max_tokens_per_run=10_000_000)
        truth = account.ground_truth()
        days.append((account.clock.now(), {table: _live(truth, table) for table in TABLES}))
        account.clock.advance(minutes=1)
    with pipeline.sql_client() as client:
        for when, expected in days:
            for table in TABLES:
                stamp = "modified" if table == "users" else "update_time"
                rows = client.execute_sql(f"SELECT id, {stamp} FROM d.{table} WHERE {AS_OF}", when, when)
                got = {(row[0], as_utc(row[1])) for row in rows}
                assert got == expected[table], (when, table, sorted(got ^ expected[table], key=str)[:5])
        for table in TABLES:  # current rows: today's records, one version each
            rows = client.execute_sql(f"SELECT id, update_time FROM d.{table} WHERE {CURRENT}") if table != "users" else \
                client.execute_sql(f"SELECT id, modified FROM d.{table} WHERE {CURRENT}")
            assert {(row[0], as_utc(row[1])) for row in rows} == days[-1][1][table], table

    # a full refresh rebuilds the history from what Pipedrive holds now: one version per record
    account.clock.advance(minutes=1)
    load(pipeline, api_token=server.token, base_url=server.base_url, history=True, full_refresh=True,
         max_tokens_per_run=10_000_000)
    with pipeline.sql_client() as client:
        for table in TABLES:
            stamp = "modified" if table == "users" else "update_time"
            rows = client.execute_sql(f"SELECT id, {stamp}, _dlt_valid_to FROM d.{table}")
            ids = [row[0] for row in rows]
            assert len(ids) == len(set(ids)), table  # no version from before the refresh survived
            current = {(row[0], as_utc(row[1])) for row in rows if row[2] is None}
            assert current == days[-1][1][table], table  # (a deal deleted in Pipedrive: one closed version)


@pytest.mark.parametrize(("configured", "tables"), [
    (True, set(HISTORY_TABLES)), ("true", set(HISTORY_TABLES)), (None, set()), ("false", set()),
    (["deals"], {"deals"}), ('["deals", "persons"]', {"deals", "persons"}), ("deals, persons", {"deals", "persons"}),
])
def test_history_is_read_from_code_and_from_config_text(configured: Any, tables: Set[str], monkeypatch: pytest.MonkeyPatch) -> None:
    session = RunSession()
    pipedrive_source(api_token="a" * 40, base_url="http://127.0.0.1:9", history=configured, session=session)
    assert session.history == tables
    # the same through dlt's config (environment values arrive as text)
    monkeypatch.setenv("SOURCES__PIPEDRIVE__HISTORY", json.dumps(configured) if not isinstance(configured, str) else configured)
    session = RunSession()
    pipedrive_source(api_token="a" * 40, base_url="http://127.0.0.1:9", session=session)
    assert session.history == tables
