"""The v1 deal flow (`GET /deals/{id}/flow`): every kind of update item of one deal.

A flow item is `{"object": kind, "timestamp": "YYYY-MM-DD HH:MM:SS", "data": {...}}`, newest
first. The kinds and the shape of their `data`:

| object | data (v1 shape)                                  | timestamp                     |
|--------|--------------------------------------------------|-------------------------------|
| dealChange | change event (spec example of this operation) | the change                  |
| deal | the deal (`/recents` deal schema)                  | deal `add_time` (creation)    |
| activity / plannedActivity | the activity (`/recents` activity schema); done / not done | done time / due date+time |
| note | the note (`GET /notes` item)                       | note `add_time`               |
| file | the file (`GET /files` item)                       | file `add_time`               |
| call | the call log (`GET /callLogs` item)                | call `start_time`             |
| follower | `GET /deals/{id}/followers` (v1) row          | follower `add_time`           |
| participant | `GET /deals/{id}/participants` row         | participant `add_time`        |
| mailMessage | `MailMessageData` + the example's extra keys | message time                 |
| invoice / document | no schema in the spec: a small invented object | its `add_time`        |

Nothing here is stored: the items are rendered from the deal's records and children each
time (`Account.deal_flow`), so mutations show up immediately. Which items a request wants
(`items`, `all_changes`) is the HTTP layer's business (`http/flow_filter.py`).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any, NamedTuple

from .timestamps import v1_ts, v2_to_v1

#: The `object` values the simulator produces.
KINDS = ("dealChange", "deal", "activity", "plannedActivity", "note", "file", "call", "follower",
         "participant", "mailMessage", "invoice", "document")
#: Share of deals with a (generated) invoice and with a document; neither kind has a spec schema.
INVOICE_SHARE = 0.03
DOCUMENT_SHARE = 0.05


class FlowItem(NamedTuple):
    """A flow item before rendering: sort key plus the API object."""

    stamp: str
    order: int
    item: dict[str, Any]


def item(kind: str, stamp: str | None, data: dict[str, Any], order: int = 0) -> FlowItem:
    """A flow item of `kind` at v1 timestamp `stamp` (ties: higher `order` first)."""
    ts = stamp or "1970-01-01 00:00:00"
    return FlowItem(ts, order, {"object": kind, "timestamp": ts, "data": data})


def activity_item(activity_v1: dict[str, Any]) -> FlowItem:
    """`activity` (done) or `plannedActivity` (not done) item of a v1 activity."""
    if activity_v1.get("done"):
        return item("activity", activity_v1.get("marked_as_done_time") or activity_v1.get("update_time"),
                    activity_v1, activity_v1["id"])
    due = f"{activity_v1['due_date']} {(activity_v1.get('due_time') or '00:00')[:5]}:00"
    return item("plannedActivity", due, activity_v1, activity_v1["id"])


def follower_item(deal_id: int, row: dict[str, Any]) -> FlowItem:
    """`follower` item of a follower row (`id`, `user_id`, `add_time` v2)."""
    stamp = v2_to_v1(row["add_time"])
    return item("follower", stamp, {"user_id": row["user_id"], "id": row["id"], "deal_id": deal_id,
                                    "add_time": stamp}, row["id"])


def extras(seed: int, deal: dict[str, Any], add_ts: int, end_ts: int) -> list[FlowItem]:
    """Generated `invoice` and `document` items of a deal (deterministic; most deals have none).

    The spec names these kinds but documents no shape for them (`data` is just an object), so
    the objects are small and invented: `id`, `deal_id`, `user_id`, a title/number, status,
    times.
    """
    rng = random.Random(seed * 3_000_017 + deal["id"])
    out = []
    if rng.random() < INVOICE_SHARE:
        ts = rng.randint(add_ts, max(add_ts, end_ts))
        out.append(item("invoice", v1_ts(ts), {
            "id": deal["id"], "deal_id": deal["id"], "user_id": deal["owner_id"],
            "number": f"INV-{deal['id']:06d}", "status": rng.choice(("draft", "sent", "paid")),
            "amount": deal["value"], "currency": deal["currency"], "add_time": v1_ts(ts)}, deal["id"]))
    if rng.random() < DOCUMENT_SHARE:
        ts = rng.randint(add_ts, max(add_ts, end_ts))
        out.append(item("document", v1_ts(ts), {
            "id": deal["id"], "deal_id": deal["id"], "user_id": deal["owner_id"],
            "title": f"Proposal {deal['id']}", "status": rng.choice(("draft", "sent", "viewed", "signed")),
            "add_time": v1_ts(ts)}, deal["id"]))
    return out


def assemble(items: Iterable[FlowItem]) -> list[dict[str, Any]]:
    """The flow: items newest first (ties: higher `order` first)."""
    return [i.item for i in sorted(items, key=lambda i: (i.stamp, i.order), reverse=True)]

