"""Per-deal child rows: participants (v1) and followers, generated on demand plus edits.

The generated rows are deterministic from the account seed, the deal and the referenced
person/users, so they need no storage; a deal's owner always follows it and its contact person
participates. Rows added or removed through the mutation API are kept as `ChildEdits`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from .reference_records import COMPANY_ID
from .timestamps import v2_to_v1



@dataclass
class ChildEdits:
    """Rows of one child kind added to / removed from deals through the mutation API.

    Attributes:
        added: deal id -> rows added (in the internal shape of the kind), oldest first.
        removed: deal id -> keys (follower user id / participant row id) of removed rows.
    """

    added: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    removed: dict[int, set[int]] = field(default_factory=dict)

    def apply(self, deal_id: int, rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
        """Generated `rows` of a deal with the edits applied (rows keyed by `row[key]`)."""
        added = self.added.get(deal_id, [])
        skip = self.removed.get(deal_id, set()) | {r[key] for r in added}
        return [r for r in rows if r[key] not in skip] + added

    def add(self, deal_id: int, row: dict[str, Any], key: str) -> None:
        """Record an added row (it replaces a generated row with the same key)."""
        self.added.setdefault(deal_id, []).append(row)

    def remove(self, deal_id: int, value: int, key: str) -> None:
        """Record the removal of the row whose `key` is `value` (generated or added)."""
        self.added[deal_id] = [r for r in self.added.get(deal_id, []) if r[key] != value]
        self.removed.setdefault(deal_id, set()).add(value)


def followers(seed: int, deal: dict[str, Any], user_ids: list[int]) -> list[dict[str, Any]]:
    """Generated follower rows (`id`, `user_id`, `add_time` v2) of a deal: the owner plus maybe
    a colleague. The v2 API row is `user_id` + `add_time` (`v2_follower`); v1 adds `id`."""
    rng = random.Random(seed * 7_000_003 + deal["id"])
    out = [{"id": deal["id"] * 10, "user_id": deal["owner_id"], "add_time": deal["add_time"]}]
    others = [u for u in user_ids if u != deal["owner_id"]]
    if others and rng.random() < 0.4:
        out.append({"id": deal["id"] * 10 + 1, "user_id": rng.choice(others), "add_time": deal["update_time"]})
    return out


def v2_follower(row: dict[str, Any]) -> dict[str, Any]:
    """The v2 `/deals/{id}/followers` row of a follower."""
    return {"user_id": row["user_id"], "add_time": row["add_time"]}


def _contact(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"value": i["value"], "primary": i["primary"], "label": i["label"]} for i in items]


def participant(row_id: int, deal: dict[str, Any], person: dict[str, Any],
                users: dict[int, dict[str, Any]], orgs: dict[int, dict[str, Any]],
                add_time: str | None = None) -> dict[str, Any]:
    """One v1 `/deals/{id}/participants` row for a person (added at `add_time`, v2 format;
    default: the deal's `add_time`)."""
    owner = users.get(person["owner_id"], {"id": person["owner_id"], "name": "", "email": ""})
    org = orgs.get(person.get("org_id") or 0)
    email, phone = _contact(person["emails"]), _contact(person["phones"])
    return {
        "id": row_id,
        "person_id": {"active_flag": True, "name": person["name"], "email": email, "phone": phone,
                      "owner_id": person["owner_id"], "company_id": COMPANY_ID, "value": person["id"]},
        "add_time": v2_to_v1(add_time or deal["add_time"]),
        "active_flag": True,
        "related_item_data": {"deal_id": deal["id"], "title": deal["title"]},
        "person": {
            "id": person["id"], "company_id": COMPANY_ID, "active_flag": True, "phone": phone, "email": email,
            "first_char": person["name"][:1].lower(), "add_time": v2_to_v1(person["add_time"]),
            "update_time": v2_to_v1(person["update_time"]), "visible_to": str(person["visible_to"]),
            "label_ids": list(person["label_ids"]), "org_name": org["name"] if org else None,
            "owner_name": owner["name"], "name": person["name"], "first_name": person["first_name"],
            "last_name": person["last_name"] or None,
        },
        "related_item_type": "deal",
        "related_item_id": deal["id"],
    }


def render_added(rows: list[dict[str, Any]], deal: dict[str, Any], persons: dict[int, dict[str, Any]],
                 users: dict[int, dict[str, Any]], orgs: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    """Render the participants added through the mutation API (`ChildEdits` keeps only their
    `id`, `person_id` and `add_time`) from the persons as they are now; a deleted person's row
    is left out, like the generated ones."""
    out = []
    for row in rows:
        if "person" not in row:
            person = persons.get(row["person_id"])
            if person is None:
                continue
            row = participant(row["id"], deal, person, users, orgs, add_time=row["add_time"])
        out.append(row)
    return out


def participants(seed: int, deal: dict[str, Any], persons: dict[int, dict[str, Any]], top_person_id: int,
                 users: dict[int, dict[str, Any]], orgs: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    """v1 participant rows of a deal: its contact person plus maybe one more existing person.

    Args:
        seed: Account seed.
        deal: The deal record.
        persons: Live persons by id.
        top_person_id: Highest person id ever allocated (deleted ids are skipped).
        users: Users by id.
        orgs: Organizations by id.
    """
    rng = random.Random(seed * 9_000_011 + deal["id"])
    ids = []
    if deal.get("person_id") in persons:
        ids.append(deal["person_id"])
    if top_person_id > 0 and rng.random() < 0.3:
        extra = rng.randint(1, top_person_id)
        if extra in persons and extra not in ids:
            ids.append(extra)
    return [participant(deal["id"] * 10 + k, deal, persons[pid], users, orgs) for k, pid in enumerate(ids)]
