"""`kill -9` of the pipeline process at random moments of full and incremental runs: after the
re-runs the destination equals the simulator's ground truth (nothing lost, nothing doubled) and
each kill cost at most a bounded amount of re-done requests."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
from collections import Counter
from typing import Any, Callable, Dict, List

import pytest

from ._harness import PipelineRunner, SimProcess
from ._truth import assert_destination_equals_truth

CHUNKED = ("--chunk-pages", "1")
PAGE_SIZE = "10"
"""tiny account, 10-row pages, 1 page per chunk: deals, persons, activities take 3-4 chunks."""
KILL_FROM_S = 0.5
CHUNKED_LISTINGS = {
    f"/api/v2/{name}" for name in ("deals", "deals/archived", "persons", "organizations", "activities", "products")
} | {"/api/v1/notes", "/api/v1/leads"}


def mutate(sim: SimProcess) -> None:
    """An hour of CRM activity through the control API: updates, creates, a deal deletion."""
    truth = sim.ground_truth()
    deals = [d for d in truth["deals"] if not d.get("is_deleted") and not d.get("is_archived")]
    sim.control("POST", "clock/advance", {"hours": 1})
    for deal in deals[:3]:
        sim.control("POST", f"records/deals/{deal['id']}/update", {"value": 4321.0, "title": f"changed {deal['id']}"})
    sim.control("POST", "records/deals", {"title": "created after the backfill", "value": 7.0})
    sim.control("POST", f"records/deals/{deals[3]['id']}/delete")
    sim.control("POST", f"records/persons/{truth['persons'][0]['id']}/update", {"name": "Renamed"})
    sim.control("POST", "records/activities", {"subject": "new follow-up"})
    sim.control("POST", f"records/notes/{truth['notes'][0]['id']}/update", {"content": "edited"})


def _chunks(stdout: str) -> int:
    found = re.search(r"\((\d+) chunk", stdout)
    return int(found.group(1)) if found else 0


_BASELINE: Dict[str, Any] = {}


def test_chunked_backfill_without_faults_equals_ground_truth(
    start_sim: Callable[..., SimProcess], make_runner: Callable[..., PipelineRunner], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Also the baseline (requests, chunks) the kill tests compare with."""
    sim = start_sim()
    runner = make_runner(sim, name="baseline", SOURCES__PIPEDRIVE__PAGE_SIZE=PAGE_SIZE)
    result = runner.run(*CHUNKED)
    assert result.returncode == 0, result.stderr[-2000:]
    assert _chunks(result.stdout) > 2  # really chunked
    assert_destination_equals_truth(runner, monkeypatch, sim.ground_truth())
    _BASELINE.update(requests=sim.stats()["requests"], chunks=_chunks(result.stdout), seconds=result.seconds)


@pytest.fixture
def baseline(
    start_sim: Callable[..., SimProcess], make_runner: Callable[..., PipelineRunner], monkeypatch: pytest.MonkeyPatch
) -> Dict[str, Any]:
    """Requests, chunks and seconds of an uninterrupted chunked backfill of the same account (measured
    once per session)."""
    if not _BASELINE:
        test_chunked_backfill_without_faults_equals_ground_truth(start_sim, make_runner, monkeypatch)
    return _BASELINE


def repeated_listing_pages(log: List[Dict[str, Any]]) -> Dict[str, int]:
    """Pages of the chunked listings requested more than once (same path and parameters).

    Only listings count: reference tables are re-read by every run by design, and deal children
    follow the deals pages.
    """
    seen = Counter(
        (entry["path"], tuple(sorted(entry["params"].items())))
        for entry in log
        if entry["path"] in CHUNKED_LISTINGS and entry["status"] == 200
    )
    repeats: Dict[str, int] = Counter()
    for (path, _), count in seen.items():
        repeats[path] += count - 1
    return {path: count for path, count in repeats.items() if count}


