"""Load a Pipedrive account into a warehouse with dlt.

Usage:
    python pipedrive_pipeline.py                          # everything into pipedrive.duckdb
    python pipedrive_pipeline.py --resources deals,persons --start-date 2024-01-01
    python pipedrive_pipeline.py --destination postgres --dataset crm
    python pipedrive_pipeline.py --demo --size small      # no Pipedrive account needed

The API token comes from `.dlt/secrets.toml` (`[sources.pipedrive] api_token = "..."`) or the
environment variable `SOURCES__PIPEDRIVE__API_TOKEN`. It is sent only in the `x-api-token` header.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import sys
import time
from typing import Any, Iterator, List, Optional, Sequence

import dlt
from dlt.common.configuration.exceptions import ConfigFieldMissingException

from pipedrive import pipedrive_source

PIPELINE_NAME = "pipedrive"
DEFAULT_DATASET = "pipedrive_data"
DEMO_SIZES = ("tiny", "small", "medium")
# fastest loader format first; duckdb loads ~20x faster from jsonl than from insert_values
PREFERRED_FILE_FORMATS = ("jsonl", "csv")


class UsageError(Exception):
    """Bad command-line input or configuration: printed as one line, exit code 2."""


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parses the command line.

    Args:
        argv: Arguments without the program name; `sys.argv[1:]` when None.

    Returns:
        The parsed options.
    """
    parser = argparse.ArgumentParser(description="Load Pipedrive CRM data with dlt.")
    parser.add_argument("--destination", default="duckdb", help="dlt destination (default: duckdb)")
    parser.add_argument("--dataset", default=DEFAULT_DATASET, help="dataset/schema name")
    parser.add_argument("--resources", help="comma-separated tables to load (default: all)")
    parser.add_argument("--start-date", help="load records updated on or after YYYY-MM-DD")
    parser.add_argument(
        "--full-refresh", action="store_true", help="drop the tables and state, then reload all"
    )
    parser.add_argument(
        "--demo", action="store_true", help="load a simulated account (no Pipedrive account)"
    )
    parser.add_argument("--size", default="small", choices=DEMO_SIZES, help="demo account size")
    parser.add_argument("--verbose", action="store_true", help="show stack traces on errors")
    return parser.parse_args(argv)


def parse_start_date(value: Optional[str]) -> Optional[dt.datetime]:
    """Validates `--start-date`.

    Args:
        value: A date `YYYY-MM-DD` or a UTC timestamp `YYYY-MM-DDTHH:MM:SS`, or None.

    Returns:
        An aware UTC datetime, or None when no start date was given.

    Raises:
        UsageError: The value is not a date.
    """
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--start-date {value!r} is not a date: use YYYY-MM-DD, e.g. --start-date 2024-01-01"
        ) from None
    return parsed.replace(tzinfo=dt.timezone.utc) if parsed.tzinfo is None else parsed


def select_resources(source: Any, names: Optional[str]) -> Any:
    """Restricts the source to the named resources.

    Args:
        source: The pipedrive dlt source.
        names: Comma-separated resource names, or None for all.

    Returns:
        The source with only those resources selected.

    Raises:
        UsageError: A name is not a resource of the source.
    """
    if not names:
        return source
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    unknown = sorted(set(wanted) - set(source.resources.keys()))
    if unknown:
        raise UsageError(
            f"unknown resource(s) {', '.join(unknown)}; choose from: "
            + ", ".join(sorted(source.resources.keys()))
        )
    return source.with_resources(*wanted)


@contextlib.contextmanager
def demo_account(size: str) -> Iterator[None]:
    """Starts the Pipedrive simulator in-process and points the source at it.

    Args:
        size: Simulated account size.

    Yields:
        Nothing; the environment points the source at the simulator while the block runs.
    """
    from pipedrive_sim import Account, SimServer  # demo only: the source never imports it

    print(f"demo: generating a simulated '{size}' Pipedrive account ...", file=sys.stderr)
    account = Account.generate(size=size, seed=1)
    token = "demo-" + os.urandom(8).hex()
    with SimServer(account, token=token, plan="ultimate", seats=50) as server:
        saved = {k: os.environ.get(k) for k in ("SOURCES__PIPEDRIVE__API_TOKEN", "SOURCES__PIPEDRIVE__BASE_URL")}
        os.environ["SOURCES__PIPEDRIVE__API_TOKEN"] = token
        os.environ["SOURCES__PIPEDRIVE__BASE_URL"] = server.base_url
        print(f"demo: simulator serving at {server.base_url}", file=sys.stderr)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def loader_file_format(pipeline: dlt.Pipeline) -> Optional[str]:
    """Chooses the fastest file format the destination loads.

    Args:
        pipeline: A pipeline with a destination.

    Returns:
        A loader file format, or None to keep the destination's default.
    """
    supported = pipeline.destination.capabilities().supported_loader_file_formats
    return next((fmt for fmt in PREFERRED_FILE_FORMATS if fmt in supported), None)


def table_row_counts(pipeline: dlt.Pipeline, tables: List[str]) -> List[tuple]:
    """Counts the rows of each loaded table.

    Args:
        pipeline: The pipeline that loaded the tables.
        tables: Table names in the default schema.

    Returns:
        `(table, rows)` pairs.
    """
    counts = []
    with pipeline.sql_client() as client:
        for table in tables:
            qualified = client.make_qualified_table_name(table)
            counts.append((table, client.execute_sql(f"SELECT count(*) FROM {qualified}")[0][0]))
    return counts


def print_summary(pipeline: dlt.Pipeline, load_info: Any, seconds: float) -> None:
    """Prints rows per table and the run's time.

    Args:
        pipeline: The pipeline that ran.
        load_info: What `pipeline.run` returned.
        seconds: Wall time of the run.
    """
    schema = pipeline.default_schema
    tables = sorted(t for t in schema.data_table_names() if not t.startswith("_dlt"))
    print(f"\nLoaded into {pipeline.destination.destination_name} dataset '{pipeline.dataset_name}' in {seconds:.1f} s")
    print(f"{'table':<32} {'rows':>10}")
    for table, rows in table_row_counts(pipeline, tables):
        print(f"{table:<32} {rows:>10}")
    stats = getattr(load_info, "pipedrive_stats", None)
    if stats:
        print(stats)


def run(args: argparse.Namespace) -> int:
    """Builds the source and pipeline and runs the load.

    Args:
        args: Parsed command-line options.

    Returns:
        The process exit code.
    """
    start_date = parse_start_date(args.start_date)
    pipeline = dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        destination=args.destination,
        dataset_name=args.dataset,
        progress="log",
    )
    try:
        source = pipedrive_source(start_date=start_date)
    except ConfigFieldMissingException:
        raise UsageError(
            "no Pipedrive API token: set SOURCES__PIPEDRIVE__API_TOKEN or api_token under "
            "[sources.pipedrive] in .dlt/secrets.toml (or try --demo)"
        ) from None
    source = select_resources(source, args.resources)
    started = time.monotonic()
    load_info = pipeline.run(
        source,
        loader_file_format=loader_file_format(pipeline),
        refresh="drop_sources" if args.full_refresh else None,
    )
    print_summary(pipeline, load_info, time.monotonic() - started)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point.

    Args:
        argv: Arguments without the program name.

    Returns:
        The process exit code.
    """
    args = parse_args(argv)
    try:
        if args.demo:
            with demo_account(args.size):
                return run(args)
        return run(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
