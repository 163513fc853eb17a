"""How a custom value converts when its field changes type (`Account.change_field_type`).

Pipedrive lets users change a custom field's type and converts what it can; the rest is lost
(its UI warns that "data might be lost"). The rules here keep whatever still makes sense in the
new type, in the v2 value shape (`custom_values.py`):

- a number from text: a numeric string becomes the number, anything else null;
- text from anything: the value as the user saw it (numbers without a trailing `.0`, option
  labels joined with ", ", the `value` of monetary/date-range/address objects);
- enum <-> set: an option id becomes a one-element set; a set keeps its first option;
- enum/set from text: each distinct text becomes an option (`new_option_labels`);
- monetary from a number: that amount in the account's default currency;
- date from text: a `YYYY-MM-DD` string stays, anything else is lost;
- every other pair (e.g. a person into a date): null.
"""

from __future__ import annotations

import re
from typing import Any

TEXT_TYPES = frozenset({"varchar", "varchar_auto", "text", "phone"})
NUMBER_TYPES = frozenset({"double", "int"})
OPTION_TYPES = frozenset({"enum", "set"})
#: Currency of a monetary value made from a plain number (the users' `default_currency`).
DEFAULT_CURRENCY = "EUR"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _plain(value: Any, old_type: str, labels: dict[Any, str]) -> Any:
    """The value as one scalar: an object's `value`, options as their labels."""
    if isinstance(value, dict):
        return value.get("value")
    if old_type in OPTION_TYPES:
        ids = value if isinstance(value, list) else [value]
        return ", ".join(labels.get(i, str(i)) for i in ids) or None
    return value


def as_text(value: Any, old_type: str, labels: dict[Any, str]) -> str | None:
    """The text a value shows as (None for no value)."""
    plain = _plain(value, old_type, labels)
    if plain is None or plain == "":
        return None
    if isinstance(plain, bool):
        return "true" if plain else "false"
    if isinstance(plain, float) and plain.is_integer():
        return str(int(plain))
    return str(plain)


def _number(plain: Any) -> float | None:
    if isinstance(plain, bool):
        return None
    if isinstance(plain, (int, float)):
        return float(plain)
    try:
        return float(str(plain).strip().replace(",", "."))
    except ValueError:
        return None


def new_option_labels(values: list[Any], old_type: str, labels: dict[Any, str]) -> list[str]:
    """The options a field gets when it becomes enum/set from a type without options: its
    distinct non-empty texts, sorted."""
    if old_type in OPTION_TYPES:
        return []
    return sorted({t for t in (as_text(v, old_type, labels) for v in values) if t is not None})


def convert(value: Any, old_type: str, new_type: str, labels: dict[Any, str], ids_by_label: dict[str, Any]) -> Any:
    """Convert one v2 custom value from `old_type` to `new_type`.

    Args:
        value: The v2 value (None: no value).
        old_type: The field's type before the change.
        new_type: Its type after.
        labels: Option id -> label of the field before the change.
        ids_by_label: Option label -> id after the change (when it becomes enum/set).
    """
    if value is None or old_type == new_type:
        return value
    if old_type in OPTION_TYPES and new_type in OPTION_TYPES:
        ids = value if isinstance(value, list) else [value]
        return list(ids) if new_type == "set" else (ids[0] if ids else None)
    text = as_text(value, old_type, labels)
    if text is None:
        return None
    if new_type in TEXT_TYPES:
        return text
    if new_type in NUMBER_TYPES or new_type == "monetary":
        number = _number(_plain(value, old_type, labels))
        if number is None:
            return None
        if new_type == "int":
            return round(number)
        if new_type == "monetary":
            return {"value": number, "currency": DEFAULT_CURRENCY}
        return number
    if new_type in OPTION_TYPES:
        option = ids_by_label.get(text)
        return None if option is None else ([option] if new_type == "set" else option)
    if new_type == "date":
        return text if _DATE.match(text) else None
    return None
