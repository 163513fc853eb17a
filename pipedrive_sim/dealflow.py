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
time (`Account.deal_flow`), so mutations show up immediately.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from typing import Any, NamedTuple

from .timefmt import v1_ts, v2_to_v1

#: The `object` values the simulator produces.
KINDS = ("dealChange", "deal", "activity", "plannedActivity", "note", "file", "call", "follower",
         "participant", "mailMessage", "invoice", "document")
#: `items` filter values that select other kinds than their own name (v1 spec parameter list:
#: "call, activity, plannedActivity, change, note, deal, file, dealChange, personChange, ...,
#: follower, dealFollower, ..., mailMessage, mailMessageWithAttachment, invoice, document, ...").
ITEM_ALIASES: dict[str, tuple[str, ...]] = {"change": ("dealChange",), "dealFollower": ("follower",)}
#: Filter value matching mail messages that have attachments only.
WITH_ATTACHMENT = "mailMessageWithAttachment"
CUSTOM_FIELD_KEY = re.compile(r"^[0-9a-f]{40}$")
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


def wanted_kinds(items_param: str) -> set[str] | None:
    """The `items` query parameter as a set of filter values (None: no filter)."""
    kinds = {k.strip() for k in items_param.split(",") if k.strip()}
    return kinds or None


def matches(flow_item: dict[str, Any], kinds: set[str] | None, all_changes: bool) -> bool:
    """Whether a flow item passes the `items` filter and the `all_changes` switch.

    Args:
        flow_item: One item of `Account.deal_flow`.
        kinds: `wanted_kinds(items)`; None keeps every kind.
        all_changes: `all_changes=1`; without it `dealChange` items of custom fields are
            left out ("If omitted returns changes without custom field updates", v1 spec).
    """
    kind = flow_item["object"]
    data = flow_item.get("data") or {}
    if kind == "dealChange" and not all_changes and CUSTOM_FIELD_KEY.match(data.get("field_key") or ""):
        return False
    if kinds is None:
        return True
    if kind in kinds or any(kind in ITEM_ALIASES.get(k, ()) for k in kinds):
        return True
    return kind == "mailMessage" and WITH_ATTACHMENT in kinds and bool(data.get("has_attachments_flag"))
