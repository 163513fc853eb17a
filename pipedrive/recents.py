"""One `/v1/recents` request per run tells which incremental listings have anything new.

Without it a run with nothing to do reads one page of every incremental listing. The recents
endpoint, one request, lists every change since a time across deals, persons,
organizations, activities, products, notes and files (and users, stages, pipelines, activity types
and filters, which it makes due at once, see `pipedrive.schedule`). So the first listing of a run
that needs it sends one request, since the API's clock (its `Date` header) when the oldest of the
covered listings' last complete reads began; a listing whose kind it does not mention has nothing
new and reads nothing.

It only decides what to skip, never what to load: the records come from the listings themselves.
It is not used when it cannot be sure: a covered listing's last complete read is more than
`LOOKBACK` old (recents looks back about a month), a listing has never been read or still has
pages to read, or one page of recents does not hold every change (then every listing reads as
usual).
"""

import datetime as dt
from typing import Any, Mapping, Optional, Set

from .entities import ENTITIES, ApiVersion
from .http.errors import BudgetStop, PipedriveHTTPError
from .schedule import MORE_PAGES_KEY, READ_AT_KEY, mark_due, utc_now
from .session import RunSession

RECENTS_PATH, RECENTS_COST, RECENTS_LIMIT = "/recents", 20, 500
LOOKBACK = dt.timedelta(days=25)
READ_FROM_KEY = "read_from"
"""Resource state of a covered listing: the API's clock when the run of its last complete read
began; every change it has not read came later."""
ITEM_OF_TABLE = {"users": "user", "stages": "stage", "pipelines": "pipeline", "activity_types": "activityType",
                 "filters": "filter"}
"""Reference tables /recents reports: a change makes them due at once."""
COVERED = {e.name: e.recents_item for e in ENTITIES if e.recents_item}


def _since(resources: Mapping[str, Any]) -> Optional[dt.datetime]:
    """The API time of the oldest covered listing's last complete read, or None when one cannot be
    trusted (never read, pages left, or read longer ago than recents looks back, on this
    machine's clock)."""
    oldest: Optional[dt.datetime] = None
    for name in COVERED:
        state = resources.get(name) or {}
        read_from, read_at = state.get(READ_FROM_KEY), state.get(READ_AT_KEY)
        if not read_from or not read_at or state.get(MORE_PAGES_KEY):
            return None
        if utc_now() - dt.datetime.fromisoformat(read_at) > LOOKBACK:
            return None
        began = dt.datetime.fromisoformat(read_from)
        oldest = began if oldest is None or began < oldest else oldest
    return oldest


def changed_items(session: RunSession, source_state: Mapping[str, Any]) -> Optional[Set[str]]:
    """The item kinds with changes since the covered listings' newest rows (one request per run,
    made by the first listing that asks), or None when every listing must read as usual."""
    with session.lock:
        if session.recents_asked:
            return session.recents
        session.recents_asked = True
        since = _since(source_state.get("resources") or {})
        if since is None or session.client is None:
            return None
        # the `Date` header has whole seconds: a change in that second is reported again, harmless
        params = {"since_timestamp": since.strftime("%Y-%m-%d %H:%M:%S"),
                  "limit": RECENTS_LIMIT, "start": 0}
        try:
            body = session.client.get(RECENTS_PATH, api=ApiVersion.V1, token_cost=RECENTS_COST, params=params)
        except BudgetStop:
            raise
        except PipedriveHTTPError:
            return None  # e.g. not allowed for this user: read as usual
        additional = (body or {}).get("additional_data") or {}
        pagination = additional.get("pagination") or additional
        if pagination.get("more_items_in_collection"):
            return None
        session.recents = {item.get("item") for item in (body or {}).get("data") or [] if isinstance(item, dict)}
        _make_reference_tables_due(session.recents, source_state)
        return session.recents


def _make_reference_tables_due(kinds: Set[str], source_state: Any) -> None:
    """Reference tables recents reports changed are read in this run (their resources check
    `due_now` when they start; the chunk loop picks up those that had already run)."""
    stale = [table for table, item in ITEM_OF_TABLE.items() if item in kinds]
    if stale:
        mark_due(source_state, stale)
