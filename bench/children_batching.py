"""Measures the deal children against the simulator: batched vs one request per deal.

Run from the repository root (prints one block per size, nothing is written):

    RUNTIME__DLTHUB_TELEMETRY=false .venv/bin/python bench/children_batching.py small medium

"With batching" is a real run of the deal listings and every child table (cap lifted), counted
by the simulator. "One request per deal" replays what other connectors do against the same
simulator: `GET /api/v2/deals/{id}/products` for every listed deal (all pages), and the deal flow
(40 tokens) instead of the changelog (20 tokens) for the history.
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dlt  # noqa: E402
import requests  # noqa: E402

from pipedrive import pipedrive_source  # noqa: E402
from pipedrive_sim import Account, SimServer  # noqa: E402

TOKEN = "sim-token"
CHILDREN = (
    "deal_products",
    "deal_changes",
    "deal_stage_changes",
    "deal_participants",
    "deal_followers",
)
RESOURCES = ("deals", "deals_archived") + tuple(n + s for n in CHILDREN for s in ("", "_archived"))
FLOW_COST, CHANGELOG_COST = 40, 20


def _endpoint_totals(stats: Dict[str, Any], endpoint: str) -> tuple[int, int]:
    entry = stats["endpoints"].get(endpoint, {})
    return entry.get("requests", 0), entry.get("tokens", 0)


def measure(size: str) -> None:
    """Runs one size and prints requests and tokens of both strategies."""
    account = Account.generate(size, 1)
    with SimServer(
        account, token=TOKEN, burst_limit=1_000_000
    ) as server, tempfile.TemporaryDirectory() as tmp:
        pipeline = dlt.pipeline(
            f"measure_{size}", destination="duckdb", pipelines_dir=tmp, dev_mode=True
        )
        # a cap far above the run's cost: measure every deal (None would mean the default 10,000)
        source = pipedrive_source(
            api_token=TOKEN, base_url=server.base_url, max_tokens_per_run=10**9
        )
        started = time.monotonic()
        pipeline.run(source.with_resources(*RESOURCES), loader_file_format="jsonl")
        elapsed = time.monotonic() - started
        stats = server.stats()
        deals = [d["id"] for d in account.ground_truth()["deals"]]

        batched_req, batched_tok = _endpoint_totals(stats, "v2 /deals/products")
        changelog_req, changelog_tok = _endpoint_totals(stats, "v1 /deals/{id}/changelog")
        part_req, part_tok = _endpoint_totals(stats, "v1 /deals/{id}/participants")
        foll_req, foll_tok = _endpoint_totals(stats, "v2 /deals/{id}/followers")
        ours_req = batched_req + changelog_req + part_req + foll_req
        ours_tok = batched_tok + changelog_tok + part_tok + foll_tok

        # one request per deal for products, replayed for real against the simulator
        server.reset_log()
        with requests.Session() as session:
            session.headers["x-api-token"] = TOKEN
            for deal_id in deals:
                cursor = None
                while True:
                    params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
                    body = session.get(
                        f"{server.base_url}/api/v2/deals/{deal_id}/products", params=params
                    ).json()
                    cursor = (body.get("additional_data") or {}).get("next_cursor")
                    if not cursor:
                        break
        per_deal_req, per_deal_tok = _endpoint_totals(server.stats(), "v2 /deals/{id}/products")
        naive_req = per_deal_req + changelog_req + part_req + foll_req
        naive_tok = per_deal_tok + changelog_req * FLOW_COST + part_tok + foll_tok

    with_products = sum(1 for d in account.ground_truth()["deals"] if d.get("products_count"))
    print(
        f"{size}: {len(deals)} deals ({with_products} with products), children extracted+loaded in {elapsed:.1f} s\n"
        f"  deal_products batched:        {batched_req:>6} requests {batched_tok:>8} tokens"
        f"  (ceil({with_products}/100) = {math.ceil(with_products / 100)} + pages + one batch per deals page)\n"
        f"  deal_products one per deal:   {per_deal_req:>6} requests {per_deal_tok:>8} tokens\n"
        f"  all children, this source:    {ours_req:>6} requests {ours_tok:>8} tokens"
        f"  (changelog {changelog_tok}, participants {part_tok}, followers {foll_tok})\n"
        f"  all children, per deal+flow:  {naive_req:>6} requests {naive_tok:>8} tokens"
        f"  (flow at {FLOW_COST} instead of changelog at {CHANGELOG_COST})"
    )


if __name__ == "__main__":
    for size_name in sys.argv[1:] or ["small"]:
        measure(size_name)
