"""Benchmark 2: wall time under a real rate limit.

The `medium` account on the Growth plan (API token: 40 requests per rolling 2 s, i.e. 20/s)
with 100 ms latency on every response. No client can beat `requests / 20` seconds, so the
wall time is reported against that bound. Targets: wall <= 1.15x the bound, 429 responses
< 1% of requests, never the Cloudflare 403 block.

    .venv/bin/python -m bench.rate_limit [--size medium] [--latency-ms 100] [--fraction 0.01]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import harness
from .scenario import full_then_incremental

NAME = "rate_limit"
TARGET_BOUND_RATIO = 1.15
TARGET_429_SHARE = 0.01


def run(size: str = "medium", latency_ms: float = 100.0, fractions: Sequence[float] = (0.01,),
        account: Any = None, exclude: Sequence[str] = ()) -> dict[str, Any]:
    """Full (+ incremental) sync against a Growth-plan simulator with latency.

    Args:
        size: Account size (ignored when `account` is given).
        latency_ms: Latency added to every response.
        fractions: Shares changed before each incremental sync (empty: full sync only).
        account: A generated account to use (it is mutated).
        exclude: Resources to leave out.
    """
    account = account if account is not None else harness.fresh_account(size)
    with harness.sim_server(account, plan="growth", burst_limit=None, latency_ms=latency_ms) as server:
        syncs = full_then_incremental(account, server, NAME, fractions, exclude=exclude,
                                      max_tokens_per_run=harness.UNLIMITED)
    for sync in syncs:
        sync.pop("endpoints", None)
        bound = sync["requests"] / harness.GROWTH_REQUESTS_PER_SECOND
        sync["bound_ratio"] = harness.ratio(sync["wall_s"], bound)
        sync["share_429"] = round(sync["responses_429"] / max(1, sync["requests"]), 4)
        sync["achieved_rps"] = round(sync["requests"] / sync["wall_s"], 2) if sync["wall_s"] else None
        sync["meets_target"] = bool(
            sync["bound_ratio"] is not None and sync["bound_ratio"] <= TARGET_BOUND_RATIO
            and sync["share_429"] < TARGET_429_SHARE and sync["blocked_403"] == 0
        )
    return {"size": account.size, "plan": "growth", "latency_ms": latency_ms,
            "target": f"wall <= {TARGET_BOUND_RATIO} x requests/20 s, 429 < 1%, no 403",
            "excluded_resources": list(exclude), "syncs": syncs}


def report(result: dict[str, Any]) -> None:
    """Prints the summary."""
    harness.print_table(
        f"Wall time under the Growth limit ({result['size']}, {result['latency_ms']:.0f} ms latency)",
        ["sync", "requests", "wall s", "bound s", "ratio", "req/s", "429s", "403s", "target"],
        [[s["sync"], s["requests"], s["wall_s"], s["growth_bound_s"], s["bound_ratio"], s["achieved_rps"],
          s["responses_429"], s["blocked_403"], "met" if s["meets_target"] else "MISSED"] for s in result["syncs"]],
    )


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command line entry point."""
    parser = harness.cli_parser(__doc__)
    parser.add_argument("--size", default="medium")
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--fraction", type=float, action="append", help="repeatable; default 0.01")
    parser.add_argument("--exclude", default="", help="comma-separated resources to leave out")
    args = parser.parse_args(argv)
    fractions = args.fraction if args.fraction is not None else [0.01]
    return harness.publish(
        NAME, run(args.size, args.latency_ms, fractions, exclude=harness.csv_list(args.exclude)), report
    )


if __name__ == "__main__":
    harness.quiet_dlt_logs()
    main()
