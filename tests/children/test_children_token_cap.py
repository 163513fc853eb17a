"""A backfill under a small `max_tokens_per_run`: clean stops, a persistent queue, exact result."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any, Callable


from pipedrive.deal_children.queue import QUEUED_KEY
from pipedrive_sim.pytest_plugin import UNTHROTTLED
from tests.children.conftest import (
    ALL_CHILDREN,
    batch_ids,
    child_resources,
    deal_id_of,
    loaded_changes,
    truth_changes,
)
from tests.helpers.loader import Loader, settled_log

CAP = 4000
PER_DEAL = ("v1 /deals/{id}/changelog", "v1 /deals/{id}/participants", "v2 /deals/{id}/followers")
QUEUED = ("deal_products", "deal_changes", "deal_participants", "deal_followers")


def _pending(loader: Loader) -> int:
    resources = loader.pipeline.state["sources"]["pipedrive"]["resources"]
    return sum(
        len(resources.get(name + suffix, {}).get(QUEUED_KEY) or {})
        for name in QUEUED
        for suffix in ("", "_archived")
    )


class _LogRecorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _rows(loader: Loader, sql: str) -> Counter:
    return Counter(loader.rows(sql))


def test_backfill_under_token_cap_completes_over_runs(
    make_sim: Callable[..., Any], make_loader: Callable[..., Loader]
) -> None:
    server = make_sim(size="small", burst_limit=UNTHROTTLED)
    account = server.account
    loader = make_loader(server)
    resources = child_resources(*ALL_CHILDREN)

    spent_per_run, pending_per_run = [], []
    seen = 0
    messages = _LogRecorder()
    logging.getLogger("dlt").addHandler(messages)  # dlt's logger does not propagate to caplog
    for _ in range(12):
        loader.run(*resources, max_tokens_per_run=CAP)  # never raises at the cap
        log = settled_log(server)
        spent_per_run.append(sum(e.token_cost for e in log[seen:]))
        seen = len(log)
        pending_per_run.append(_pending(loader))
        if pending_per_run[-1] == 0:
            break
    logging.getLogger("dlt").removeHandler(messages)
    print(
        f"\ntoken cap {CAP}: tokens per run {spent_per_run}, deals still queued after each run {pending_per_run}"
    )
    assert pending_per_run[-1] == 0 and len(spent_per_run) >= 3
    assert all(spent <= CAP for spent in spent_per_run)
    assert any("remain queued and the next run continues with them" in m for m in messages.messages)

    # no deal skipped, none fetched twice, across all runs
    truth = account.ground_truth()
    listed = Counter(d["id"] for d in truth["deals"])
    log = settled_log(server)
    for endpoint in PER_DEAL:
        assert Counter(deal_id_of(e) for e in log if e.endpoint == endpoint) == listed, endpoint
    batched = Counter(
        i
        for e in log
        if e.endpoint == "v2 /deals/products" and "cursor" not in e.params
        for i in batch_ids(e)
    )
    assert batched == Counter(d["id"] for d in truth["deals"] if d["products_count"])

    # the destination equals the simulator's ground truth (soft delete: rows of deleted deals flagged)
    deleted = {d["id"] for d in truth["deals"] if d["is_deleted"]}
    assert _rows(loader, "SELECT deal_id, id, quantity, is_deleted FROM deal_products") == Counter(
        (r["deal_id"], r["id"], r["quantity"], r["deal_id"] in deleted)
        for r in truth["deal_products"]
    )
    assert loaded_changes(loader) == truth_changes(truth)
    assert _rows(loader, "SELECT deal_id, id, person_id FROM deal_participants") == Counter(
        (p["deal_id"], p["id"], p["person_id"]["value"]) for p in truth["deal_participants"]
    )
    followers = _rows(loader, "SELECT deal_id, user_id, is_deleted FROM deal_followers")
    assert followers == Counter(
        (f["deal_id"], f["user_id"], f["deal_id"] in deleted) for f in truth["deal_followers"]
    )
    # compound key: a user following several deals is one row per deal
    assert max(Counter(user for _, user, _ in followers).values()) > 1
