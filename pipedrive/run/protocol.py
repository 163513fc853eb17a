"""`load`: one complete, resumable run of the Pipedrive source into a pipeline.

What the command line does and a library, Airflow or Dagster task needs just the same:

1. build the source once, so the configuration and the table names are checked before any
   request; take the pipeline's run lock (`lock`);
2. preflight on a pipeline's first run: one cheap request (`/users/me`) so a wrong token, an unpaid
   account or an unreachable host fails in seconds;
3. repair what a killed run left (`recovery`) and load its pending packages first;
4. chunk after chunk (`chunks`): every chunk is extracted, loaded and checkpointed before the next
   starts, until no listing has pages left and no table is due (`pipedrive.schedule`); all chunks
   share one `RunSession`, so one client, rate limiter and token budget;
5. after each chunk, the rows that complete reads no longer returned are flagged deleted
   (`maintenance`); a budget stop (daily budget, token cap) ends the loop after its chunk is
   loaded: everything read is kept and the next run continues;
6. a summary (`summary.RunSummary`, `stopped_early` set after a budget stop).
"""

import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple

import dlt
from dlt.common import logger
from dlt.common.configuration.exceptions import ConfigFieldMissingException
from dlt.extract.source import DltSource

from .. import pipedrive_source
from ..entities import ENTITIES, ApiVersion
from ..fields.definitions import PENDING_CHANGES_KEY
from ..schedule import due_now
from ..sweeps import note_swept, sweep_name
from ..session import RunSession
from .chunks import listings_with_more_pages, next_chunk
from .destination import duckdb_kept_open, loader_file_format
from .failures import NO_TOKEN, UsageError
from .lock import run_lock
from .dlt_internals import drop_resource_state, update_source_state
from .maintenance import apply_field_changes, close_deleted_versions, complete_tables, entity_tables_of, mark_gone
from .recovery import TProgress, finish_interrupted_run, reload_resources, reopen_if_repaired, tables_to_reload
from .summary import SOURCE_NAME, RunSummary, source_state, summarize

DEFAULT_CHUNK_PAGES = 20
"""Pages per incremental table per chunk at the Growth plan's burst limit: 10,000 rows of a
500-row listing (more at higher limits, `RunSession.pages_per_chunk`)."""
PREFLIGHT_PATH, PREFLIGHT_COST = "/users/me", 2


def _log(message: str) -> None:
    logger.info(message)


def select_tables(source: DltSource, names: Optional[Sequence[str]]) -> DltSource:
    """The source restricted to the named tables (or resources), with every resource that writes
    a named table (selecting `projects` alone would miss the archived projects `projects_archived`
    writes) and the deletion sweeps of the chosen listings (not selected by the source itself:
    only `load` applies what a sweep found).

    Args:
        source: A `pipedrive_source()`.
        names: Tables or resource names; None or empty: the resources the source selects.

    Raises:
        UsageError: A name is neither a table nor a resource; the message lists the tables.
    """
    sweeps = {sweep_name(e): e.name for e in ENTITIES if e.is_incremental}
    if names:
        table_of = {name: resource.table_name for name, resource in source.resources.items() if name not in sweeps}
        unknown = sorted(set(names) - set(table_of) - set(table_of.values()) - set(sweeps))
        if unknown:
            raise UsageError(
                f"unknown table(s) {', '.join(unknown)}; choose from: {', '.join(sorted(set(table_of.values())))}"
            )
        chosen = {n for n, table in table_of.items() if n in names or table in names} | (set(names) & set(sweeps))
    else:
        chosen = set(source.selected_resources)
    chosen |= {sweep for sweep, listing in sweeps.items() if listing in chosen}
    return source.with_resources(*[n for n in source.resources if n in chosen])


def _reload_missing_tables(
    pipeline: dlt.Pipeline, source: DltSource, build_source: Callable[..., DltSource], progress: TProgress
) -> None:
    """Reloads, from scratch, the tables the stored schema has but the destination lacks."""
    table_of = _tables_of(source)
    missing = tables_to_reload(pipeline, table_of)
    if not missing:
        return
    names = reload_resources(missing, table_of)
    progress(f"repairing: table(s) {', '.join(missing)} missing in the destination; reloading them from scratch")
    pipeline.run(build_source(names), loader_file_format=loader_file_format(pipeline), refresh="drop_resources")


