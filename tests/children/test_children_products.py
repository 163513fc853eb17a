"""`deal_products`: batched requests and delete-insert merge semantics per deal, on DuckDB."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, Callable

import pytest

from pipedrive_sim.pytest_plugin import UNTHROTTLED
from tests.children.conftest import batch_ids, child_resources, requests_to
from tests.helpers.loader import Loader

PAGE = 500
BATCH = 100


def _truth_rows(server: Any) -> dict[int, list[dict[str, Any]]]:
    rows: dict[int, list[dict[str, Any]]] = {}
    for row in server.account.ground_truth()["deal_products"]:
        rows.setdefault(row["deal_id"], []).append(row)
    return rows


def _loaded(loader: Loader) -> dict[tuple[int, int], tuple[Any, ...]]:
    return {
        (r[0], r[1]): r[2:]
        for r in loader.rows(
            "SELECT deal_id, id, quantity, product_id, is_deleted FROM deal_products"
        )
    }


def test_products_batched_by_100_deals(
    make_sim: Callable[..., Any], make_loader: Callable[..., Loader]
) -> None:
    server = make_sim(size="small", burst_limit=UNTHROTTLED)
    loader = make_loader(server)
    loader.run(*child_resources("deal_products"), max_tokens_per_run=None)

    truth = server.account.ground_truth()
    rows_of = _truth_rows(server)
    with_products = {d["id"]: d["is_archived"] for d in truth["deals"] if d["products_count"]}
    without_products = {d["id"] for d in truth["deals"] if not d["products_count"]}
    entries = requests_to(server, "v2 /deals/products")
    first_pages = [e for e in entries if "cursor" not in e.params]
    for listing in requests_to(server, "v2 /deals") + requests_to(server, "v2 /deals/archived"):
        assert "products_count" in listing.params["include_fields"].split(",")

    # every deal with products asked for exactly once, never one without; <= 100 ids a request
    requested = Counter(i for e in first_pages for i in batch_ids(e))
    assert set(requested) == set(with_products) and set(requested.values()) == {1}
    assert not without_products & set(requested)
    assert all(len(batch_ids(e)) <= BATCH for e in first_pages)
    live = sum(1 for archived in with_products.values() if not archived)
    archived = len(with_products) - live
    assert len(first_pages) == math.ceil(live / BATCH) + math.ceil(archived / BATCH)
    # plus one request per further page of 500 rows within a batch (cursor paging)
    expected_pages = sum(
        max(1, math.ceil(sum(len(rows_of.get(i, [])) for i in batch_ids(e)) / PAGE))
        for e in first_pages
    )
    assert len(entries) == expected_pages
    assert all(e.params.get("limit") == str(PAGE) for e in entries)

    per_deal_requests = sum(
        max(1, math.ceil(len(rows_of.get(d["id"], [])) / PAGE)) for d in truth["deals"]
    )
    print(
        f"\ndeal_products, small account ({len(truth['deals'])} deals, {len(with_products)} with products): "
        f"batched {len(entries)} requests / {10 * len(entries)} tokens; "
        f"one request per deal {per_deal_requests} requests / {10 * per_deal_requests} tokens"
    )
    deleted = {d["id"] for d in truth["deals"] if d["is_deleted"]}
    assert deleted & set(with_products)  # soft delete: rows of deleted deals are kept, flagged
    assert _loaded(loader) == {
        (r["deal_id"], r["id"]): (r["quantity"], r["product_id"], r["deal_id"] in deleted)
        for rs in rows_of.values()
        for r in rs
    }


def _pick(
    truth: dict[str, list[dict[str, Any]]],
    rows_of: dict[int, list[Any]],
    count: int,
    exclude: set[int],
) -> int:
    """A live, open deal with exactly `count` products (or >= 2 when count is 2)."""
    for deal in truth["deals"]:
        n = len(rows_of.get(deal["id"], []))
        if deal["id"] in exclude or deal["is_deleted"] or deal["is_archived"] or n > 100:
            continue
        if (n == count) or (count == 2 and n >= 2):
            return deal["id"]
    raise AssertionError(f"no deal with {count} products")


@pytest.mark.parametrize("hard_delete", [False, True], ids=["soft", "hard"])
def test_products_follow_removals_and_deletions(
    hard_delete: bool, make_sim: Callable[..., Any], make_loader: Callable[..., Loader]
) -> None:
    server = make_sim(size="tiny", burst_limit=UNTHROTTLED)
    account = server.account
    loader = make_loader(server)
    resources = child_resources("deal_products")
    loader.run(*resources, hard_delete=hard_delete, max_tokens_per_run=None)

    truth, rows_of = account.ground_truth(), _truth_rows(server)
    many = account.edge_cases["deals:many_products"][0]
    assert len(rows_of[many]) > PAGE
    assert sum(1 for k in _loaded(loader) if k[0] == many) == len(rows_of[many])
    assert any("cursor" in e.params for e in requests_to(server, "v2 /deals/products"))
    requested_run1 = {i for e in requests_to(server, "v2 /deals/products") for i in batch_ids(e)}
    assert requested_run1 == {
        d["id"]
        for d in truth["deals"]
        if d["products_count"] and not (hard_delete and d["is_deleted"])
    }

    shrunk = _pick(truth, rows_of, 2, {many})
    emptied = _pick(truth, rows_of, 1, {many, shrunk})
    deleted = _pick(truth, rows_of, 2, {many, shrunk, emptied})
    gaining = _pick(truth, rows_of, 0, {many})
    removed_row = rows_of[shrunk][0]["id"]
    account.clock.advance(minutes=5)
    account.delete("deal_products", removed_row)
    account.delete("deal_products", rows_of[emptied][0]["id"])
    account.delete("deals", deleted)
    added = account.create(
        "deal_products", {"deal_id": gaining, "product_id": rows_of[shrunk][0]["product_id"]}
    )
    server.reset_log()
    loader.run(*resources, hard_delete=hard_delete, max_tokens_per_run=None)

    # only the changed deals that still have products are requested (the deleted one only to flag it)
    requested = Counter(i for e in requests_to(server, "v2 /deals/products") for i in batch_ids(e))
    assert set(requested) == {shrunk, gaining} | (set() if hard_delete else {deleted})
    assert set(requested.values()) == {1}

    loaded = _loaded(loader)
    keys = set(loaded)
    assert (shrunk, removed_row) not in keys
    assert not [k for k in keys if k[0] == emptied]
    assert (gaining, added["id"]) in keys
    deleted_rows = {k: v for k, v in loaded.items() if k[0] == deleted}
    if hard_delete:
        assert not deleted_rows
    else:
        assert deleted_rows and all(v[-1] is True for v in deleted_rows.values())
    # everything else equals the simulator's ground truth exactly
    final = account.ground_truth()
    gone = {d["id"] for d in final["deals"] if d["is_deleted"]}
    assert deleted in gone
    expected = {
        (r["deal_id"], r["id"]): (r["quantity"], r["product_id"], r["deal_id"] in gone)
        for r in final["deal_products"]
        if not (hard_delete and r["deal_id"] in gone)
    }
    assert loaded == expected
