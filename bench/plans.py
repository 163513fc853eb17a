"""Benchmark 6: wall time at the burst bound of every plan, side by side.

For each plan (Lite 20, Growth 40, Premium 100, Ultimate 120 requests per 2 s with an API token;
Ultimate with OAuth 480) a simulator in a child process (`bench.sim_process`: its CPU is not
ours) serves the account with 100 ms latency; the source runs a full sync, then an incremental
sync after 1% of the records changed, then (optionally) one after nothing changed. No client can
beat `requests / (limit / 2 s)`, so every wall time is reported against that bound. Targets:
wall <= 1.15x the bound, 429s < 1% of requests, never the Cloudflare 403 block.

Each sync also reports how much of its wall time the API was *not* the limit: the share of
0.25-s steps whose trailing 2 s carried fewer than 90% of the limit's requests (set-up, normalize
and load included, as they send nothing), and the most requests that were in flight at once.

    .venv/bin/python -m bench.plans [--size medium] [--plans lite,growth,premium,ultimate,ultimate-oauth]
                                    [--latency-ms 100] [--fraction 0.01] [--no-change] [--no-incremental]
                                    [--protocol]

`--protocol` runs each sync through `pipedrive.run.load` (chunks of 20 pages, the product's DuckDB
settings, one connection held per chunk), as the command line does; without it one
`pipeline.run` loads the whole source (the setting of the earlier figures).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from . import harness
from .sim_process import SimProcess

NAME = "plans"
PLANS: dict[str, tuple[str, bool]] = {
    "lite": ("lite", False),
    "growth": ("growth", False),
    "premium": ("premium", False),
    "ultimate": ("ultimate", False),
    "ultimate-oauth": ("ultimate", True),
}
BURST: dict[str, int] = {"lite": 20, "growth": 40, "premium": 100, "ultimate": 120}
OAUTH_MULTIPLIER = 4
WINDOW_S = 2.0
TARGET_BOUND_RATIO = 1.15
TARGET_BOUND_RATIO_LARGE = 1.25
"""`large` at Ultimate with OAuth: a million rows to shape, normalize and load on top of the requests."""
TARGET_429_SHARE = 0.01
LIMITED_SHARE = 0.9
"""A trailing 2 s with at least this share of the limit's requests counts as limited by the API."""
STEP_S = 0.25


def burst_limit(plan_key: str) -> int:
    """Requests per 2 s of a `PLANS` key."""
    plan, oauth = PLANS[plan_key]
    return BURST[plan] * (OAUTH_MULTIPLIER if oauth else 1)


def source_options(sim: SimProcess) -> dict[str, Any]:
    """`pipedrive_source` arguments against `sim`: API token, or OAuth when the simulator has it."""
    from pipedrive.http.oauth import PipedriveOAuthCredentials

    options: dict[str, Any] = {"base_url": sim.base_url, "max_tokens_per_run": harness.UNLIMITED}
    if not sim.oauth:
        return {**options, "api_token": harness.TOKEN}
    credentials = PipedriveOAuthCredentials()
    for key, value in sim.oauth_settings().items():
        setattr(credentials, key, value)
    return {**options, "api_token": None, "oauth": credentials}


def source_for(sim: SimProcess, resources: Sequence[str] | None = None) -> Any:
    """The `pipedrive` source against `sim`."""
    from pipedrive import pipedrive_source

    source = pipedrive_source(**source_options(sim))
    return source.with_resources(*resources) if resources else source


