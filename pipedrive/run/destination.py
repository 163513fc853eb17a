"""Destination settings the run applies: the fastest lossless load file format, DuckDB tuned for
memory, and one DuckDB connection held open through each chunk of a run."""

import contextlib
from typing import Any, Iterator, Optional

import dlt

PREFERRED_FILE_FORMATS = ("jsonl",)
"""DuckDB loads much faster from jsonl than from its insert_values default. Only lossless formats
here: dlt loads csv into Postgres with `COPY ... FORCE_NULL`, which turns "" into NULL, so Postgres
keeps its exact default."""
DUCKDB_TYPE = "dlt.destinations.duckdb"
DUCKDB_GLOBAL_CONFIG = {"threads": 1}
"""DuckDB settings of every load connection. One thread: a merge deduplicates all staging rows of a
table in one window, whose memory grows with the threads (DuckDB's `memory_limit` is no bound, the
merge fails under it); with `[load] workers = 1` it bounds a large load's memory (figures in
bench/RESULTS.md, benchmark 3). Not in config.toml: dlt reads duckdb credentials
(where this lives) only from secret providers."""


def duckdb_destination(database: Optional[str] = None) -> Any:
    """The DuckDB destination with `DUCKDB_GLOBAL_CONFIG` on its connections.

    Args:
        database: Database file; None keeps dlt's resolution (`DESTINATION__DUCKDB__CREDENTIALS`
            or `[destination.duckdb] credentials` if set, else `<pipeline name>.duckdb` here).
    """
    credentials: dict = {"global_config": dict(DUCKDB_GLOBAL_CONFIG)}
    if database is not None:
        credentials["database"] = database
    return dlt.destinations.duckdb(credentials=credentials)


def destination_for(name: str) -> Any:
    """The destination a name means, DuckDB with this project's settings (others by name)."""
    return duckdb_destination() if name == "duckdb" else name


def loader_file_format(pipeline: dlt.Pipeline) -> Optional[str]:
    """The fastest lossless file format the pipeline's destination loads (None: its default)."""
    supported = pipeline.destination.capabilities().supported_loader_file_formats
    return next((fmt for fmt in PREFERRED_FILE_FORMATS if fmt in supported), None)


def is_duckdb(pipeline: dlt.Pipeline) -> bool:
    """Whether the pipeline loads DuckDB."""
    return pipeline.destination is not None and pipeline.destination.destination_type == DUCKDB_TYPE


@contextlib.contextmanager
def duckdb_kept_open(pipeline: dlt.Pipeline, unbounded: bool = False) -> Iterator[None]:
    """Holds one DuckDB connection open while one chunk of a run loads.

    dlt opens and closes a DuckDB connection for every load job; closing the last one checkpoints
    and closes the database, and the next job opens it again and reads its catalog: ~60 ms per job,
    and a backfill chunk has ~70 jobs (`small`: load 6.3 s -> 2.0 s held open). A connection held
    across the chunk keeps the database open (DuckDB shares it between the connections of one
    process); closing it after the chunk checkpoints once.

    Not for an unbounded load (a whole account in one chunk: `chunk_pages=0` on a first run or a
    full refresh): an open database keeps the blocks every job read cached, which raised the peak
    memory of a one-run `large` load by ~15%; closing after each job frees them. A chunk holds at
    most `chunk_pages` pages per listing, so what it caches is bounded. Other destinations: no-op.

    Args:
        pipeline: The pipeline about to run a chunk.
        unbounded: The chunk may load the whole account (one-chunk backfill).
    """
    if unbounded or not is_duckdb(pipeline):
        yield
        return
    with pipeline.sql_client():
        yield
