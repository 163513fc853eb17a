"""Per-deal child rows derived on demand: participants (v1) and followers (v2).

Both are deterministic from the account seed, the deal and the referenced person/users, so
they need no storage; a deal's owner always follows it and its contact person participates.
"""

from __future__ import annotations

import random
from typing import Any

from .timefmt import v2_to_v1

_COMPANY_ID = 7001


def followers(seed: int, deal: dict[str, Any], user_ids: list[int]) -> list[dict[str, Any]]:
    """v2 follower rows (`user_id`, `add_time`) of a deal: the owner plus maybe a colleague."""
    rng = random.Random(seed * 7_000_003 + deal["id"])
    out = [{"user_id": deal["owner_id"], "add_time": deal["add_time"]}]
    others = [u for u in user_ids if u != deal["owner_id"]]
    if others and rng.random() < 0.4:
        out.append({"user_id": rng.choice(others), "add_time": deal["update_time"]})
    return out


def _contact(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"value": i["value"], "primary": i["primary"], "label": i["label"]} for i in items]


def participant(row_id: int, deal: dict[str, Any], person: dict[str, Any],
                users: dict[int, dict[str, Any]], orgs: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """One v1 `/deals/{id}/participants` row for a person."""
    owner = users.get(person["owner_id"], {"id": person["owner_id"], "name": "", "email": ""})
    org = orgs.get(person.get("org_id") or 0)
    email, phone = _contact(person["emails"]), _contact(person["phones"])
    return {
        "id": row_id,
        "person_id": {"active_flag": True, "name": person["name"], "email": email, "phone": phone,
                      "owner_id": person["owner_id"], "company_id": _COMPANY_ID, "value": person["id"]},
        "add_time": v2_to_v1(deal["add_time"]),
        "active_flag": True,
        "related_item_data": {"deal_id": deal["id"], "title": deal["title"]},
        "person": {
            "id": person["id"], "company_id": _COMPANY_ID, "active_flag": True, "phone": phone, "email": email,
            "first_char": person["name"][:1].lower(), "add_time": v2_to_v1(person["add_time"]),
            "update_time": v2_to_v1(person["update_time"]), "visible_to": str(person["visible_to"]),
            "label_ids": list(person["label_ids"]), "org_name": org["name"] if org else None,
            "owner_name": owner["name"], "name": person["name"], "first_name": person["first_name"],
            "last_name": person["last_name"] or None,
        },
        "related_item_type": "deal",
        "related_item_id": deal["id"],
    }


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
