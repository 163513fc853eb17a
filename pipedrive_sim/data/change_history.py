"""Field history of deals, persons and organizations: the v1 `/{kind}/{id}/changelog` items
and the `dealChange` items of the v1 deal flow.

Generated deal history is not materialised: each deal keeps a small `HistorySpec` and its
events are derived on demand, deterministically from the account seed and the deal id.
Persons and organizations get a few generated events each (about one in five has any), kept
as they are. Mutations append real events. Every rendering is of the same `ChangeEvent` list.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, NamedTuple

from .timestamps import parse_ts, v1_ts

_AGENTS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0",
    None,
)


#: Entities with a field history (the v1 `/{kind}/{id}/changelog` endpoints).
HISTORY_ENTITIES = ("deals", "persons", "organizations")
#: Share of generated persons and organizations with a generated history.
RECORD_HISTORY_SHARE = 0.2


class ChangeEvent(NamedTuple):
    """One field change of a deal, person or organization (`item_id`: the record's id)."""

    id: int
    item_id: int
    field_key: str
    old_value: Any
    new_value: Any
    user_id: int
    ts: int
    change_source: str


@dataclass(frozen=True)
class HistorySpec:
    """What the generator decided about a deal's past; enough to derive its events.

    Attributes:
        add_ts: Deal creation time.
        stage_change_ts: Time of the last stage change (the last stage event lands here).
        end_ts: Generated update time (no generated event is later).
        stages: Stage ids of the deal's pipeline, in order.
        stage_id: Stage the deal ends in.
        value: Final deal value.
        status: Final status (`open`, `won`, `lost`, `deleted`).
        close_ts: When the deal was won, lost or deleted, else `None`.
        owner_id: The deal owner (author of most changes).
        events: How many events to generate.
        bounce: Whether the stage moved back and forth.
        custom: (custom field key, final value) pairs that were set after creation.
    """

    add_ts: int
    stage_change_ts: int
    end_ts: int
    stages: tuple[int, ...]
    stage_id: int
    value: float
    status: str
    close_ts: int | None
    owner_id: int
    events: int
    bounce: bool
    custom: tuple[tuple[str, Any], ...] = ()


def generated_events(seed: int, deal_id: int, spec: HistorySpec) -> list[ChangeEvent]:
    """Derive a deal's generated change events, oldest first.

    The stage path ends at `spec.stage_id` (with a back-and-forth move when `spec.bounce`),
    the value chain ends at `spec.value`, and a won/lost/deleted deal gets its status change.
    """
    rng = random.Random(seed * 1_000_003 + deal_id)
    target = spec.stages.index(spec.stage_id) if spec.stage_id in spec.stages else 0
    path = list(range(0, target + 1))
    if spec.bounce:
        hi = min(target + 1, len(spec.stages) - 1)
        path = path + [hi, target] if hi != target else path + [max(target - 1, 0), target]
    keep = max(spec.events - 1, 3 if spec.bounce else 2)  # a bounce needs its two moves
    if len(path) > keep:
        path = path[-keep:]
    stage_moves = list(zip(path, path[1:]))
    n_value = max(spec.events - len(stage_moves) - (1 if spec.close_ts else 0), 0)
    span = max(spec.stage_change_ts - spec.add_ts, 0)
    times = sorted(spec.add_ts + rng.randint(0, span) for _ in stage_moves)
    if times:
        times[-1] = spec.stage_change_ts
    raw: list[tuple[int, str, Any, Any]] = [
        (ts, "stage_id", spec.stages[a], spec.stages[b]) for ts, (a, b) in zip(times, stage_moves)
    ]
    values = [round(rng.uniform(0, 20000), 2) for _ in range(n_value)] + [spec.value]
    vspan = max(spec.end_ts - spec.add_ts, 1)
    vtimes = sorted(spec.add_ts + rng.randint(0, vspan) for _ in range(n_value))
    raw += [(ts, "value", values[i], values[i + 1]) for i, ts in enumerate(vtimes)]
    if spec.close_ts:
        raw.append((spec.close_ts, "status", "open", spec.status))
    raw += [(rng.randint(spec.add_ts, max(spec.add_ts, spec.end_ts)), key, None, value) for key, value in spec.custom]
    raw.sort(key=lambda e: e[0])
    return [
        ChangeEvent(deal_id * 100 + i, deal_id, key, old, new, spec.owner_id, ts, "app")
        for i, (ts, key, old, new) in enumerate(raw[:99])
    ]


def flow_item(ev: ChangeEvent) -> dict[str, Any]:
    """Render an event as a v1 `/deals/{id}/flow` item (`object: dealChange`)."""
    stamp = v1_ts(ev.ts)
    return {
        "object": "dealChange",
        "timestamp": stamp,
        "data": {
            "id": ev.id,
            "item_id": ev.item_id,
            "user_id": ev.user_id,
            "field_key": ev.field_key,
            "old_value": ev.old_value,
            "new_value": ev.new_value,
            "is_bulk_update_flag": None,
            "log_time": stamp,
            "change_source": ev.change_source,
            "change_source_user_agent": _AGENTS[ev.id % 2],
            "additional_data": [],  # as the spec example (empty PHP array)
        },
    }


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):  # ids, or contact items (`emails`: their values)
        return ",".join(str(v.get("value") if isinstance(v, dict) else v) for v in value)
    if isinstance(value, dict):
        inner = value.get("value")
        return None if inner is None else str(inner)
    return str(value)


