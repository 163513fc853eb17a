"""What an Airflow `PythonOperator` or a Dagster op runs: one plain call of the run protocol
(`pipedrive.run.load`), configured from the environment like any dlt pipeline. The fault suite
runs it in fresh processes, kills it and wipes its local pipeline folder between calls."""

from __future__ import annotations

import sys

import dlt

from pipedrive.run import destination_for, load


def sync_pipedrive() -> None:
    """The task body: open the pipeline, load, report."""
    pipeline = dlt.pipeline("pipedrive", destination=destination_for("duckdb"), dataset_name="pipedrive_data")
    summary = load(pipeline, chunk_pages=1, progress=lambda line: print(line, file=sys.stderr, flush=True))
    print(f"loaded {sum(summary.rows.values())} rows ({summary.chunks} chunk(s)), {summary.tokens} tokens")


if __name__ == "__main__":
    sync_pipedrive()
