"""Load a Pipedrive account into a warehouse with dlt: the command line over `pipedrive.run.load`.

Usage:
    python pipedrive_pipeline.py                          # everything into pipedrive.duckdb
    python pipedrive_pipeline.py --resources deals,persons --start-date 2024-01-01
    python pipedrive_pipeline.py --destination postgres --dataset crm
    python pipedrive_pipeline.py --demo --size small      # no Pipedrive account needed

The API token comes from `.dlt/secrets.toml` (`[sources.pipedrive] api_token = "..."`) or
`SOURCES__PIPEDRIVE__API_TOKEN`; it is sent only in the `x-api-token` header.

Exit codes: 0 loaded; 1 the API or the destination failed; 2 bad configuration or input;
3 stopped early on the daily token budget or `max_tokens_per_run` (rerun later to resume);
4 another run of the pipeline is in progress (nothing done); 130 interrupted. Errors print one line (`--verbose` adds the stack trace).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import logging
import os
import sys
import traceback
from typing import Any, Iterator, Optional, Sequence

import dlt
from dlt.common.destination import Destination
from dlt.common.destination.exceptions import UnknownDestinationModule

from pipedrive.run import DEFAULT_CHUNK_PAGES, RunSummary, UsageError, describe_failure, load
from pipedrive.run.destination import destination_for
from pipedrive.run.failures import EXIT_INTERRUPTED, EXIT_OK, EXIT_STOPPED_EARLY

PIPELINE_NAME = "pipedrive"
DEFAULT_DATASET = "pipedrive_data"
DEMO_SIZES = ("tiny", "small", "medium")


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parses the command line (`sys.argv[1:]` when `argv` is None)."""
    parser = argparse.ArgumentParser(description="Load Pipedrive CRM data with dlt.")
    parser.add_argument("--destination", default="duckdb", help="dlt destination (default: duckdb)")
    parser.add_argument("--dataset", default=DEFAULT_DATASET, help="dataset/schema name")
    parser.add_argument("--resources", help="comma-separated tables to load (default: all)")
    parser.add_argument("--start-date", help="load records updated on or after YYYY-MM-DD")
    parser.add_argument("--full-refresh", action="store_true", help="drop the tables and state, then reload all")
    parser.add_argument(
        "--refresh-reference", action="store_true",
        help="read every reference table and field set now, whether due or not",
    )
    parser.add_argument(
        "--chunk-pages", type=int, default=None,
        help=f"pages per incremental table per loaded chunk (0: one chunk, no checkpoints; default "
             f"{DEFAULT_CHUNK_PAGES}, more for tables other than deals above the Growth plan's burst limit)",
    )
    parser.add_argument(
        "--wait-for-lock", type=float, default=0.0, metavar="SECONDS",
        help="wait this long for another run of the pipeline to finish (default: exit 4 at once)",
    )
    parser.add_argument("--demo", action="store_true", help="load a simulated account (no Pipedrive account)")
    parser.add_argument("--size", default="small", choices=DEMO_SIZES, help="demo account size")
    parser.add_argument("--verbose", action="store_true", help="show stack traces on errors")
    return parser.parse_args(argv)


def parse_start_date(value: Optional[str]) -> Optional[dt.datetime]:
    """`--start-date` as an aware UTC datetime (None when not given).

    Raises:
        UsageError: The value is not a date.
    """
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--start-date {value!r} is not a date: use YYYY-MM-DD, e.g. --start-date 2024-01-01") from None
    return parsed.replace(tzinfo=dt.timezone.utc) if parsed.tzinfo is None else parsed


def check_destination(name: str) -> None:
    """Fails early on a destination name dlt does not know."""
    try:
        Destination.from_reference(name)
    except UnknownDestinationModule:
        known = ", ".join(sorted(n for n in dlt.destinations.__all__ if n.islower()))
        raise UsageError(f"unknown destination {name!r}; choose one of: {known}") from None