def api_profile(log: Sequence[tuple[float, float, int, str]], started: float, ended: float,
                limit: int) -> dict[str, Any]:
    """Where the API was the limit, from the simulator's log of one sync.

    Args:
        log: (arrival time, duration ms, status, endpoint) per request.
        started: `time.time()` when the sync started.
        ended: `time.time()` when it ended.
        limit: Requests per 2 s.
    """
    arrivals = sorted(t for t, _, _, _ in log)
    wall = max(ended - started, 1e-9)
    steps = max(1, int(wall / STEP_S))
    limited = 0
    low = 0
    for step in range(steps):
        end = started + (step + 1) * STEP_S
        while low < len(arrivals) and arrivals[low] < end - WINDOW_S:
            low += 1
        high = low
        while high < len(arrivals) and arrivals[high] < end:
            high += 1
        if high - low >= LIMITED_SHARE * limit:
            limited += 1
    events = sorted([(t, 1) for t, _, _, _ in log] + [(t + d / 1000, -1) for t, d, _, _ in log])
    in_flight = peak = 0
    for _, change in events:
        in_flight += change
        peak = max(peak, in_flight)
    first = (arrivals[0] - started) if arrivals else None
    last = (ended - arrivals[-1]) if arrivals else None
    return {
        "api_not_limit_share": round(1 - limited * STEP_S / wall, 3),
        "max_in_flight": peak,
        "first_request_after_s": round(first, 3) if first is not None else None,
        "after_last_request_s": round(last, 3) if last is not None else None,
    }


def measure(sim: SimProcess, pipeline: Any, plan_key: str, label: str, since: dict[str, Any] | None,
            tables: Sequence[str] | None, resources: Sequence[str] | None, protocol: bool = False) -> dict[str, Any]:
    """One sync against `sim`, with its bound and API profile (`protocol`: through
    `pipedrive.run.load`, as the command line runs, else one `pipeline.run` of the source)."""
    limit = burst_limit(plan_key)
    minimum = sim.minimum(tables, since) if tables is not None else None
    sim.reset_log()
    started_epoch = time.time()
    with harness.PeakRss() as rss:
        if protocol:
            run = harness.run_protocol(pipeline, tables=resources, **source_options(sim))
        else:
            run = harness.run_measured(pipeline, source_for(sim, resources))
    ended_epoch = time.time()
    stats = harness.server_counts(sim.stats())
    requests = stats["requests"]
    bound = requests / (limit / WINDOW_S)
    out: dict[str, Any] = {
        "plan": plan_key,
        "path": "pipedrive.run.load" if protocol else "pipeline.run",
        "limit_per_2s": limit,
        "sync": label,
        "requests": requests,
        "tokens": stats["tokens"],
        "responses_429": stats["responses_429"],
        "blocked_403": stats["blocked_403"],
        "wall_s": round(run.wall_s, 3),
        "bound_s": round(bound, 2),
        "bound_ratio": harness.ratio(run.wall_s, bound),
        "wall_minus_bound_s": round(run.wall_s - bound, 2),
        "steps_s": {k: round(v, 3) for k, v in run.steps_s.items()},
        "rows": run.total_rows,
        "load_ok": run.load_ok,
        "peak_rss_mb": round(rss.peak_bytes / 2**20, 1),
        **api_profile(sim.log(), started_epoch, ended_epoch, limit),
    }
    if minimum is not None:
        out.update({"min_requests": minimum["requests"], "min_tokens": minimum["tokens"],
                    "requests_ratio": harness.ratio(requests, minimum["requests"])})
    out["share_429"] = round(out["responses_429"] / max(1, requests), 4)
    target = TARGET_BOUND_RATIO_LARGE if sim.size == "large" else TARGET_BOUND_RATIO
    out["meets_target"] = bool(out["bound_ratio"] is not None and out["bound_ratio"] <= target
                               and out["share_429"] < TARGET_429_SHARE and out["blocked_403"] == 0)
    print(f"  {plan_key:>15} {label:>17}: {requests:,} requests in {run.wall_s:.1f} s (bound {bound:.1f} s, "
          f"{out['bound_ratio']}x), {out['responses_429']} x 429, {out['blocked_403']} x 403, "
          f"API not the limit {out['api_not_limit_share']:.0%}, max in flight {out['max_in_flight']}, "
          f"steps {out['steps_s']}", flush=True)
    return out


