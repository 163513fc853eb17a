"""Conversion of v2-shaped records to the v1 shape (used for `/v1/recents`).

v1 differs from v2 by: `YYYY-MM-DD HH:MM:SS` timestamps, custom fields flattened to the top
level (see `values.flatten_v1`), address objects flattened to `<key>` + `<key>_<part>`,
`active_flag`/`active`/`deleted` instead of `is_deleted`, renamed keys, string `visible_to`
and a single `label`. The per-entity rules follow the `/recents` item schemas of the v1 spec.
A property without a value is `null` in v1 as in v2 (the real API sends the key with `null`,
e.g. a deal's `person_id`), also where the spec declares it non-nullable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from .custom_values import flatten_v1
from .embedded import owner_ref
from .field_definitions import FieldDef
from .reference_records import COMPANY_ID
from .timestamps import v2_to_v1

_PARTS = ("subpremise", "street_number", "route", "sublocality", "locality", "admin_area_level_1",
          "admin_area_level_2", "country", "postal_code")


@dataclass(frozen=True)
class V1Rule:
    """How one entity's v2 record maps to v1.

    Attributes:
        renames: v2 key -> v1 key.
        negated: v2 boolean key -> v1 keys holding its negation (e.g. is_deleted -> active_flag).
        copied: v2 boolean key -> extra v1 keys holding the same value.
        string_keys: Keys rendered as strings in v1 (e.g. `visible_to`).
        label: How `label_ids` becomes v1 `label`: "csv" (comma string), "first" (int) or "".
        extra: Post-processing hook for entity-specific keys (gets the users, for embedded owners).
    """

    renames: dict[str, str] = field(default_factory=dict)
    negated: dict[str, tuple[str, ...]] = field(default_factory=lambda: {"is_deleted": ("active_flag",)})
    copied: dict[str, tuple[str, ...]] = field(default_factory=dict)
    string_keys: tuple[str, ...] = ()
    label: str = ""
    extra: Callable[[dict[str, Any], dict[str, Any], Mapping[int, dict[str, Any]]], None] | None = None


def _hhmm(out: dict[str, Any], rec: dict[str, Any], users: Mapping[int, dict[str, Any]]) -> None:
    """v1 activity `due_time`/`duration` are `HH:MM`."""
    for key in ("due_time", "duration"):
        if isinstance(out.get(key), str):
            out[key] = out[key][:5]


def _org_owner(out: dict[str, Any], rec: dict[str, Any], users: Mapping[int, dict[str, Any]]) -> None:
    """v1 organizations embed the owner as an object (name and email of the user as they are now)."""
    out["owner_id"] = owner_ref(rec["owner_id"], users.get(rec["owner_id"]))
    out["company_id"] = COMPANY_ID
    out["first_char"] = rec["name"][:1].lower()


def _person(out: dict[str, Any], rec: dict[str, Any], users: Mapping[int, dict[str, Any]]) -> None:
    out["company_id"] = COMPANY_ID
    out["first_char"] = rec["name"][:1].lower()
    out["last_name"] = rec.get("last_name") or None


def _pipeline(out: dict[str, Any], rec: dict[str, Any], users: Mapping[int, dict[str, Any]]) -> None:
    out["url_title"] = "".join(c if c.isalnum() else "-" for c in rec["name"].lower())


RULES: dict[str, V1Rule] = {
    "deals": V1Rule(
        renames={"owner_id": "user_id"}, negated={"is_deleted": ("active",)}, copied={"is_deleted": ("deleted",)},
        string_keys=("visible_to",), label="csv"),
    "persons": V1Rule(
        renames={"emails": "email", "phones": "phone"}, string_keys=("visible_to",), label="first", extra=_person),
    "organizations": V1Rule(string_keys=("visible_to",), label="first", extra=_org_owner),
    "activities": V1Rule(
        renames={"owner_id": "user_id", "busy": "busy_flag", "creator_user_id": "created_by_user_id"}, extra=_hhmm),
    "products": V1Rule(renames={"is_linkable": "selectable"}),
    "pipelines": V1Rule(renames={"is_deal_probability_enabled": "deal_probability"},
                        negated={"is_deleted": ("active",)}, extra=_pipeline),
    "stages": V1Rule(renames={"is_deal_rot_enabled": "rotten_flag", "days_to_rotten": "rotten_days"}),
}
_ADDRESS_KEYS = ("address", "postal_address", "location")


def record_to_v1(entity: str, rec: dict[str, Any], custom: Iterable[FieldDef],
                 users: Mapping[int, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Return the v1 shape of a v2 record.

    Args:
        entity: Entity key (e.g. `deals`).
        rec: The v2 record (not modified).
        custom: Custom field definitions of the entity's field set.
        users: Users by id (v1 organizations embed their owner's name and email).

    Returns:
        A new dict in the v1 shape.
    """
    rule = RULES.get(entity, V1Rule())
    out: dict[str, Any] = {}
    for key, value in rec.items():
        if key == "custom_fields":
            continue
        if key in rule.negated or key in rule.copied:
            for v1_key in rule.negated.get(key, ()):
                out[v1_key] = not value
            for v1_key in rule.copied.get(key, ()):
                out[v1_key] = value
            continue
        if key in _ADDRESS_KEYS:
            addr = value if isinstance(value, dict) else {}
            out[key] = addr.get("value") or None
            for part in _PARTS:
                out[f"{key}_{part}"] = addr.get(part) or None
            out[f"{key}_formatted_address"] = addr.get("value") or None
            continue
        if isinstance(value, str) and key.endswith("_time") and "T" in value:
            value = v2_to_v1(value)
        if key in rule.string_keys and value is not None:
            value = str(value)
        out[rule.renames.get(key, key)] = value
    labels = rec.get("label_ids")
    if rule.label == "csv" and labels:
        out["label"] = ",".join(str(v) for v in labels)
    elif rule.label == "first":
        out["label"] = labels[0] if labels else None
    if rule.extra:
        rule.extra(out, rec, users or {})
    for fd in custom:  # custom values may be null: they are not in the spec's schemas
        flatten_v1(fd, (rec.get("custom_fields") or {}).get(fd.key), out)
    return out
