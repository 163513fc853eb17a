"""Account configuration records: users, currencies, activity types, pipelines and stages,
roles, filters, goals, lead labels and lead sources (v1 shapes, pipelines/stages v2)."""

from __future__ import annotations

import random
import uuid
from typing import Any

from .text_samples import person_name
from .timestamps import COMPANY_TIMEZONE, DAY, v1_ts, v2_ts

#: `company_id` of every record that carries one (the account is one company).
COMPANY_ID = 7001
#: Currencies: (code, name, decimal points, symbol, custom?).
CURRENCIES = (
    ("EUR", "Euro", 2, "€", False), ("USD", "US Dollar", 2, "$", False),
    ("GBP", "Pound Sterling", 2, "£", False), ("JPY", "Japanese Yen", 0, "¥", False),
    ("ILS", "New Israeli Sheqel", 2, "₪", False), ("BRL", "Brazilian Real", 2, "R$", False),
    ("PTS", "Loyalty points", 0, "pts", True),
)
#: Activity types: (key_string, name, icon_key, active?, custom?).
ACTIVITY_TYPES = (
    ("call", "Call", "call", True, False), ("meeting", "Meeting", "meeting", True, False),
    ("task", "Task", "task", True, False), ("deadline", "Deadline", "deadline", True, False),
    ("email", "Email", "email", True, False), ("lunch", "Lunch", "lunch", True, False),
    ("demo_call", "Démo 📞", "calendar", False, True),
)
#: Lead sources (names only; the API gives no id).
LEAD_SOURCES = ("Leadbooster", "Prospector", "Web forms", "Manually created", "Import", "API",
                "Live chat", "Marketplace", "Workflow automation", "Messaging inbox")
_STAGE_NAMES = ("Qualified", "Contact made", "Demo scheduled", "Proposal made", "Negotiations started")
_PIPELINE_NAMES = ("Sales", "Partners 🤝", "販売パイプライン", "Renewals", "Enterprise")
_LABEL_COLORS = ("blue", "green", "red", "yellow", "purple", "gray")


def lead_uuid(seed: int, kind: str, n: int) -> str:
    """Deterministic UUID (v4 layout) for leads and lead labels."""
    rnd = random.Random(f"{seed}:{kind}:{n}")
    return str(uuid.UUID(int=rnd.getrandbits(128), version=4))


def users(n: int, created: int, rng: random.Random) -> list[dict[str, Any]]:
    """v1 users; user 1 is the token owner (admin, `is_you`), the last of 3+ is deactivated."""
    out = []
    for i in range(1, n + 1):
        first, last = ("Sim", "Admin") if i == 1 else person_name(rng)
        active = not (n >= 3 and i == n)
        out.append({
            "id": i, "name": f"{first} {last}", "default_currency": "EUR", "locale": "en_US", "lang": 1,
            "email": f"user{i}@example.com", "phone": None if i % 2 else f"+37250000{i:03d}",
            "activated": active, "last_login": v1_ts(created + (i + 200) * DAY),
            "created": v1_ts(created + i * DAY), "modified": None if i == 2 else v1_ts(created + (i + 100) * DAY),
            # who signed up (user 1) has a sign-up form variant; invited colleagues have none
            "signup_flow_variation": "short_form" if i == 1 else None,
            "has_created_company": i == 1, "is_admin": 1 if i == 1 else 0,
            "access": [{"app": "sales", "admin": i == 1, "permission_set_id": f"ps-{1 if i == 1 else 2}"}],
            "active_flag": active, "timezone_name": COMPANY_TIMEZONE, "timezone_offset": "+02:00",
            "role_id": 1, "icon_url": None, "is_you": i == 1, "is_deleted": False,
        })
    return out


def currencies() -> list[dict[str, Any]]:
    """v1 currencies."""
    return [
        {"id": i, "code": code, "name": name, "decimal_points": dp, "symbol": sym, "active_flag": True,
         "is_custom_flag": custom}
        for i, (code, name, dp, sym, custom) in enumerate(CURRENCIES, 1)
    ]


