"""Account sizes: how many records of each kind `Account.generate` creates."""

from __future__ import annotations

#: Record counts of the medium account; small is ~1/30, large 10x.
MEDIUM: dict[str, int] = {
    "users": 30, "pipelines": 3, "lead_labels": 5, "roles": 6, "filters": 30, "goals": 12,
    "deals": 10_000, "persons": 20_000, "organizations": 5_000, "activities": 50_000,
    "products": 1_000, "deal_products": 25_000, "notes": 8_000, "files": 2_000, "leads": 2_000,
    "call_logs": 3_000, "projects": 200, "tasks": 1_000,
}

#: Minimal configuration: one user, one pipeline with stages, no CRM records.
EMPTY: dict[str, int] = {key: 0 for key in MEDIUM} | {"users": 1, "pipelines": 1}

#: A few records of every kind; the fixed edge-case records come on top of these.
TINY: dict[str, int] = {
    "users": 3, "pipelines": 2, "lead_labels": 4, "roles": 3, "filters": 4, "goals": 2,
    "deals": 24, "persons": 20, "organizations": 8, "activities": 30, "products": 6,
    "deal_products": 30, "notes": 10, "files": 5, "leads": 8, "call_logs": 5, "projects": 3,
    "tasks": 6,
}

_CONFIG = ("users", "pipelines", "lead_labels", "roles", "filters", "goals")


def _scaled(factor: float) -> dict[str, int]:
    out = {}
    for key, n in MEDIUM.items():
        if key in _CONFIG:
            out[key] = max(TINY[key], min(n, int(n * factor ** 0.5)))
        else:
            out[key] = max(TINY[key], int(n * factor))
    return out


SIZES: dict[str, dict[str, int]] = {
    "empty": EMPTY,
    "tiny": TINY,
    "small": _scaled(1 / 30),
    "medium": MEDIUM,
    "large": _scaled(10) | {"users": 100, "pipelines": 5},
}


def counts(size: str) -> dict[str, int]:
    """Return the record counts of a size.

    Raises:
        ValueError: For an unknown size name.
    """
    try:
        return dict(SIZES[size])
    except KeyError:
        raise ValueError(f"unknown size {size!r}; expected one of {sorted(SIZES)}") from None
