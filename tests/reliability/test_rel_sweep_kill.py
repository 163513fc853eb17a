"""A deletion sweep killed with `kill -9` marks nothing wrongly and completes on the next run
(issue 14): the run is killed once the simulator has served sweep requests, rows of records still
in Pipedrive stay live, and the next run's sweep flags exactly what Pipedrive deleted, leaving
the live rows equal to what the API lists."""

from __future__ import annotations

import os
import signal
import time
from typing import Any, Callable, Dict, List

import pytest

from ._harness import PipelineRunner, SimProcess
from ._truth import attach, fetch

KINDS = ("persons", "organizations", "activities", "notes")
SWEEP_PATHS = {"/api/v2/persons", "/api/v2/organizations", "/api/v2/activities", "/api/v1/notes"}


def _sweep_requests(sim: SimProcess) -> List[Dict[str, Any]]:
    """Requests that read a listing from its start without a cursor: the sweeps' (the incremental
    listings of a later run always send `updated_since`, v1 notes `start` past 0 or a cursor)."""
    return [e for e in sim.control("GET", "log") if e["path"] in SWEEP_PATHS
            and "updated_since" not in (e.get("params") or {}) and "start_date" not in (e.get("params") or {})]


def _flagged(runner: PipelineRunner, monkeypatch: pytest.MonkeyPatch, table: str) -> List[Any]:
    with attach(runner, monkeypatch).sql_client() as client:
        name = client.make_qualified_table_name(table)
        return [row[0] for row in client.execute_sql(f"SELECT id FROM {name} WHERE is_deleted")]


def test_kill_9_during_a_sweep_marks_nothing_wrongly_and_the_next_sweep_completes(
    start_sim: Callable[..., SimProcess], make_runner: Callable[..., PipelineRunner], monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = start_sim()
    runner = make_runner(sim, SOURCES__PIPEDRIVE__PAGE_SIZE="10", SOURCES__PIPEDRIVE__DELETION_SWEEP_HOURS="0")
    first = runner.run()
    assert first.returncode == 0, first.stderr[-2000:]
    truth = sim.ground_truth()
    gone = {kind: truth[kind][1]["id"] for kind in KINDS}
    for kind, key in gone.items():
        sim.control("POST", f"records/{kind}/{key}/delete")
    sim.add_fault("slow", path="/api/v2/activities", delay_ms=200)  # the sweeps take a while
    sim.reset_log()

    process = runner.start()
    deadline = time.monotonic() + 60
    while not _sweep_requests(sim) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before its sweeps started"
    os.kill(process.pid, signal.SIGKILL)
    runner.finish(process)
    assert _sweep_requests(sim), "killed before any sweep request"
    for kind in KINDS:  # a cut sweep marks nothing: at most what Pipedrive really deleted
        assert set(_flagged(runner, monkeypatch, kind)) <= {gone[kind]}, kind

    sim.clear_faults()
    again = runner.run()
    assert again.returncode == 0, again.stderr[-2000:]
    after = sim.ground_truth()
    for kind in KINDS:
        assert _flagged(runner, monkeypatch, kind) == [gone[kind]], kind
        live = {row["id"] for row in fetch(attach(runner, monkeypatch), kind, ["id", "is_deleted"]) if not row["is_deleted"]}
        assert live == {record["id"] for record in after[kind]}, kind  # every live row, nothing else