def run_plan(size: str, plan_key: str, latency_ms: float, fraction: float | None, no_change: bool,
             resources: Sequence[str] | None = None, with_minimum: bool = True,
             protocol: bool = False) -> list[dict[str, Any]]:
    """Full sync, incremental after `fraction` changed (None: none), and a no-change run."""
    from .scenario import selected_resources, tables_of

    plan, oauth = PLANS[plan_key]
    names = selected_resources(resources)
    tables = tables_of(names) if with_minimum else None
    work = harness.workdir(f"{NAME}-{plan_key}")
    try:
        with SimProcess(size, plan=plan, oauth=oauth, latency_ms=latency_ms) as sim:
            pipeline = harness.make_pipeline(work, f"{NAME}_{plan_key.replace('-', '_')}", product_duckdb=protocol)
            syncs = [measure(sim, pipeline, plan_key, "full", None, tables, names, protocol)]
            if fraction is not None:
                cursors = sim.cursors()
                changed = sim.mutate(fraction)
                syncs.append(measure(sim, pipeline, plan_key, f"incremental {fraction:.1%}", cursors, tables, names,
                                     protocol))
                syncs[-1]["changed"] = changed
            if no_change:
                cursors = sim.cursors()
                syncs.append(measure(sim, pipeline, plan_key, "no change", cursors, tables, names, protocol))
    finally:
        harness.cleanup(work)
    for sync in syncs:
        sync["size"] = size
    return syncs


def run(size: str = "medium", plans: Sequence[str] = tuple(PLANS), latency_ms: float = 100.0,
        fraction: float | None = 0.01, no_change: bool = False, resources: Sequence[str] | None = None,
        with_minimum: bool = True, protocol: bool = False) -> dict[str, Any]:
    """Every plan in turn (one simulator process per plan)."""
    syncs: list[dict[str, Any]] = []
    for plan_key in plans:
        syncs.extend(run_plan(size, plan_key, latency_ms, fraction, no_change, resources, with_minimum, protocol))
    return {"size": size, "latency_ms": latency_ms, "plans": list(plans),
            "target": f"wall <= {TARGET_BOUND_RATIO} x requests / (limit / 2 s) ({TARGET_BOUND_RATIO_LARGE} x on large), 429 < 1%, no 403",
            "loadavg_at_start": [round(x, 2) for x in os.getloadavg()], "syncs": syncs}


def report(result: dict[str, Any]) -> None:
    """Prints the table."""
    harness.print_table(
        f"Wall time at each plan's burst bound ({result['size']}, {result['latency_ms']:.0f} ms latency)",
        ["plan", "sync", "requests", "wall s", "bound s", "ratio", "429s", "403s", "API not limit", "in flight",
         "extract/normalize/load s", "target"],
        [[s["plan"], s["sync"], s["requests"], s["wall_s"], s["bound_s"], s["bound_ratio"], s["responses_429"],
          s["blocked_403"], f"{s['api_not_limit_share']:.0%}", s["max_in_flight"],
          "/".join(f"{s['steps_s'].get(k, 0):.1f}" for k in ("extract", "normalize", "load")),
          "met" if s["meets_target"] else "MISSED"] for s in result["syncs"]],
    )


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command line entry point."""
    parser = harness.cli_parser(__doc__)
    parser.add_argument("--size", default="medium")
    parser.add_argument("--plans", default=",".join(PLANS))
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--fraction", type=float, default=0.01)
    parser.add_argument("--no-incremental", action="store_true")
    parser.add_argument("--no-change", action="store_true", help="also an incremental run after no change")
    parser.add_argument("--no-minimum", action="store_true", help="skip bench.minimum (large accounts)")
    parser.add_argument("--resources", default="", help="comma-separated resources (default: all selected)")
    parser.add_argument("--name", default=NAME, help="result file name (bench/results/<name>.json)")
    parser.add_argument("--protocol", action="store_true",
                        help="run through pipedrive.run.load (chunks, the product's DuckDB settings), as the command line does")
    args = parser.parse_args(argv)
    result = run(args.size, harness.csv_list(args.plans), args.latency_ms,
                 None if args.no_incremental else args.fraction, args.no_change,
                 harness.csv_list(args.resources) or None, not args.no_minimum, args.protocol)
    result["command"] = " ".join([".venv/bin/python -m bench.plans", *(argv if argv is not None else sys.argv[1:])])
    return harness.publish(args.name, result, report)


if __name__ == "__main__":
    harness.quiet_dlt_logs()
    main()
