"""Benchmark: the cost of doing nothing (issue 18) and of a day of frequent syncs.

For each size: an initial load (without the per-deal children, which do not change what an idle
run costs), then a run with no change - its requests and tokens (target: <= 100 tokens). For
`small` and `medium` also a simulated day: 24 hourly runs, and 96 runs every 15 minutes, with
0.1% of the records changing per hour (the simulator's virtual clock drives the changes and the
source's schedules alike). Before this work every idle run re-read every reference table and
field set: 35 requests / 504 tokens on `small` (issue 18), i.e. ~12,100 tokens a day hourly and
~48,400 every 15 minutes.

    .venv/bin/python -m bench.idle_runs [--sizes small,medium,large] [--day-sizes small,medium]
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any


from . import harness

NAME = "idle_runs"
TARGET_TOKENS = 100
CHILDREN = ("deal_products", "deal_changes", "deal_stage_changes", "deal_participants", "deal_followers")


def _tables() -> list[str]:
    """Every table but the deal children."""
    from pipedrive import pipedrive_source

    source = pipedrive_source(api_token=harness.TOKEN, base_url="http://127.0.0.1:9")
    tables = {r.table_name for name, r in source.resources.items() if not name.endswith("_sweep")}
    return sorted(tables - set(CHILDREN))


def _run(pipeline: Any, server: Any, tables: list[str]) -> dict[str, Any]:
    from pipedrive.run import load

    seen = len(server.log)
    started = time.perf_counter()
    summary = load(pipeline, tables=tables, api_token=harness.TOKEN, base_url=server.base_url,
                   max_tokens_per_run=harness.UNLIMITED, progress=lambda line: None)
    log = server.log[seen:]
    return {"requests": len(log), "tokens": sum(e.token_cost for e in log), "wall_s": round(time.perf_counter() - started, 2),
            "endpoints": sorted({e.endpoint for e in log}), "chunks": summary.chunks}


def measure(size: str, day: bool) -> dict[str, Any]:
    """One size: initial load, an idle run, and (optionally) a day of hourly and 15-minute runs."""
    import pipedrive.schedule

    account = harness.fresh_account(size)
    tables = _tables()
    work = harness.workdir(f"{NAME}-{size}")
    result: dict[str, Any] = {"size": size}
    with harness.sim_server(account, burst_limit=harness.UNLIMITED) as server:
        pipedrive.schedule.clock = account.clock.now  # schedules follow the virtual clock
        try:
            pipeline = harness.make_pipeline(work, f"idle_{size}")
            initial = _run(pipeline, server, tables)
            result["initial"] = {k: initial[k] for k in ("requests", "tokens", "wall_s")}
            account.clock.advance(minutes=10)
            idle = _run(pipeline, server, tables)
            result["idle"] = idle
            result["meets_target"] = idle["tokens"] <= TARGET_TOKENS
            if day:
                for label, minutes in (("hourly", 60), ("every_15_min", 15)):
                    spent, requests, runs = 0, 0, 0
                    for _ in range(24 * 60 // minutes):
                        harness.mutate_fraction(account, 0.001 * minutes / 60, seed=runs, advance_minutes=minutes)
                        outcome = _run(pipeline, server, tables)
                        spent, requests, runs = spent + outcome["tokens"], requests + outcome["requests"], runs + 1
                    result[label] = {"runs": runs, "requests": requests, "tokens": spent}
        finally:
            pipedrive.schedule.clock = pipedrive.schedule._system_clock
            harness.cleanup(work)
    return result


def run(sizes: Sequence[str] = ("small", "medium", "large"), day_sizes: Sequence[str] = ("small", "medium")) -> dict[str, Any]:
    """Every size."""
    return {"target": f"an idle run <= {TARGET_TOKENS} tokens", "before_small_idle": {"requests": 35, "tokens": 504},
            "results": [measure(size, size in day_sizes) for size in sizes]}


def report(result: dict[str, Any]) -> None:
    """Prints the table."""
    rows = []
    for r in result["results"]:
        idle = r["idle"]
        rows.append([r["size"], f"{idle['requests']} req / {idle['tokens']} tok", idle["wall_s"],
                     "met" if r["meets_target"] else "MISSED",
                     f"{r['hourly']['tokens']:,} tok ({r['hourly']['requests']} req)" if "hourly" in r else "-",
                     f"{r['every_15_min']['tokens']:,} tok ({r['every_15_min']['requests']} req)" if "every_15_min" in r else "-"])
    harness.print_table("Idle runs and a day of syncs (0.1% changing per hour)",
                        ["size", "idle run", "idle wall s", "<= 100 tok", "a day hourly", "a day every 15 min"], rows)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command line entry point."""
    parser = harness.cli_parser(__doc__)
    parser.add_argument("--sizes", default="small,medium,large")
    parser.add_argument("--day-sizes", default="small,medium")
    args = parser.parse_args(argv)
    return harness.publish(NAME, run(harness.csv_list(args.sizes), harness.csv_list(args.day_sizes)), report)


if __name__ == "__main__":
    harness.quiet_dlt_logs()
    main()
