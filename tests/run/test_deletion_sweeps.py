"""Deletions reach every table (issue 14): records of every kind deleted in Pipedrive - which the
API's listings simply stop returning - are flagged `is_deleted` (soft) or removed (hard) by the
next deletion sweep, deal children included; restored records come back live; runs between
sweeps send no sweep request; a sweep cut short by the token cap marks nothing and completes on
the next run. Compared with the simulator's ground truth and with a fresh load."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest

import pipedrive.schedule
from pipedrive_sim.pytest_plugin import UNTHROTTLED
from tests.helpers.compare_loads import Allowed, compare_loads
from tests.helpers.loader import SimRuns

KINDS = ("persons", "organizations", "activities", "products", "notes", "files", "leads")


def _delete_one_of_each(account: Any) -> Dict[str, Any]:
    """Deletes one record of every kind (and a deal), restores a deleted deal and lead."""
    truth = account.ground_truth()
    gone = {kind: truth[kind][1]["id"] for kind in KINDS}
    for kind, key in gone.items():
        account.delete(kind, key)
    deal = next(d for d in truth["deals"] if not d.get("is_deleted") and not d.get("is_archived"))
    account.delete("deals", deal["id"])
    account.delete("leads", truth["leads"][2]["id"])
    account.restore("leads", truth["leads"][2]["id"])
    return gone


class Runs(SimRuns):
    def flags(self, table: str, key: Any) -> List[Any]:
        return self.rows(f"SELECT is_deleted, deletion_found_time IS NOT NULL FROM d.{table} WHERE id = %s", key)


@pytest.fixture
def runs(make_sim: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Runs]:
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    server = make_sim(size="tiny", burst_limit=UNTHROTTLED)
    monkeypatch.setattr(pipedrive.schedule, "clock", server.account.clock.now)
    return lambda name="sweep": Runs(server, tmp_path, name)


FILTERED = {"v2 /persons", "v2 /organizations", "v2 /activities", "v2 /products", "v2 /deals", "v2 /deals/archived",
            "v1 /notes", "v1 /leads"}


def _full_listings(log: List[Any]) -> List[str]:
    """Requests of filterable listings without `updated_since`: the sweeps' full reads."""
    return [e.endpoint for e in log if e.endpoint in FILTERED and "updated_since" not in e.params]


@pytest.mark.parametrize("hard_delete", [False, True], ids=["soft", "hard"])
def test_a_sweep_flags_or_removes_what_pipedrive_deleted(runs: Callable[..., Runs], hard_delete: bool) -> None:
    r = runs()
    r.run(hard_delete=hard_delete)
    account = r.server.account
    account.clock.advance(hours=1)
    gone = _delete_one_of_each(account)
    account.clock.advance(hours=1)
    log = r.run(hard_delete=hard_delete)
    assert not _full_listings(log)  # not due yet: the deletions wait for the daily sweep
    account.clock.advance(hours=24)
    r.run(hard_delete=hard_delete)
    for kind, key in gone.items():
        assert r.flags(kind, key) == ([] if hard_delete else [(True, True)]), kind
    fresh = runs("fresh")
    fresh.run(hard_delete=hard_delete)
    problems = compare_loads(r.pipeline, fresh.pipeline, Allowed(extra_deleted_rows=not hard_delete))
    assert not problems, "\n".join(problems)


def test_a_deal_purged_unseen_is_swept_with_its_children(runs: Callable[..., Runs]) -> None:
    r = runs()
    r.run()
    account = r.server.account
    deal = next(d for d in account.records("deals") if not d.get("is_deleted") and d.get("products_count"))
    account.clock.advance(hours=1)
    account.delete("deals", deal["id"])
    account.clock.advance(days=31)  # Pipedrive purged it before any run saw it deleted
    r.run(deletion_sweep_hours=0)
    assert r.flags("deals", deal["id"]) == [(True, True)]
    with r.pipeline.sql_client() as client:
        rows = client.execute_sql(f"SELECT DISTINCT is_deleted FROM d.deal_products WHERE deal_id = {deal['id']}")
    assert rows == [(True,)]


def test_a_sweep_stopped_by_the_token_cap_marks_nothing_and_completes_next_run(runs: Callable[..., Runs]) -> None:
    r = runs()
    r.run()
    account = r.server.account
    account.clock.advance(hours=1)
    gone = _delete_one_of_each(account)
    account.clock.advance(hours=1)
    r.run(deletion_sweep_hours=0, max_tokens_per_run=150)  # enough for the listings, not every sweep
    assert r.summary.stopped_early
    unswept = [kind for kind, key in gone.items() if r.flags(kind, key) != [(True, True)]]
    assert unswept  # the cap stopped some sweeps: they marked nothing
    live = {kind: {rec["id"] for rec in account.ground_truth()[kind]} for kind in KINDS}
    with r.pipeline.sql_client() as client:
        for kind in KINDS:  # and no live record was taken for deleted
            flagged = {row[0] for row in client.execute_sql(f"SELECT id FROM d.{kind} WHERE is_deleted")}
            assert not flagged & live[kind], kind
    r.run(deletion_sweep_hours=0)
    assert all(r.flags(kind, key) == [(True, True)] for kind, key in gone.items())
