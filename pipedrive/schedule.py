"""When a listing read whole (a reference table) or a field set is read again.

Re-reading every reference table and field set on every run would make a run with nothing to do
cost dozens of requests. Each is read at most every `refresh_hours` (its freshness interval,
kept as `read_at` in its resource state), and at once when the data shows it is stale:

- a record refers to an id the source has not seen (a deal in a new stage, a new owner): the
  listing that saw it adds the table to `due_now` in the source state, and the run protocol runs
  one more chunk for it (`known_ids` keeps the ids of `users`, `stages` and `pipelines`);
- `/v1/recents` lists a change of that kind (`pipedrive.recents`);
- `refresh_reference=True` (the command line's `--refresh-reference`) or a full refresh.
"""

import datetime as dt
from typing import Any, Callable, Dict, Iterable, List, Mapping, MutableMapping, Set

from .entities import Entity

READ_AT_KEY = "read_at"
"""Resource state (and field-set state): when the last complete read ended, ISO 8601 UTC."""
MORE_PAGES_KEY = "more_pages"
"""Resource state of a listing: True when the last run stopped before the end of the listing."""
DUE_NOW_KEY = "due_now"
"""Source state: tables to read in the next chunk, whatever their interval."""
KNOWN_IDS_KEY = "known_ids"
"""Source state: table -> ids its last complete read returned (tables others refer to)."""
TRACKED_TABLES = ("users", "stages", "pipelines")
STAGE_PIPELINES_KEY = "stage_pipelines"
"""Source state: stage id -> pipeline id, from the last complete read of `stages` (the stage
changes name the pipeline of each stage without a request)."""


def _system_clock() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


clock: Callable[[], dt.datetime] = _system_clock
"""What `utc_now` asks; benchmarks and tests replace it to run days of schedules in seconds."""


def utc_now() -> dt.datetime:
    """The current time (UTC) of the schedules."""
    return clock()


def is_due(read_at: Any, refresh_hours: float, *, forced: bool = False) -> bool:
    """Whether something last read at `read_at` (ISO string or None) is due again."""
    if forced or not read_at or refresh_hours <= 0:
        return True
    try:
        last = dt.datetime.fromisoformat(str(read_at))
    except ValueError:
        return True
    return utc_now() - last >= dt.timedelta(hours=refresh_hours)


def due_now(source_state: Mapping[str, Any]) -> List[str]:
    """Tables the data showed to be stale (read in the next chunk)."""
    return list(source_state.get(DUE_NOW_KEY) or [])


def mark_due(source_state: MutableMapping[str, Any], tables: Iterable[str]) -> None:
    """Adds tables to `due_now`, keeping the order of those already pending (call with the
    session lock held: the source state is shared by parallel resources)."""
    pending = due_now(source_state)
    source_state[DUE_NOW_KEY] = pending + sorted({t for t in tables if t not in pending})


def record_complete_read(
    resource_state: MutableMapping[str, Any], source_state: MutableMapping[str, Any], table: str,
    rows: Iterable[Mapping[str, Any]],
) -> None:
    """Notes a complete read: its time, the table no longer due, the ids others may refer to.
    Call with the session lock held (the source state is shared by parallel resources)."""
    resource_state[READ_AT_KEY] = utc_now().isoformat()
    pending = [name for name in due_now(source_state) if name != table]
    source_state[DUE_NOW_KEY] = pending
    if table not in TRACKED_TABLES:
        return
    rows = list(rows)
    known = source_state.setdefault(KNOWN_IDS_KEY, {})
    known[table] = sorted({*known.get(table, []), *(row["id"] for row in rows if row.get("id") is not None)})
    if table == "stages":
        pipelines = source_state.setdefault(STAGE_PIPELINES_KEY, {})
        pipelines.update({str(row["id"]): row["pipeline_id"] for row in rows if row.get("pipeline_id") is not None})


class ReferenceWatch:
    """Finds ids in a listing's rows that the referenced tables' last reads did not return.

    Args:
        entity: The listing (its `references`: column -> table).
        source_state: The source state (`known_ids` are read once, `due_now` is extended).
    """

    def __init__(self, entity: Entity, source_state: MutableMapping[str, Any]) -> None:
        known = source_state.get(KNOWN_IDS_KEY) or {}
        # a table never read yet is due anyway: nothing to watch for it
        self.columns: Dict[str, str] = {c: t for c, t in entity.references.items() if t in known}
        self.known: Dict[str, Set[Any]] = {t: set(known[t]) for t in self.columns.values()}
        self.source_state = source_state
        self.stale: Set[str] = set()

    def check(self, rows: Iterable[Mapping[str, Any]]) -> Set[str]:
        """Tables newly found stale by these rows (each reported once)."""
        found: Set[str] = set()
        for column, table in self.columns.items():
            if table in self.stale:
                continue
            unknown = {row.get(column) for row in rows} - self.known[table] - {None}
            if unknown:
                # the table may have been read meanwhile, in this very run
                self.known[table] |= set((self.source_state.get(KNOWN_IDS_KEY) or {}).get(table) or [])
                if unknown - self.known[table]:
                    found.add(table)
        self.stale |= found
        return found

    def flag(self, tables: Set[str]) -> None:
        """Adds tables to `due_now` (call with the session lock held)."""
        mark_due(self.source_state, tables)
