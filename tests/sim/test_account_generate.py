"""Generation of simulated accounts: determinism, sizes and the edge cases tiny must contain."""

from __future__ import annotations

import re
import time
import unicodedata
from collections import Counter
from datetime import timedelta
from typing import Any

import orjson
import pytest

from pipedrive_sim import Account
from pipedrive_sim.data.sizes import SIZES

CORE = ("deals", "persons", "organizations", "activities", "products", "deal_products")


@pytest.fixture(scope="module")
def tiny() -> Account:
    return Account.generate("tiny", seed=1)


@pytest.fixture(scope="module")
def small() -> Account:
    return Account.generate("small", seed=1)


def test_same_seed_same_data() -> None:
    a = orjson.dumps(Account.generate("tiny", seed=7).ground_truth())
    b = orjson.dumps(Account.generate("tiny", seed=7).ground_truth())
    assert a == b


def test_different_seed_different_data() -> None:
    a = Account.generate("tiny", seed=1).records("deals")
    b = Account.generate("tiny", seed=2).records("deals")
    assert orjson.dumps(a) != orjson.dumps(b)


def test_empty_has_only_minimal_config() -> None:
    truth = Account.generate("empty").ground_truth()
    for entity in CORE + ("notes", "files", "leads", "call_logs", "projects", "tasks", "deal_flow"):
        assert truth[entity] == [], entity
    assert len(truth["users"]) == 1
    assert len(truth["pipelines"]) == 1
    assert {s["pipeline_id"] for s in truth["stages"]} == {1} and len(truth["stages"]) >= 2
    assert {c["code"] for c in truth["currencies"]} >= {"EUR", "USD"}
    custom = [f for f in Account.generate("empty").fields("deal", "v2") if f["is_custom_field"]]
    assert custom


@pytest.mark.parametrize("size", ["tiny", "small"])
def test_counts_follow_size_table(size: str) -> None:
    account = Account.generate(size)
    want = SIZES[size]
    for entity in ("persons", "organizations", "activities", "products", "notes", "files", "leads"):
        assert len(account.records(entity)) == want[entity], entity
    deals = account.records("deals")
    purged = len(account.edge_cases["deals:deleted_purged"])
    assert len(deals) + purged == max(want["deals"], 15)
    assert len(account.records("deal_products")) >= want["deal_products"] * 0.6


def test_small_is_about_a_thirtieth_of_medium() -> None:
    for entity in ("deals", "persons", "organizations", "activities", "products", "deal_products"):
        ratio = SIZES["medium"][entity] / SIZES["small"][entity]
        assert 25 <= ratio <= 35, entity
        assert SIZES["large"][entity] == 10 * SIZES["medium"][entity]


def test_records_sorted_by_id(small: Account) -> None:
    for entity in CORE + ("notes", "files", "pipelines", "stages"):
        ids = [r["id"] for r in small.records(entity)]
        assert ids == sorted(ids) and len(ids) == len(set(ids)), entity
    lead_ids = [r["id"] for r in small.records("leads")]
    assert lead_ids == sorted(lead_ids)


# -- edge cases in tiny ------------------------------------------------------------------------


def _texts(account: Account) -> list[str]:
    out = []
    for entity in ("deals", "persons", "organizations", "activities", "notes", "leads"):
        for rec in account.records(entity):
            out.extend(v for v in rec.values() if isinstance(v, str))
    return out


def test_tiny_unicode_and_empty_strings(tiny: Account) -> None:
    texts = _texts(tiny)
    assert any(any(ord(c) > 0xFFFF for c in t) for t in texts), "emoji"
    assert any(re.search(r"[\u4e00-\u9fff\u3040-\u30ff]", t) for t in texts), "CJK"
    assert any(re.search(r"[\u0590-\u06ff]", t) for t in texts), "RTL"
    assert any(any(unicodedata.combining(c) for c in t) for t in texts), "combining"
    assert any(d["title"] == "" for d in tiny.records("deals"))
    assert any(p["name"] == "" for p in tiny.records("persons"))


def test_tiny_nulls_everywhere_optional(tiny: Account) -> None:
    deal = next(d for d in tiny.records("deals") if all(v is None for v in d["custom_fields"].values()))
    for key in ("probability", "lost_reason", "close_time", "origin_id", "channel", "arr"):
        assert deal[key] is None
    # non-nullable in the spec, but null in the real API: the key is present with null
    for key in ("person_id", "org_id", "won_time", "lost_time"):
        assert key in deal and deal[key] is None, key
    activity = tiny.records("activities")[0]  # the all-null activity
    for key in ("deal_id", "lead_id", "person_id", "org_id", "project_id", "due_time", "duration", "location"):
        assert key in activity and activity[key] is None, key
    assert not any(v == 0 or v == "" for k, v in deal.items() if k.endswith("_id")), deal
    org = next(o for o in tiny.records("organizations") if o["website"] is None and o["industry"] is None)
    assert org["annual_revenue"] is None or org["employee_count"] is None
    nullable = ("value", "person_id", "organization_id", "expected_close_date", "origin_id", "channel")
    assert any(all(rec[k] is None for k in nullable) for rec in tiny.records("leads"))
    task_keys = ("description", "due_date", "parent_task_id", "priority", "marked_as_done_time")
    assert any(all(t[k] is None for k in task_keys) for t in tiny.records("tasks"))


