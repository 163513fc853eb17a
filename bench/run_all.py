"""Runs every benchmark in turn (`make bench`), then refreshes `bench/RESULTS.md`.

Accounts are generated once per size in this process and handed to the benchmarks that run
the simulator in-process (the throughput benchmark runs it in a child process and the
Singer-tap comparison generates its own accounts, whose incremental part mutates them).

    .venv/bin/python -m bench.run_all [--only efficiency,rate_limit,...]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from typing import Any

from . import efficiency, harness, rate_limit, scaling, singer_tap, throughput
from .report import refresh_results_md

BENCHMARKS: dict[str, Callable[[Sequence[str] | None], Any]] = {
    "efficiency": efficiency.main,
    "rate_limit": rate_limit.main,
    "throughput": throughput.main,
    "singer_tap": singer_tap.main,
    "scaling": scaling.main,
}


def main(argv: Sequence[str] | None = None) -> None:
    """Runs the selected benchmarks (all by default) with their default settings."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated benchmark names")
    args = parser.parse_args(argv)
    print(f"machine: {harness.machine_info()}", flush=True)
    for name in [n for n in args.only.split(",") if n]:
        started = time.perf_counter()
        print(f"\n=== {name} ===", flush=True)
        BENCHMARKS[name]([])
        print(f"=== {name}: {time.perf_counter() - started:.0f} s ===", flush=True)
    refresh_results_md()


if __name__ == "__main__":
    harness.quiet_dlt_logs()
    main()
