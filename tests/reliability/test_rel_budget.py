"""The daily token budget runs out in the middle of a chunked backfill: the run stops cleanly
(exit 3, one line saying when the budget resets), the chunks loaded before are kept, and the
next run - after the reset - continues from there and ends equal to the ground truth."""

from __future__ import annotations

import os
import signal
import subprocess
from typing import Callable

import pytest

from ._harness import PipelineRunner, SimProcess
from ._truth import assert_destination_equals_truth, row_count
from .test_rel_http_errors import assert_one_line_failure

CHUNKED = ("--chunk-pages", "1")
EXTRACT_WORKERS = 5  # dlt's default [extract] workers: at most this many requests in flight
CLIENT_REACTION_S = 0.25  # from the 429 leaving the simulator to the client halting its limiter


def test_budget_exhausted_mid_run_keeps_loaded_chunks_and_resumes(
    start_sim: Callable[..., SimProcess], make_runner: Callable[..., PipelineRunner], monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = start_sim()
    runner = make_runner(sim, SOURCES__PIPEDRIVE__PAGE_SIZE="10")

    def spend_the_budget(_: object) -> None:  # after the first chunk: ~3 more requests are affordable
        sim.control("POST", "budget/reset", {"total": 40})

    stopped = runner.run_with_hook("chunk 1 loaded", spend_the_budget, *CHUNKED)
    progress = [line for line in stopped.stderr.splitlines() if "chunk" in line or "error" in line]
    assert stopped.returncode == 3, (progress, sim.stats())
    line = assert_one_line_failure(stopped, "stopped early", "daily API token budget", "resets at midnight", "rerun", code=3)
    assert "429" in line
    stats = sim.stats()
    assert stats["blocked_403"] == 0
    # no hammering: listings run in parallel, so requests already in flight when the first
    # budget 429 is answered may get one too, but nothing is sent after it
    log = sim.control("GET", "log")
    spent = [e for e in log if e["outcome"] == "budget_exhausted"]
    assert 1 <= len(spent) == stats["budget_exhausted"] <= EXTRACT_WORKERS, spent
    first_answer = min(e["time"] + e["duration_ms"] / 1000 for e in spent)
    late = [e["path"] for e in log if e["time"] > first_answer + CLIENT_REACTION_S]
    assert late == [], late
    kept = row_count(runner, monkeypatch, "persons")
    assert 0 < kept < len(sim.ground_truth()["persons"])  # chunk 1 stayed loaded

    sim.control("POST", "budget/reset", {"total": 10_000_000})  # midnight came
    sim.reset_log()
    resumed = runner.run(*CHUNKED)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    first_persons = next(e for e in sim.control("GET", "log") if e["path"] == "/api/v2/persons")
    assert "updated_since" in first_persons["params"]  # continued after the loaded chunk
    assert_destination_equals_truth(runner, monkeypatch, sim.ground_truth())



def test_kill_9_during_the_load_of_a_budget_stop_loses_nothing(
    start_sim: Callable[..., SimProcess], make_runner: Callable[..., PipelineRunner], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The clean stop loads what the run read; a `kill -9` in that load is as safe as anywhere:
    the next run loads the package first and ends equal to the ground truth."""
    sim = start_sim()
    runner = make_runner(sim, SOURCES__PIPEDRIVE__PAGE_SIZE="10")
    sim.control("POST", "budget/reset", {"total": 200})  # ten v1 requests, then the daily 429

    def kill(process: "subprocess.Popen[str]") -> None:
        os.kill(process.pid, signal.SIGKILL)

    killed = runner.run_with_hook("|load.py|", kill)  # the first load: the budget stop's
    assert killed.returncode == -signal.SIGKILL
    assert sim.stats()["budget_exhausted"] >= 1  # the budget really stopped the run before its load
    sim.control("POST", "budget/reset", {"total": 10_000_000})  # midnight came
    resumed = runner.run()
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resuming: loading the package(s) an interrupted run left" in resumed.stderr
    assert_destination_equals_truth(runner, monkeypatch, sim.ground_truth())
