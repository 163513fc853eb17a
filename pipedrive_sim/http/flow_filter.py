"""The `items` and `all_changes` parameters of v1 `GET /deals/{id}/flow`.

`Account.deal_flow` returns every item of a deal; which of them a request wants is query
semantics, so it lives here in the HTTP layer.
"""

from __future__ import annotations

import re
from typing import Any

#: `items` filter values that select other kinds than their own name (v1 spec parameter list:
#: "call, activity, plannedActivity, change, note, deal, file, dealChange, personChange, ...,
#: follower, dealFollower, ..., mailMessage, mailMessageWithAttachment, invoice, document, ...").
ITEM_ALIASES: dict[str, tuple[str, ...]] = {"change": ("dealChange",), "dealFollower": ("follower",)}
#: Filter value matching mail messages that have attachments only.
WITH_ATTACHMENT = "mailMessageWithAttachment"
#: A custom field's `field_key` (a 40-hex hash); its changes need `all_changes=1`.
CUSTOM_FIELD_KEY = re.compile(r"^[0-9a-f]{40}$")


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
