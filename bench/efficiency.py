"""Benchmark 1: request and token efficiency against the theoretical minimum.

A full sync of the `medium` account, then an incremental sync after 1% of the records changed
(simulator mutation API). Actual requests and tokens come from the simulator's counters; the
minimum from `bench.minimum` (account contents + the API's page sizes and token costs).
Target: actual / minimum <= 1.05 for requests and tokens, both syncs.

    .venv/bin/python -m bench.efficiency [--size medium] [--fraction 0.01]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import harness
from .scenario import full_then_incremental, worst_endpoints

NAME = "efficiency"
TARGET_RATIO = 1.05


def run(size: str = "medium", fraction: float = 0.01, account: Any = None,
        exclude: Sequence[str] = ()) -> dict[str, Any]:
    """Full + incremental sync on an unthrottled simulator; returns the numbers.

    Args:
        size: Account size (ignored when `account` is given).
        fraction: Share of records changed before the incremental sync.
        account: A generated account to use (it is mutated).
        exclude: Resources to leave out.
    """
    account = account if account is not None else harness.fresh_account(size)
    with harness.sim_server(account) as server:
        syncs = full_then_incremental(account, server, NAME, [fraction], exclude=exclude,
                                      max_tokens_per_run=harness.UNLIMITED)
    for sync in syncs:
        sync["meets_target"] = bool(
            sync["requests_ratio"] is not None and sync["tokens_ratio"] is not None
            and sync["requests_ratio"] <= TARGET_RATIO and sync["tokens_ratio"] <= TARGET_RATIO
        )
    return {"size": account.size, "fraction": fraction, "target": f"actual/minimum <= {TARGET_RATIO}",
            "excluded_resources": list(exclude), "syncs": syncs}


def report(result: dict[str, Any]) -> None:
    """Prints the summary and the endpoints above the minimum."""
    harness.print_table(
        f"Request/token efficiency ({result['size']}, {result['fraction']:.1%} changed)",
        ["sync", "requests", "min", "ratio", "tokens", "min", "ratio", "wall s", "target"],
        [[s["sync"], s["requests"], s["min_requests"], s["requests_ratio"], s["tokens"], s["min_tokens"],
          s["tokens_ratio"], s["wall_s"], "met" if s["meets_target"] else "MISSED"] for s in result["syncs"]],
    )
    for sync in result["syncs"]:
        rows = worst_endpoints(sync)
        if rows:
            harness.print_table(f"  {sync['sync']}: endpoints off the minimum",
                                ["endpoint", "requests", "min", "tokens", "min"], rows)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command line entry point."""
    parser = harness.cli_parser(__doc__)
    parser.add_argument("--size", default="medium")
    parser.add_argument("--fraction", type=float, default=0.01)
    parser.add_argument("--exclude", default="", help="comma-separated resources to leave out")
    args = parser.parse_args(argv)
    return harness.publish(NAME, run(args.size, args.fraction, exclude=harness.csv_list(args.exclude)), report)


if __name__ == "__main__":
    harness.quiet_dlt_logs()
    main()
