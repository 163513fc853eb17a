"""`deal_changes` and `deal_stage_changes`: one changelog call per deal feeds both, incremental."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any, Callable

import pytest

from pipedrive_sim.pytest_plugin import UNTHROTTLED
from tests.children.conftest import (
    child_resources,
    deal_id_of,
    loaded_changes,
    requests_to,
    truth_changes,
)
from tests.helpers.loader import Loader, settled_log

RESOURCES = child_resources("deal_changes", "deal_stage_changes")
def _truth_stage_moves(account: Any) -> Counter:
    pipeline_of = {s["id"]: s["pipeline_id"] for s in account.ground_truth()["stages"]}
    return Counter(
        (
            c["deal_id"],
            int(c["old_value"]),
            int(c["new_value"]),
            pipeline_of[int(c["new_value"])],
            c["actor_user_id"],
            c["time"],
        )
        for c in account.ground_truth()["deal_changelog"]
        if c["field_key"] == "stage_id"
    )


def _loaded_stage_moves(loader: Loader) -> Counter:
    return Counter(
        loader.rows(
            "SELECT deal_id, previous_stage_id, stage_id, pipeline_id, user_id, "
            "strftime(time, '%Y-%m-%d %H:%M:%S') FROM deal_stage_changes"
        )
    )


def test_changes_and_stage_moves_from_one_changelog_call(
    make_sim: Callable[..., Any], make_loader: Callable[..., Loader]
) -> None:
    server = make_sim(size="tiny", burst_limit=UNTHROTTLED)
    account = server.account
    loader = make_loader(server)
    loader.run(*RESOURCES, max_tokens_per_run=None)

    truth = account.ground_truth()
    listed = {d["id"] for d in truth["deals"]}
    changelog = requests_to(server, "v1 /deals/{id}/changelog")
    assert Counter(deal_id_of(e) for e in changelog) == Counter(
        listed
    )  # one call per deal, no flow
    assert not requests_to(server, "v1 /deals/{id}/flow")
    assert loaded_changes(loader) == truth_changes(account.ground_truth())
    assert _loaded_stage_moves(loader) == _truth_stage_moves(account)

    # readable names: built-in from dealFields, custom fields via the custom-field mapper
    custom = next(
        f
        for f in account.field_definitions("deal")
        if f["is_custom_field"] and f["field_type"] == "varchar"
    )
    target = next(d for d in truth["deals"] if d["status"] == "open" and not d["is_archived"])
    stages = [s["id"] for s in truth["stages"] if s["pipeline_id"] == target["pipeline_id"]]
    there = next(s for s in stages if s != target["stage_id"])
    history_before = len(account.deal_changelog(target["id"]))
    account.clock.advance(minutes=1)
    # three stage moves and a custom field within the same second: A->B, B->A, A->B
    account.update("deals", target["id"], {"stage_id": there})
    account.update("deals", target["id"], {"stage_id": target["stage_id"]})
    account.update(
        "deals",
        target["id"],
        {"stage_id": there, "custom_fields": {custom["field_code"]: "new ref"}},
    )
    server.reset_log()
    loader.run(*RESOURCES, max_tokens_per_run=None)

    # only the changed deal is read again, and only its new changes are written
    assert [deal_id_of(e) for e in requests_to(server, "v1 /deals/{id}/changelog")] == [
        target["id"]
    ]
    latest = loader.rows("SELECT max(_dlt_load_id) FROM deal_changes")[0][0]
    written = loader.rows(f"SELECT count(*) FROM deal_changes WHERE _dlt_load_id = '{latest}'")[0][
        0
    ]
    assert 4 <= written < history_before + 4
    assert loaded_changes(loader) == truth_changes(account.ground_truth())
    assert _loaded_stage_moves(loader) == _truth_stage_moves(account)
    same_second = [
        m
        for m in _loaded_stage_moves(loader).elements()
        if m[0] == target["id"] and m[5] == max(x[5] for x in _loaded_stage_moves(loader))
    ]
    assert sorted((m[1], m[2]) for m in same_second) == sorted(
        [(target["stage_id"], there), (there, target["stage_id"]), (target["stage_id"], there)]
    )
    names = dict(
        loader.rows(
            f"SELECT field_key, field_name FROM deal_changes WHERE deal_id = {target['id']}"
        )
    )
    assert names[custom["field_code"]] == custom["field_name"]
    assert names["stage_id"] == next(
        f["field_name"] for f in account.field_definitions("deal") if f["field_code"] == "stage_id"
    )
    columns = dict(
        loader.rows(
            f"SELECT field_key, column_name FROM deal_changes WHERE deal_id = {target['id']}"
        )
    )
    assert columns[custom["field_code"]] in loader.columns("deals")

    # a third run with nothing changed reads nothing per deal
    server.reset_log()
    loader.run(*RESOURCES, max_tokens_per_run=None)
    assert not requests_to(server, "v1 /deals/{id}/changelog")
    assert loaded_changes(loader) == truth_changes(account.ground_truth())


def test_stage_changes_alone_skip_deals_whose_stage_did_not_move(
    make_sim: Callable[..., Any], make_loader: Callable[..., Loader], caplog: pytest.LogCaptureFixture
) -> None:
    server = make_sim(size="tiny", burst_limit=UNTHROTTLED)
    account = server.account
    loader = make_loader(server)
    stage_only = child_resources("deal_stage_changes")
    loader.run(*stage_only, max_tokens_per_run=None)
    truth = account.ground_truth()
    stamped = {d["id"] for d in truth["deals"] if d["stage_change_time"]}
    assert stamped  # the full sync reads every deal that ever had a stage stamp
    assert {deal_id_of(e) for e in requests_to(server, "v1 /deals/{id}/changelog")} == stamped
    assert _loaded_stage_moves(loader) == _truth_stage_moves(account)
    not_loaded = "SELECT count(*) FROM information_schema.tables WHERE table_name = 'deal_changes'"
    assert loader.rows(not_loaded) == [(0,)]

    # an edit that leaves the stage alone costs no changelog call; a stage move does
    open_deals = [d for d in truth["deals"] if d["status"] == "open" and not d["is_archived"]]
    edited, moved = open_deals[0], open_deals[1]
    there = next(
        s["id"] for s in truth["stages"]
        if s["pipeline_id"] == moved["pipeline_id"] and s["id"] != moved["stage_id"]
    )
    account.clock.advance(hours=2)  # past the changelog overlap of the previous run's floor
    account.update("deals", edited["id"], {"title": "renamed, same stage"})
    account.update("deals", moved["id"], {"stage_id": there})
    server.reset_log()
    loader.run(*stage_only, max_tokens_per_run=None)
    assert [deal_id_of(e) for e in requests_to(server, "v1 /deals/{id}/changelog")] == [moved["id"]]
    assert _loaded_stage_moves(loader) == _truth_stage_moves(account)

    # the same edit with deal_changes selected reads the edited deal's changelog too, and the
    # run warns that history skipped by the stage-only runs needs a full refresh
    account.clock.advance(hours=2)
    account.update("deals", edited["id"], {"title": "renamed again"})
    server.reset_log()
    dlt_logger = logging.getLogger("dlt")  # dlt's logger does not propagate to the root
    dlt_logger.addHandler(caplog.handler)
    try:
        loader.run(*RESOURCES, max_tokens_per_run=None)
    finally:
        dlt_logger.removeHandler(caplog.handler)
    assert [deal_id_of(e) for e in requests_to(server, "v1 /deals/{id}/changelog")] == [edited["id"]]
    assert "--full-refresh --resources deals,deal_changes" in caplog.text


@pytest.mark.parametrize("hard_delete", [False, True], ids=["soft", "hard"])
def test_deleted_deal_takes_its_children(
    hard_delete: bool, make_sim: Callable[..., Any], make_loader: Callable[..., Loader]
) -> None:
    server = make_sim(size="tiny", burst_limit=UNTHROTTLED)
    account = server.account
    loader = make_loader(server)
    resources = child_resources(
        "deal_changes", "deal_stage_changes", "deal_participants", "deal_followers"
    )
    loader.run(*resources, hard_delete=hard_delete, max_tokens_per_run=None)

    truth = account.ground_truth()
    followed = {f["deal_id"] for f in truth["deal_followers"]}
    participated = {p["deal_id"] for p in truth["deal_participants"]}
    moved = {c["deal_id"] for c in truth["deal_changelog"] if c["field_key"] == "stage_id"}
    victim = next(
        d["id"]
        for d in truth["deals"]
        if not d["is_deleted"]
        and not d["is_archived"]
        and d["id"] in followed & participated & moved
    )
    account.clock.advance(minutes=1)
    account.delete("deals", victim)
    server.reset_log()
    loader.run(*resources, hard_delete=hard_delete, max_tokens_per_run=None)

    per_deal = {
        e.endpoint for e in settled_log(server) if "{id}" in e.endpoint and deal_id_of(e) == victim
    }
    assert not {deal_id_of(e) for e in settled_log(server) if "{id}" in e.endpoint} - {victim}
    tables = ("deal_changes", "deal_stage_changes", "deal_participants", "deal_followers")
    flags = {
        t: {r[0] for r in loader.rows(f"SELECT is_deleted FROM {t} WHERE deal_id = {victim}")}
        for t in tables
    }
    if hard_delete:
        # snapshot children: tombstones without a request; history: one changelog call to find the keys
        assert per_deal == {"v1 /deals/{id}/changelog"}
        assert flags == {t: set() for t in tables}
    else:
        assert per_deal == {
            "v1 /deals/{id}/changelog",
            "v1 /deals/{id}/participants",
            "v2 /deals/{id}/followers",
        }
        assert flags == {t: {True} for t in tables}
