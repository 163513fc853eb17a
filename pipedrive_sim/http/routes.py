"""The declarative route table: one line per endpoint the simulator serves (GET only).

Each :class:`Route` names its API version, the path template exactly as in the spec (the key of
the token cost), the handler kind, the paging style, the documented maximum ``limit``, the filters
and the sort fields. v1 routes answer under both ``/v1`` and ``/api/v1``; v2 only under ``/api/v2``.

Paging styles: ``cursor`` (v2 opaque cursor), ``offset`` (v1 ``additional_data.pagination``),
``offset_flat`` (v1 with ``start/limit/more_items_in_collection`` directly under
``additional_data``, as the v1 spec documents for ``/leads``), ``none`` (everything at once).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import handlers as h
from .cost_table import TOKEN_COSTS
from .recents import recents

V2_PREFIXES = ("/api/v2",)
V1_PREFIXES = ("/v1", "/api/v1")

DEAL_FILTERS = ("deal_status", "ids", "owner_id", "person_id", "org_id", "pipeline_id", "stage_id",
                "updated_since", "updated_until")
TIME_SORTS = ("id", "update_time", "add_time")
LEAD_SORTS = ("id", "title", "owner_id", "creator_id", "was_seen", "expected_close_date", "next_activity_id",
              "add_time", "update_time")
NOTE_FILTERS = ("user_id", "lead_id", "deal_id", "person_id", "org_id", "project_id", "updated_since")


@dataclass(frozen=True)
class Route:
    """One endpoint.

    Attributes:
        api: ``"v1"`` or ``"v2"``.
        path: path template as in the spec (relative to the version base).
        handler: handler kind from :mod:`pipedrive_sim.http.handlers`.
        entity: entity key in the account (entity lists; the record a changelog belongs to).
        paging: ``cursor`` | ``offset`` | ``offset_flat`` | ``none``.
        max_limit: documented maximum ``limit`` (v2: 500; v1: None means clamp at 500).
        filters: filter names from :data:`pipedrive_sim.http.filters.FILTERS`.
        sorts: allowed sort fields.
        field_set: field set for ``*Fields`` handlers.
    """

    api: str
    path: str
    handler: h.Handler
    entity: str | None = None
    paging: str = "cursor"
    max_limit: int | None = 500
    filters: tuple[str, ...] = ()
    sorts: tuple[str, ...] = ("id",)
    field_set: str | None = None
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)
    cost: int = field(init=False, compare=False)

    def __post_init__(self) -> None:
        prefixes = V2_PREFIXES if self.api == "v2" else V1_PREFIXES
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.path))
        alternatives = "|".join(re.escape(p) for p in prefixes)
        object.__setattr__(self, "regex", re.compile(f"^(?:{alternatives}){pattern}/?$"))
        object.__setattr__(self, "cost", token_cost(self.api, "GET", self.path))

    @property
    def endpoint(self) -> str:
        """``"<api> <path>"``, the accounting key."""
        return f"{self.api} {self.path}"


def token_cost(api: str, method: str, path_template: str) -> int:
    """Return the daily-budget token cost of one API operation (its spec ``x-token-cost``).

    Args:
        api: ``"v1"`` or ``"v2"``.
        method: HTTP method, any case (only GET operations are tabulated).
        path_template: path template exactly as in the spec, e.g. ``"/deals/{id}/flow"``.

    Raises:
        KeyError: the operation is not in the generated table (``cost_table.py``).
    """
    key = (api, method.upper(), path_template)
    try:
        return TOKEN_COSTS[key]
    except KeyError:
        raise KeyError(f"no token cost for {key!r}") from None


def v2_fields(path: str, field_set: str) -> Route:
    """A v2 ``*Fields`` route."""
    return Route("v2", path, h.fields_v2, field_set=field_set)


def v1_fields(path: str, field_set: str, paging: str = "offset") -> Route:
    """A v1 ``*Fields`` route."""
    return Route("v1", path, h.fields_v1, paging=paging, max_limit=None, field_set=field_set)


ROUTES: tuple[Route, ...] = (
    # ---- v2 entity lists ------------------------------------------------------------------------
    Route("v2", "/deals", h.list_v2, "deals", filters=("not_archived", *DEAL_FILTERS), sorts=TIME_SORTS),
    Route("v2", "/deals/archived", h.list_v2, "deals", filters=("archived_only", *DEAL_FILTERS), sorts=TIME_SORTS),
    Route("v2", "/deals/products", h.deal_products, sorts=("id", "deal_id", "add_time", "update_time", "order_nr")),
    Route("v2", "/deals/{id}/products", h.deal_products, sorts=("id", "add_time", "update_time", "order_nr")),
    Route("v2", "/deals/{id}/followers", h.deal_followers),
    Route("v2", "/persons", h.list_v2, "persons", sorts=TIME_SORTS,
          filters=("not_deleted", "ids", "owner_id", "org_id", "person_deal_id", "updated_since", "updated_until")),
    Route("v2", "/organizations", h.list_v2, "organizations", sorts=TIME_SORTS,
          filters=("not_deleted", "ids", "owner_id", "updated_since", "updated_until")),
    Route("v2", "/activities", h.list_v2, "activities", sorts=(*TIME_SORTS, "due_date"),
          filters=("not_deleted", "ids", "owner_id", "deal_id", "lead_id", "person_id", "org_id", "done",
                   "updated_since", "updated_until")),
    Route("v2", "/products", h.list_v2, "products", sorts=("id", "name", "add_time", "update_time"),
          filters=("not_deleted", "ids", "owner_id", "updated_since")),
    Route("v2", "/pipelines", h.list_v2, "pipelines", sorts=TIME_SORTS, filters=("not_deleted",)),
    Route("v2", "/stages", h.list_v2, "stages", sorts=(*TIME_SORTS, "order_nr"), filters=("not_deleted", "pipeline_id")),
    Route("v2", "/projects", h.list_v2, "projects",
          filters=("not_archived", "project_status", "phase_id", "deal_id", "person_id", "org_id")),
    Route("v2", "/projects/archived", h.list_v2, "projects",
          filters=("archived_only", "project_status", "phase_id")),
    Route("v2", "/tasks", h.list_v2, "tasks",
          filters=("is_done", "is_milestone", "assignee_id", "project_id", "parent_task_id")),
    # ---- v2 fields -----------------------------------------------------------------------------
    v2_fields("/activityFields", "activity"),
    v2_fields("/dealFields", "deal"),
    v2_fields("/personFields", "person"),
    v2_fields("/organizationFields", "organization"),
    v2_fields("/productFields", "product"),
    v2_fields("/projectFields", "project"),
    # ---- v1 lists without paging ---------------------------------------------------------------
    Route("v1", "/activityTypes", h.list_v1, "activity_types", paging="none"),
    Route("v1", "/currencies", h.list_v1, "currencies", paging="none", filters=("term",)),
    Route("v1", "/users", h.list_v1, "users", paging="none"),
    Route("v1", "/users/me", h.users_me, paging="none"),
    Route("v1", "/filters", h.list_v1, "filters", paging="none", filters=("type",)),
    Route("v1", "/leadLabels", h.list_v1, "lead_labels", paging="none"),
    Route("v1", "/leadSources", h.list_v1, "lead_sources", paging="none"),
    Route("v1", "/goals/find", h.goals_find, "goals", paging="none", filters=("is_active",)),
    # ---- v1 offset lists -----------------------------------------------------------------------
    Route("v1", "/notes", h.list_v1, "notes", paging="offset", max_limit=None, filters=NOTE_FILTERS, sorts=()),
    Route("v1", "/files", h.list_v1, "files", paging="offset", max_limit=100, sorts=("id", "update_time")),
    Route("v1", "/leads", h.list_v1, "leads", paging="offset_flat", max_limit=None, sorts=LEAD_SORTS,
          filters=("not_archived", "owner_id", "person_id", "organization_id", "updated_since")),
    Route("v1", "/leads/archived", h.list_v1, "leads", paging="offset_flat", max_limit=None, sorts=LEAD_SORTS,
          filters=("archived_only", "owner_id", "person_id", "organization_id")),
    Route("v1", "/callLogs", h.list_v1, "call_logs", paging="offset", max_limit=50),
    Route("v1", "/roles", h.list_v1, "roles", paging="offset", max_limit=None),
    Route("v1", "/recents", recents, paging="offset", max_limit=None),
    # ---- v1 deal children and field histories ---------------------------------------------------
    Route("v1", "/deals/{id}/flow", h.deal_flow, paging="offset", max_limit=None),
    Route("v1", "/deals/{id}/changelog", h.changelog, "deals", paging="cursor"),
    Route("v1", "/persons/{id}/changelog", h.changelog, "persons", paging="cursor"),
    Route("v1", "/organizations/{id}/changelog", h.changelog, "organizations", paging="cursor"),
    Route("v1", "/deals/{id}/participants", h.deal_participants, paging="offset", max_limit=None),
    # ---- v1 fields -----------------------------------------------------------------------------
    v1_fields("/dealFields", "deal"),
    v1_fields("/personFields", "person"),
    v1_fields("/organizationFields", "organization"),
    v1_fields("/productFields", "product"),
    v1_fields("/leadFields", "lead"),
    v1_fields("/activityFields", "activity", paging="none"),
    v1_fields("/noteFields", "note", paging="none"),
)


def match(path: str) -> tuple[Route, dict[str, str]] | None:
    """The route serving ``path`` and its template arguments, or None."""
    for route in ROUTES:
        found = route.regex.match(path)
        if found:
            return route, found.groupdict()
    return None
