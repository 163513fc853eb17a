"""Benchmark 4: against the incumbent, Singer `tap-pipedrive==2.1.0`.

The tap is installed by this benchmark into its own virtualenv (`.venv-tap/`, git-ignored) and
run through `bench/tap_wrapper.py`, which overrides its `BASE_URL` constant to point at the
simulator. Both run against the same account on the same simulator (Growth plan: 40 requests
per 2 s, 100 ms latency per response). Ours runs only the resources that match the tap's
streams, so both load the same data:

    tap stream                                      ours
    currencies activity_types filters users         currencies activity_types filters users
    stages pipelines deals persons organizations    stages pipelines deals persons organizations
    activities products notes files deal_fields     activities products notes files deal_fields
    deal_products (one v1 request per deal)         deal_products (batched, 100 deals per request)
    dealflow (one /deals/{id}/flow per deal)        deal_stage_changes (when the source has it)

Requests and tokens are the simulator's counters of the sync (the tap's discovery run, which
reads 6 `*Fields` endpoints, is not counted). The tap writes Singer messages to a file (no
target), ours loads DuckDB: the tap's wall time is a lower bound of a real tap | target run.
The tap makes ~2 requests per deal, so on `medium` its run is time-boxed (`--tap-timeout`); when
the box ends first, its totals are projected from its per-endpoint request counts on the same
account so far and the account's deal count (see `project_tap`).

Targets: ours uses >= 5x fewer tokens and is >= 3x faster.

    .venv/bin/python -m bench.singer_tap [--size medium] [--also small] [--tap-timeout 1800]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import harness
from .scenario import Sim, measure_sync

NAME = "singer_tap"
TAP_PACKAGE = "tap-pipedrive==2.1.0"
TAP_VENV = harness.REPO_ROOT / ".venv-tap"
WRAPPER = harness.BENCH_DIR / "tap_wrapper.py"
OUR_RESOURCES = ("currencies", "activity_types", "filters", "users", "stages", "pipelines", "deals", "persons",
                 "organizations", "activities", "products", "notes", "files", "deal_fields", "deal_products",
                 "deal_stage_changes")
PER_DEAL_TAP_ENDPOINTS = ("v1 /deals/{id}/flow", "v1 /deals/{id}/products", "v2 /deals/{id}/products")
TARGET_TOKEN_FACTOR = 5.0
TARGET_SPEED_FACTOR = 3.0
START_DATE = "2000-01-01T00:00:00Z"


def ensure_tap_venv() -> Path:
    """Creates `.venv-tap/` with the tap installed (once); returns its python."""
    python = TAP_VENV / "bin" / "python"
    check = [str(python), "-c", "import tap_pipedrive"]
    if python.exists() and subprocess.run(check, capture_output=True, check=False).returncode == 0:
        return python
    subprocess.run([sys.executable, "-m", "venv", str(TAP_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", TAP_PACKAGE], check=True)
    return python


def _sim_has_v1_deal_products() -> bool:
    from pipedrive_sim.routes import match

    return match("/v1/deals/1/products") is not None


def run_tap(base_url: str, work: Path, timeout_s: float | None, reset_log: Any) -> dict[str, Any]:
    """Discovers, selects every stream, then syncs; returns wall time and records per stream.

    Args:
        base_url: Simulator URL.
        work: Scratch directory for config, catalog and output.
        timeout_s: Time box of the sync (None: none).
        reset_log: Called between discovery and sync (so only the sync is counted).
    """
    python = ensure_tap_venv()
    env = {**os.environ, "TAP_BASE_URL": base_url,
           "TAP_DEAL_PRODUCTS_V2": "0" if _sim_has_v1_deal_products() else "1"}
    config = work / "tap-config.json"
    config.write_text(json.dumps({"api_token": harness.TOKEN, "start_date": START_DATE, "request_timeout": 60}))
    discovered = subprocess.run([str(python), str(WRAPPER), "--config", str(config), "--discover"],
                                capture_output=True, text=True, env=env, check=True)
    catalog = json.loads(discovered.stdout)
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = True
    catalog_file = work / "tap-catalog.json"
    catalog_file.write_text(json.dumps(catalog))
    reset_log()
    out_file, err_file = work / "tap-out.jsonl", work / "tap-err.log"
    started = time.perf_counter()
    with open(out_file, "w") as out, open(err_file, "w") as err:
        process = subprocess.Popen([str(python), str(WRAPPER), "--config", str(config), "--catalog", str(catalog_file)],
                                   stdout=out, stderr=err, env=env)
        try:
            returncode = process.wait(timeout=timeout_s)
            timed_out = False
        except subprocess.TimeoutExpired:
            process.terminate()
            process.wait(timeout=30)
            returncode, timed_out = None, True
    wall = time.perf_counter() - started
    records: Counter[str] = Counter()
    with open(out_file) as lines:
        for line in lines:
            if line.startswith('{"type": "RECORD"') or line.startswith('{"type":"RECORD"'):
                records[json.loads(line)["stream"]] += 1
    error_tail = err_file.read_text()[-2000:] if returncode not in (0, None) else ""
    return {"wall_s": round(wall, 1), "timed_out": timed_out, "returncode": returncode,
            "records": sum(records.values()), "records_by_stream": dict(records), "error_tail": error_tail,
            "deal_products_via": "v1" if _sim_has_v1_deal_products() else "v2 (sim lacks v1 /deals/{id}/products)"}


def project_tap(counts: dict[str, Any], wall_s: float, deals_total: int) -> dict[str, Any]:
    """Projects a time-boxed tap sync to completion.

    The tap syncs its streams in a fixed order and ends with the two per-deal streams
    (`dealflow`, `deal_products`), which make one request per deal each. When the box ended
    inside them, the remaining requests are `2 x deals_total - per-deal requests so far`, at the
    tokens per request of each endpoint seen so far and the request rate of the whole run.

    Args:
        counts: `harness.server_counts` of the partial run.
        wall_s: Wall time of the partial run.
        deals_total: Deals the per-deal streams will visit.
    """
    per_deal = {k: v for k, v in counts["by_endpoint"].items() if k in PER_DEAL_TAP_ENDPOINTS}
    done = sum(v["requests"] for v in per_deal.values())
    remaining = max(0, 2 * deals_total - done)
    flow_cost = 40
    products_cost = 20 if "v1 /deals/{id}/products" in per_deal else 10
    remaining_flow = max(0, deals_total - per_deal.get("v1 /deals/{id}/flow", {}).get("requests", 0))
    remaining_products = remaining - remaining_flow
    requests = counts["requests"] + remaining
    tokens = counts["tokens"] + remaining_flow * flow_cost + remaining_products * products_cost
    rate = counts["requests"] / wall_s if wall_s else 0.0
    return {"requests": requests, "tokens": tokens, "wall_s": round(requests / rate, 1) if rate else None,
            "observed_rps": round(rate, 2), "projected": True}


def compare_on(account: Any, label: str, latency_ms: float, tap_timeout_s: float | None) -> dict[str, Any]:
    """Ours and the tap on one account (same simulator settings); returns the comparison."""
    available = set(harness.source_resource_names())
    ours_resources = [r for r in OUR_RESOURCES if r in available]
    work = harness.workdir(NAME)
    try:
        with harness.sim_server(account, plan="growth", burst_limit=None, latency_ms=latency_ms) as server:
            sim = Sim.of(server)
            tap = run_tap(server.base_url, work, tap_timeout_s, server.reset_log)
            counts = harness.server_counts(server.stats())
            tap.update({"requests": counts["requests"], "tokens": counts["tokens"],
                        "responses_429": counts["responses_429"], "blocked_403": counts["blocked_403"],
                        "by_endpoint": counts["by_endpoint"]})
            print(f"  tap ({label}): {tap['requests']:,} requests, {tap['tokens']:,} tokens, {tap['wall_s']} s"
                  f"{' (time-boxed)' if tap['timed_out'] else ''}", flush=True)
            # let the burst window drain before our run
            time.sleep(2.5)
            pipeline = harness.make_pipeline(work, "ours")
            ours = measure_sync(sim, pipeline, None, ours_resources, None, "full",
                                max_tokens_per_run=harness.UNLIMITED)
            print(f"  ours ({label}): {ours['requests']:,} requests, {ours['tokens']:,} tokens, {ours['wall_s']} s",
                  flush=True)
    finally:
        harness.cleanup(work)
    comparison = {
        "label": label, "size": account.size, "latency_ms": latency_ms, "ours_resources": ours_resources,
        "deals_visited_by_tap": tap_deal_count(account),
        "ours": {k: ours[k] for k in ("requests", "tokens", "wall_s", "rows", "responses_429", "blocked_403",
                                      "steps_s", "endpoints")},
        "tap_measured": tap,
    }
    return finish_comparison(comparison)


def tap_deal_count(account: Any) -> int:
    """Deals the tap's per-deal streams visit on a full sync: its `/deals` listing sends no
    `status`, so deleted deals are left out, and archived deals are not listed by `/deals`."""
    return sum(1 for d in account.records("deals") if not d.get("is_archived") and not d.get("is_deleted"))


def token_split(by_endpoint: dict[str, dict[str, int]]) -> dict[str, int]:
    """Tokens by kind: per-deal history (flow / changelog), deal products, everything else."""
    split = {"history": 0, "deal_products": 0, "other": 0}
    for endpoint, counts in by_endpoint.items():
        if endpoint.endswith(("/flow", "/changelog")):
            split["history"] += counts["tokens"]
        elif "/products" in endpoint and "/deals" in endpoint:
            split["deal_products"] += counts["tokens"]
        else:
            split["other"] += counts["tokens"]
    return split


def finish_comparison(c: dict[str, Any]) -> dict[str, Any]:
    """Adds the tap's final (or projected) totals, the factors and the verdict to a comparison."""
    tap, ours = c["tap_measured"], c["ours"]
    tap_final = (project_tap(tap, tap["wall_s"], c["deals_visited_by_tap"]) if tap["timed_out"]
                 else {"requests": tap["requests"], "tokens": tap["tokens"], "wall_s": tap["wall_s"], "projected": False})
    token_factor = round(tap_final["tokens"] / ours["tokens"], 2) if ours["tokens"] else None
    speed_factor = round(tap_final["wall_s"] / ours["wall_s"], 2) if ours["wall_s"] and tap_final["wall_s"] else None
    ours_split, tap_split = token_split(ours["endpoints"]), token_split(tap["by_endpoint"])
    ours_rest = ours_split["deal_products"] + ours_split["other"]
    # the tap's history is one 40-token flow call per visited deal; the rest of its (possibly
    # projected) total is deal products + listings
    tap_history = max(tap_split["history"], 40 * c["deals_visited_by_tap"]) if tap_final["projected"] \
        else tap_split["history"]
    tap_rest = tap_final["tokens"] - tap_history
    c.update({
        "label": c["label"].split(" (tap")[0] + (" (tap projected)" if tap_final["projected"] else ""),
        "tap": tap_final, "token_factor": token_factor, "speed_factor": speed_factor,
        "tokens_split": {"ours": ours_split, "tap_measured": tap_split},
        "token_factor_without_history": round(tap_rest / ours_rest, 2) if ours_rest else None,
        "meets_target": bool(token_factor and speed_factor and token_factor >= TARGET_TOKEN_FACTOR
                             and speed_factor >= TARGET_SPEED_FACTOR),
    })
    return c