def load(
    pipeline: dlt.Pipeline,
    *,
    tables: Optional[Sequence[str]] = None,
    full_refresh: bool = False,
    chunk_pages: Optional[int] = None,
    wait_for_lock: float = 0.0,
    progress: TProgress = _log,
    **source_options: Any,
) -> RunSummary:
    """Loads Pipedrive into `pipeline`: lock, preflight, repair, chunks, summary.

    Args:
        pipeline: The pipeline to load, e.g. `dlt.pipeline("pipedrive", destination=...)`.
        tables: Tables (or resource names) to load; None: all.
        full_refresh: Drop the tables (only those of `tables` if given) and their state, then
            reload everything.
        chunk_pages: Pages per incremental table per chunk, exactly (0: one chunk, no
            checkpoints). None: `DEFAULT_CHUNK_PAGES`, and tables other than the deals read
            proportionally more where the API announces a burst limit above Growth's
            (`RunSession.pages_per_chunk`).
        wait_for_lock: Seconds to wait for another run of the pipeline to finish (0: fail at
            once with `RunInProgressError`).
        progress: Called with one line per step worth telling (resuming, chunk loaded).
        **source_options: Arguments of `pipedrive_source` (start_date, hard_delete,
            max_tokens_per_run, page_size, api_token, base_url, ...); the rest comes from dlt
            config as usual.

    Returns:
        What the run did.

    Raises:
        UsageError: Bad configuration or table names (before any request).
        RunInProgressError: Another run of the pipeline holds its lock.
        PipedriveError: The API failed (after retries); loaded chunks are kept.
    """
    if chunk_pages is not None and chunk_pages < 0:
        raise UsageError(f"chunk_pages {chunk_pages} must be >= 0")
    session = RunSession(scale_chunks=chunk_pages is None)
    if chunk_pages is None:
        chunk_pages = DEFAULT_CHUNK_PAGES

    def build_source(names: Optional[List[str]] = None) -> DltSource:
        try:
            source = pipedrive_source(max_pages_per_chunk=chunk_pages or None, session=session, **source_options)
        except ConfigFieldMissingException as error:
            if any(field.endswith("api_token") for field in error.fields):
                raise UsageError(NO_TOKEN) from None
            raise
        source = select_tables(source, tables)
        return source.with_resources(*names) if names else source

    source = build_source()  # the configuration and table names fail here, before any request
    selected = _tables_of(source)
    with run_lock(pipeline.pipelines_dir, pipeline.pipeline_name, wait_for_lock):
        assert session.client is not None
        if pipeline.first_run:
            # later runs learn the same from their first request, without spending on it
            session.client.probe(PREFLIGHT_PATH, api=ApiVersion.V1, token_cost=PREFLIGHT_COST)
        pipeline = reopen_if_repaired(pipeline, progress)
        started = time.monotonic()
        unbounded = chunk_pages == 0 and (full_refresh or pipeline.first_run)
        if full_refresh:
            if pipeline.has_pending_data:
                pipeline.abort_packages()  # everything is dropped and reloaded anyway
        else:
            finish_interrupted_run(pipeline, progress)
            _reload_missing_tables(pipeline, source, build_source, progress)
        chunks = 0
        names: Optional[List[str]] = None
        while True:
            session.start_chunk()
            with duckdb_kept_open(pipeline, unbounded=unbounded):
                pipeline.run(
                    source,
                    loader_file_format=loader_file_format(pipeline),
                    refresh=("drop_resources" if tables else "drop_sources") if full_refresh and not chunks else None,
                )
                _mark_gone_upstream(pipeline, session, _tables_of(source), selected)
                rereads = _follow_field_changes(pipeline, selected)
            chunks += 1
            if session.stopped_by is not None:
                progress(f"chunk {chunks} loaded; stopped by the token budget, the next run continues")
                break
            state = source_state(pipeline)
            previous = names
            names = sorted({*next_chunk(selected, listings_with_more_pages(state), due_now(state)), *rereads})
            if not names:
                break
            if names == previous and not _rows_of_last_chunk(pipeline):
                # a safety net: the same resources again after a chunk that loaded nothing would
                # loop forever (a listing that cannot make progress); the next run tries again
                logger.warning(f"chunk {chunks} loaded nothing; not running {', '.join(names)} again in this run")
                break
            progress(f"chunk {chunks} loaded; more to read for: {', '.join(names)}")
            source = build_source(names)
        stop = session.stopped_by
        return summarize(pipeline, chunks, started, session.stats, stopped_early=str(stop) if stop else None)


