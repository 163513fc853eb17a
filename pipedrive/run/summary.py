"""What a run did: rows per table, API requests and tokens, chunks, what is left for the next run."""

import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional

import dlt
from dlt.destinations.exceptions import DatabaseUndefinedRelation

from ..deal_children.queue import queued_deals
from ..http import RequestStats
from .chunks import listings_with_more_pages

SOURCE_NAME = "pipedrive"


@dataclass
class RunSummary:
    """The outcome of `pipedrive.run.load`.

    Attributes:
        pipeline: The pipeline that ran (re-attached if the run had to repair its folder).
        chunks: Chunks loaded (one `pipeline.run()` each).
        seconds: Wall time of the run.
        requests: HTTP requests sent, retries included.
        tokens: API tokens spent.
        rate_limited: 429 answers received (and retried).
        rows: Rows per table in the destination after the run (tables that were never created,
            because no row ever arrived, are left out).
        queued_deals: Deals still queued for their children, per child resource (the next run
            continues with them).
        unfinished: Listings that still have pages to read (the next run continues with them).
        stopped_early: Why the run stopped before finishing (the budget message), else None.
    """

    pipeline: dlt.Pipeline
    chunks: int = 0
    seconds: float = 0.0
    requests: int = 0
    tokens: int = 0
    rate_limited: int = 0
    rows: Dict[str, int] = field(default_factory=dict)
    queued_deals: Dict[str, int] = field(default_factory=dict)
    unfinished: List[str] = field(default_factory=list)
    stopped_early: Optional[str] = None


def source_state(pipeline: dlt.Pipeline) -> Mapping[str, Any]:
    """The pipedrive source's state of a pipeline (empty before its first run)."""
    return pipeline.state.get("sources", {}).get(SOURCE_NAME, {})  # type: ignore[no-any-return]


def table_row_counts(pipeline: dlt.Pipeline) -> Dict[str, int]:
    """Rows of each data table the destination holds.

    Only tables that received data are counted: a table the schema declares whose endpoint never
    returned a row was never created, and counting it would fail a run that loaded everything.
    """
    schema = pipeline.default_schema
    tables = sorted(
        t for t in schema.data_table_names(seen_data_only=True) if not t.startswith("_dlt")
    )
    counts: Dict[str, int] = {}
    with pipeline.sql_client() as client:
        for table in tables:
            qualified = client.make_qualified_table_name(table)
            try:
                counts[table] = int(client.execute_sql(f"SELECT count(*) FROM {qualified}")[0][0])
            except DatabaseUndefinedRelation:
                continue  # declared but never created: counting must not fail a good load
    return counts


def summarize(
    pipeline: dlt.Pipeline, chunks: int, started: float, stats: RequestStats, stopped_early: Optional[str] = None
) -> RunSummary:
    """The summary of a finished run."""
    return RunSummary(
        pipeline=pipeline,
        chunks=chunks,
        seconds=time.monotonic() - started,
        requests=stats.requests,
        tokens=stats.tokens,
        rate_limited=stats.rate_limited,
        rows=table_row_counts(pipeline),
        queued_deals=queued_deals(source_state(pipeline)),
        unfinished=listings_with_more_pages(source_state(pipeline)),
        stopped_early=stopped_early,
    )