def run(sizes: Sequence[str] = ("medium",), latency_ms: float = 100.0, tap_timeout_s: float | None = 1800.0,
        accounts: dict[str, Any] | None = None) -> dict[str, Any]:
    """Ours vs the tap on each size.

    Args:
        sizes: Account sizes.
        latency_ms: Latency per response.
        tap_timeout_s: Time box of each tap sync (None: none).
        accounts: Pre-generated accounts by size (not mutated).
    """
    comparisons = []
    for size in sizes:
        account = (accounts or {}).get(size) or harness.fresh_account(size)
        comparisons.append(compare_on(account, f"{size}, Growth, {latency_ms:.0f} ms", latency_ms, tap_timeout_s))
    return {"tap": TAP_PACKAGE, "plan": "growth", "latency_ms": latency_ms, "tap_timeout_s": tap_timeout_s,
            "target": f">= {TARGET_TOKEN_FACTOR}x fewer tokens and >= {TARGET_SPEED_FACTOR}x faster",
            "comparisons": comparisons}


def report(result: dict[str, Any]) -> None:
    """Prints the comparison."""
    rows = []
    for c in result["comparisons"]:
        for who in ("ours", "tap"):
            r = c[who]
            rows.append([c["label"], who, r["requests"], r["tokens"], r["wall_s"],
                         "projected" if r.get("projected") else "measured"])
        rows.append([c["label"], "factor", None, f"{c['token_factor']}x", f"{c['speed_factor']}x",
                     "met" if c["meets_target"] else "MISSED"])
    harness.print_table("Ours vs Singer tap-pipedrive 2.1.0 (Growth plan, same streams)",
                        ["account", "who", "requests", "tokens", "wall s", ""], rows)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command line entry point."""
    parser = harness.cli_parser(__doc__)
    parser.add_argument("--size", action="append", help="repeatable; default: small and medium")
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--tap-timeout", type=float, default=1800.0, help="seconds; 0 = no time box")
    parser.add_argument("--recompute", action="store_true",
                        help="recompute projections and factors of the stored results/singer_tap.json")
    args = parser.parse_args(argv)
    if args.recompute:
        stored = json.loads((harness.RESULTS_DIR / f"{NAME}.json").read_text())
        for key in ("benchmark", "date", "command", "machine"):
            stored.pop(key, None)
        for c in stored["comparisons"]:
            if "deals_visited_by_tap" not in c:
                c["deals_visited_by_tap"] = tap_deal_count(harness.fresh_account(c["size"]))
        stored["comparisons"] = [finish_comparison(c) for c in stored["comparisons"]]
        return harness.publish(NAME, stored, report)
    result = run(args.size or ["small", "medium"], args.latency_ms, args.tap_timeout or None)
    return harness.publish(NAME, result, report)


if __name__ == "__main__":
    harness.quiet_dlt_logs()
    main()
