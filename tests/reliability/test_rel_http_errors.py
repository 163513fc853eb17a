"""Every Pipedrive failure kind, injected by the simulator into a pipeline process: transient
ones are retried and the load completes exactly; persistent ones end the process with one line
naming the endpoint and what to do (no stack trace); 415 and child 404s skip and go on."""

from __future__ import annotations

import re
import time
from typing import Any, Callable, Dict, List, Tuple

import pytest

from ._harness import PipelineRunner, RunResult, SimProcess
from ._truth import CHILD_KEYS, assert_destination_equals_truth, attach, row_count
from tests.helpers.ground_truth import fetch

PERSONS = "/api/v2/persons"
FEW = ("--resources", "users,persons")


def assert_one_line_failure(result: RunResult, *needles: str, code: int = 1) -> str:
    """The process failed with `code`, printed exactly one `error:` line holding every needle,
    and no stack trace."""
    assert result.returncode == code, (result.returncode, result.stderr[-2000:])
    assert len(result.error_lines) == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr + result.stdout
    line = result.error_lines[0]
    for needle in needles:
        assert needle in line, (needle, line)
    return line


# kind, fault options, words the one-line message must contain
PERSISTENT: List[Tuple[str, Dict[str, Any], Tuple[str, ...]]] = [
    ("error", {"status": 401}, ("401", PERSONS, "SOURCES__PIPEDRIVE__API_TOKEN")),
    ("error", {"status": 402}, ("402", PERSONS, "not active")),
    ("error", {"status": 403}, ("403", PERSONS, "permission", "--resources")),
    ("error", {"status": 404}, ("404", PERSONS, "base_url")),
    ("error", {"status": 410}, ("410", PERSONS, "permanently removed")),
    ("error", {"status": 400}, ("400", PERSONS, "sent: ", "limit=500", "sort_by=update_time")),
    ("error", {"status": 500}, ("500", PERSONS, "after retries")),
    ("maintenance", {}, ("503", PERSONS, "maintenance")),
    ("html_error", {"status": 502}, ("502", PERSONS, "after retries")),
    ("reset", {}, ("unreachable", PERSONS, "connection")),
    ("timeout", {"delay_ms": 1500}, ("unreachable", PERSONS, "timed out")),
    ("truncated", {}, (PERSONS, "not valid JSON", "incomplete response")),
    ("null_data", {}, (PERSONS, "data is null", "incomplete response")),
]


@pytest.mark.parametrize("kind, options, needles", PERSISTENT, ids=[f"{k}-{o.get('status', '')}" for k, o, _ in PERSISTENT])
def test_persistent_failure_is_one_actionable_line(
    kind: str, options: Dict[str, Any], needles: Tuple[str, ...],
    start_sim: Callable[..., SimProcess], make_runner: Callable[..., PipelineRunner],
) -> None:
    sim = start_sim()
    sim.add_fault(kind, path=PERSONS, **options)
    runner = make_runner(sim, RUNTIME__REQUEST_TIMEOUT="0.5")
    assert_one_line_failure(runner.run(*FEW), *needles)
    retried = kind not in ("error",) or options["status"] >= 500
    time.sleep(options.get("delay_ms", 0) / 1000)  # the simulator logs a request once answered
    served = [e for e in sim.control("GET", "log") if e["path"] == PERSONS]
    assert len(served) == (4 if retried else 1), served  # RUNTIME__REQUEST_MAX_ATTEMPTS=4


def test_verbose_adds_the_stack_trace(start_sim: Callable[..., SimProcess], make_runner: Callable[..., PipelineRunner]) -> None:
    sim = start_sim()
    sim.add_fault("error", path=PERSONS, status=402)
    result = make_runner(sim).run(*FEW, "--verbose")
    assert result.returncode == 1 and "Traceback" in result.stderr and len(result.error_lines) == 1


