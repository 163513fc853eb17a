"""Benchmark 5: how requests, tokens and wall time grow with account size and change rate.

For each size (small, medium, large): a full sync, then incremental syncs after 0.1%, 1% and
10% of the records changed (cumulative on one account; each incremental sync reads what changed
since the previous one). Unthrottled simulator, zero latency; each sync is also shown with its
theoretical minimum and its wall time under the Growth limit's bound (`requests / 20` s).
Sizes listed in `--extract-only` run `pipeline.extract` only (the requests and tokens are the
same; normalize and load of a million rows would dominate the benchmark's runtime).

    .venv/bin/python -m bench.scaling [--size small --size medium --size large] [--extract-only large]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import harness
from .scenario import full_then_incremental

NAME = "scaling"
FRACTIONS = (0.001, 0.01, 0.1)


def run(sizes: Sequence[str] = ("small", "medium", "large"), fractions: Sequence[float] = FRACTIONS,
        extract_only: Sequence[str] = ("large",), accounts: dict[str, Any] | None = None,
        exclude: Sequence[str] = ()) -> dict[str, Any]:
    """Full + incremental syncs per size.

    Args:
        sizes: Account sizes.
        fractions: Shares changed before each incremental sync.
        extract_only: Sizes measured with `pipeline.extract` only.
        accounts: Pre-generated accounts by size (they are mutated).
        exclude: Resources to leave out.
    """
    runs = []
    for size in sizes:
        account = (accounts or {}).get(size) or harness.fresh_account(size)
        with harness.sim_server(account) as server:
            syncs = full_then_incremental(account, server, f"{NAME}_{size}", fractions, exclude=exclude,
                                          extract_only=size in extract_only, max_tokens_per_run=harness.UNLIMITED)
        for sync in syncs:
            sync["size"] = size
            sync["endpoints"] = [e for e in sync.get("endpoints", []) if e["requests"] != e["min_requests"]]
            runs.append(sync)
    return {"sizes": list(sizes), "fractions": list(fractions), "extract_only": list(extract_only),
            "excluded_resources": list(exclude), "runs": runs}


def report(result: dict[str, Any]) -> None:
    """Prints the table."""
    harness.print_table(
        "Scaling: requests, tokens, wall time by size and change rate (0 ms, no limit)",
        ["size", "sync", "mode", "rows", "requests", "min req", "tokens", "min tok", "tok ratio", "wall s",
         "Growth bound s"],
        [[r["size"], r["sync"], r["mode"], r["rows"], r["requests"], r["min_requests"], r["tokens"],
          r["min_tokens"], r["tokens_ratio"], r["wall_s"], r["growth_bound_s"]] for r in result["runs"]],
    )


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command line entry point."""
    parser = harness.cli_parser(__doc__)
    parser.add_argument("--size", action="append", help="repeatable; default small, medium, large")
    parser.add_argument("--extract-only", action="append", help="sizes to extract only; default large")
    parser.add_argument("--exclude", default="", help="comma-separated resources to leave out")
    args = parser.parse_args(argv)
    result = run(args.size or ["small", "medium", "large"],
                 extract_only=args.extract_only if args.extract_only is not None else ["large"],
                 exclude=harness.csv_list(args.exclude))
    return harness.publish(NAME, result, report)


if __name__ == "__main__":
    harness.quiet_dlt_logs()
    main()
