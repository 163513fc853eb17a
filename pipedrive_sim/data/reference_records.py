"""Reference records of the account: users, currencies, activity types, pipelines and stages,
roles, filters, goals, lead labels and lead sources (v1 shapes, pipelines/stages v2), plus the
company facts other records carry (`COMPANY_ID`, UUIDs of leads and labels).

One builder per record (`user`, `stage`, ...) serves both the generator and `blank`, the
empty record `Account.create` starts from, so a created record has every key of its kind.
"""

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


def user(i: int, name: str, created: int, *, active: bool = True, owner: bool = False, last_login: int | None = None,
         modified: int | None = None, phone: str | None = None) -> dict[str, Any]:
    """One v1 user; `owner` is who created the company (admin, `is_you`, a sign-up variant)."""
    return {
        "id": i, "name": name, "default_currency": "EUR", "locale": "en_US", "lang": 1,
        "email": f"user{i}@example.com", "phone": phone, "activated": active, "last_login": v1_ts(last_login),
        "created": v1_ts(created), "modified": v1_ts(modified),
        # who signed up (user 1) has a sign-up form variant; invited colleagues have none
        "signup_flow_variation": "short_form" if owner else None,
        "has_created_company": owner, "is_admin": 1 if owner else 0,
        "access": [{"app": "sales", "admin": owner, "permission_set_id": f"ps-{1 if owner else 2}"}],
        "active_flag": active, "timezone_name": COMPANY_TIMEZONE, "timezone_offset": "+02:00",
        "role_id": 1, "icon_url": None, "is_you": owner, "is_deleted": False,
    }


def users(n: int, created: int, rng: random.Random) -> list[dict[str, Any]]:
    """v1 users; user 1 is the token owner (admin, `is_you`), the last of 3+ is deactivated."""
    out = []
    for i in range(1, n + 1):
        first, last = ("Sim", "Admin") if i == 1 else person_name(rng)
        out.append(user(i, f"{first} {last}", created + i * DAY, active=not (n >= 3 and i == n), owner=i == 1,
                        last_login=created + (i + 200) * DAY, modified=None if i == 2 else created + (i + 100) * DAY,
                        phone=None if i % 2 else f"+37250000{i:03d}"))
    return out


def currency(i: int, code: str, name: str, decimal_points: int, symbol: str, custom: bool) -> dict[str, Any]:
    """One v1 currency (currencies carry no timestamps)."""
    return {"id": i, "code": code, "name": name, "decimal_points": decimal_points, "symbol": symbol,
            "active_flag": True, "is_custom_flag": custom}


def currencies() -> list[dict[str, Any]]:
    """v1 currencies."""
    return [currency(i, *row) for i, row in enumerate(CURRENCIES, 1)]


def activity_type(i: int, key: str, name: str, icon: str, active: bool, custom: bool, created: int,
                  updated: int) -> dict[str, Any]:
    """One v1 activity type (v1 `YYYY-MM-DD HH:MM:SS` times)."""
    return {"id": i, "name": name, "icon_key": icon, "color": "FFFFFF" if custom else "", "order_nr": i,
            "key_string": key, "active_flag": active, "is_custom_flag": custom,
            "add_time": v1_ts(created), "update_time": v1_ts(updated)}


def activity_types(created: int) -> list[dict[str, Any]]:
    """v1 activity types."""
    return [activity_type(i, *row, created, created + i * DAY) for i, row in enumerate(ACTIVITY_TYPES, 1)]


def pipeline(p: int, name: str, created: int, updated: int, probability: bool = False) -> dict[str, Any]:
    """One v2 pipeline."""
    return {"id": p, "name": name, "order_nr": p, "is_deleted": False, "is_deal_probability_enabled": probability,
            "add_time": v2_ts(created), "update_time": v2_ts(updated)}


def stage(i: int, order: int, name: str, pipeline_id: int, created: int, updated: int, probability: int = 100,
          rotting: bool = False) -> dict[str, Any]:
    """One v2 stage of a pipeline (`rotting`: deals rot after 14 days there)."""
    return {"id": i, "order_nr": order, "name": name, "is_deleted": False, "deal_probability": probability,
            "pipeline_id": pipeline_id, "is_deal_rot_enabled": rotting, "days_to_rotten": 14 if rotting else None,
            "add_time": v2_ts(created), "update_time": v2_ts(updated)}


