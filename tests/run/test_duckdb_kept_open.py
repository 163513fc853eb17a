"""`duckdb_kept_open`: the run protocol holds one DuckDB connection across each chunk of a run, so
dlt's load jobs do not open (read the catalog) and close (checkpoint) the database file once per
job; a backfill in one chunk closes it after each job, which frees the blocks the job read."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List

import dlt
import duckdb
import pytest

from pipedrive.run import destination

TABLES = [f"table_{i}" for i in range(8)]


def _tables() -> List[Any]:
    def rows(table: str) -> Iterator[Dict[str, Any]]:
        yield from ({"id": i, "table": table} for i in range(3))

    return [dlt.resource(rows(t), name=t, primary_key="id", write_disposition="merge") for t in TABLES]


def _connects(monkeypatch: pytest.MonkeyPatch, database: Path) -> List[bool]:
    """For every `duckdb.connect` dlt makes (the real one runs): whether the database was still
    open from before. DuckDB writes to its WAL file and moves it into the database file only
    when its last connection closes (a checkpoint; a few MB would not trigger one earlier), so
    a WAL file present at a connect means the database was not closed since the last write."""
    still_open: List[bool] = []
    real_connect = duckdb.connect
    wal = Path(f"{database}.wal")

    def recording_connect(*args: Any, **kwargs: Any) -> duckdb.DuckDBPyConnection:
        still_open.append(wal.exists())
        return real_connect(*args, **kwargs)

    monkeypatch.setattr(duckdb, "connect", recording_connect)
    return still_open


def _duckdb_pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> tuple[dlt.Pipeline, Path]:
    """A pipeline into `<tmp_path>/<name>.duckdb`, loading one job at a time (the project's
    `[load] workers = 1`)."""
    monkeypatch.setenv("LOAD__WORKERS", "1")
    database = tmp_path / f"{name}.duckdb"
    pipeline = dlt.pipeline(
        pipeline_name=name,
        pipelines_dir=str(tmp_path / "pipelines"),
        destination=destination.duckdb_destination(str(database)),
        dataset_name="data",
    )
    return pipeline, database


@pytest.mark.parametrize("kept_open", [False, True])
def test_a_run_opens_the_database_once_instead_of_once_per_load_job(
    kept_open: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline, database = _duckdb_pipeline(tmp_path, monkeypatch, f"kept_open_{kept_open}")
    pipeline.run(_tables(), loader_file_format="jsonl")  # tables exist: the next run merges
    connects = _connects(monkeypatch, database)
    with destination.duckdb_kept_open(pipeline) if kept_open else contextlib.nullcontext():
        info = pipeline.run(_tables(), loader_file_format="jsonl")
    assert not info.has_failed_jobs
    assert len(connects) > len(TABLES)  # a connect per load job either way
    reopened = connects.count(False)  # the database file opened (catalog read) anew
    if kept_open:
        assert reopened <= 2, connects  # the kept connection, and dlt's first one before it
    else:
        assert reopened > len(TABLES), connects  # opened and checkpointed once per job
    # closed afterwards: another process can open the file and sees the merged rows
    check = subprocess.run(
        [sys.executable, "-c", f"import duckdb; print(duckdb.connect({str(database)!r}).sql("
         "'select count(*) from data.table_7').fetchone()[0])"],
        capture_output=True, text=True, timeout=60,
    )
    assert check.stdout.strip() == "3", check.stderr


@pytest.mark.parametrize("first_run", [True, False])
def test_an_unbounded_backfill_closes_the_database_after_each_job(
    first_run: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole account in one chunk (a first run or `--full-refresh` with `chunk_pages=0`): not
    kept open, so the blocks each job read are freed."""
    pipeline, database = _duckdb_pipeline(tmp_path, monkeypatch, f"backfill_{first_run}")
    if not first_run:
        pipeline.run(_tables(), loader_file_format="jsonl")
    connects = _connects(monkeypatch, database)
    with destination.duckdb_kept_open(pipeline, unbounded=True):
        assert not pipeline.run(_tables(), loader_file_format="jsonl").has_failed_jobs
    assert connects.count(False) > len(TABLES), connects


def test_a_first_run_chunk_is_kept_open_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bounded chunk of a backfill, the pipeline's very first load included: one open."""
    pipeline, database = _duckdb_pipeline(tmp_path, monkeypatch, "first_chunk")
    connects = _connects(monkeypatch, database)
    with destination.duckdb_kept_open(pipeline):
        assert not pipeline.run(_tables(), loader_file_format="jsonl").has_failed_jobs
    # before the first write there is no WAL file, so dlt's connects ahead of it (creating the
    # dataset) look like reopens: a few, against one per load job when not kept open
    assert len(connects) > len(TABLES) and connects.count(False) <= 3, connects
    with duckdb_connection(database) as connection:
        assert connection.sql("select count(*) from data.table_7").fetchone()[0] == 3


@contextlib.contextmanager
def duckdb_connection(database: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(database), read_only=True)
    try:
        yield connection
    finally:
        connection.close()


def test_other_destinations_are_left_alone(tmp_path: Path) -> None:
    pipeline = dlt.pipeline(
        pipeline_name="kept_open_filesystem",
        pipelines_dir=str(tmp_path / "pipelines"),
        destination=dlt.destinations.filesystem(str(tmp_path / "files")),
        dataset_name="data",
    )
    with destination.duckdb_kept_open(pipeline):
        info = pipeline.run(_tables()[:1], loader_file_format="jsonl")
    assert not info.has_failed_jobs
