"""Compare what a dlt destination holds with the simulator's ground truth (destination-agnostic)."""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from typing import Any, Dict, List, Optional, Sequence, Tuple

import pytest

# incrementally loaded (merge) tables: entity key in ground_truth() -> destination table
MERGE_TABLES = {
    "deals": "deals",
    "persons": "persons",
    "organizations": "organizations",
    "activities": "activities",
    "products": "products",
    "notes": "notes",
    "leads": "leads",
    "files": "files",
}
# fully reloaded (replace) tables with an `id`
REPLACE_TABLES = [
    "pipelines", "stages", "users", "currencies", "activity_types", "roles", "filters",
    "lead_labels", "goals", "projects", "tasks", "call_logs",
]


def require_service(env_name: str, what: str) -> str:
    """The value of `env_name`; skips the test locally, fails it in CI, when it is missing."""
    value = os.environ.get(env_name)
    if value:
        return value
    message = f"{what}: set {env_name} (CI gets it from `.ci/setup_services.sh`)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def as_utc(value: Any) -> Optional[dt.datetime]:
    """Parses API timestamps (v2 RFC 3339, v1 `YYYY-MM-DD HH:MM:SS` UTC) and DB values to UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


def fetch(pipeline: Any, table: str, columns: List[str]) -> List[Dict[str, Any]]:
    """Rows of a destination table as dicts (only `columns` that exist in the schema)."""
    known = pipeline.default_schema.get_table(table)["columns"]
    present = [c for c in columns if c in known]
    with pipeline.sql_client() as client:
        qualified = client.make_qualified_table_name(table)
        cols = ", ".join(client.escape_column_name(c) for c in present)
        rows = client.execute_sql(f"SELECT {cols} FROM {qualified}")
    return [dict(zip(present, row)) for row in rows]


def deal_key(rec: Dict[str, Any], empty_is_null: bool = False) -> Tuple[Any, ...]:
    title = rec.get("title")
    if empty_is_null and title == "":
        title = None
    return (
        as_utc(rec["update_time"]),
        bool(rec.get("is_deleted")),
        bool(rec.get("is_archived")),
        rec.get("status"),
        title,
        None if rec.get("value") is None else float(rec["value"]),
    )


def assert_matches_ground_truth(
    pipeline: Any, truth: Dict[str, List[Dict[str, Any]]], *, hard_delete: bool = False,
    missing_ok: Dict[str, set] | None = None, empty_is_null: bool = False,
) -> Dict[str, int]:
    """Asserts ids and update_time of every merge table, and the deal flags, equal the simulator.

    Args:
        pipeline: The pipeline that loaded the account.
        truth: `account.ground_truth()`.
        hard_delete: Deleted deals must be absent (True) or present with `is_deleted` (False).
        missing_ok: Ids per entity that the destination may still hold although the API no
            longer lists them (records deleted outside deals, which the API cannot report).
        empty_is_null: The destination stores "" as NULL (dlt's Postgres csv COPY uses
            FORCE_NULL on nullable columns).

    Returns:
        Rows compared per table.
    """
    missing_ok = missing_ok or {}
    compared: Dict[str, int] = {}
    for entity, table in MERGE_TABLES.items():
        expected = {r["id"]: r for r in truth[entity]}
        if entity == "deals" and hard_delete:
            expected = {k: r for k, r in expected.items() if not r.get("is_deleted")}
        rows = fetch(pipeline, table, ["id", "update_time", "is_deleted", "is_archived", "status", "title", "value"])
        got = {r["id"]: r for r in rows}
        assert len(got) == len(rows), f"{table}: duplicate ids in the destination"
        extra = set(got) - set(expected) - missing_ok.get(entity, set())
        missing = set(expected) - set(got)
        assert not missing, f"{table}: {len(missing)} ids missing, e.g. {sorted(missing, key=str)[:5]}"
        assert not extra, f"{table}: {len(extra)} ids not in the API, e.g. {sorted(extra, key=str)[:5]}"
        for rec_id, rec in expected.items():
            if entity == "deals":
                assert deal_key(got[rec_id], empty_is_null) == deal_key(rec, empty_is_null), f"deal {rec_id}: {got[rec_id]} != {rec}"
            else:
                assert as_utc(got[rec_id]["update_time"]) == as_utc(rec["update_time"]), (
                    f"{table} {rec_id}: update_time {got[rec_id]['update_time']} != {rec['update_time']}"
                )
        compared[table] = len(expected)
    for table in REPLACE_TABLES:
        expected_ids = {r["id"] for r in truth[table]}
        got_ids = {r["id"] for r in fetch(pipeline, table, ["id"])}
        assert got_ids == expected_ids, f"{table}: {sorted(got_ids ^ expected_ids)[:5]}"
        compared[table] = len(expected_ids)
    return compared


def mutate(account: Any) -> Dict[str, Any]:
    """An hour of CRM activity: updates, creates, deal deletes and archives, a person delete.

    Returns:
        What was done, by kind, for the assertions.
    """
    truth = account.ground_truth()
    live_deals = [d for d in truth["deals"] if not d.get("is_deleted") and not d.get("is_archived")]
    account.clock.advance(hours=1)
    done: Dict[str, Any] = {}
    updated = [account.update("deals", d["id"], {"value": 12345.0, "title": f"updated {d['id']}"}) for d in live_deals[:3]]
    created = account.create("deals", {"title": "brand new deal", "value": 99.0})
    account.delete("deals", live_deals[3]["id"])
    account.delete("deals", live_deals[4]["id"])
    account.archive("deals", live_deals[5]["id"])
    done["deals_updated"] = [d["id"] for d in updated] + [created["id"]]
    done["deals_deleted"] = [live_deals[3]["id"], live_deals[4]["id"]]
    done["deals_archived"] = [live_deals[5]["id"]]
    account.update("persons", truth["persons"][0]["id"], {"name": "Renamed Person"})
    account.create("persons", {"name": "New Person"})
    deleted_person = truth["persons"][1]["id"]
    account.delete("persons", deleted_person)
    done["persons_deleted"] = {deleted_person}
    account.update("organizations", truth["organizations"][0]["id"], {"name": "Renamed Org"})
    account.update("activities", truth["activities"][0]["id"], {"subject": "moved"})
    account.create("activities", {"subject": "follow up"})
    account.update("products", truth["products"][0]["id"], {"name": "Renamed Product"})
    account.update("notes", truth["notes"][0]["id"], {"content": "edited"})
    account.update("leads", truth["leads"][0]["id"], {"title": "edited lead"})
    return done


# snapshot deal children: destination table -> key columns (also the ground-truth entity key)
CHILD_KEYS: Dict[str, Tuple[str, str]] = {
    "deal_products": ("deal_id", "id"),
    "deal_participants": ("deal_id", "id"),
    "deal_followers": ("deal_id", "user_id"),
}
ALL_CHILDREN = (*CHILD_KEYS, "deal_changes")


def _keys(pipeline: Any, table: str, columns: Tuple[str, str]) -> List[Tuple[Any, Any]]:
    return [(row[columns[0]], row[columns[1]]) for row in fetch(pipeline, table, list(columns))]


def assert_children_match(pipeline: Any, truth: Dict[str, List[Dict[str, Any]]], tables: Sequence[str]) -> Dict[str, int]:
    """Snapshot children hold exactly the API's rows; `deal_changes` every change once."""
    compared: Dict[str, int] = {}
    for table in tables:
        if table == "deal_changes":
            changes = [row["change_id"] for row in fetch(pipeline, table, ["change_id"])]
            assert len(changes) == len(set(changes)), "deal_changes: duplicated change_id"
            assert len(changes) == len(truth["deal_changelog"]), f"deal_changes: {len(changes)} != {len(truth['deal_changelog'])}"
            compared[table] = len(changes)
            continue
        columns = CHILD_KEYS[table]
        got = Counter(_keys(pipeline, table, columns))
        duplicated = [key for key, count in got.items() if count > 1]
        assert not duplicated, f"{table}: duplicated rows {duplicated[:5]}"
        expected = {(row[columns[0]], row[columns[1]]) for row in truth[table]}
        assert set(got) == expected, f"{table}: missing {sorted(expected - set(got))[:5]}, extra {sorted(set(got) - expected)[:5]}"
        compared[table] = len(expected)
    return compared


def assert_pipeline_equals_truth(pipeline: Any, truth: Dict[str, List[Dict[str, Any]]], **options: Any) -> Dict[str, int]:
    """Every entity and deal-child row is there exactly once, with its latest `update_time`;
    nothing else is there. Returns the rows compared per table."""
    compared = assert_matches_ground_truth(pipeline, truth, **options)
    compared.update(assert_children_match(pipeline, truth, ALL_CHILDREN))
    return compared