def test_tiny_deal_product_edge_cases(tiny: Account) -> None:
    deals = tiny.records("deals")
    counts = Counter(r["deal_id"] for r in tiny.records("deal_products"))
    assert any(d["products_count"] == 0 and not tiny.deal_products(d["id"]) for d in deals)
    big = max(counts, key=counts.__getitem__)
    assert counts[big] > 500 and len(tiny.deal_products(big)) == counts[big]
    for deal in deals:
        assert deal["products_count"] == counts.get(deal["id"], 0)
    removed = tiny.edge_cases["deals:products_removed"][0]
    row_ids = [r["id"] for r in tiny.deal_products(removed)]
    all_ids = {r["id"] for r in tiny.records("deal_products")}
    gaps = [i for i in range(min(row_ids) - 2, min(row_ids)) if i not in all_ids]
    assert gaps, "ids of removed rows stay consumed"


def test_tiny_deleted_and_archived(tiny: Account) -> None:
    deals = tiny.records("deals")
    now = tiny.clock.now()
    deleted = [d for d in deals if d["is_deleted"]]
    assert deleted and all(d["status"] == "deleted" for d in deleted)
    limit = (now - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert all(d["update_time"] > limit for d in deleted)
    listed = {d["id"] for d in deals}
    purged = [i for i in tiny.data.deletions.by_entity["deals"] if i not in listed]
    assert purged, "a deal deleted more than 30 days ago exists but is not returned"
    assert any(d["is_archived"] and d["archive_time"] for d in deals)
    assert any(lead["is_archived"] for lead in tiny.records("leads"))
    assert any(not lead["is_archived"] for lead in tiny.records("leads"))


def test_tiny_time_edge_cases(tiny: Account) -> None:
    deals = tiny.records("deals")
    assert max(Counter(d["update_time"] for d in deals).values()) >= 3
    assert any(d["status"] == "won" and d["first_won_time"] is None for d in deals)
    assert any(f["update_time"] is None for f in tiny.records("filters"))
    assert any(f["update_time"] is None for f in tiny.fields("deal", "v1"))


def _changes(account: Account, deal_id: int) -> list[dict[str, Any]]:
    """The `dealChange` items of a deal's flow, newest first."""
    return [i for i in account.deal_flow(deal_id) if i["object"] == "dealChange"]


def test_tiny_stage_back_and_forth(tiny: Account) -> None:
    def bounced(deal_id: int) -> bool:
        moves = [(i["data"]["old_value"], i["data"]["new_value"]) for i in reversed(_changes(tiny, deal_id))
                 if i["data"]["field_key"] == "stage_id"]
        return any((b, a) in moves[k + 1:] for k, (a, b) in enumerate(moves))

    assert any(bounced(d["id"]) for d in tiny.records("deals"))


def test_flow_ends_in_current_stage(small: Account) -> None:
    for deal in small.records("deals")[:100]:
        stage_moves = [i for i in _changes(small, deal["id"]) if i["data"]["field_key"] == "stage_id"]
        if stage_moves:
            assert stage_moves[0]["data"]["new_value"] == deal["stage_id"]
            assert stage_moves[0]["timestamp"] == deal["stage_change_time"].replace("T", " ")[:19]


def test_tiny_values_reference_deleted_options(tiny: Account) -> None:
    fields = {f["key"]: f for f in tiny.fields("deal", "v1")}
    deleted = {k: {o["id"] for o in f["options_deleted"]} for k, f in fields.items() if f.get("options_deleted")}
    assert deleted
    hits = [
        d["id"] for d in tiny.records("deals") for key, ids in deleted.items()
        if (v := d["custom_fields"].get(key)) is not None and ({v} if isinstance(v, int) else set(v)) & ids
    ]
    assert hits


def test_same_update_time_across_page_boundary(small: Account) -> None:
    persons = sorted(small.records("persons"), key=lambda r: (r["update_time"], r["id"]))
    assert len(persons) > 500
    assert persons[499]["update_time"] == persons[500]["update_time"]


def test_generation_time_printed() -> None:
    """Prints generation times (run with -s); medium also checks its 500-row page boundary."""
    for size in ("tiny", "small", "medium"):
        start = time.perf_counter()
        account = Account.generate(size)
        took = time.perf_counter() - start
        print(f"\ngenerate({size!r}): {took:.2f} s, {len(account.records('deals'))} deals listed")
        assert account.records("persons")
    default = [d for d in account.records("deals") if not d["is_deleted"] and not d["is_archived"]]
    by_update = sorted(default, key=lambda d: (d["update_time"], d["id"]))
    assert len(by_update) > 1500
    assert by_update[499]["update_time"] == by_update[500]["update_time"]
    flow_items = sum(len(account.deal_flow(d["id"])) for d in default[:200])
    assert 8 <= flow_items / 200 <= 12  # about 10 flow events per deal