def pipelines_and_stages(n: int, created: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """v2 pipelines with five stages each."""
    pipelines, stages = [], []
    for p in range(1, n + 1):
        pipelines.append(pipeline(p, _PIPELINE_NAMES[(p - 1) % len(_PIPELINE_NAMES)], created, created + p * DAY,
                                  probability=p == 1))
        for s, name in enumerate(_STAGE_NAMES, 1):
            stages.append(stage(len(stages) + 1, s, name, p, created, created + s * DAY, s * 20, rotting=s == 2))
    return pipelines, stages


def role(i: int, name: str, parent: int | None, sub_roles: int) -> dict[str, Any]:
    """One v1 role (no timestamps; counts are strings, as the API sends them)."""
    return {"parent_role_id": parent, "name": name, "id": i, "active_flag": True, "assignment_count": "1",
            "sub_role_count": str(sub_roles), "level": 1 if parent is None else 2}


def roles(n: int) -> list[dict[str, Any]]:
    """v1 roles: one root, the rest its children."""
    return [role(i, "Admins" if i == 1 else f"Team {i}", None if i == 1 else 1, n - 1 if i == 1 else 0)
            for i in range(1, n + 1)]


def filter_record(i: int, name: str, kind: str, created: int, updated: int | None) -> dict[str, Any]:
    """One v1 filter of `kind` (`deals`, `leads`, `org`, ...); `updated` None: never updated."""
    return {"id": i, "name": name, "filter_code": None, "is_editable": True, "active_flag": True, "type": kind,
            "temporary_flag": None, "user_id": 1, "add_time": v1_ts(created), "update_time": v1_ts(updated),
            "visible_to": "1", "last_used_time": None, "custom_view_id": None}


def filters(n: int, created: int) -> list[dict[str, Any]]:
    """v1 filters; the first one was never updated (`update_time` null)."""
    types = ("deals", "leads", "org", "people", "products", "activity", "projects")
    return [filter_record(i, f"Filter {i}" if i > 1 else "Mes affaires ✨", types[(i - 1) % len(types)],
                          created + i * DAY, None if i == 1 else created + (i + 30) * DAY)
            for i in range(1, n + 1)]


def goal(i: int, title: str, created: int, target: int, active: bool) -> dict[str, Any]:
    """One v1 goal (`/goals/find` item; a 32-hex string id; no timestamps)."""
    return {"id": f"{i:032x}", "owner_id": 1, "title": title,
            "type": {"name": "deals_won", "params": {"pipeline_id": [1], "activity_type_id": []}},
            "assignee": {"id": 1, "type": "person"}, "interval": "monthly",
            "duration": {"start": v1_ts(created)[:10], "end": v1_ts(created + 365 * DAY)[:10]},
            "expected_outcome": {"target": target, "tracking_metric": "quantity"},
            "is_active": active, "report_ids": []}


def goals(n: int, created: int) -> list[dict[str, Any]]:
    """v1 goals."""
    return [goal(i, f"Goal {i}", created, 10 * i, i % 2 == 1) for i in range(1, n + 1)]


def lead_label(label_id: str, name: str, color: str, created: int, updated: int) -> dict[str, Any]:
    """One v1 lead label (UUID id, RFC 3339 times like the leads)."""
    return {"id": label_id, "name": name, "color": color, "add_time": v2_ts(created), "update_time": v2_ts(updated)}


def lead_labels(n: int, seed: int, created: int) -> list[dict[str, Any]]:
    """v1 lead labels."""
    names = ("Hot", "Warm", "Cold", "Rückruf ☎", "重要")
    return [lead_label(lead_uuid(seed, "label", i), names[i % len(names)], _LABEL_COLORS[i % len(_LABEL_COLORS)],
                       created, created + i * DAY)
            for i in range(n)]


def lead_sources() -> list[dict[str, Any]]:
    """v1 lead sources (name only)."""
    return [{"name": name} for name in LEAD_SOURCES]


def blank(entity: str, rec_id: Any, ts: int, store: dict[str, dict[Any, dict[str, Any]]],
          data: dict[str, Any]) -> dict[str, Any]:
    """A new, empty reference record of `entity` created at `ts` (what `Account.create` starts
    from; `data` is what it will be given: a stage goes last in its pipeline).

    Raises:
        KeyError: For an entity that is not a reference kind.
    """
    if entity == "stages":
        pipeline_id = data.get("pipeline_id") or (min(store["pipelines"]) if store["pipelines"] else 1)
        order = 1 + sum(1 for s in store["stages"].values() if s["pipeline_id"] == pipeline_id)
        return stage(rec_id, order, "", pipeline_id, ts, ts)
    builders = {
        "users": lambda: user(rec_id, "", ts, modified=ts),
        "currencies": lambda: currency(rec_id, "", "", 2, "", True),
        "activity_types": lambda: activity_type(rec_id, "", "", "task", True, True, ts, ts),
        "pipelines": lambda: pipeline(rec_id, "", ts, ts),
        "roles": lambda: role(rec_id, "", None, 0),
        "filters": lambda: filter_record(rec_id, "", "deals", ts, ts),
        "goals": lambda: goal(rec_id, "", ts, 0, True),
        "lead_labels": lambda: lead_label(rec_id, "", "gray", ts, ts),
    }
    return builders[entity]()


#: Reference kinds `blank` builds.
REFERENCE_KINDS = ("users", "currencies", "activity_types", "pipelines", "stages", "roles", "filters", "goals",
                   "lead_labels")