def _kill_phase(runner: PipelineRunner, rng: random.Random, kills: int, run_seconds: float) -> int:
    """Kills the pipeline `kills` times at random moments, then runs it to the end.

    Returns:
        How many runs were really killed (a run may finish before its kill time).
    """
    killed = 0
    for _ in range(kills):
        if runner.run_and_kill(rng.uniform(KILL_FROM_S, max(1.0, 0.6 * run_seconds)), *CHUNKED) is None:
            killed += 1
    final = runner.run(*CHUNKED)
    assert final.returncode == 0, final.stderr[-3000:]
    assert "Traceback" not in final.stderr
    return killed


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kill_9_anywhere_then_rerun_equals_ground_truth(
    seed: int,
    baseline: Dict[str, Any],
    start_sim: Callable[..., SimProcess],
    make_runner: Callable[..., PipelineRunner],
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
) -> None:
    rng = random.Random(seed)
    sim = start_sim()
    runner = make_runner(sim, SOURCES__PIPEDRIVE__PAGE_SIZE=PAGE_SIZE)

    killed_full = _kill_phase(runner, rng, kills=1, run_seconds=baseline["seconds"])
    full_requests = sim.stats()["requests"]
    assert_destination_equals_truth(runner, monkeypatch, sim.ground_truth())
    # a re-run repeats at most the one chunk (1 page) per listing that the kill interrupted
    repeated = repeated_listing_pages(sim.control("GET", "log"))
    assert all(count <= 1 for count in repeated.values()), repeated  # 2 runs: 1 restart

    mutate(sim)
    sim.reset_log()
    killed_incremental = _kill_phase(runner, rng, kills=1, run_seconds=baseline["seconds"] / 2)
    assert_destination_equals_truth(runner, monkeypatch, sim.ground_truth())

    extra = full_requests - baseline["requests"]
    with capsys.disabled():
        print(
            f"\n[kill -9 seed {seed}] baseline {baseline['requests']} requests / {baseline['chunks']} chunks; "
            f"full phase: {killed_full} kills, {full_requests} requests (+{extra}, "
            f"{extra / max(killed_full, 1):.0f} per kill; listing pages read twice: "
            f"{sum(repeated.values())}); incremental phase: {killed_incremental} kills, "
            f"{sim.stats()['requests']} requests; runs that first loaded a package left by a kill: "
            f"{sum('resuming: loading' in text for text in runner.transcripts)}"
        )



def test_kill_9_during_a_load_leaves_a_package_the_next_run_loads_first(
    start_sim: Callable[..., SimProcess], make_runner: Callable[..., PipelineRunner], monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = start_sim()
    runner = make_runner(sim, SOURCES__PIPEDRIVE__PAGE_SIZE=PAGE_SIZE)

    def kill(process: "subprocess.Popen[str]") -> None:
        os.kill(process.pid, signal.SIGKILL)

    killed = runner.run_with_hook("|load.py|", kill, *CHUNKED)  # first log line of the load step
    assert killed.returncode == -signal.SIGKILL
    resumed = runner.run(*CHUNKED)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resuming: loading the package(s) an interrupted run left" in resumed.stderr
    assert_destination_equals_truth(runner, monkeypatch, sim.ground_truth())


def test_half_deleted_package_of_a_kill_during_normalize_is_discarded(
    start_sim: Callable[..., SimProcess], make_runner: Callable[..., PipelineRunner]
) -> None:
    """The state a random kill produced once: normalize had written the load package and was
    deleting the extracted one (schema file already gone) - `normalize()` then failed forever."""
    runner = make_runner(start_sim())
    assert runner.run("--resources", "users").returncode == 0
    leftover = runner.pipelines_dir / "pipedrive" / "normalize" / "extracted" / "1795754576.7278423"
    (leftover / "new_jobs").mkdir(parents=True)
    result = runner.run("--resources", "users")
    assert result.returncode == 0, result.error_lines
    assert "discarded a half-deleted package" in result.stderr and not leftover.exists()


def test_temp_file_of_an_atomic_write_a_kill_interrupted_is_deleted(
    start_sim: Callable[..., SimProcess], make_runner: Callable[..., PipelineRunner]
) -> None:
    """The state a random kill produced in CI: dlt had written a schema to its temporary file and
    not yet renamed it; dlt then took the file for a schema and every later run failed."""
    runner = make_runner(start_sim())
    assert runner.run("--resources", "users").returncode == 0
    schemas = runner.pipelines_dir / "pipedrive" / "schemas"
    stray = schemas / "42fbd64b2ca4b76a"
    stray.write_text((schemas / "pipedrive.schema.json").read_text()[:1000])
    result = runner.run("--resources", "users")
    assert result.returncode == 0, result.error_lines
    assert "deleted the temporary file(s) of a write a killed run left" in result.stderr
    assert not stray.exists() and (schemas / "pipedrive.schema.json").exists()
