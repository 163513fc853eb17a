"""Values for documented, non-nullable properties that a record has no value for.

The official specs declare many properties non-nullable (e.g. v2 deal `person_id`, `won_time`)
while the real API returns `null` when there is nothing to show. The simulator follows the
specs: every documented property is present, and one without a value gets the empty value of
its type from this table: `0` for ids and integers, `""` for strings, `[]` for lists, an
address object of empty strings, and the nil UUID for `format: uuid` strings. Nullable
properties stay `null`. Clients should treat these like `null`.
"""

from __future__ import annotations

from typing import Any

NIL_UUID = "00000000-0000-0000-0000-000000000000"

#: Address sub-keys of the built-in (non-custom) v2 address objects.
ADDRESS_KEYS = ("value", "country", "admin_area_level_1", "admin_area_level_2", "locality", "sublocality",
                "route", "street_number", "subpremise", "postal_code")


def empty_address() -> dict[str, str]:
    """A built-in address object without an address."""
    return {key: "" for key in ADDRESS_KEYS}


def _table(spec: str) -> dict[str, Any]:
    """Parse "key:kind ..." where kind is int, str, list, addr or uuid."""
    kinds: dict[str, Any] = {"int": 0, "str": "", "list": (), "addr": None, "uuid": NIL_UUID}
    out = {}
    for item in spec.split():
        key, kind = item.split(":")
        out[key] = kinds[kind]
    return out


#: entity -> property -> empty value (`()` means a new empty list, `None` a new empty address).
EMPTY: dict[str, dict[str, Any]] = {
    "deals": _table("person_id:int org_id:int won_time:str lost_time:str"),
    "persons": _table("org_id:int picture_id:int postal_address:addr notes:str im:list birthday:str "
                      "job_title:str"),
    "organizations": _table("address:addr"),
    "activities": _table("deal_id:int lead_id:str person_id:int org_id:int project_id:int due_time:str "
                         "duration:str marked_as_done_time:str location:addr conference_meeting_client:str "
                         "conference_meeting_url:str conference_meeting_id:str priority:int"),
    "files": _table("deal_id:int person_id:int org_id:int product_id:int activity_id:int lead_id:uuid "
                    "project_id:int deal_name:str person_name:str org_name:str product_name:str "
                    "lead_name:str project_name:str"),
}


def complete(entity: str, rec: dict[str, Any]) -> dict[str, Any]:
    """Fill the documented properties `rec` lacks (or has as null) with empty values (in place)."""
    for key, empty in EMPTY.get(entity, {}).items():
        if rec.get(key) is None:
            rec[key] = empty_address() if empty is None else [] if empty == () else empty
        elif empty is None:
            addr = rec[key]
            for part in ADDRESS_KEYS:
                if addr.get(part) is None:
                    addr[part] = ""
    return rec
