"""Copies of related records that other records embed, rendered when they are read.

Pipedrive renders what it embeds from the related records as they are now: a v1 note's `deal`,
`person`, `organization`, `lead` and `user` objects, a v1 file's `deal_name`, `person_name`,
`org_name`, `product_name`, `lead_name` and `project_name`, a v2 deal-product row's product
`name`. Renaming a person therefore shows in its notes at the next request, while the notes'
`update_time` stays where it was (the note did not change). The stored records keep the ids;
`Account.records` renders these keys whenever a related entity's version moved (`EMBEDS`).
A related record that is gone (deleted) renders as unlinked: null objects, empty names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Store = dict[str, dict[Any, dict[str, Any]]]

#: Embedding entity -> the entities its copies come from (its version moves with theirs).
EMBEDS: dict[str, tuple[str, ...]] = {
    "notes": ("deals", "persons", "organizations", "leads", "users"),
    "files": ("deals", "persons", "organizations", "products", "leads", "projects"),
    "deal_products": ("products",),
}
#: v1 note key -> (id key, related entity, the attribute the embedded object carries).
_NOTE_OBJECTS = {"deal": ("deal_id", "deals", "title"), "person": ("person_id", "persons", "name"),
                 "organization": ("org_id", "organizations", "name"), "lead": ("lead_id", "leads", "title")}
#: v1 file `<kind>_name` -> (id key, related entity, its name attribute).
_FILE_NAMES = {"deal_name": ("deal_id", "deals", "title"), "person_name": ("person_id", "persons", "name"),
               "org_name": ("org_id", "organizations", "name"), "product_name": ("product_id", "products", "name"),
               "lead_name": ("lead_id", "leads", "title"), "project_name": ("project_id", "projects", "title")}


def user_ref(user: dict[str, Any] | None) -> dict[str, Any]:
    """The `user` object embedded in v1 notes (empty values for a missing user)."""
    if user is None:
        return {"email": "", "icon_url": "", "is_you": False, "name": ""}
    return {"email": user["email"], "icon_url": user["icon_url"] or "", "is_you": user["is_you"],
            "name": user["name"]}


def owner_ref(user_id: int, user: dict[str, Any] | None) -> dict[str, Any]:
    """The `owner_id` object of a v1 organization (name and email of the owning user)."""
    return {"id": user_id, "name": (user or {}).get("name", ""), "email": (user or {}).get("email", ""),
            "has_pic": 0, "pic_hash": None, "active_flag": bool((user or {}).get("active_flag", True)),
            "value": user_id}


def _note(note: dict[str, Any], store: Store) -> dict[str, Any]:
    out = dict(note)
    for key, (id_key, entity, attr) in _NOTE_OBJECTS.items():
        target = store[entity].get(note.get(id_key)) if note.get(id_key) is not None else None
        out[key] = None if target is None else {attr: target[attr]}
    out["user"] = user_ref(store["users"].get(note["user_id"]))
    return out


def _file(file: dict[str, Any], store: Store) -> dict[str, Any]:
    out = dict(file)
    for key, (id_key, entity, attr) in _FILE_NAMES.items():
        target = store[entity].get(file.get(id_key)) if file.get(id_key) is not None else None
        out[key] = "" if target is None else target[attr]
    return out


def _deal_product(row: dict[str, Any], store: Store) -> dict[str, Any]:
    product = store["products"].get(row["product_id"])
    return row if product is None else {**row, "name": product["name"]}


_RENDERERS: dict[str, Callable[[dict[str, Any], Store], dict[str, Any]]] = {
    "notes": _note, "files": _file, "deal_products": _deal_product,
}


def render(entity: str, rec: dict[str, Any], store: Store) -> dict[str, Any]:
    """The record as the API shows it now: its embedded copies taken from `store` (a new dict;
    records of entities that embed nothing are returned as they are)."""
    renderer = _RENDERERS.get(entity)
    return rec if renderer is None else renderer(rec, store)


__all__ = ["EMBEDS", "owner_ref", "render", "user_ref"]
