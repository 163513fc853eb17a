"""The run protocol: everything around `pipeline.run()` that makes a Pipedrive load complete,
resumable and safe, for the command line and for library, Airflow and Dagster users alike.

It owns `load` (preflight, repair, the chunk loop, one token budget, a summary: `protocol`),
which listings a next chunk runs (`chunks`), the repair of what a killed run left behind
(`recovery`), one run at a time per pipeline (`lock`) and the only uses of dlt internals (`dlt_internals`), the destination settings a run
applies (`destination`), the run's summary (`summary`) and the one-line failure messages with
their exit codes (`failures`). It builds sources with `pipedrive_source`; the source never
imports it.

    import dlt
    from pipedrive.run import destination_for, load

    pipeline = dlt.pipeline("pipedrive", destination=destination_for("duckdb"), dataset_name="crm")
    summary = load(pipeline)
"""

from .destination import destination_for, duckdb_destination
from .failures import UsageError, describe_failure
from .protocol import DEFAULT_CHUNK_PAGES, load, select_tables
from .lock import RunInProgressError
from .summary import RunSummary

__all__ = [
    "DEFAULT_CHUNK_PAGES",
    "RunSummary",
    "UsageError",
    "describe_failure",
    "destination_for",
    "duckdb_destination",
    "load",
    "RunInProgressError",
    "select_tables",
]
