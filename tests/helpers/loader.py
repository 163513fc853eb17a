"""Running `pipedrive_source` against the simulator into DuckDB, for the in-process test folders:
the `Loader`, the environment fixture (`dlt_env`) and the request-log helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dlt
import pytest

from pipedrive import pipedrive_source

SIM_TOKEN = "sim-token"


@pytest.fixture(autouse=True)
def dlt_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No telemetry, fast retries, no config leaking in from the working directory."""
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    monkeypatch.setenv("RUNTIME__REQUEST_BACKOFF_FACTOR", "0")
    monkeypatch.setenv("RUNTIME__REQUEST_MAX_RETRY_DELAY", "1")
    monkeypatch.chdir(tmp_path)
    yield


class Loader:
    """One dlt pipeline (DuckDB, dev_mode) reused across runs of a test."""

    def __init__(self, base_url: str, pipelines_dir: Path, name: str = "pd_test") -> None:
        self.base_url = base_url
        # the database beside the pipeline's folder: never in the working directory (a module-scoped
        # loader starts before `dlt_env` moves into tmp_path)
        self.pipeline = dlt.pipeline(
            pipeline_name=name,
            destination=dlt.destinations.duckdb(str(Path(pipelines_dir) / f"{name}.duckdb")),
            pipelines_dir=str(pipelines_dir),
            dev_mode=True,
        )

    def source(self, **kwargs: Any) -> Any:
        kwargs.setdefault("api_token", SIM_TOKEN)
        kwargs.setdefault("base_url", self.base_url)
        return pipedrive_source(**kwargs)

    def run(self, *resources: str, **kwargs: Any) -> Any:
        """Runs the source (only `resources` if given) and fails on failed jobs."""
        source = self.source(**kwargs)
        if resources:
            source = source.with_resources(*resources)
        info = self.pipeline.run(source, loader_file_format="jsonl")
        assert not info.has_failed_jobs
        return info

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        with self.pipeline.sql_client() as client:
            return [tuple(row) for row in client.execute_sql(sql)]

    def table(self, table: str, columns: str = "*", where: str = "") -> list[dict[str, Any]]:
        with self.pipeline.sql_client() as client:
            with client.execute_query(f"SELECT {columns} FROM {table} {where}") as cursor:
                names = [d[0] for d in cursor.description]
                return [dict(zip(names, row)) for row in cursor.fetchall()]

    def columns(self, table: str) -> dict[str, Any]:
        return {
            name: column.get("data_type")
            for name, column in self.pipeline.default_schema.get_table(table)["columns"].items()
        }


@pytest.fixture
def make_loader(tmp_path: Path) -> Callable[..., Loader]:
    """Factory: `make_loader(server)` -> `Loader` with pipelines_dir under tmp_path."""

    def factory(server: Any, name: str = "pd_test") -> Loader:
        return Loader(server.base_url, tmp_path / "pipelines", name)

    return factory


def settled_log(server: Any, timeout: float = 1.0) -> list[Any]:
    """The simulator's request log once the last entry is written.

    The simulator records a request after sending its response, so a client can see the response
    a moment before the entry exists.
    """
    import time

    deadline = time.monotonic() + timeout
    log = server.log
    while time.monotonic() < deadline:
        time.sleep(0.02)
        newer = server.log
        if len(newer) == len(log):
            return newer
        log = newer
    return log


UNCAPPED = 10_000_000
"""A `max_tokens_per_run` no test account reaches."""


def duckdb_pipeline(tmp_path: Path, name: str) -> dlt.Pipeline:
    """A pipeline `name` with its own DuckDB file and working folder under `tmp_path`."""
    return dlt.pipeline(name, destination=dlt.destinations.duckdb(str(tmp_path / f"{name}.duckdb")),
                        pipelines_dir=str(tmp_path / "p"), dataset_name="d")


class SimRuns:
    """One pipeline loading one simulator through `pipedrive.run.load`, the way the CLI and an
    orchestrator run it; `run()` returns the request-log entries of that run."""

    def __init__(self, server: Any, tmp_path: Path, name: str = "sim", **defaults: Any) -> None:
        self.server = server
        self.pipeline = duckdb_pipeline(tmp_path, name)
        self.defaults = {"max_tokens_per_run": UNCAPPED, **defaults}
        self.summary: Any = None

    def run(self, **options: Any) -> list[Any]:
        from pipedrive.run import load

        seen = len(self.server.log)
        self.summary = load(self.pipeline, api_token=self.server.token, base_url=self.server.base_url,
                            **{**self.defaults, **options})
        return self.server.log[seen:]

    def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        with self.pipeline.sql_client() as client:
            return [tuple(row) for row in client.execute_sql(sql, *args)]

    def endpoints(self, **options: Any) -> list[str]:
        """Runs, returning the endpoints requested (`"v2 /deals"`), in order."""
        return [entry.endpoint for entry in self.run(**options)]
