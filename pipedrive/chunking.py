"""Chunked backfills: bound the work an interrupted run can lose.

dlt saves no state for a failed extract: a run that dies after reading 200 pages keeps nothing.
So an incremental resource whose listing is sorted by ascending `update_time` (and filtered
server side by `updated_since`) reads at most `max_pages_per_chunk` pages per run and records in
its resource state whether the listing has more (`chunk_pending`). Its cursor then advances to
the last row of the chunk, the chunk is loaded and checkpointed, and the caller runs the
pipeline again, selecting only the pending resources, until none is pending
(`pending_resources`, `chunk_selection`; `pipedrive_pipeline.py` does this loop).

A chunk only ends once its last row is newer than where the chunk started, so a group of rows
sharing one `update_time` larger than a chunk cannot make the loop spin in place.
"""

from dataclasses import replace
from typing import Any, Iterator, List, Mapping, MutableMapping, Optional, Sequence, Tuple

import dlt

from .client import TDataPage
from .entities import Entity

PENDING_KEY = "chunk_pending"
"""Resource-state flag: True when the last run stopped before the end of the listing."""
WAS_PENDING_KEY = "chunk_was_pending"
"""Resource-state flag: `chunk_pending` as the previous run left it (stable during a run)."""


def with_page_size(entities: Sequence[Entity], page_size: Optional[int]) -> Tuple[Entity, ...]:
    """The entity rows with `limit` capped at `page_size` (smaller requests, smaller chunks).

    Args:
        entities: Rows of the entity table.
        page_size: Largest `limit` to request; None keeps every endpoint's maximum.
    """
    if page_size is None:
        return tuple(entities)
    return tuple(replace(e, page_size=min(e.page_size, page_size)) for e in entities)


def is_chunkable(entity: Entity) -> bool:
    """True when the entity's listing can be cut into chunks: incremental, filtered server side
    by `updated_since` and sorted by ascending cursor (a stop at a page end is a valid cursor)."""
    return entity.is_incremental and entity.sort_order == "asc" and bool(entity.updated_since_param)


def limit_pages(
    pages: Iterator[TDataPage],
    *,
    max_pages: Optional[int],
    cursor_field: str,
    start_value: Optional[Any],
    page_size: Optional[int] = None,
) -> Iterator[TDataPage]:
    """Passes on at most `max_pages` pages of an ascending listing, then stops at a page end.

    Must run inside a dlt resource. Before the first page it copies how the previous run ended
    to `chunk_was_pending` (`history_floor` reads it); when the listing stops it writes
    `chunk_pending`.

    Args:
        pages: Pages of raw records sorted by ascending `cursor_field`.
        max_pages: Pages per chunk (None: no limit, read to the end).
        cursor_field: The incremental cursor column (e.g. `update_time`).
        start_value: The cursor value this run started from (None on a first full run).
        page_size: The `limit` requested; a shorter page is the last one (not pending).

    Yields:
        The pages, unchanged.
    """
    state = dlt.current.resource_state()
    state[WAS_PENDING_KEY] = bool(state.get(PENDING_KEY))
    if max_pages is None:
        yield from pages
        state[PENDING_KEY] = False
        return
    count = 0
    last: Optional[Any] = None
    for page in pages:
        yield page
        count += 1
        if page:
            last = page[-1].get(cursor_field, last)
        moved = last is not None and (start_value is None or str(last) > str(start_value))
        if page_size is not None and len(page) < page_size:
            continue  # a short page ends the listing: nothing pending
        if count >= max_pages and moved:
            state[PENDING_KEY] = True
            close = getattr(pages, "close", None)
            if close is not None:
                close()
            return
    state[PENDING_KEY] = False


FLOOR_KEY = "history_floor"
"""Child-resource state: newest parent cursor below which every change is already loaded."""


def history_floor(
    child_state: MutableMapping[str, Any], previous_boundary: Optional[str], parent: str
) -> Optional[str]:
    """The cursor below which a history child (e.g. deal changes) already holds every change.

    A child that reads only changes newer than its previous run's newest parent row is right
    only when that run listed every parent row up to it. In a chunked backfill chunk `k` lists
    parents never listed before (their old changes were never read), so the floor advances to
    the previous run's boundary only when the parent's previous run ended its listing; during
    a backfill it stays where the backfill started (None on the first one: whole history).

    Call it once per run, when the child first sees a parent page.

    Args:
        child_state: The child's resource state (the floor is kept there).
        previous_boundary: Newest parent cursor value seen by the child's previous runs.
        parent: Resource name of the parent listing (e.g. `deals`).

    Returns:
        The floor to read changes from (None: every change).
    """
    resources = dlt.current.source_state().get("resources") or {}
    parent_state = resources.get(parent) or {}
    if FLOOR_KEY not in child_state or not parent_state.get(WAS_PENDING_KEY):
        child_state[FLOOR_KEY] = previous_boundary
    return child_state[FLOOR_KEY]  # type: ignore[no-any-return]


def pending_resources(source_state: Mapping[str, Any]) -> List[str]:
    """Names of the resources whose last chunk stopped before the end of their listing.

    Args:
        source_state: The source's state, e.g. `pipeline.state["sources"]["pipedrive"]`.
    """
    resources = source_state.get("resources") or {}
    return sorted(
        name
        for name, state in resources.items()
        if isinstance(state, Mapping) and state.get(PENDING_KEY)
    )


def chunk_selection(source: Any, pending: Sequence[str]) -> List[str]:
    """Resources to run for the next chunk: the pending ones and the transformers they feed.

    Args:
        source: The (selected) `DltSource` of the run.
        pending: Resource names reported pending (any selection; others are ignored).

    Returns:
        Names of selected resources to run next, empty when the run is complete.
    """
    selected = source.selected_resources
    wanted = {name for name in pending if name in selected}
    grew = True
    while grew:
        grew = False
        for name, resource in selected.items():
            parent = getattr(getattr(resource, "_pipe", None), "parent", None)
            if name not in wanted and parent is not None and parent.name in wanted:
                wanted.add(name)
                grew = True
    return sorted(wanted)
