"""The theoretical minimum number of requests and tokens to load an account.

Computed from the simulator account's contents and the API's documented limits only; it does
not read `pipedrive/`. For every table of DESIGN.md section 2 it names the cheapest endpoint
that delivers the table's rows and counts the pages that endpoint needs:

- list endpoints: `max(1, ceil(rows / page_size))` with the largest `limit` the API accepts
  (500; 100 for `/files`, 50 for `/callLogs`); endpoints without paging: 1 request;
- incremental runs: endpoints with an `updated_since` filter read the rows with
  `update_time >= the previous run's maximum` (the boundary second is re-read, it cannot be
  skipped safely); sorted-descending listings without a filter read those rows plus one older
  row to see the boundary; listings without either are read in full when due (below);
- incremental runs, `/v1/recents`: when the changes of the listings it covers (deals, persons,
  organizations, activities, products, notes, files) fit one page of 500, one recents request
  (20 tokens) tells which of them changed, and a covered listing without a change reads nothing;
- reference tables (read whole) and field definitions: every set and table on a full load; on
  incremental runs only when due (`refresh_due`: a client cannot know they are unchanged without
  reading them, so it reads them on a schedule, daily for most; the minimum of a run between two
  such reads leaves them out), plus the definitions of a set (v2 and v1) when a loaded record holds
  an option id deleted since the previous run (v2 drops deleted options, only v1
  `options_deleted` names them);
- `deal_products`: `/api/v2/deals/products?deal_ids=` with batches of 100 of the run's deals that
  have products (`products_count > 0`), each batch paged by 500 rows;
- per-deal history and people (`deal_changes`, `deal_stage_changes`, `deal_participants`,
  `deal_followers`): one call per deal of the run per endpoint, paged by 500 (incremental runs:
  only deals new or changed since the previous run, so children follow the deal changes); stage changes come
  from the same `/deals/{id}/changelog` response as the other field changes (the flow, at 40
  tokens, is a superset that costs twice as much); when `deal_stage_changes` is loaded without
  `deal_changes`, only deals that can hold a stage change not loaded yet need that call: a
  `stage_change_time` set (full load) and not older than the previous run's `deals` cursor
  (incremental runs), so a deal edited without moving stage costs nothing.

Costs are each operation's `x-token-cost` (`pipedrive_sim.http.routes.token_cost`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipedrive_sim.http.routes import token_cost

from .harness import ceil_div

Rows = Callable[[Any], list[dict[str, Any]]]


def _all(entity: str) -> Rows:
    return lambda account: list(account.records(entity))


def _where(entity: str, predicate: Callable[[dict[str, Any]], bool]) -> Rows:
    return lambda account: [r for r in account.records(entity) if predicate(r)]


def _live(entity: str) -> Rows:
    return _where(entity, lambda r: not r.get("is_deleted"))


@dataclass(frozen=True)
class Listing:
    """One endpoint a complete load must read.

    Attributes:
        table: Destination table the rows belong to (DESIGN.md section 2).
        api: `v1` or `v2`.
        path: Path template as in the spec (the token-cost key).
        rows: The rows the endpoint serves, from the account.
        page_size: Largest `limit`; None for endpoints that return everything at once.
        incremental: `filter` (updated_since), `desc` (sorted newest first, no filter) or None.
        field_set: Custom-field set of the rows (for the deleted-options check).
        requests_per_run: Requests of an unpaged endpoint (goals need an active and an
            inactive call).
    """

    table: str
    api: str
    path: str
    rows: Rows
    page_size: int | None = 500
    incremental: str | None = None
    field_set: str | None = None
    requests_per_run: int = 1
    name: str = ""

    @property
    def key(self) -> str:
        """Unique name of the listing."""
        return self.name or self.table

    @property
    def cost(self) -> int:
        """Tokens per request."""
        return token_cost(self.api, "GET", self.path)


LISTINGS: tuple[Listing, ...] = (
    Listing("currencies", "v1", "/currencies", _all("currencies"), None),
    Listing("activity_types", "v1", "/activityTypes", _all("activity_types"), None),
    Listing("users", "v1", "/users", _all("users"), None),
    Listing("filters", "v1", "/filters", _all("filters"), None),
    Listing("lead_labels", "v1", "/leadLabels", _all("lead_labels"), None),
    Listing("lead_sources", "v1", "/leadSources", _all("lead_sources"), None),
    Listing("goals", "v1", "/goals/find", _all("goals"), None, requests_per_run=2),
    Listing("roles", "v1", "/roles", _all("roles")),
    Listing("pipelines", "v2", "/pipelines", _live("pipelines")),
    Listing("stages", "v2", "/stages", _live("stages")),
    Listing("projects", "v2", "/projects",
            _where("projects", lambda r: r.get("status") != "deleted" and r.get("archive_time") is None),
            field_set="project"),
    Listing("projects", "v2", "/projects/archived",
            _where("projects", lambda r: r.get("status") != "deleted" and r.get("archive_time") is not None),
            field_set="project", name="projects_archived"),
    Listing("tasks", "v2", "/tasks", _all("tasks")),
    Listing("call_logs", "v1", "/callLogs", _all("call_logs"), 50),
    Listing("deals", "v2", "/deals", _where("deals", lambda r: not r.get("is_archived")), incremental="filter",
            field_set="deal"),
    Listing("deals", "v2", "/deals/archived", _where("deals", lambda r: bool(r.get("is_archived"))),
            incremental="filter", field_set="deal", name="deals_archived"),
    Listing("persons", "v2", "/persons", _live("persons"), incremental="filter", field_set="person"),
    Listing("organizations", "v2", "/organizations", _live("organizations"), incremental="filter",
            field_set="organization"),
    Listing("activities", "v2", "/activities", _live("activities"), incremental="filter", field_set="activity"),
    Listing("products", "v2", "/products", _live("products"), incremental="filter", field_set="product"),
    Listing("notes", "v1", "/notes", _all("notes"), incremental="filter", field_set="note"),
    Listing("leads", "v1", "/leads", _where("leads", lambda r: not r.get("is_archived")), incremental="filter",
            field_set="deal"),
    Listing("leads", "v1", "/leads/archived", _where("leads", lambda r: bool(r.get("is_archived"))),
            incremental="desc", field_set="deal", name="leads_archived"),
    Listing("files", "v1", "/files", _all("files"), 100, incremental="desc"),
)

FIELD_SET_ENDPOINTS: dict[str, tuple[str, str]] = {
    "deal": ("v2", "/dealFields"), "person": ("v2", "/personFields"),
    "organization": ("v2", "/organizationFields"), "activity": ("v2", "/activityFields"),
    "product": ("v2", "/productFields"), "project": ("v2", "/projectFields"),
    "lead": ("v1", "/leadFields"), "note": ("v1", "/noteFields"),
}
"""Field-definition endpoint of each set: v2 where it exists."""
V1_DEFINITIONS = {"deal": "/dealFields", "person": "/personFields", "organization": "/organizationFields",
                  "activity": "/activityFields", "product": "/productFields"}
"""v1 definitions (with `options_deleted`) of the sets whose v2 definitions drop deleted options."""

PER_DEAL: dict[str, tuple[str, str]] = {
    "deal_changes": ("v1", "/deals/{id}/changelog"),
    "deal_stage_changes": ("v1", "/deals/{id}/changelog"),
    "deal_participants": ("v1", "/deals/{id}/participants"),
    "deal_followers": ("v2", "/deals/{id}/followers"),
}
"""Cheapest per-deal endpoint of each per-deal child table (tables sharing one share the call)."""
DEAL_PRODUCTS = ("v2", "/deals/products")
DEAL_IDS_PER_BATCH = 100
PAGE = 500
RECENTS = ("v1", "/recents")
RECENTS_PAGE = 500
RECENTS_COVERED = ("deals", "persons", "organizations", "activities", "products", "notes", "files")
"""Listing keys whose changes `/v1/recents` reports (the archived listings and leads it does not)."""


@dataclass
class Minimum:
    """Minimum requests and tokens, per endpoint.

    Attributes:
        by_endpoint: `"<api> <path>"` -> {"requests": n, "tokens": t}.
    """

    by_endpoint: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, api: str, path: str, requests: int) -> None:
        """Adds `requests` calls of one endpoint."""
        if requests <= 0:
            return
        entry = self.by_endpoint.setdefault(f"{api} {path}", {"requests": 0, "tokens": 0})
        entry["requests"] += requests
        entry["tokens"] += requests * token_cost(api, "GET", path)

    @property
    def requests(self) -> int:
        """Total requests."""
        return sum(e["requests"] for e in self.by_endpoint.values())

    @property
    def tokens(self) -> int:
        """Total tokens."""
        return sum(e["tokens"] for e in self.by_endpoint.values())

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"requests": self.requests, "tokens": self.tokens, "by_endpoint": dict(sorted(self.by_endpoint.items()))}


Cursors = dict[str, Any]
"""Listing key -> maximum `update_time` the previous run saw; `options:<set>` -> the option ids
the v2 definitions listed then (a client remembers options it already resolved)."""


def cursors_after_sync(account: Any) -> Cursors:
    """The maximum `update_time` per incremental listing now (call right after a sync)."""
    out: Cursors = {}
    for listing in LISTINGS:
        if listing.incremental:
            times = [r["update_time"] for r in listing.rows(account) if r.get("update_time")]
            if times:
                out[listing.key] = max(times)
    for name in V1_DEFINITIONS:
        out[f"options:{name}"] = _v2_option_ids(account, name)
    out["deal_versions"] = {d["id"]: d.get("update_time") for d in account.records("deals")}
    return out


def _v2_option_ids(account: Any, field_set: str) -> dict[str, set[int]]:
    """Custom enum/set field code -> option ids the v2 definitions list."""
    known: dict[str, set[int]] = {}
    for definition in account.fields(field_set, "v2"):
        if definition.get("is_custom_field") and definition.get("field_type") in ("enum", "set"):
            known[definition["field_code"]] = {o["id"] for o in definition.get("options") or ()}
    return known


def _option_ids(value: Any) -> Iterable[int]:
    if isinstance(value, bool) or value is None:
        return ()
    if isinstance(value, int):
        return (value,)
    if isinstance(value, list):
        return (v for v in value if isinstance(v, int) and not isinstance(v, bool))
    if isinstance(value, str):
        return (int(p) for p in value.split(",") if p.strip().isdigit())
    return ()


def _needs_deleted_options(account: Any, field_set: str, rows: Sequence[dict[str, Any]],
                           seen_before: dict[str, set[int]] | None) -> bool:
    """True when a row holds an enum/set option id the v2 definitions of `field_set` lack.

    On incremental runs (`seen_before` given) only options deleted since the previous run
    count: the labels of options deleted earlier were resolved then and kept.
    """
    known = _v2_option_ids(account, field_set)
    for row in rows:
        custom = row.get("custom_fields") if isinstance(row.get("custom_fields"), dict) else row
        for code, ids in known.items():
            for option in _option_ids(custom.get(code)):
                if option not in ids and (seen_before is None or option in seen_before.get(code, ())):
                    return True
    return False


def minimum(account: Any, tables: Iterable[str], since: Cursors | None = None, refresh_due: bool = False) -> Minimum:
    """Minimum requests and tokens to load `tables` of `account` now.

    Args:
        account: The simulator account, in the state the run will read.
        tables: Destination tables the run loads (listings of other tables are skipped).
        since: Cursors of the previous run (`cursors_after_sync`); None for a full load.
        refresh_due: On an incremental run, the reference tables and field definitions are due
            for their scheduled re-read.

    Returns:
        The minimum, per endpoint.
    """
    wanted = set(tables)
    incremental = since is not None
    result = Minimum()
    field_sets: set[str] = set()
    loaded_by_set: dict[str, list[dict[str, Any]]] = {}
    deals_of_run: list[dict[str, Any]] = []
    read: list[tuple[Listing, list[dict[str, Any]], int]] = []
    for listing in LISTINGS:
        if listing.table not in wanted:
            continue
        rows = listing.rows(account)
        if since is not None and listing.incremental:
            cursor = since.get(listing.key)
            newer = [r for r in rows if cursor is None or (r.get("update_time") or "") >= cursor]
            if listing.incremental == "desc" and len(newer) < len(rows):
                fetched = len(newer) + 1
            else:
                fetched = len(newer)
            rows = newer
        elif incremental and not refresh_due:
            continue  # read whole, not due
        else:
            fetched = len(rows)
        read.append((listing, rows, fetched))
    if since is not None:
        covered = [(listing, rows) for listing, rows, _ in read if listing.key in RECENTS_COVERED]
        # the inclusive boundary second is re-read by a listing, not a change recents reports
        changed = {listing.key: [r for r in rows if (r.get("update_time") or "") > since.get(listing.key, "")]
                   for listing, rows in covered}
        if covered and sum(len(rows) for rows in changed.values()) <= RECENTS_PAGE:
            result.add(*RECENTS, 1)
            read = [(listing, rows, fetched) for listing, rows, fetched in read
                    if listing.key not in changed or changed[listing.key]]
    for listing, rows, fetched in read:
        if listing.page_size is None:
            requests = listing.requests_per_run
        else:
            requests = max(1, ceil_div(fetched, listing.page_size))
        result.add(listing.api, listing.path, requests)
        if listing.field_set:
            field_sets.add(listing.field_set)
            loaded_by_set.setdefault(listing.field_set, []).extend(rows)
        if listing.table == "deals":
            deals_of_run.extend(rows)
    if since is not None:
        # children are re-read only for deals that changed (or are new) since the previous run;
        # deals re-listed only because they sit on the inclusive cursor boundary are unchanged
        previous = since.get("deal_versions", {})
        deals_of_run = [d for d in deals_of_run if previous.get(d["id"]) != d.get("update_time")]
    # `<set>_fields` tables exist for every set; entities renaming custom fields need them too
    if any(t.endswith("_fields") for t in wanted) or field_sets:
        sets = {t[: -len("_fields")] for t in wanted if t.endswith("_fields")} | field_sets
        for name in sorted(sets & set(FIELD_SET_ENDPOINTS)):
            api, path = FIELD_SET_ENDPOINTS[name]
            deleted_options = name in V1_DEFINITIONS and _needs_deleted_options(
                account, name, loaded_by_set.get(name, []), None if since is None else since.get(f"options:{name}", {})
            )
            if not incremental or refresh_due or deleted_options:
                result.add(api, path, 1)
            if deleted_options:
                result.add("v1", V1_DEFINITIONS[name], 1)
    _deal_children(account, wanted, deals_of_run, result, None if since is None else since.get("deals"))
    return result


def stage_moved_since(deal: dict[str, Any], cursor: str | None) -> bool:
    """Whether a deal can hold a stage change at or after `cursor` (None: ever): its
    `stage_change_time` (the last move) is set and not older than the cursor."""
    moved = deal.get("stage_change_time")
    return bool(moved) and (cursor is None or moved >= cursor)


def _deal_children(account: Any, wanted: set[str], deals: list[dict[str, Any]], result: Minimum,
                   stage_cursor: str | None = None) -> None:
    """Adds the per-deal requests of the run's `deals` (`stage_cursor`: the previous run's
    `deals` cursor, None on a full load)."""
    deal_ids = sorted({d["id"] for d in deals})
    stage_only = "deal_stage_changes" in wanted and "deal_changes" not in wanted
    if "deal_products" in wanted:
        with_products = [i for i in deal_ids if account.deal_products(i)]
        for start in range(0, len(with_products), DEAL_IDS_PER_BATCH):
            batch = with_products[start:start + DEAL_IDS_PER_BATCH]
            rows = sum(len(account.deal_products(i)) for i in batch)
            result.add(*DEAL_PRODUCTS, max(1, ceil_div(rows, PAGE)))
    endpoints = sorted({PER_DEAL[t] for t in wanted if t in PER_DEAL})
    readers: dict[str, Callable[[int], list[Any]]] = {
        "/deals/{id}/changelog": account.deal_changelog,
        "/deals/{id}/participants": account.deal_participants,
        "/deals/{id}/followers": account.deal_followers,
        "/deals/{id}/flow": account.deal_flow,
    }
    for api, path in endpoints:
        reader = readers[path]
        ids = deal_ids
        if stage_only and (api, path) == PER_DEAL["deal_stage_changes"]:
            ids = sorted({d["id"] for d in deals if stage_moved_since(d, stage_cursor)})
        result.add(api, path, sum(max(1, ceil_div(len(reader(i)), PAGE)) for i in ids))


def compare(actual_by_endpoint: dict[str, dict[str, int]], minimum_: Minimum) -> list[dict[str, Any]]:
    """Rows of actual vs minimum per endpoint (union of both), worst ratio first.

    Args:
        actual_by_endpoint: `server_counts(...)["by_endpoint"]`.
        minimum_: The minimum.
    """
    keys = set(actual_by_endpoint) | set(minimum_.by_endpoint)
    rows = []
    for key in keys:
        a = actual_by_endpoint.get(key, {"requests": 0, "tokens": 0})
        m = minimum_.by_endpoint.get(key, {"requests": 0, "tokens": 0})
        rows.append({"endpoint": key, "requests": a["requests"], "min_requests": m["requests"],
                     "tokens": a["tokens"], "min_tokens": m["tokens"], "extra_tokens": a["tokens"] - m["tokens"]})
    rows.sort(key=lambda r: (-r["extra_tokens"], r["endpoint"]))
    return rows