TRANSIENT: List[Tuple[str, str, Dict[str, Any]]] = [
    ("error", "/api/v2/deals$", {"status": 500}),
    ("maintenance", PERSONS, {}),
    ("html_error", "/api/v2/organizations", {"status": 504}),
    ("reset", "/api/v2/activities", {}),
    ("timeout", "/api/v1/notes", {"delay_ms": 3000}),
    ("truncated", "/api/v2/products", {}),
    ("null_data", "/api/v2/stages", {}),
    ("error", r"/api/v1/deals/\d+/changelog", {"status": 503}),
    ("reset", "/api/v2/deals/products", {}),
]


def test_transient_faults_of_every_kind_are_retried_and_the_load_is_exact(
    start_sim: Callable[..., SimProcess], make_runner: Callable[..., PipelineRunner], monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = start_sim()
    for kind, path, options in TRANSIENT:
        sim.add_fault(kind, path=path, count=2, **options)
    runner = make_runner(sim, SOURCES__PIPEDRIVE__PAGE_SIZE="10")
    result = runner.run("--chunk-pages", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    assert [rule["fired"] for rule in sim.control("GET", "faults")] == [2] * len(TRANSIENT)
    assert_destination_equals_truth(runner, monkeypatch, sim.ground_truth())


@pytest.mark.parametrize(
    ("table", "path", "listings", "next_run"),
    # goals is a reference table, read again when due (daily); products is read every run
    [("goals", "/api/v1/goals/find", 2, 0), ("products", "/api/v2/products", 1, 1)],
)
def test_415_skips_the_table_with_a_warning(
    table: str, path: str, listings: int, next_run: int, start_sim: Callable[..., SimProcess], make_runner: Callable[..., PipelineRunner],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim = start_sim()
    sim.add_fault("error", path=path, status=415)
    runner = make_runner(sim, SOURCES__PIPEDRIVE__PAGE_SIZE="10")
    # small chunks: a skipped listing must not count as one with more pages (chunks forever)
    result = runner.run("--resources", f"{table},users,deals", "--chunk-pages", "1")
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"{table} skipped (feature not on the plan)" in result.stderr
    # each listing of the table (goals: active and inactive) asks once, not once per chunk
    assert [rule["fired"] for rule in sim.control("GET", "faults")] == [listings]
    assert row_count(runner, monkeypatch, table) == 0
    # selecting the deals table runs both of its listings (live and archived)
    assert row_count(runner, monkeypatch, "deals") == len(sim.ground_truth()["deals"])
    # the next run: an incremental listing asks again (the plan may have changed), its deletion
    # sweep does not (an uncaught 415 there failed the run, and would ask again every run)
    again = runner.run("--resources", f"{table},users,deals", "--chunk-pages", "1")
    assert again.returncode == 0, again.stderr[-2000:]
    assert [rule["fired"] for rule in sim.control("GET", "faults")] == [listings + next_run]


@pytest.mark.parametrize("status", [404, 410])
def test_child_404_or_410_skips_that_deal_only(
    status: int, start_sim: Callable[..., SimProcess], make_runner: Callable[..., PipelineRunner],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim = start_sim()
    truth = sim.ground_truth()
    # a deal with participants (live and archived deals are listed in parallel: pick by id)
    skipped = min(r["deal_id"] for r in truth["deal_participants"])
    sim.add_fault("error", path=rf"/api/v1/deals/{skipped}/participants", status=status, count=1)
    runner = make_runner(sim)
    result = runner.run("--resources", "deals,deal_participants")
    assert result.returncode == 0, result.stderr[-2000:]
    missing = [e["path"] for e in sim.control("GET", "log") if e["status"] == status]
    assert missing == [f"/api/v1/deals/{skipped}/participants"]
    warning = next(line for line in result.stderr.splitlines() if f"deal {skipped} skipped" in line)
    assert re.search(rf"deal_participants(_archived)?: deal {skipped} skipped: Pipedrive API {status}", warning)
    listed = {d["id"] for d in truth["deals"]} - {skipped}  # the table's live and archived deals
    expected = {(r["deal_id"], r["id"]) for r in truth["deal_participants"] if r["deal_id"] in listed}
    loaded = {(r["deal_id"], r["id"]) for r in fetch(attach(runner, monkeypatch), "deal_participants", list(CHILD_KEYS["deal_participants"]))}
    assert loaded == expected
