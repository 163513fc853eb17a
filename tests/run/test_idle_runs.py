"""The cost of doing nothing (issue 18): a run with no changes spends at most 100 tokens, and
reference tables and field definitions are read again only when they can have changed - when a
record refers to something the source has not seen, when `/v1/recents` reports a change, or when
their freshness interval is over - asserted on the simulator's request log."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Callable, List

import dlt
import pytest

import pipedrive.schedule
from pipedrive.run import load
from pipedrive_sim.pytest_plugin import UNTHROTTLED

UNCAPPED = {"max_tokens_per_run": 10_000_000}
REFERENCE = {"v1 /users", "v2 /stages", "v2 /pipelines", "v1 /currencies", "v1 /activityTypes", "v1 /filters",
             "v1 /roles", "v1 /goals/find", "v1 /callLogs", "v1 /leadLabels", "v1 /leadSources", "v2 /projects",
             "v2 /projects/archived", "v2 /tasks", "v2 /dealFields", "v2 /personFields", "v1 /noteFields"}


class Runs:
    """One pipeline over one simulator; `run()` returns the endpoints the run requested."""

    def __init__(self, server: Any, tmp_path: Path) -> None:
        self.server = server
        self.pipeline = dlt.pipeline("idle", destination=dlt.destinations.duckdb(str(tmp_path / "i.duckdb")),
                                     pipelines_dir=str(tmp_path / "p"), dataset_name="d")
        self.summary: Any = None

    def run(self, **options: Any) -> List[str]:
        seen = len(self.server.log)
        self.summary = load(self.pipeline, api_token=self.server.token, base_url=self.server.base_url,
                            **UNCAPPED, **options)
        return [entry.endpoint for entry in self.server.log[seen:]]

    def rows(self, sql: str) -> List[Any]:
        with self.pipeline.sql_client() as client:
            return [tuple(row) for row in client.execute_sql(sql)]


@pytest.fixture
def runs(make_sim: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Runs]:
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")

    def factory(size: str = "tiny") -> Runs:
        server = make_sim(size=size, burst_limit=UNTHROTTLED)
        # the schedules follow the simulator's virtual clock, so tests can let hours pass
        monkeypatch.setattr(pipedrive.schedule, "clock", server.account.clock.now)
        return Runs(server, tmp_path)

    return factory


@pytest.mark.parametrize("size", ["tiny", "small"])
def test_a_run_with_nothing_to_do_spends_at_most_100_tokens(runs: Callable[..., Runs], size: str) -> None:
    r = runs(size)
    r.run()
    for _ in range(3):
        r.server.account.clock.advance(minutes=15)
        endpoints = r.run()
        assert r.summary.tokens <= 100, (r.summary.tokens, endpoints)
        assert not REFERENCE & set(endpoints), endpoints  # nothing re-read out of habit
        assert endpoints.count("v1 /recents") == 1


def test_reference_tables_are_read_again_once_their_interval_is_over(runs: Callable[..., Runs]) -> None:
    r = runs()
    r.run()
    r.server.account.clock.advance(hours=7)  # projects and tasks: four times a day
    endpoints = set(r.run())
    assert {"v2 /projects", "v2 /projects/archived", "v2 /tasks"} <= endpoints
    assert "v1 /currencies" not in endpoints and "v2 /dealFields" not in endpoints
    r.server.account.clock.advance(hours=18)  # everything else: daily
    assert REFERENCE <= set(r.run())


def test_a_new_custom_field_used_by_a_record_reaches_the_destination_in_that_run(runs: Callable[..., Runs]) -> None:
    r = runs()
    r.run()
    account = r.server.account
    account.clock.advance(minutes=5)
    code = account.add_field("deal", "Renewal owner", "varchar")
    deal_id = account.records("deals")[0]["id"]
    account.update("deals", deal_id, {"custom_fields": {code: "Ann"}})
    endpoints = r.run()
    assert endpoints.count("v2 /dealFields") == 1  # read for the record, reused for its table
    assert r.rows(f"SELECT renewal_owner FROM d.deals WHERE id = {deal_id}") == [("Ann",)]
    assert r.rows(f"SELECT column_name FROM d.custom_fields_mapping WHERE hash_key = '{code}'") == [("renewal_owner",)]
    account.clock.advance(minutes=5)
    assert "v2 /dealFields" not in r.run()  # and not again


def test_a_new_stage_used_by_a_deal_is_read_in_the_same_run(runs: Callable[..., Runs]) -> None:
    r = runs()
    r.run()
    account = r.server.account
    account.clock.advance(minutes=5)
    pipeline_id = account.records("pipelines")[0]["id"]
    stage = account.create("stages", {"name": "Negotiation II", "pipeline_id": pipeline_id, "order_nr": 99})
    deal_id = account.records("deals")[0]["id"]
    account.update("deals", deal_id, {"stage_id": stage["id"]})
    endpoints = r.run()
    assert endpoints.count("v2 /stages") == 1
    assert r.rows(f"SELECT name FROM d.stages WHERE id = {stage['id']}") == [("Negotiation II",)]
    moved = r.rows(f"SELECT pipeline_id FROM d.deal_stage_changes WHERE deal_id = {deal_id} AND stage_id = {stage['id']}")
    assert moved == [(pipeline_id,)]


def test_a_deactivated_user_nothing_refers_to_reaches_the_destination(runs: Callable[..., Runs]) -> None:
    r = runs()
    r.run()
    account = r.server.account
    account.clock.advance(minutes=5)
    user = account.records("users")[-1]
    account.delete("users", user["id"])  # Pipedrive deactivates users
    account.clock.advance(seconds=1)  # the run starts after the change
    endpoints = r.run()
    assert endpoints.count("v1 /users") == 1  # /v1/recents reported the change
    assert r.rows(f"SELECT active_flag FROM d.users WHERE id = {user['id']}") == [(False,)]
    account.clock.advance(minutes=5)
    assert "v1 /users" not in r.run()


def test_refresh_reference_reads_everything_now(runs: Callable[..., Runs]) -> None:
    r = runs()
    r.run()
    assert REFERENCE <= set(r.run(refresh_reference=True))