def activity_types(created: int) -> list[dict[str, Any]]:
    """v1 activity types (v1 `YYYY-MM-DD HH:MM:SS` times)."""
    return [
        {"id": i, "name": name, "icon_key": icon, "color": "FFFFFF" if custom else "", "order_nr": i,
         "key_string": key, "active_flag": active, "is_custom_flag": custom,
         "add_time": v1_ts(created), "update_time": v1_ts(created + i * DAY)}
        for i, (key, name, icon, active, custom) in enumerate(ACTIVITY_TYPES, 1)
    ]


def pipelines_and_stages(n: int, created: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """v2 pipelines with five stages each."""
    pipelines, stages = [], []
    for p in range(1, n + 1):
        pipelines.append({
            "id": p, "name": _PIPELINE_NAMES[(p - 1) % len(_PIPELINE_NAMES)], "order_nr": p,
            "is_deleted": False, "is_deal_probability_enabled": p == 1,
            "add_time": v2_ts(created), "update_time": v2_ts(created + p * DAY),
        })
        for s, name in enumerate(_STAGE_NAMES, 1):
            stages.append({
                "id": len(stages) + 1, "order_nr": s, "name": name, "is_deleted": False,
                "deal_probability": s * 20, "pipeline_id": p, "is_deal_rot_enabled": s == 2,
                "days_to_rotten": 14 if s == 2 else None,
                "add_time": v2_ts(created), "update_time": v2_ts(created + s * DAY),
            })
    return pipelines, stages


def roles(n: int) -> list[dict[str, Any]]:
    """v1 roles: one root, the rest its children."""
    return [
        {"parent_role_id": None if i == 1 else 1, "name": "Admins" if i == 1 else f"Team {i}", "id": i,
         "active_flag": True, "assignment_count": "1", "sub_role_count": str(n - 1) if i == 1 else "0",
         "level": 1 if i == 1 else 2}
        for i in range(1, n + 1)
    ]


def filters(n: int, created: int) -> list[dict[str, Any]]:
    """v1 filters; the first one was never updated (`update_time` null)."""
    types = ("deals", "leads", "org", "people", "products", "activity", "projects")
    return [
        {"id": i, "name": f"Filter {i}" if i > 1 else "Mes affaires ✨", "filter_code": None,
         "is_editable": True, "active_flag": True, "type": types[(i - 1) % len(types)],
         "temporary_flag": None, "user_id": 1, "add_time": v1_ts(created + i * DAY),
         "update_time": None if i == 1 else v1_ts(created + (i + 30) * DAY), "visible_to": "1",
         "last_used_time": None, "custom_view_id": None}
        for i in range(1, n + 1)
    ]


def goals(n: int, created: int) -> list[dict[str, Any]]:
    """v1 goals (`/goals/find` items; string ids)."""
    return [
        {"id": f"{i:032x}", "owner_id": 1, "title": f"Goal {i}",
         "type": {"name": "deals_won", "params": {"pipeline_id": [1], "activity_type_id": []}},
         "assignee": {"id": 1, "type": "person"}, "interval": "monthly",
         "duration": {"start": v1_ts(created)[:10], "end": v1_ts(created + 365 * DAY)[:10]},
         "expected_outcome": {"target": 10 * i, "tracking_metric": "quantity"},
         "is_active": i % 2 == 1, "report_ids": []}
        for i in range(1, n + 1)
    ]


def lead_labels(n: int, seed: int, created: int) -> list[dict[str, Any]]:
    """v1 lead labels (UUID ids)."""
    names = ("Hot", "Warm", "Cold", "Rückruf ☎", "重要")
    return [
        {"id": lead_uuid(seed, "label", i), "name": names[i % len(names)],
         "color": _LABEL_COLORS[i % len(_LABEL_COLORS)], "add_time": v2_ts(created),
         "update_time": v2_ts(created + i * DAY)}
        for i in range(n)
    ]


def lead_sources() -> list[dict[str, Any]]:
    """v1 lead sources (name only)."""
    return [{"name": name} for name in LEAD_SOURCES]
