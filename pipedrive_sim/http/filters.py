"""Query filters of the list endpoints, by name, for the declarative route table.

Each :class:`Filter` reads one query parameter (or none, for scopes that always apply) and turns
it into a row predicate, or raises the real 400 naming the parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..data import is_archived
from .errors import bad_request
from .index import Row, parse_timestamp

Predicate = Callable[[Row], bool]
DELETED_RETENTION = timedelta(days=30)
MAX_IDS = 100
DEAL_STATUSES = ("open", "won", "lost", "deleted")
PROJECT_STATUSES = ("open", "completed", "canceled", "deleted")


@dataclass(frozen=True)
class FilterContext:
    """What a filter may need besides its parameter."""

    now: datetime
    lookup: Callable[[str], Any]  # entity -> EntityIndex (for cross-entity filters)


Maker = Callable[[str | None, FilterContext], Predicate | None]


@dataclass(frozen=True)
class Filter:
    """A named filter: the query parameter it reads and how it builds a predicate.

    Attributes:
        param: query parameter, or None for scopes that always apply.
        make: ``(raw value or None, context) -> predicate or None``.
    """

    param: str | None
    make: Maker


def parse_int_param(name: str, raw: str) -> int:
    """Parse an integer parameter or raise the 400."""
    try:
        return int(raw)
    except ValueError:
        raise bad_request(f'Parameter "{name}" must be an integer, got "{raw}"') from None


def parse_bool_param(name: str, raw: str) -> bool:
    """Parse ``true``/``false``/``1``/``0`` or raise the 400."""
    lowered = raw.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise bad_request(f'Parameter "{name}" must be a boolean, got "{raw}"')


def parse_time_param(name: str, raw: str) -> float:
    """Parse an RFC 3339 / ISO 8601 timestamp parameter to epoch seconds or raise the 400."""
    try:
        return parse_timestamp(raw)
    except ValueError:
        raise bad_request(f'Parameter "{name}" must be a valid RFC 3339 date-time, e.g. 2025-01-01T10:20:00Z') from None


def parse_enum_list(name: str, raw: str, allowed: tuple[str, ...]) -> set[str]:
    """Parse a comma list whose items must be in ``allowed``, or raise the 400."""
    values = {v.strip() for v in raw.split(",") if v.strip()}
    bad = sorted(values - set(allowed))
    if bad or not values:
        raise bad_request(f'Parameter "{name}" must be a comma separated list of: {", ".join(allowed)}')
    return values


def equals(name: str, field: str | None = None, kind: str = "int") -> Filter:
    """Filter rows whose ``field`` (default: the parameter name) equals the parameter.

    A list-valued field (e.g. ``assignee_ids``) matches when it contains the value.
    """
    key = field or name

    def make(raw: str | None, _: FilterContext) -> Predicate | None:
        if raw is None or raw == "":
            return None
        value: Any
        if kind == "int":
            value = parse_int_param(name, raw)
        elif kind == "bool":
            value = parse_bool_param(name, raw)
        else:
            value = raw

        def predicate(row: Row) -> bool:
            got = row.rec.get(key)
            return value in got if isinstance(got, list) else got == value

        return predicate

    return Filter(name, make)


def _updated_since(raw: str | None, _: FilterContext) -> Predicate | None:
    if not raw:
        return None
    since = parse_time_param("updated_since", raw)
    return lambda row: row.update_ts is not None and row.update_ts >= since


def _updated_until(raw: str | None, _: FilterContext) -> Predicate | None:
    if not raw:
        return None
    until = parse_time_param("updated_until", raw)
    return lambda row: row.update_ts is not None and row.update_ts < until


def _ids(raw: str | None, _: FilterContext) -> Predicate | None:
    if not raw:
        return None
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    if len(parts) > MAX_IDS:
        raise bad_request(f'Parameter "ids" must contain at most {MAX_IDS} ids')
    wanted = {parse_int_param("ids", p) for p in parts}
    return lambda row: row.id in wanted


def _deal_status(raw: str | None, ctx: FilterContext) -> Predicate:
    statuses = parse_enum_list("status", raw, DEAL_STATUSES) if raw else {"open", "won", "lost"}
    oldest_deleted = (ctx.now - DELETED_RETENTION).timestamp()

    def predicate(row: Row) -> bool:
        rec = row.rec
        if rec.get("is_deleted") or rec.get("status") == "deleted":
            return "deleted" in statuses and row.update_ts is not None and row.update_ts >= oldest_deleted
        return rec.get("status") in statuses

    return predicate


def _project_status(raw: str | None, _: FilterContext) -> Predicate:
    if raw:
        statuses = parse_enum_list("status", raw, PROJECT_STATUSES)
        return lambda row: row.rec.get("status") in statuses
    return lambda row: row.rec.get("status") != "deleted" and not row.rec.get("is_deleted")


def _person_deal(raw: str | None, ctx: FilterContext) -> Predicate | None:
    if not raw:
        return None
    deal = ctx.lookup("deals").by_id.get(parse_int_param("deal_id", raw))
    person_id = deal.rec.get("person_id") if deal else None
    return lambda row: person_id is not None and row.id == person_id


def _parent_task(raw: str | None, _: FilterContext) -> Predicate | None:
    if raw is None or raw == "":
        return None
    if raw == "null":
        return lambda row: row.rec.get("parent_task_id") is None
    parent = parse_int_param("parent_task_id", raw)
    return lambda row: row.rec.get("parent_task_id") == parent


def _term(raw: str | None, _: FilterContext) -> Predicate | None:
    if not raw:
        return None
    term = raw.lower()
    return lambda row: term in str(row.rec.get("name", "")).lower() or term in str(row.rec.get("code", "")).lower()


def _goal_active(raw: str | None, _: FilterContext) -> Predicate:
    active = parse_bool_param("is_active", raw) if raw else True
    return lambda row: bool(row.rec.get("is_active", True)) == active


def _scope(predicate: Predicate) -> Filter:
    return Filter(None, lambda raw, ctx: predicate)


FILTERS: Mapping[str, Filter] = {
    "updated_since": Filter("updated_since", _updated_since),
    "updated_until": Filter("updated_until", _updated_until),
    "ids": Filter("ids", _ids),
    "owner_id": equals("owner_id"),
    "person_id": equals("person_id"),
    "org_id": equals("org_id"),
    "organization_id": equals("organization_id"),
    "pipeline_id": equals("pipeline_id"),
    "stage_id": equals("stage_id"),
    "deal_id": equals("deal_id"),
    "project_id": equals("project_id"),
    "phase_id": equals("phase_id"),
    "user_id": equals("user_id"),
    "lead_id": equals("lead_id", kind="str"),
    "assignee_id": equals("assignee_id", field="assignee_ids"),
    "done": equals("done", kind="bool"),
    "is_done": equals("is_done", kind="bool"),
    "is_milestone": equals("is_milestone", kind="bool"),
    "type": equals("type", kind="str"),
    "deal_status": Filter("status", _deal_status),
    "project_status": Filter("status", _project_status),
    "person_deal_id": Filter("deal_id", _person_deal),
    "parent_task_id": Filter("parent_task_id", _parent_task),
    "term": Filter("term", _term),
    "is_active": Filter("is_active", _goal_active),
    "not_archived": _scope(lambda row: not is_archived(row.rec)),
    "archived_only": _scope(lambda row: is_archived(row.rec)),
    "not_deleted": _scope(lambda row: not row.rec.get("is_deleted")),
}


def build_predicate(names: tuple[str, ...], params: Mapping[str, str], ctx: FilterContext) -> Predicate | None:
    """Combine the named filters for one request into a single predicate (None: keep all)."""
    predicates = []
    for name in names:
        spec = FILTERS[name]
        raw = params.get(spec.param) if spec.param else None
        predicate = spec.make(raw, ctx)
        if predicate is not None:
            predicates.append(predicate)
    if not predicates:
        return None
    if len(predicates) == 1:
        return predicates[0]
    return lambda row: all(p(row) for p in predicates)
