"""Deletion sweeps: finding the records Pipedrive deleted that no listing reports.

Pipedrive's listings cannot report deleted persons, organizations, activities, products, notes,
files or leads (and only deals deleted in the last 30 days): such records simply stop being
listed. So every `deletion_sweep_hours` (default 24) a sweep reads each incremental listing whole,
keeping only the keys; after the chunk is loaded the run protocol compares them with the keys the
destination holds and flags (or, with `hard_delete`, deletes) the rows gone upstream, deal children
included (`pipedrive.run.maintenance.mark_swept`). Only rows older than the sweep's start are
considered, so a record created or changed while the sweep ran is never taken for deleted.

Safe: a sweep marks nothing unless it read every page - a budget stop, an error or a kill leaves
the previous sweep time in place and the sweep runs again next time. An offset-paged listing
(files, archived leads) can skip a row when a record is deleted while it is paged; its pages
overlap by one row and a sweep that sees the overlap move marks nothing. Cost: one full listing
per table and sweep (10 tokens per 500 v2 records); no request between sweeps.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Iterator, List, MutableMapping, Optional, Set

import dlt
from dlt.common import logger
from dlt.extract.resource import DltResource
from dlt.sources.helpers.requests import Response

from .entities import Entity, Paging
from .http.errors import BudgetStop, UnsupportedMediaTypeError
from .http.paginators import V1OffsetPaginator, paginator_for
from .schedule import READ_AT_KEY, is_due, utc_now
from .session import RunSession

SWEPT_AT_KEY = "swept_at"
"""Resource state of a sweep: when its last complete sweep was applied to the destination."""


def sweep_name(entity: Entity) -> str:
    """Resource name of a listing's sweep: `persons_sweep`."""
    return f"{entity.name}_sweep"


def note_swept(source_state: MutableMapping[str, Any], sweeps: Iterable[str]) -> None:
    """Notes the named sweeps as done now (`SWEPT_AT_KEY` in their resource state): applied, or
    not needed (a read from scratch, a table not on the plan)."""
    now = utc_now().isoformat()
    resources = source_state.setdefault("resources", {})
    for name in sweeps:
        resources.setdefault(name, {})[SWEPT_AT_KEY] = now


@dataclass
class SweepResult:
    """What a complete sweep read: every key the listing returns now, and when it began (API time)."""

    listing: str
    table: str
    keys: Set[Any]
    started: Optional[datetime]


class OverlappingOffsetPaginator(V1OffsetPaginator):
    """v1 offset paging whose pages overlap by one row: if a row was deleted on an earlier page while
    paging, the rest moved up and the overlap row is not the one expected; the sweep then marks
    nothing (`shifted`)."""

    def __init__(self, limit: int, key: str) -> None:
        super().__init__(limit)
        self.key = key
        self.shifted = False
        self._expected: Any = None

    def update_state(self, response: Response, data: Optional[List[Any]] = None) -> None:
        rows = data or []
        if self._expected is not None and rows and rows[0].get(self.key) != self._expected:
            self.shifted = True
        self._expected = rows[-1].get(self.key) if rows else None
        super().update_state(response, rows)
        if self._has_next_page:
            self.start -= 1  # re-read the last row as the first of the next page


def sweep_resource(entity: Entity, session: RunSession, *, interval_hours: float) -> DltResource:
    """The sweep of one incremental listing: reads its keys when due, yields nothing.

    Args:
        entity: The listing (incremental).
        session: The run's session (the result goes to `session.sweeps`).
        interval_hours: Sweep once the last applied sweep is this old (0: every run).
    """
    key = entity.primary_key[0]

    def read_keys() -> Iterator[Any]:
        source_state = dlt.current.source_state()
        listing_state = (source_state.get("resources") or {}).get(entity.name) or {}
        state = dlt.current.resource_state()
        if not listing_state.get(READ_AT_KEY) or not is_due(state.get(SWEPT_AT_KEY), interval_hours):
            return  # never loaded (nothing to sweep) or not due
        client = session.client
        assert client is not None
        paginator = (
            OverlappingOffsetPaginator(entity.page_size, key)
            if entity.paging is Paging.OFFSET and not entity.pages_by_keyset else paginator_for(entity)
        )
        keys: Set[Any] = set()
        started = None
        try:
            for page in client.paginate_endpoint(entity, {}, paginator=paginator):
                started = started or client.first_server_time
                keys.update(record.get(key) for record in page)
        except BudgetStop:
            logger.warning(f"{entity.name}: deletion sweep stopped by the token budget; it runs again next time")
            return
        except UnsupportedMediaTypeError:  # not on the plan: the listing skipped its table too
            return
        if getattr(paginator, "shifted", False):
            logger.warning(f"{entity.name}: records were deleted while the sweep paged; it runs again next time")
            return
        session.sweeps.append(SweepResult(entity.name, entity.table, keys, started or utc_now()))
        yield from ()

    # not selected by default: a plain `pipeline.run(pipedrive_source())` cannot apply a sweep (that
    # is a step after the load), so it would pay for the keys and throw them away
    return dlt.resource(read_keys, name=sweep_name(entity), selected=False)
