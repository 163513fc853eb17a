"""Smoke test of the benchmark harness: every benchmark's core function on the `tiny` account.

Benchmarks report numbers and do not pass or fail; this test only checks that each one still
runs end to end and produces sane, self-consistent numbers, so the harness cannot rot.
"""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from bench import efficiency, harness, minimum, rate_limit, scaling, singer_tap, throughput
from pipedrive_sim import Account


@pytest.fixture
def tiny() -> Any:
    return Account.generate(size="tiny", seed=1)


def test_minimum_counts_every_listing_once(tiny: Any) -> None:
    full = minimum.minimum(tiny, ["deals", "persons", "files", "call_logs", "goals"])
    assert full.by_endpoint["v2 /deals"]["requests"] == 1
    assert full.by_endpoint["v1 /goals/find"]["requests"] == 2  # active + inactive
    assert full.by_endpoint["v1 /callLogs"]["tokens"] == 20
    assert full.tokens == sum(e["tokens"] for e in full.by_endpoint.values())


def test_minimum_stage_changes_alone_skip_deals_that_did_not_move(tiny: Any) -> None:
    changelog = "v1 /deals/{id}/changelog"
    stage_only = minimum.minimum(tiny, ["deals", "deal_stage_changes"])
    moved = sum(1 for d in tiny.records("deals") if d.get("stage_change_time"))
    assert stage_only.by_endpoint[changelog]["requests"] == moved
    cursors = minimum.cursors_after_sync(tiny)
    harness.mutate_fraction(tiny, 0.1)  # title edits: deals change, no stage moves
    after_edit = minimum.minimum(tiny, ["deals", "deal_stage_changes"], cursors)
    assert changelog not in after_edit.by_endpoint
    with_changes = minimum.minimum(tiny, ["deals", "deal_changes", "deal_stage_changes"], cursors)
    assert with_changes.by_endpoint[changelog]["requests"] >= 1


def test_minimum_incremental_asks_recents_and_skips_what_is_not_due(tiny: Any) -> None:
    tables = ["deals", "persons", "organizations", "notes", "users", "call_logs", "deal_fields"]
    cursors = minimum.cursors_after_sync(tiny)
    tiny.clock.advance(minutes=60)
    deal = next(d for d in tiny.records("deals") if not d.get("is_deleted"))
    tiny.update("deals", deal["id"], {"title": "edited"})
    run = minimum.minimum(tiny, tables, cursors)
    assert run.by_endpoint["v1 /recents"]["requests"] == 1
    assert run.by_endpoint["v2 /deals"]["requests"] == 1
    # no change in these listings; reference tables and field sets not due
    for endpoint in ("v2 /persons", "v2 /organizations", "v1 /notes", "v1 /users", "v1 /callLogs", "v2 /dealFields"):
        assert endpoint not in run.by_endpoint, endpoint
    due = minimum.minimum(tiny, tables, cursors, refresh_due=True)
    assert due.by_endpoint["v1 /users"]["requests"] == 1 and due.by_endpoint["v2 /dealFields"]["requests"] == 1


def test_efficiency_core(tiny: Any) -> None:
    result = efficiency.run(account=tiny, fraction=0.01)
    full, incremental = result["syncs"]
    assert full["requests"] > 0 and full["rows"] > 0 and full["load_ok"]
    assert full["min_requests"] > 0 and full["requests_ratio"] is not None
    assert incremental["requests"] < full["requests"]
    assert incremental["changed"]["deals"] >= 1


def test_rate_limit_core(tiny: Any) -> None:
    result = rate_limit.run(account=tiny, latency_ms=10, fractions=())
    (full,) = result["syncs"]
    assert full["requests"] > 0 and full["bound_ratio"] > 0
    assert full["blocked_403"] == 0


def test_scaling_core(tiny: Any) -> None:
    result = scaling.run(sizes=["tiny"], fractions=[0.1], extract_only=["tiny"], accounts={"tiny": tiny})
    assert [r["sync"] for r in result["runs"]] == ["full", "incremental 10.0%"]
    assert all(r["tokens"] > 0 for r in result["runs"])


def test_throughput_core() -> None:
    result = throughput.run(size="tiny")
    assert result["ours"]["rows"] > 0 and result["floor"]["rows"] > 0
    # the floor replays exactly the requests ours sent
    assert result["floor"]["requests"] == result["ours"]["requests"]
    assert result["ours"]["peak_rss_mb"] > 0 and result["ratio_to_floor"] > 0
    # the per-deal children stay out (request-bound; after the redesign moved them out of
    # ENTITIES, an empty list let a large run send 285,000 per-deal requests)
    assert "deal_changes" in result["excluded_resources"] and "deal_followers_archived" in result["excluded_resources"]
    assert "deal_products" not in result["excluded_resources"]


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git for machine facts")
def test_singer_tap_core(tiny: Any) -> None:
    try:
        singer_tap.ensure_tap_venv()
    except Exception as exc:  # noqa: BLE001 - no package index: nothing to compare against
        pytest.skip(f"cannot install {singer_tap.TAP_PACKAGE}: {exc}")
    result = singer_tap.run(sizes=["tiny"], latency_ms=0, tap_timeout_s=300, accounts={"tiny": tiny},
                            incremental_sizes=["tiny"], fraction=0.01)
    (comparison,) = result["comparisons"]
    assert comparison["tap"]["requests"] > 0 and comparison["tap_measured"]["records"] > 0
    assert comparison["ours"]["tokens"] > 0 and comparison["token_factor"] > 0
    best = comparison["best_possible"]
    assert 0 < best["min_tokens"] and best["token_factor"] > 0 and best["upper_bound_factor"] >= best["token_factor"]
    # incremental: the tap resumed from the state its full run emitted, ours from its dlt state
    incremental = comparison["incremental"]
    assert "skipped" not in incremental, incremental
    assert 0 < incremental["tap"]["requests"] < comparison["tap"]["requests"]
    assert 0 < incremental["ours"]["requests"] < comparison["ours"]["requests"]
    assert incremental["token_factor"] > 0 and incremental["best_possible"]["min_tokens"] > 0
    short = [r for r in incremental["rows_check"] if r["missing"]]
    assert not short, short  # both emitted at least the records the mutation changed
