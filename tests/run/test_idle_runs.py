"""The cost of doing nothing (issue 18): a run with no changes spends at most 100 tokens, and
reference tables and field definitions are read again only when they can have changed - when a
record refers to something the source has not seen, when `/v1/recents` reports a change, or when
their freshness interval is over - asserted on the simulator's request log."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest

import pipedrive.schedule
from pipedrive_sim.pytest_plugin import UNTHROTTLED
from tests.helpers.loader import SimRuns

REFERENCE = {"v1 /users", "v2 /stages", "v2 /pipelines", "v1 /currencies", "v1 /activityTypes", "v1 /filters",
             "v1 /roles", "v1 /goals/find", "v1 /callLogs", "v1 /leadLabels", "v1 /leadSources", "v2 /projects",
             "v2 /projects/archived", "v2 /tasks", "v2 /dealFields", "v2 /personFields", "v1 /noteFields"}


@pytest.fixture
def runs(make_sim: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., SimRuns]:
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")

    def factory(size: str = "tiny") -> SimRuns:
        server = make_sim(size=size, burst_limit=UNTHROTTLED)
        # the schedules follow the simulator's virtual clock, so tests can let hours pass
        monkeypatch.setattr(pipedrive.schedule, "clock", server.account.clock.now)
        return SimRuns(server, tmp_path, "idle")

    return factory


@pytest.mark.parametrize("size", ["tiny", "small"])
def test_a_run_with_nothing_to_do_spends_at_most_100_tokens(runs: Callable[..., SimRuns], size: str) -> None:
    r = runs(size)
    r.endpoints()
    for _ in range(3):
        r.server.account.clock.advance(minutes=15)
        endpoints = r.endpoints()
        assert r.summary.tokens <= 100, (r.summary.tokens, endpoints)
        assert not REFERENCE & set(endpoints), endpoints  # nothing re-read out of habit
        assert endpoints.count("v1 /recents") == 1


def test_reference_tables_are_read_again_once_their_interval_is_over(runs: Callable[..., SimRuns]) -> None:
    r = runs()
    r.endpoints()
    r.server.account.clock.advance(hours=7)  # projects and tasks: four times a day
    endpoints = set(r.endpoints())
    assert {"v2 /projects", "v2 /projects/archived", "v2 /tasks"} <= endpoints
    assert "v1 /currencies" not in endpoints and "v2 /dealFields" not in endpoints
    r.server.account.clock.advance(hours=18)  # everything else: daily
    assert REFERENCE <= set(r.endpoints())


def test_a_new_custom_field_used_by_a_record_reaches_the_destination_in_that_run(runs: Callable[..., SimRuns]) -> None:
    r = runs()
    r.endpoints()
    account = r.server.account
    account.clock.advance(minutes=5)
    code = account.add_field("deal", "Renewal owner", "varchar")
    deal_id = account.records("deals")[0]["id"]
    account.update("deals", deal_id, {"custom_fields": {code: "Ann"}})
    endpoints = r.endpoints()
    assert endpoints.count("v2 /dealFields") == 1  # read for the record, reused for its table
    assert r.rows(f"SELECT renewal_owner FROM d.deals WHERE id = {deal_id}") == [("Ann",)]
    assert r.rows(f"SELECT column_name FROM d.custom_fields_mapping WHERE hash_key = '{code}'") == [("renewal_owner",)]
    account.clock.advance(minutes=5)
    assert "v2 /dealFields" not in r.endpoints()  # and not again


def test_a_new_stage_used_by_a_deal_is_read_in_the_same_run(runs: Callable[..., SimRuns]) -> None:
    r = runs()
    r.endpoints()
    account = r.server.account
    account.clock.advance(minutes=5)
    pipeline_id = account.records("pipelines")[0]["id"]
    stage = account.create("stages", {"name": "Negotiation II", "pipeline_id": pipeline_id, "order_nr": 99})
    deal_id = account.records("deals")[0]["id"]
    account.update("deals", deal_id, {"stage_id": stage["id"]})
    endpoints = r.endpoints()
    assert endpoints.count("v2 /stages") == 1
    assert r.rows(f"SELECT name FROM d.stages WHERE id = {stage['id']}") == [("Negotiation II",)]
    moved = r.rows(f"SELECT pipeline_id FROM d.deal_stage_changes WHERE deal_id = {deal_id} AND stage_id = {stage['id']}")
    assert moved == [(pipeline_id,)]


def test_a_deactivated_user_nothing_refers_to_reaches_the_destination(runs: Callable[..., SimRuns]) -> None:
    r = runs()
    r.endpoints()
    account = r.server.account
    account.clock.advance(minutes=5)
    user = account.records("users")[-1]
    account.delete("users", user["id"])  # Pipedrive deactivates users
    account.clock.advance(seconds=1)  # the run starts after the change
    endpoints = r.endpoints()
    assert endpoints.count("v1 /users") == 1  # /v1/recents reported the change
    assert r.rows(f"SELECT active_flag FROM d.users WHERE id = {user['id']}") == [(False,)]
    account.clock.advance(minutes=5)
    assert "v1 /users" not in r.endpoints()


def test_refresh_reference_reads_everything_now(runs: Callable[..., SimRuns]) -> None:
    r = runs()
    r.endpoints()
    assert REFERENCE <= set(r.endpoints(refresh_reference=True))
