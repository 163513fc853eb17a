"""Load a Pipedrive account into a warehouse with dlt.

Usage:
    python pipedrive_pipeline.py                          # everything into pipedrive.duckdb
    python pipedrive_pipeline.py --resources deals,persons --start-date 2024-01-01
    python pipedrive_pipeline.py --destination postgres --dataset crm
    python pipedrive_pipeline.py --demo --size small      # no Pipedrive account needed

The API token comes from `.dlt/secrets.toml` (`[sources.pipedrive] api_token = "..."`) or the
environment variable `SOURCES__PIPEDRIVE__API_TOKEN`. It is sent only in the `x-api-token` header.

Long backfills run in chunks: every incremental table reads at most `--chunk-pages` pages per
`pipeline.run()`, which loads and checkpoints them; the script repeats until no table reports
more pages. An interrupted run (error, kill, spent daily budget) loses at most the chunk in
flight; rerunning the script first finishes a load package a killed run left behind, then
continues after the last loaded chunk.

Exit codes: 0 loaded; 1 the API or the destination failed; 2 bad configuration or input;
3 stopped early on the daily token budget or `max_tokens_per_run` (rerun later to resume);
130 interrupted. Errors print one line (`--verbose` adds the stack trace).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import logging
import os
import re
import sys
import time
import traceback
from typing import Any, Iterator, List, Optional, Sequence, Tuple

import dlt
from dlt.common.configuration.exceptions import ConfigFieldMissingException
from dlt.common.destination import Destination
from dlt.common.destination.exceptions import UnknownDestinationModule
from dlt.common.pipeline import get_dlt_pipelines_dir
from dlt.common.storages.load_package import PackageStorage
from dlt.sources.helpers.requests import Client

from pipedrive import RequestStats, pipedrive_source
from pipedrive.child_queue import queued_deals
from pipedrive.chunking import chunk_selection, pending_resources
from pipedrive.client import PipedriveClient
from pipedrive.config import resolve_base_url, validate_api_token
from pipedrive.entities import ApiVersion
from pipedrive.selection import resources_for
from pipedrive.errors import (
    DailyBudgetExceededError,
    PipedriveConfigError,
    PipedriveError,
    TokenBudgetExceededError,
)

PIPELINE_NAME = "pipedrive"
SOURCE_NAME = "pipedrive"
DEFAULT_DATASET = "pipedrive_data"
DEMO_SIZES = ("tiny", "small", "medium")
DEFAULT_CHUNK_PAGES = 20
"""Pages per incremental table per chunk: 10,000 rows of a 500-row listing."""
# duckdb loads ~20x faster from jsonl than from its insert_values default; only lossless formats
# here: dlt loads csv into Postgres with COPY ... FORCE_NULL, which turns "" into NULL, so
# Postgres keeps its exact (slower) insert_values default
PREFERRED_FILE_FORMATS = ("jsonl",)
USERS_ME_COST = 2
DUCKDB_TYPE = "dlt.destinations.duckdb"
DUCKDB_GLOBAL_CONFIG = {"threads": 1}
"""DuckDB settings of every load connection. One thread: a merge deduplicates all staging rows
of a table in one window, which takes ~1.3 GB with 2 threads and ~0.75 GB with one for 500k
wide rows (`large` account; DuckDB's `memory_limit` is no bound: at 640 MB the merge fails).
With `[load] workers = 1` (.dlt/config.toml) it keeps a `large` load under 1 GB of RSS
(bench/RESULTS.md, benchmark 3). Not in config.toml: dlt reads duckdb credentials (where this
lives) only from secret providers."""
EXIT_FAILED, EXIT_USAGE, EXIT_STOPPED_EARLY, EXIT_INTERRUPTED = 1, 2, 3, 130
_UNWRITABLE_FILE = re.compile(r'Cannot open file "([^"]+)": ([^\n]+)')


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
        "--chunk-pages",
        type=int,
        default=DEFAULT_CHUNK_PAGES,
        help="pages per incremental table per loaded chunk (0: one chunk, no checkpoints)",
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


def check_destination(name: str) -> None:
    """Fails early on a destination name dlt does not know.

    Raises:
        UsageError: `name` is not a dlt destination.
    """
    try:
        Destination.from_reference(name)
    except UnknownDestinationModule:
        known = ", ".join(sorted(n for n in dlt.destinations.__all__ if n.islower()))
        raise UsageError(f"unknown destination {name!r}; choose one of: {known}") from None


def duckdb_destination(database: Optional[str] = None) -> Any:
    """The DuckDB destination with `DUCKDB_GLOBAL_CONFIG` applied to its connections.

    Args:
        database: Database file; None keeps dlt's resolution (`DESTINATION__DUCKDB__CREDENTIALS`
            or `[destination.duckdb] credentials` if set, else `pipedrive.duckdb` here).

    Returns:
        A dlt destination.
    """
    credentials: dict = {"global_config": dict(DUCKDB_GLOBAL_CONFIG)}
    if database is not None:
        credentials["database"] = database
    return dlt.destinations.duckdb(credentials=credentials)


def destination_for(name: str) -> Any:
    """The destination `--destination` names, DuckDB with this pipeline's settings.

    Args:
        name: A dlt destination name.

    Returns:
        A destination (or its name) for `dlt.pipeline`.
    """
    return duckdb_destination() if name == "duckdb" else name


@contextlib.contextmanager
def duckdb_kept_open(pipeline: dlt.Pipeline, backfill: bool = False) -> Iterator[None]:
    """Holds one connection to a DuckDB destination open while an incremental run runs.

    dlt opens and closes a DuckDB connection for every load job; when it closes the last one,
    DuckDB checkpoints and closes the database, and the next job opens it again and reads its
    catalog. With one load job at a time (`[load] workers = 1`) that is every job: 2.2 of the
    2.9 s an incremental load of 35 small tables took (bench/RESULTS.md, benchmark 2). A
    connection held across the run keeps the database open (DuckDB shares it between the
    connections of one process), so each job only takes a cursor.

    Not for backfills: an open database keeps the blocks every job read cached, which took a
    one-run load of the `large` account from 0.93 to 1.08 GB of RSS (benchmark 3); closing after
    each job frees them. An incremental run's merges touch little. Other destinations: no-op.

    Args:
        pipeline: The pipeline about to run.
        backfill: The run reloads everything (`--full-refresh`); a pipeline that never loaded
            (`first_run`) counts as a backfill too.
    """
    if (
        backfill
        or pipeline.first_run
        or pipeline.destination is None
        or pipeline.destination.destination_type != DUCKDB_TYPE
    ):
        yield
        return
    with pipeline.sql_client():
        yield


def select_resources(source: Any, names: Optional[str]) -> Any:
    """Restricts the source to the named tables (or resources).

    Args:
        source: The pipedrive dlt source.
        names: Comma-separated table or resource names, or None for all.

    Returns:
        The source with every resource that writes those tables selected.

    Raises:
        UsageError: A name is not a table or resource of the source.
    """
    if not names:
        return source
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    try:
        return source.with_resources(*resources_for(source, wanted))
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _configured(*keys: str) -> Optional[str]:
    """First value found for one of the config keys (secrets and config providers)."""
    for key in keys:
        value = dlt.secrets.get(key) if key.endswith("api_token") else dlt.config.get(key)
        if value:
            return str(value)
    return None


def preflight(run_stats: Optional[RequestStats] = None) -> None:
    """One cheap request (`/users/me`) before any pipeline step: a wrong token, an unpaid
    account or an unreachable host fails here in seconds, with the message of the error.

    Args:
        run_stats: The run's counters, so the summary includes this request.

    Raises:
        UsageError: No token is configured.
        PipedriveError: The token, account or host is not usable.
    """
    token = _configured("sources.pipedrive.pipedrive.api_token", "sources.pipedrive.api_token")
    if token is None and _configured("sources.pipedrive.oauth.client_id"):
        return  # OAuth: pipedrive_source() already exchanged the refresh token in build_source
    if token is None:
        raise UsageError(
            "no Pipedrive API token: set SOURCES__PIPEDRIVE__API_TOKEN or api_token under "
            "[sources.pipedrive] in .dlt/secrets.toml (or try --demo)"
        )
    base_url = resolve_base_url(
        _configured("sources.pipedrive.company_domain"), _configured("sources.pipedrive.base_url")
    )
    quick = Client(raise_for_status=False, request_max_attempts=2, request_timeout=15)
    client = PipedriveClient(
        validate_api_token(token), base_url, http_client=quick, stats=run_stats
    )
    client.get("/users/me", api=ApiVersion.V1, token_cost=USERS_ME_COST)


def build_source(
    args: argparse.Namespace,
    start_date: Optional[dt.datetime],
    run_stats: Optional[RequestStats] = None,
) -> Any:
    """Creates the source with the command line's selection and chunk size.

    Args:
        args: Parsed command-line options.
        start_date: Start of the first load of incremental tables.
        run_stats: Counters shared by all chunks of this run (one token budget, one total).

    Raises:
        UsageError: No token is configured, or an unknown resource was named.
    """
    try:
        source = pipedrive_source(
            start_date=start_date,
            max_pages_per_chunk=args.chunk_pages or None,
            run_stats=run_stats,
        )
    except ConfigFieldMissingException:
        raise UsageError(
            "no Pipedrive API token: set SOURCES__PIPEDRIVE__API_TOKEN or api_token under "
            "[sources.pipedrive] in .dlt/secrets.toml (or try --demo)"
        ) from None
    return select_resources(source, args.resources)


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
        demo_env = {
            "SOURCES__PIPEDRIVE__API_TOKEN": token,
            "SOURCES__PIPEDRIVE__BASE_URL": server.base_url,
            # the simulated account has budget to spare: load every deal's children in one run
            "SOURCES__PIPEDRIVE__MAX_TOKENS_PER_RUN": os.environ.get(
                "SOURCES__PIPEDRIVE__MAX_TOKENS_PER_RUN", "10000000"
            ),
        }
        saved = {k: os.environ.get(k) for k in demo_env}
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


def loader_file_format(pipeline: dlt.Pipeline) -> Optional[str]:
    """Chooses the fastest file format the destination loads.

    Args:
        pipeline: A pipeline with a destination.

    Returns:
        A loader file format, or None to keep the destination's default.
    """
    supported = pipeline.destination.capabilities().supported_loader_file_formats
    return next((fmt for fmt in PREFERRED_FILE_FORMATS if fmt in supported), None)


def table_row_counts(pipeline: dlt.Pipeline, tables: List[str]) -> List[Tuple[str, int]]:
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


def print_summary(
    pipeline: dlt.Pipeline, chunks: int, seconds: float, stats: RequestStats
) -> None:
    """Prints rows per table, the API requests and tokens used, the time, and what remains of a
    backfill that stopped at its token cap.

    Args:
        pipeline: The pipeline that ran.
        chunks: Chunks loaded by this run.
        seconds: Wall time of the run.
        stats: Request and token counters of all chunks of the run.
    """
    schema = pipeline.default_schema
    tables = sorted(t for t in schema.data_table_names() if not t.startswith("_dlt"))
    print(
        f"\nLoaded into {pipeline.destination.destination_name} dataset "
        f"'{pipeline.dataset_name}' in {seconds:.1f} s ({chunks} chunk(s))"
    )
    print(f"{'table':<32} {'rows':>10}")
    for table, rows in table_row_counts(pipeline, tables):
        print(f"{table:<32} {rows:>10}")
    print(
        f"API: {stats.requests} requests, {stats.tokens} tokens"
        f" ({stats.rate_limited} answered 429 and retried)"
    )
    queued = queued_deals(pipeline.state.get("sources", {}).get(SOURCE_NAME, {}))
    if queued:
        print(
            "token cap reached: deals still queued for their children (the next run continues): "
            + ", ".join(f"{name} {count}" for name, count in queued.items())
        )


def discard_broken_extracts(pipeline: dlt.Pipeline) -> List[str]:
    """Deletes extracted packages without a schema file: what a kill during normalize leaves
    while it deletes a package it already normalized (dlt would fail on them forever).

    Returns:
        The load ids deleted.
    """
    # dlt has no public API for extracted packages; the storage is the one `normalize()` reads
    storage = pipeline._get_normalize_storage()
    if not storage.is_storage_ready():
        return []  # a new pipeline: nothing extracted yet
    packages = storage.extracted_packages
    broken = [
        load_id
        for load_id in packages.list_packages()
        if not packages.storage.has_file(os.path.join(load_id, PackageStorage.SCHEMA_FILE_NAME))
    ]
    for load_id in broken:
        packages.delete_package(load_id, not_exists_ok=True)
    return broken


ATOMIC_TEMP_FILE = re.compile(r"[0-9a-f]{16}|[0-9a-f]{32}")
"""Names of dlt's temporary files (`uniq_id(8)` / `uniq_id()`): `FileStorage.save_atomic` writes
one and renames it over the target, `move_atomic_to_*` copies through one."""


def discard_atomic_temp_files(pipeline_name: str) -> List[str]:
    """Deletes the temporary files of atomic writes that a kill interrupted before their rename.

    dlt lists the schema folder by file name, so a stray `42fbd64b2ca4b76a` there is taken for a
    schema named so and every later run fails (InvalidSchemaName, or FileNotFoundError on
    `42fbd64b2ca4b76a.schema.json`); dlt 1.31 never cleans them up. dlt names none of its own
    files with a bare 16- or 32-digit hex name. Runs before `dlt.pipeline()`, which already lists
    the schemas.

    Args:
        pipeline_name: The pipeline whose working directory (under dlt's pipelines dir) is cleaned.

    Returns:
        The paths deleted, relative to the pipeline's working directory.
    """
    root = os.path.join(get_dlt_pipelines_dir(), pipeline_name)
    deleted = []
    for folder, _, files in os.walk(root):
        for name in files:
            if ATOMIC_TEMP_FILE.fullmatch(name):
                path = os.path.join(folder, name)
                os.remove(path)
                deleted.append(os.path.relpath(path, root))
    return deleted


def finish_pending_packages(pipeline: dlt.Pipeline) -> None:
    """Loads the load packages an interrupted run extracted but did not load.

    dlt keeps them (with the state of their chunk) in the pipeline's working directory;
    `pipeline.run()` would load them and skip the new extraction, so they go first.
    """
    if discard_broken_extracts(pipeline):
        print("resuming: discarded a half-deleted package a killed run left", file=sys.stderr)
    if pipeline.has_pending_data:
        print("resuming: loading the package(s) an interrupted run left", file=sys.stderr)
        pipeline.normalize()
        pipeline.load()


def full_refresh_mode(args: argparse.Namespace) -> Optional[str]:
    """dlt's `refresh` for `--full-refresh`: with `--resources`, only those tables and their
    state are dropped (`drop_sources` would drop every table of the source)."""
    if not args.full_refresh:
        return None
    return "drop_resources" if args.resources else "drop_sources"


def run_chunks(
    pipeline: dlt.Pipeline,
    args: argparse.Namespace,
    start_date: Optional[dt.datetime],
    run_stats: RequestStats,
) -> int:
    """Runs the pipeline chunk after chunk until no table reports pending pages.

    Args:
        pipeline: The pipeline.
        args: Parsed command-line options.
        start_date: Start of the first load of incremental tables.
        run_stats: Counters shared by every chunk's source, so `max_tokens_per_run` caps the
            whole run, not each chunk.

    Returns:
        Chunks loaded.
    """
    names: Optional[List[str]] = None
    chunks = 0
    while True:
        source = build_source(args, start_date, run_stats)
        if names is not None:
            source = source.with_resources(*names)
        pipeline.run(
            source,
            loader_file_format=loader_file_format(pipeline),
            refresh=full_refresh_mode(args) if chunks == 0 else None,
        )
        chunks += 1
        state = pipeline.state.get("sources", {}).get(SOURCE_NAME, {})
        names = chunk_selection(source, pending_resources(state))
        if not names:
            return chunks
        print(f"chunk {chunks} loaded; more pages pending for: {', '.join(names)}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Validates the configuration, then loads chunk after chunk.

    Args:
        args: Parsed command-line options.

    Returns:
        The process exit code.
    """
    start_date = parse_start_date(args.start_date)
    if args.chunk_pages < 0:
        raise UsageError(f"--chunk-pages {args.chunk_pages} must be >= 0")
    check_destination(args.destination)
    build_source(args, start_date)  # token and resource names, before any request
    run_stats = RequestStats()
    preflight(run_stats)
    if discard_atomic_temp_files(PIPELINE_NAME):
        print("resuming: deleted the temporary file(s) of a write a killed run left", file=sys.stderr)
    pipeline = dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        destination=destination_for(args.destination),
        dataset_name=args.dataset,
        progress="log",
    )
    started = time.monotonic()
    with duckdb_kept_open(pipeline, backfill=args.full_refresh):
        if args.full_refresh:
            if pipeline.has_pending_data:
                pipeline.abort_packages()  # everything is dropped and reloaded anyway
        else:
            finish_pending_packages(pipeline)
        chunks = run_chunks(pipeline, args, start_date, run_stats)
        print_summary(pipeline, chunks, time.monotonic() - started, run_stats)
    return 0


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it was raised from, outermost first."""
    seen = set()
    current: Optional[BaseException] = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def describe_failure(exc: BaseException) -> Tuple[str, int]:
    """One line saying what failed and what to do, and the exit code.

    Args:
        exc: What the run raised (dlt wraps source errors in `PipelineStepFailed`).

    Returns:
        `(message, exit_code)`.
    """
    chain = list(_causes(exc))
    for cause in chain:
        if isinstance(cause, (UsageError, PipedriveConfigError)):
            return str(cause), EXIT_USAGE
        if isinstance(cause, (DailyBudgetExceededError, TokenBudgetExceededError)):
            return f"stopped early: {cause}", EXIT_STOPPED_EARLY
        if isinstance(cause, PipedriveError):
            return str(cause), EXIT_FAILED
        if isinstance(cause, ConfigFieldMissingException):
            return f"missing configuration: {', '.join(cause.fields)}", EXIT_USAGE
    for cause in chain:
        unwritable = _UNWRITABLE_FILE.search(str(cause))
        if unwritable or isinstance(cause, PermissionError):
            what = f"{unwritable.group(1)} ({unwritable.group(2)})" if unwritable else str(cause)
            return (
                f"cannot open the destination database {what}: run from a writable directory "
                "or set DESTINATION__DUCKDB__CREDENTIALS to a writable file path",
                EXIT_USAGE,
            )
    root = chain[-1]
    first_line = (str(root).strip().splitlines() or [""])[0][:300]
    return f"{type(root).__name__}: {first_line} (rerun with --verbose for details)", EXIT_FAILED


class NullColumnNoticeFilter(logging.Filter):
    """Drops dlt's warning about columns that were null in every row of a load.

    Pipedrive sends many optional keys as null (e.g. `channel` on deals); dlt then warns, per
    table and run, that it cannot infer their type yet. The column appears, typed, with the
    first load that carries a value (dlt schema evolution), so the warning is noise for this
    pipeline. `--verbose` keeps it.
    """

    def filter(self, record: logging.LogRecord) -> bool:  # noqa: A003 - logging's API
        return "did not receive any data during this load" not in record.getMessage()


NULL_COLUMN_NOTICE = NullColumnNoticeFilter()


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point.

    Args:
        argv: Arguments without the program name.

    Returns:
        The process exit code.
    """
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
