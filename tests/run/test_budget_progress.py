"""Progress under any daily budget (issue 17): a run the budget stops keeps what it read, and
repeated runs - one per "day", the budget reset between them - finish the backfill of the `small`
account, leave every table equal to the simulator, and spend at most 1.5x the tokens of one
unconstrained load. With the token cap on (`max_tokens_per_run` = the day's budget) and off."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

import dlt
import pytest

from pipedrive.run import load
from pipedrive_sim import Account
from pipedrive_sim.pytest_plugin import UNTHROTTLED
from tests.helpers.ground_truth import assert_pipeline_equals_truth

MAX_DAYS = 40
UNCAPPED = {"max_tokens_per_run": 10_000_000}


def _pipeline(tmp_path: Path, name: str) -> Any:
    return dlt.pipeline(name, destination=dlt.destinations.duckdb(str(tmp_path / f"{name}.duckdb")),
                        pipelines_dir=str(tmp_path / "pipelines"), dataset_name="d")


@pytest.fixture(scope="module")
def unconstrained_tokens(tmp_path_factory: pytest.TempPathFactory) -> int:
    """Tokens of one unconstrained load of the same account (the 1.5x reference)."""
    from pipedrive_sim import SimServer

    with SimServer(Account.generate("small", seed=1), token="sim-token", burst_limit=UNTHROTTLED) as server:
        summary = load(_pipeline(tmp_path_factory.mktemp("ref"), "ref"), api_token=server.token,
                       base_url=server.base_url, **UNCAPPED)
    assert summary.stopped_early is None and not summary.queued_deals
    return summary.tokens


@pytest.mark.parametrize("capped", [False, True], ids=["cap-off", "cap-on"])
@pytest.mark.parametrize("budget", [2_000, 4_000, 8_000])
def test_repeated_runs_under_a_daily_budget_finish_the_backfill(
    budget: int, capped: bool, make_sim: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    unconstrained_tokens: int,
) -> None:
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    server = make_sim(size="small", burst_limit=UNTHROTTLED, daily_budget=budget)
    pipeline = _pipeline(tmp_path, "budget")
    cap: Optional[int] = budget if capped else None
    spent, stops = [], 0
    for day in range(MAX_DAYS):
        server.budget.reset()  # midnight
        server.abuse.reset()  # a day later Cloudflare has long forgotten the last run's 429s
        before = server.stats()["tokens_spent"]
        summary = load(pipeline, api_token=server.token, base_url=server.base_url,
                       **({"max_tokens_per_run": cap} if cap else {}))
        spent.append(server.stats()["tokens_spent"] - before)
        stops += summary.stopped_early is not None
        if summary.stopped_early is None and not summary.queued_deals and not summary.unfinished:
            break
    else:
        pytest.fail(f"not finished after {MAX_DAYS} days: tokens per day {spent}")
    print(f"\nbudget {budget}, cap {'on' if capped else 'off'}: {len(spent)} runs, tokens per run {spent}, "
          f"total {sum(spent)} = {sum(spent) / unconstrained_tokens:.2f} x one unconstrained load ({unconstrained_tokens})")
    assert len(spent) >= 2 and (capped or stops >= 1)  # the budget (or the cap) really stopped runs
    assert all(day <= budget + 40 for day in spent)  # the API may let one request overspend
    assert sum(spent) <= 1.5 * unconstrained_tokens
    assert_pipeline_equals_truth(pipeline, server.account.ground_truth())


def test_a_budget_of_a_few_requests_a_day_still_finishes(
    make_sim: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """200 tokens a day (ten v1 requests): the budget runs out among the reference tables and
    field definitions of the first chunk, before any listing page; each run still keeps what it
    read (a field table once failed the whole extract there, so nothing was ever kept) and the
    backfill of `tiny` finishes. The fixed part of every run (recents, archived deals, leads:
    about 100 tokens) makes it cost more than one unconstrained load, so the bound is looser."""
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    reference = make_sim(size="tiny", burst_limit=UNTHROTTLED)
    unconstrained = load(_pipeline(tmp_path, "ref"), api_token=reference.token, base_url=reference.base_url,
                         **UNCAPPED).tokens
    server = make_sim(size="tiny", burst_limit=UNTHROTTLED, daily_budget=200)
    pipeline = _pipeline(tmp_path, "few")
    spent = []
    for _ in range(MAX_DAYS):
        server.budget.reset()
        server.abuse.reset()
        before = server.stats()["tokens_spent"]
        summary = load(pipeline, api_token=server.token, base_url=server.base_url)
        spent.append(server.stats()["tokens_spent"] - before)
        if summary.stopped_early is None and not summary.queued_deals and not summary.unfinished:
            break
    else:
        pytest.fail(f"not finished after {MAX_DAYS} days: tokens per day {spent}")
    print(f"\nbudget 200: {len(spent)} runs, total {sum(spent)} = {sum(spent) / unconstrained:.2f} x {unconstrained}")
    assert len(spent) >= 5
    assert sum(spent) <= 2.5 * unconstrained
    assert_pipeline_equals_truth(pipeline, server.account.ground_truth())