def _rows_of_last_chunk(pipeline: dlt.Pipeline) -> int:
    """Rows the last chunk normalized into the tables of the source (dlt's own tables left out)."""
    trace = pipeline.last_trace
    info = trace.last_normalize_info if trace is not None else None
    counts = info.row_counts if info is not None else {}
    return sum(count for table, count in counts.items() if not table.startswith("_dlt"))


def _follow_field_changes(pipeline: dlt.Pipeline, selected: Dict[str, str]) -> List[str]:
    """Applies the field changes the chunk's definitions showed to the rows already loaded; returns
    the listings to read again from scratch (their field set has a field of a new type)."""
    pending = source_state(pipeline).get(PENDING_CHANGES_KEY)
    if not pending:
        return []
    reread_sets = apply_field_changes(pipeline, pending)
    update_source_state(pipeline, SOURCE_NAME, lambda state: state.pop(PENDING_CHANGES_KEY, None))
    tables = {table for field_set in reread_sets for table in entity_tables_of(field_set)}
    listings = [e.name for e in ENTITIES if e.table in tables and e.name in selected]
    if listings:
        drop_resource_state(pipeline, listings)
    return listings


def _mark_gone_upstream(
    pipeline: dlt.Pipeline, session: RunSession, chunk: Dict[str, str], selected: Dict[str, str]
) -> None:
    """Marks what the chunk's complete reads and deletion sweeps no longer found (a table counts
    when every writer of it in the chunk read it whole, or every selected listing of it was swept),
    closes the versions of deleted records in history mode, and notes the sweeps as applied."""
    options = {"hard_delete": session.hard_delete}
    done = {name: (table, keys) for name, (table, _, keys) in session.complete_reads.items()}
    key_of = {table: key for table, key, _ in session.complete_reads.values()}
    read_whole = {name: table for name, table in chunk.items() if name in session.complete_reads or _reads_whole(name)}
    swept = {result.listing: (result.table, result.keys) for result in session.sweeps}
    listings = {e.name: e.table for e in ENTITIES if e.is_incremental and e.name in selected}
    marks: List[Tuple[str, Set[Any], Dict[str, Any]]] = [
        (table, keys, {"key": key_of[table]}) for table, keys in complete_tables(done, read_whole).items()
    ]
    applied: List[str] = []
    for table, keys in complete_tables(swept, listings).items():
        started = min(result.started for result in session.sweeps if result.table == table)
        entity = next(e for e in ENTITIES if e.table == table)
        marks.append((table, keys, {"key": entity.primary_key[0], "older_than": started}))
        applied += [sweep_name(e) for e in ENTITIES if e.name in listings and e.table == table]
    history = session.history & set(chunk.values())
    if marks or history:
        # one client for all: one each cost ~50 ms per table (a remote warehouse: a connection each)
        with pipeline.sql_client() as client:
            for table, keys, where in marks:
                mark_gone(client, table, keys, history=table in session.history, **where, **options)
            close_deleted_versions(client, history)
    if applied:
        update_source_state(pipeline, SOURCE_NAME, lambda state: note_swept(state, applied))


def _reads_whole(resource: str) -> bool:
    """A listing without a cursor, or a field table: a read of it is a complete read."""
    entity = next((e for e in ENTITIES if e.name == resource), None)
    return (entity is not None and not entity.is_incremental) or resource.endswith("_fields")


def _tables_of(source: DltSource) -> Dict[str, str]:
    """Resource -> table of the source's selected resources."""
    return {name: resource.table_name for name, resource in source.selected_resources.items()}