@contextlib.contextmanager
def demo_account(size: str) -> Iterator[None]:
    """Serves a simulated account in-process and points the source at it while the block runs."""
    from pipedrive_sim import Account, SimServer  # demo only: the source never imports it

    print(f"demo: generating a simulated '{size}' Pipedrive account ...", file=sys.stderr)
    token = "demo-" + os.urandom(8).hex()
    with SimServer(Account.generate(size=size, seed=1), token=token, plan="ultimate", seats=50) as server:
        demo_env = {
            "SOURCES__PIPEDRIVE__API_TOKEN": token,
            "SOURCES__PIPEDRIVE__BASE_URL": server.base_url,
            # the simulated account has budget to spare: load every deal's children in one run
            "SOURCES__PIPEDRIVE__MAX_TOKENS_PER_RUN": os.environ.get("SOURCES__PIPEDRIVE__MAX_TOKENS_PER_RUN", "10000000"),
        }
        saved = {key: os.environ.get(key) for key in demo_env}
        os.environ.update(demo_env)
        print(f"demo: simulator serving at {server.base_url}", file=sys.stderr)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def print_summary(summary: RunSummary) -> None:
    """Rows per table, API requests and tokens, time, and what a capped backfill left queued."""
    pipeline = summary.pipeline
    print(
        f"\nLoaded into {pipeline.destination.destination_name} dataset '{pipeline.dataset_name}' "
        f"in {summary.seconds:.1f} s ({summary.chunks} chunk(s))"
    )
    print(f"{'table':<32} {'rows':>10}")
    for table, rows in sorted(summary.rows.items()):
        print(f"{table:<32} {rows:>10}")
    print(
        f"API: {summary.requests} requests, {summary.tokens} tokens"
        f" ({summary.rate_limited} answered 429 and retried)"
    )
    if summary.queued_deals:
        print(
            "token cap reached: deals still queued for their children (the next run continues): "
            + ", ".join(f"{name} {count}" for name, count in summary.queued_deals.items())
        )
    if summary.unfinished:
        print("listings with pages left (the next run continues): " + ", ".join(summary.unfinished))


def run(args: argparse.Namespace) -> int:
    """Checks the input, loads, prints the summary; returns the exit code."""
    start_date = parse_start_date(args.start_date)
    check_destination(args.destination)
    pipeline = dlt.pipeline(
        PIPELINE_NAME, destination=destination_for(args.destination), dataset_name=args.dataset, progress="log"
    )
    tables = [name.strip() for name in (args.resources or "").split(",") if name.strip()]
    options: dict[str, Any] = {"start_date": start_date} if start_date else {}
    if args.refresh_reference:
        options["refresh_reference"] = True
    summary = load(
        pipeline, tables=tables or None, full_refresh=args.full_refresh, chunk_pages=args.chunk_pages,
        wait_for_lock=args.wait_for_lock, progress=lambda line: print(line, file=sys.stderr), **options,
    )
    print_summary(summary)
    if summary.stopped_early:
        print(f"error: stopped early: {summary.stopped_early}", file=sys.stderr)
        return EXIT_STOPPED_EARLY
    return EXIT_OK


class NullColumnNoticeFilter(logging.Filter):
    """Drops dlt's warning about columns null in every row of a load: Pipedrive sends many optional
    keys as null, and the column appears, typed, with the first value (`--verbose` keeps it)."""

    def filter(self, record: logging.LogRecord) -> bool:  # noqa: A003 - logging's API
        return "did not receive any data during this load" not in record.getMessage()


NULL_COLUMN_NOTICE = NullColumnNoticeFilter()


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point; returns the process exit code."""
    args = parse_args(argv)
    if not args.verbose:
        logging.getLogger("dlt").addFilter(NULL_COLUMN_NOTICE)  # once: same object
    try:
        if args.demo:
            with demo_account(args.size):
                return run(args)
        return run(args)
    except KeyboardInterrupt:
        print("error: interrupted; rerun to resume after the last loaded chunk", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line and an exit code
        if args.verbose:
            traceback.print_exc()
        message, code = describe_failure(exc)
        print(f"error: {message}", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
