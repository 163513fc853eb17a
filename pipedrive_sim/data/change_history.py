"""Deal history: the `dealChange` items of the v1 deal flow and the v1 deal changelog.

Generated history is not materialised: each deal keeps a small `HistorySpec` and its events
are derived on demand, deterministically from the account seed and the deal id. Mutations
append real events. Both v1 endpoints are renderings of the same `ChangeEvent` list.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, NamedTuple

from .timestamps import v1_ts

_AGENTS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0",
    None,
)


class ChangeEvent(NamedTuple):
    """One field change of a deal."""

    id: int
    deal_id: int
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
            "item_id": ev.deal_id,
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
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):
        inner = value.get("value")
        return None if inner is None else str(inner)
    return str(value)


def changelog_item(ev: ChangeEvent) -> dict[str, Any]:
    """Render an event as a v1 `/deals/{id}/changelog` item (values as strings)."""
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


class DealHistory:
    """Generated (lazy) plus appended change events of every deal.

    Args:
        seed: The account seed.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.specs: dict[int, HistorySpec] = {}
        self.appended: dict[int, list[ChangeEvent]] = {}
        self._next_id = 2_000_000_000

    def events(self, deal_id: int) -> list[ChangeEvent]:
        """All events of a deal, newest first (ties: higher id first)."""
        spec = self.specs.get(deal_id)
        out = generated_events(self.seed, deal_id, spec) if spec else []
        out = out + self.appended.get(deal_id, [])
        out.sort(key=lambda e: (e.ts, e.id), reverse=True)
        return out

    def append(self, deal_id: int, field_key: str, old: Any, new: Any, user_id: int, ts: int) -> ChangeEvent:
        """Record a change made through the mutation API."""
        self._next_id += 1
        ev = ChangeEvent(self._next_id, deal_id, field_key, old, new, user_id, ts, "api")
        self.appended.setdefault(deal_id, []).append(ev)
        return ev

    def flow(self, deal_id: int) -> list[dict[str, Any]]:
        """v1 flow items of a deal, newest first."""
        return [flow_item(ev) for ev in self.events(deal_id)]

    def changelog(self, deal_id: int) -> list[dict[str, Any]]:
        """v1 changelog items of a deal, newest first."""
        return [changelog_item(ev) for ev in self.events(deal_id)]
