"""Benchmark: what a deletion sweep costs (issue 14), next to the full-listing minimum.

On one account: an initial load (every table but the per-deal children, which a sweep does not
read), then two runs with no change ten minutes apart - one where no sweep is due (the default
24 hours have not passed) and one with `deletion_sweep_hours=0` (a sweep every run). The sweep's
cost is the difference per endpoint; the minimum is what any client must read to see every key of
those listings once (`bench.minimum.LISTINGS`: the endpoint's rows / its largest page, at its
`x-token-cost`). A run between sweeps must send no sweep request at all.

    .venv/bin/python -m bench.deletion_sweeps [--sizes medium]
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from . import harness
from .idle_runs import _tables
from .minimum import LISTINGS

NAME = "deletion_sweeps"


def _run(pipeline: Any, server: Any, tables: list[str], **options: Any) -> dict[str, Any]:
    from pipedrive.run import load

    seen = len(server.log)
    started = time.perf_counter()
    load(pipeline, tables=tables, api_token=harness.TOKEN, base_url=server.base_url,
         max_tokens_per_run=harness.UNLIMITED, progress=lambda line: None, **options)
    log = server.log[seen:]
    requests = Counter(e.endpoint for e in log)
    tokens: Counter[str] = Counter()
    for entry in log:
        tokens[entry.endpoint] += entry.token_cost
    return {"requests": requests, "tokens": tokens, "wall_s": round(time.perf_counter() - started, 2)}


def _minimum(account: Any, endpoint: str) -> dict[str, int] | None:
    """Requests and tokens to read every row of one listing endpoint (`"v2 /persons"`)."""
    for listing in LISTINGS:
        if endpoint == f"{listing.api} {listing.path}" and listing.page_size:
            requests = max(1, harness.ceil_div(len(listing.rows(account)), listing.page_size))
            return {"requests": requests, "tokens": requests * listing.cost}
    return None


def measure(size: str) -> dict[str, Any]:
    """One size: initial load, a run between sweeps, a run with a sweep; the sweep per endpoint."""
    import pipedrive.schedule

    account = harness.fresh_account(size)
    tables = _tables()
    work = harness.workdir(f"{NAME}-{size}")
    with harness.sim_server(account, burst_limit=harness.UNLIMITED) as server:
        pipedrive.schedule.clock = account.clock.now  # schedules follow the virtual clock
        try:
            pipeline = harness.make_pipeline(work, f"sweeps_{size}")
            _run(pipeline, server, tables)
            account.clock.advance(minutes=10)
            between = _run(pipeline, server, tables)
            account.clock.advance(minutes=10)
            swept = _run(pipeline, server, tables, deletion_sweep_hours=0)
        finally:
            pipedrive.schedule.clock = pipedrive.schedule._system_clock
            harness.cleanup(work)
    endpoints = []
    for endpoint in sorted(set(swept["requests"]) | set(between["requests"])):
        extra_requests = swept["requests"][endpoint] - between["requests"][endpoint]
        if extra_requests <= 0:
            continue
        endpoints.append({"endpoint": endpoint, "requests": extra_requests,
                          "tokens": swept["tokens"][endpoint] - between["tokens"][endpoint],
                          "minimum": _minimum(account, endpoint)})
    sweep = {"requests": sum(e["requests"] for e in endpoints), "tokens": sum(e["tokens"] for e in endpoints)}
    floor = {"requests": sum((e["minimum"] or {}).get("requests", 0) for e in endpoints),
             "tokens": sum((e["minimum"] or {}).get("tokens", 0) for e in endpoints)}
    return {
        "size": size,
        "between_sweeps": {"requests": sum(between["requests"].values()), "tokens": sum(between["tokens"].values())},
        "with_sweep": {"requests": sum(swept["requests"].values()), "tokens": sum(swept["tokens"].values()),
                       "wall_s": swept["wall_s"]},
        "sweep": sweep, "minimum": floor,
        "sweep_vs_minimum": harness.ratio(sweep["tokens"], floor["tokens"]),
        "by_endpoint": endpoints,
    }


def run(sizes: Sequence[str] = ("medium",)) -> dict[str, Any]:
    """Every size."""
    return {"target": "a sweep costs at most the full-listing minimum; no sweep request between sweeps",
            "results": [measure(size) for size in sizes]}


def report(result: dict[str, Any]) -> None:
    """Prints the per-endpoint table and the totals."""
    for r in result["results"]:
        rows = [[e["endpoint"], e["requests"], e["tokens"], (e["minimum"] or {}).get("requests"),
                 (e["minimum"] or {}).get("tokens")] for e in r["by_endpoint"]]
        rows.append(["total", r["sweep"]["requests"], r["sweep"]["tokens"], r["minimum"]["requests"],
                     r["minimum"]["tokens"]])
        harness.print_table(f"Deletion sweep, {r['size']} (run with a sweep minus a run without)",
                            ["endpoint", "requests", "tokens", "min requests", "min tokens"], rows)
        print(f"\n  sweep / minimum tokens: {r['sweep_vs_minimum']}x; a run between sweeps: "
              f"{r['between_sweeps']['requests']} requests / {r['between_sweeps']['tokens']} tokens "
              f"(no sweep request); the run with the sweep: {r['with_sweep']['requests']} requests / "
              f"{r['with_sweep']['tokens']} tokens in {r['with_sweep']['wall_s']} s")


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command line entry point."""
    parser = harness.cli_parser(__doc__)
    parser.add_argument("--sizes", default="medium")
    args = parser.parse_args(argv)
    return harness.publish(NAME, run(harness.csv_list(args.sizes)), report)


if __name__ == "__main__":
    harness.quiet_dlt_logs()
    main()
