"""Custom field values: generation (v2 shape) and the v1 flattening rule.

v2 keeps custom values in `custom_fields[<hash>]` (monetary `{value, currency}`, daterange
`{value, until}`, timerange `{value, until, timezone_name}`, address `{value, <parts>}`, enum an
int, set a list of ints, user/org/people a bare int). v1 puts them at the top level: `<hash>`
plus sibling keys `<hash>_<part>`, sets as comma-separated id strings, enums as id strings.
"""

from __future__ import annotations

import random
from typing import Any

from .field_definitions import FieldDef
from .text_samples import sample_text
from .timestamps import DAY, date_str

_CITIES = (
    ("Tallinn", "Harju maakond", "Estonia", "10111"),
    ("東京", "東京都", "Japan", "100-0001"),
    ("תל אביב", "מחוז תל אביב", "Israel", "61000"),
    ("São Paulo", "SP", "Brazil", "01000-000"),
    ("New York", "NY", "United States", "10001"),
)
_ZONES = ("Europe/Tallinn", "America/New_York", "Asia/Tokyo", "UTC")


def address_value(rng: random.Random) -> dict[str, Any]:
    """Return a v2 address object (`value` plus every address part)."""
    city, area, country, postal = rng.choice(_CITIES)
    number, route = str(rng.randint(1, 200)), rng.choice(("Main St", "Narva mnt", "Rua Augusta", "銀座"))
    formatted = f"{route} {number}, {city}, {country}"
    return {
        "value": formatted, "street_number": number, "route": route, "sublocality": None,
        "locality": city, "admin_area_level_1": area, "admin_area_level_2": None,
        "country": country, "postal_code": postal, "formatted_address": formatted,
    }


def make_value(fd: FieldDef, rng: random.Random, ctx: dict[str, Any]) -> Any:
    """Generate one non-null v2 custom value for a field.

    Args:
        fd: The custom field.
        rng: Random source.
        ctx: Id ranges to reference: `users` (list of ids), `orgs` and `persons` (max id),
            `now` (epoch seconds), `currencies` (codes).

    Returns:
        The value in the v2 `custom_fields` shape.
    """
    t = fd.field_type
    now = ctx["now"]
    if t in ("varchar", "varchar_auto", "text"):
        return sample_text(rng, long=t == "text")
    if t == "phone":
        return f"+372 5{rng.randint(100000, 999999)}"
    if t == "double":
        return round(rng.uniform(-1000, 100000), 2)
    if t == "int":
        return rng.randint(-5, 100000)
    if t == "boolean":
        return rng.random() < 0.5
    if t == "monetary":
        return {"value": round(rng.uniform(0, 50000), 2), "currency": rng.choice(ctx["currencies"])}
    if t == "date":
        return date_str(now - rng.randint(0, 1500) * DAY)
    if t == "daterange":
        start = now - rng.randint(30, 1500) * DAY
        return {"value": date_str(start), "until": date_str(start + rng.randint(0, 60) * DAY)}
    if t == "time":
        return f"{rng.randint(0, 23):02d}:{rng.choice((0, 15, 30, 45)):02d}:00"
    if t == "timerange":
        hour = rng.randint(0, 21)
        return {"value": f"{hour:02d}:00:00", "until": f"{hour + 2:02d}:00:00", "timezone_name": rng.choice(_ZONES)}
    if t == "enum":
        return rng.choice(fd.options or ()).id
    if t == "set":
        opts = fd.options or ()
        return sorted(o.id for o in rng.sample(list(opts), rng.randint(1, len(opts))))
    if t == "user":
        return rng.choice(ctx["users"])
    if t == "org":
        return rng.randint(1, ctx["orgs"]) if ctx["orgs"] else None
    if t == "people":
        return rng.randint(1, ctx["persons"]) if ctx["persons"] else None
    if t == "address":
        return address_value(rng)
    raise ValueError(f"no generator for custom field type {t!r}")


def flatten_v1(fd: FieldDef, value: Any, out: dict[str, Any]) -> None:
    """Write a v2 custom value into a v1 record as `<key>` plus `<key>_<part>` siblings.

    Args:
        fd: The custom field.
        value: The v2 value (or `None`).
        out: The v1 record to write into.
    """
    key, t = fd.key, fd.field_type
    parts = _v1_parts(fd)
    if parts:
        obj = value if isinstance(value, dict) else {}
        out[key] = obj.get("value")
        for part in parts:
            out[f"{key}_{part}"] = obj.get(part)
        return
    if t == "set":
        out[key] = None if value is None else ",".join(str(v) for v in value)
    elif t == "enum":
        out[key] = None if value is None else str(value)
    else:
        out[key] = value


def _v1_parts(fd: FieldDef) -> tuple[str, ...]:
    """The `<key>_<part>` siblings a v1 record carries for a field (v1 timeranges have no zone)."""
    return ("until",) if fd.field_type == "timerange" else fd.subfield_keys()


def unflatten_v1(fd: FieldDef, rec: dict[str, Any]) -> Any:
    """Read a custom value back from a v1 record in the v2 shape (the inverse of `flatten_v1`)."""
    key, parts = fd.key, _v1_parts(fd)
    if parts:
        obj = {"value": rec.get(key)} | {part: rec.get(f"{key}_{part}") for part in parts}
        return None if all(v is None for v in obj.values()) else obj
    raw = rec.get(key)
    if raw is None:
        return None
    if fd.field_type == "set":
        return [int(v) for v in str(raw).split(",") if v]
    if fd.field_type == "enum":
        return int(raw)
    return raw


def drop_v1(fd: FieldDef, rec: dict[str, Any]) -> None:
    """Remove a field's value (`<key>` and its `<key>_<part>` siblings) from a v1 record."""
    rec.pop(fd.key, None)
    for part in _v1_parts(fd):
        rec.pop(f"{fd.key}_{part}", None)


__all__ = ["address_value", "drop_v1", "flatten_v1", "make_value", "unflatten_v1"]