def changelog_item(ev: ChangeEvent) -> dict[str, Any]:
    """Render an event as a v1 `/{deals|persons|organizations}/{id}/changelog` item (values as
    strings)."""
    return {
        "field_key": ev.field_key,
        "old_value": _as_text(ev.old_value),
        "new_value": _as_text(ev.new_value),
        "actor_user_id": ev.user_id,
        "time": v1_ts(ev.ts),
        "change_source": ev.change_source,
        "change_source_user_agent": _AGENTS[ev.id % 2],
        "is_bulk_update_flag": False,
    }


def generated_record_events(entity: str, rec: dict[str, Any], users: list[int], rng: random.Random,
                            first_id: int) -> list[ChangeEvent]:
    """A small generated past of a person or organization: one to three changes of its name,
    owner and (persons) organization or email, oldest first, each ending at the current value.

    Args:
        entity: `persons` or `organizations`.
        rec: The generated v2 record (its `add_time`/`update_time` bound the events).
        users: User ids (the previous owner is another one).
        rng: Random source of this history.
        first_id: Id of the first event (the next ones count up).
    """
    add_ts, end_ts = parse_ts(rec["add_time"]) or 0, parse_ts(rec["update_time"]) or 0
    candidates: list[tuple[str, Any, Any]] = [("name", f"{rec['name']} (old)".strip(), rec["name"])]
    others = [u for u in users if u != rec["owner_id"]]
    if others:
        candidates.append(("owner_id", rng.choice(others), rec["owner_id"]))
    if entity == "persons" and rec.get("org_id") is not None:
        candidates.append(("org_id", None, rec["org_id"]))
    if entity == "persons" and rec.get("emails"):
        current = rec["emails"][0]["value"]
        candidates.append(("email", f"old.{current}", current))
    chosen = rng.sample(candidates, rng.randint(1, len(candidates)))[:3]
    times = sorted(rng.randint(add_ts, max(add_ts, end_ts)) for _ in chosen)
    actor = rec["owner_id"]
    return [ChangeEvent(first_id + i, rec["id"], key, old, new, actor, ts, "app")
            for i, ((key, old, new), ts) in enumerate(zip(chosen, times))]


class ChangeHistory:
    """Generated plus appended change events of every deal, person and organization.

    Args:
        seed: The account seed.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.specs: dict[int, HistorySpec] = {}  # deals: their history is derived from these
        self.generated: dict[tuple[str, Any], list[ChangeEvent]] = {}  # persons, organizations
        self.appended: dict[tuple[str, Any], list[ChangeEvent]] = {}
        self._next_id = 2_000_000_000

    def events(self, entity: str, rec_id: Any) -> list[ChangeEvent]:
        """All events of a record, newest first (ties: higher id first)."""
        spec = self.specs.get(rec_id) if entity == "deals" else None
        out = generated_events(self.seed, rec_id, spec) if spec else []
        out = out + self.generated.get((entity, rec_id), []) + self.appended.get((entity, rec_id), [])
        out.sort(key=lambda e: (e.ts, e.id), reverse=True)
        return out

    def append(self, entity: str, rec_id: Any, field_key: str, old: Any, new: Any, user_id: int,
               ts: int) -> ChangeEvent:
        """Record a change made through the mutation API."""
        self._next_id += 1
        ev = ChangeEvent(self._next_id, rec_id, field_key, old, new, user_id, ts, "api")
        self.appended.setdefault((entity, rec_id), []).append(ev)
        return ev

    def flow(self, deal_id: int) -> list[dict[str, Any]]:
        """v1 `dealChange` flow items of a deal, newest first."""
        return [flow_item(ev) for ev in self.events("deals", deal_id)]

    def changelog(self, entity: str, rec_id: Any) -> list[dict[str, Any]]:
        """v1 changelog items of a deal, person or organization, newest first."""
        return [changelog_item(ev) for ev in self.events(entity, rec_id)]
