"""End to end: `pipedrive_source` against the simulator over real HTTP into DuckDB."""

from __future__ import annotations

from collections import Counter
from typing import Any, Callable

import pytest

from pipedrive.entities import DEAL_CHILDREN, ENTITIES, FIELD_SETS
from tests.helpers.loader import Loader

# ground-truth entity key per table loaded from one listing (archived ones merge in)
TABLE_ENTITY = {
    "currencies": "currencies", "activity_types": "activity_types", "users": "users", "filters": "filters",
    "lead_labels": "lead_labels", "goals": "goals", "roles": "roles", "pipelines": "pipelines",
    "stages": "stages", "projects": "projects", "tasks": "tasks", "call_logs": "call_logs",
    "deals": "deals", "persons": "persons", "organizations": "organizations", "activities": "activities",
    "products": "products", "notes": "notes", "leads": "leads", "files": "files",
}


def _ids(loader: Loader, table: str) -> list[Any]:
    return sorted(row[0] for row in loader.rows(f"SELECT id FROM {table}"))


def _custom_column(loader: Loader, field_set: str, field_type: str) -> tuple[str, str]:
    """(hash, column) of the first custom field of a type, from the mapping table."""
    rows = loader.rows(
        "SELECT hash_key, column_name FROM custom_fields_mapping "
        f"WHERE entity = '{field_set}' AND field_type = '{field_type}' ORDER BY hash_key"
    )
    return rows[0]


def test_full_load_matches_ground_truth(sim_server: Any, make_loader: Callable[..., Loader]) -> None:
    loader = make_loader(sim_server)
    loader.run()
    truth = sim_server.account.ground_truth()

    for table, entity in TABLE_ENTITY.items():
        expected = sorted(record["id"] for record in truth[entity])
        assert _ids(loader, table) == expected, table
    lead_sources = Counter(row[0] for row in loader.rows("SELECT name FROM lead_sources"))
    assert lead_sources == Counter(r["name"] for r in truth["lead_sources"])

    for field_set in FIELD_SETS:
        definitions = sim_server.account.fields(field_set.name, field_set.api.value)
        assert loader.rows(f"SELECT count(*) FROM {field_set.table}")[0][0] == len(definitions)
    custom = sum(
        1 for name in ("deal", "person", "organization", "activity", "product", "project")
        for d in sim_server.account.fields(name, "v2") if d["is_custom_field"]
    )
    assert loader.rows("SELECT count(*) FROM custom_fields_mapping")[0][0] == custom

    # one table per entity and field set, no child tables (lists are json columns)
    expected_tables = {e.table for e in (*ENTITIES, *DEAL_CHILDREN)} | {f.table for f in FIELD_SETS} | {"custom_fields_mapping"}
    assert set(loader.pipeline.default_schema.data_table_names()) == expected_tables
    assert loader.columns("persons")["emails"] == "json"
    assert loader.columns("deals")["label_ids"] == "json"
    assert loader.columns("persons")["postal_address__value"] == "text"  # nested dict flattened
    assert loader.columns("deals")["update_time"] == "timestamp"
    assert loader.columns("deals")["value"] == "decimal"

    # archived and deleted deals are flagged, each id once
    flags = {row[0]: row[1:] for row in loader.rows("SELECT id, is_archived, is_deleted FROM deals")}
    for deal in truth["deals"]:
        assert flags[deal["id"]] == (bool(deal["is_archived"]), bool(deal["is_deleted"])), deal["id"]
    assert any(archived for archived, _ in flags.values()) and any(deleted for _, deleted in flags.values())
    assert {row[0] for row in loader.rows("SELECT id FROM leads WHERE is_archived")} == {
        r["id"] for r in truth["leads"] if r["is_archived"]
    }

    # every request: token in the header only, v1/v2 under /api, never /recents, max page sizes
    log = sim_server.log
    assert all("api_token" not in entry.params for entry in log)
    assert all(entry.path.startswith(("/api/v1/", "/api/v2/")) for entry in log)
    assert not [entry for entry in log if "recents" in entry.path]
    assert all(entry.status == 200 for entry in log)
    params = {entry.endpoint: entry.params for entry in log}
    assert params["v2 /activities"]["include_fields"] == "attendees"
    assert "products_count" in params["v2 /deals"]["include_fields"]
    assert params["v2 /deals"]["status"] == params["v2 /deals/archived"]["status"] == "open,won,lost,deleted"
    limits = {entry.endpoint: entry.params.get("limit") for entry in log}
    assert limits["v1 /files"] == "100" and limits["v1 /callLogs"] == "50" and limits["v2 /deals"] == "500"
    # each field set read once (+ at most one v1 read for deleted options)
    endpoints = Counter(entry.endpoint for entry in log)
    assert endpoints["v2 /dealFields"] == 1 and endpoints["v1 /dealFields"] <= 1
    assert endpoints["v1 /leadFields"] == 1


def test_custom_fields_are_readable_typed_columns(sim_server: Any, make_loader: Callable[..., Loader]) -> None:
    account = sim_server.account
    loader = make_loader(sim_server)
    loader.run("deals", "deals_archived", "leads", "leads_archived", "deal_fields", "custom_fields_mapping")
    definitions = {d["field_code"]: d for d in account.field_definitions("deal")}
    labels = {code: {o["id"]: o["label"] for o in (d.get("options") or [])} for code, d in definitions.items()}
    deleted = {code: {o["id"]: o["label"] for o in opts} for code, opts in _v1_deleted_options(account).items()}

    enum_hash, enum_col = _custom_column(loader, "deal", "enum")
    set_hash, set_col = _custom_column(loader, "deal", "set")
    money_hash, money_col = _custom_column(loader, "deal", "monetary")
    range_hash, range_col = _custom_column(loader, "deal", "daterange")
    columns = loader.columns("deals")
    assert (columns[set_col], columns[money_col], columns[f"{money_col}_currency"]) == ("json", "decimal", "text")
    assert (columns[range_col], columns[f"{range_col}_until"]) == ("date", "date")
    assert not [c for c in columns if any(h in c for h in definitions if len(h) == 40)]  # no hash columns

    rows = {r["id"]: r for r in loader.table("deals")}
    checked = Counter()
    for deal in account.ground_truth()["deals"]:
        custom = deal["custom_fields"]
        row = rows[deal["id"]]
        if custom.get(enum_hash) is not None:
            option = custom[enum_hash]
            assert row[enum_col] == (labels[enum_hash].get(option) or deleted[enum_hash][option])
            checked["enum"] += 1
        if custom.get(set_hash):
            expected = [labels[set_hash].get(i) or deleted[set_hash][i] for i in custom[set_hash]]
            assert _json(row[set_col]) == expected
            checked["set"] += 1
        if custom.get(money_hash):
            assert float(row[money_col]) == pytest.approx(custom[money_hash]["value"])
            assert row[f"{money_col}_currency"] == custom[money_hash]["currency"]
            checked["money"] += 1
    assert checked["enum"] and checked["set"] and checked["money"]
    # deals holding an option deleted before the first run resolve to its last label
    deleted_values = [
        (d["id"], deleted[enum_hash][d["custom_fields"][enum_hash]])
        for d in account.ground_truth()["deals"]
        if d["custom_fields"].get(enum_hash) in deleted[enum_hash]
    ]
    assert deleted_values
    assert [(deal_id, rows[deal_id][enum_col]) for deal_id, _ in deleted_values] == deleted_values

    # leads carry deal custom fields under the same columns, labels resolved
    leads = {r["id"]: r for r in loader.table("leads")}
    resolved = 0
    for lead in account.ground_truth()["leads"]:
        raw = lead.get(enum_hash)
        if raw not in (None, ""):
            assert leads[lead["id"]][enum_col] == (labels[enum_hash].get(int(raw)) or deleted[enum_hash][int(raw)])
            resolved += 1
    assert resolved
    assert enum_col in loader.columns("leads") and set_col in loader.columns("leads")


def _v1_deleted_options(account: Any) -> dict[str, list[dict[str, Any]]]:
    return {f["key"]: f.get("options_deleted") or [] for f in account.fields("deal", "v1")}


def _json(value: Any) -> Any:
    import json

    return json.loads(value) if isinstance(value, str) and value.startswith("[") else value


def test_incremental_run_sends_updated_since_and_fetches_only_changes(
    sim_server: Any, make_loader: Callable[..., Loader]
) -> None:
    account = sim_server.account
    loader = make_loader(sim_server)
    loader.run()
    before = account.ground_truth()

    def cursor(entity: str, archived: bool = False) -> str:
        return max(r["update_time"] for r in before[entity] if bool(r.get("is_archived")) == archived)

    cursors = {
        ("deals", False): cursor("deals"), ("deals", True): cursor("deals", True),
        ("leads", False): cursor("leads"), ("leads", True): cursor("leads", True),
        ("persons", False): cursor("persons"), ("notes", False): cursor("notes"),
    }

    account.clock.advance(hours=1)
    deal = account.update("deals", 1, {"title": "changed in run 2"})
    person = account.update("persons", 2, {"name": "Renamed Person"})
    account.update("notes", 3, {"content": "edited"})
    lead_id = next(r["id"] for r in account.ground_truth()["leads"] if not r["is_archived"])
    account.update("leads", lead_id, {"title": "lead changed"})
    sim_server.reset_log()
    info = loader.run()

    params = {entry.endpoint: entry.params for entry in sim_server.log}
    assert params["v2 /deals"]["updated_since"] == cursors["deals", False]
    assert params["v2 /deals/archived"]["updated_since"] == cursors["deals", True]
    assert params["v2 /deals"]["sort_by"] == "update_time" and params["v2 /deals"]["sort_direction"] == "asc"
    assert params["v1 /notes"]["updated_since"] == cursors["notes", False].replace(" ", "T") + "Z"
    assert params["v1 /leads"]["updated_since"] == cursors["leads", False]
    assert params["v2 /persons"]["updated_since"] == cursors["persons", False]
    # exactly the changed rows plus rows sharing the previous cursor's second (re-read, merged)
    after = account.ground_truth()
    counts = info.pipeline.last_trace.last_normalize_info.row_counts
    for table in ("deals", "leads", "persons", "notes"):
        expected = sum(
            1 for r in after[table] if r["update_time"] >= cursors[table, bool(r.get("is_archived"))]
        )
        assert counts[table] == expected, table
        assert expected < len(after[table]), table
    assert loader.rows("SELECT title FROM deals WHERE id = 1") == [(deal["title"],)]
    assert loader.rows("SELECT name FROM persons WHERE id = 2") == [(person["name"],)]
    assert loader.rows("SELECT title FROM leads WHERE id = '%s'" % lead_id) == [("lead changed",)]
    assert loader.rows("SELECT count(*) FROM deals")[0][0] == len(account.ground_truth()["deals"])


def test_same_second_updates_are_neither_lost_nor_duplicated(
    sim_server: Any, make_loader: Callable[..., Loader]
) -> None:
    account = sim_server.account
    loader = make_loader(sim_server)
    account.clock.advance(minutes=5)
    account.update("deals", 1, {"title": "a1"})
    loader.run("deals")  # cursor = now (second S)
    # same second S: deal 1 updated again, deal 2 updated for the first time
    account.update("deals", 1, {"title": "a2"})
    account.update("deals", 2, {"title": "b1"})
    loader.run("deals")
    titles = dict(loader.rows("SELECT id, title FROM deals WHERE id IN (1, 2)"))
    assert titles == {1: "a2", 2: "b1"}
    live = [d for d in account.ground_truth()["deals"] if not d["is_archived"]]
    assert loader.rows("SELECT count(*), count(DISTINCT id) FROM deals")[0] == (len(live), len(live))


@pytest.mark.parametrize("hard_delete", [False, True])
def test_deleted_deal_is_soft_or_hard_deleted(
    sim_server: Any, make_loader: Callable[..., Loader], hard_delete: bool
) -> None:
    account = sim_server.account
    loader = make_loader(sim_server)
    loader.run("deals", "deals_archived", "pipelines", hard_delete=hard_delete)
    live = next(d["id"] for d in account.ground_truth()["deals"] if not d["is_deleted"] and not d["is_archived"])
    account.clock.advance(minutes=1)
    account.delete("deals", live)
    loader.run("deals", "deals_archived", "pipelines", hard_delete=hard_delete)
    rows = loader.rows(f"SELECT is_deleted FROM deals WHERE id = {live}")
    already_deleted = [d["id"] for d in account.ground_truth()["deals"] if d["is_deleted"]]
    remaining = loader.rows(f"SELECT count(*) FROM deals WHERE id IN ({','.join(map(str, already_deleted))})")
    if hard_delete:
        assert rows == [] and remaining == [(0,)]
        assert loader.columns("deals")["is_deleted"] == "bool"
    else:
        assert rows == [(True,)] and remaining == [(len(already_deleted),)]


def test_archived_deal_moves_to_archived_flag(sim_server: Any, make_loader: Callable[..., Loader]) -> None:
    account = sim_server.account
    loader = make_loader(sim_server)
    loader.run("deals", "deals_archived")
    live = next(d["id"] for d in account.ground_truth()["deals"] if not d["is_deleted"] and not d["is_archived"])
    account.clock.advance(minutes=1)
    account.archive("deals", live)
    loader.run("deals", "deals_archived")
    assert loader.rows(f"SELECT count(*), bool_and(is_archived) FROM deals WHERE id = {live}") == [(1, True)]


def test_field_rename_and_option_changes_keep_columns_and_labels(
    sim_server: Any, make_loader: Callable[..., Loader]
) -> None:
    account = sim_server.account
    loader = make_loader(sim_server)
    loader.run("deals", "deal_fields", "custom_fields_mapping")
    enum_hash, enum_col = _custom_column(loader, "deal", "enum")
    text_hash, text_col = _custom_column(loader, "deal", "varchar")
    definition = next(d for d in account.field_definitions("deal") if d["field_code"] == enum_hash)
    renamed_option, deleted_option = definition["options"][0]["id"], definition["options"][1]["id"]
    old_label = definition["options"][1]["label"]
    columns_before = set(loader.columns("deals"))

    account.clock.advance(minutes=1)
    account.rename_field("deal", text_hash, "Totally New Name")
    account.rename_field("deal", enum_hash, "Enum Renamed")
    account.rename_option("deal", enum_hash, renamed_option, "Renamed Label")
    account.delete_option("deal", enum_hash, deleted_option)
    account.update("deals", 1, {"custom_fields": {enum_hash: renamed_option, text_hash: "hello"}})
    account.update("deals", 2, {"custom_fields": {enum_hash: deleted_option}})
    sim_server.reset_log()
    # renames reach the source when the definitions are read: here at once (they are due daily)
    loader.run("deals", "deal_fields", "custom_fields_mapping", refresh_reference=True)

    assert set(loader.columns("deals")) == columns_before  # no new column for renamed fields
    values = dict(loader.rows(f"SELECT id, {enum_col} FROM deals WHERE id IN (1, 2)"))
    assert values == {1: "Renamed Label", 2: old_label}
    assert loader.rows(f"SELECT {text_col} FROM deals WHERE id = 1") == [("hello",)]
    mapping = dict(loader.rows("SELECT hash_key, name FROM custom_fields_mapping WHERE entity = 'deal'"))
    assert mapping[text_hash] == "Totally New Name" and mapping[enum_hash] == "Enum Renamed"
    assert loader.rows(f"SELECT column_name FROM deal_fields WHERE field_code = '{text_hash}'") == [(text_col,)]
    # labels remembered from run 1: no extra v1 definitions read
    assert not [e for e in sim_server.log if e.endpoint == "v1 /dealFields"]


def test_start_date_limits_the_first_run(sim_server: Any, make_loader: Callable[..., Loader]) -> None:
    account = sim_server.account
    loader = make_loader(sim_server)
    loader.run("deals", "notes", start_date="2026-01-01")
    params = {e.endpoint: e.params for e in sim_server.log}
    assert params["v2 /deals"]["updated_since"] == "2026-01-01T00:00:00Z"
    assert params["v1 /notes"]["updated_since"] == "2026-01-01T00:00:00Z"
    expected = sorted(
        d["id"] for d in account.ground_truth()["deals"]
        if not d["is_archived"] and d["update_time"] >= "2026-01-01T00:00:00Z"
    )
    assert _ids(loader, "deals") == expected and 0 < len(expected) < len(account.ground_truth()["deals"])


def test_unfilterable_desc_listing_stops_at_the_cursor(sim_server: Any, make_loader: Callable[..., Loader]) -> None:
    """/files cannot filter by update_time: newest first, stop at the first page older than the cursor."""
    import dataclasses

    from pipedrive.entities import ENTITIES_BY_NAME
    from pipedrive.fields import FieldSetCache
    from pipedrive.http.client import PipedriveClient
    from pipedrive.listings import listing_resource
    from pipedrive.session import RunSession
    from tests.helpers.loader import SIM_TOKEN, settled_log

    files = dataclasses.replace(ENTITIES_BY_NAME["files"], page_size=2)
    loader = make_loader(sim_server)

    def run() -> None:
        session = RunSession()
        client = session.client_for(lambda: PipedriveClient(SIM_TOKEN, sim_server.base_url))
        resource = listing_resource(files, session, FieldSetCache(client))
        info = loader.pipeline.run(resource, loader_file_format="jsonl")
        assert not info.has_failed_jobs

    run()
    total = len(sim_server.account.ground_truth()["files"])
    assert _ids(loader, "files") == sorted(f["id"] for f in sim_server.account.ground_truth()["files"])
    full_pages = len([e for e in settled_log(sim_server) if e.endpoint == "v1 /files"])
    assert full_pages >= total // 2
    sim_server.account.clock.advance(minutes=1)
    oldest = min(sim_server.account.ground_truth()["files"], key=lambda f: f["update_time"] or "")
    sim_server.account.update("files", oldest["id"], {"name": "renamed file"})
    sim_server.reset_log()
    run()
    # page 1: the updated file + the previous newest (cursor boundary, inclusive); page 2 is older
    assert len([e for e in settled_log(sim_server) if e.endpoint == "v1 /files"]) == 2 < full_pages
    assert loader.rows(f"SELECT name FROM files WHERE id = {oldest['id']}") == [("renamed file",)]
    assert len(_ids(loader, "files")) == total


def test_deal_columns_do_not_leak_into_tables_fed_by_deals(
    sim_server: Any, make_loader: Callable[..., Loader]
) -> None:
    """Custom-field hints go to the deals resource only, not to transformers fed by its pages."""
    loader = make_loader(sim_server)
    loader.run("deals", "deal_followers", "custom_fields_mapping")
    deal_columns = {row[0] for row in loader.rows("SELECT column_name FROM custom_fields_mapping WHERE entity = 'deal'")}
    assert deal_columns and deal_columns <= set(loader.columns("deals"))
    assert not deal_columns & set(loader.columns("deal_followers"))
    assert "won_time" not in loader.columns("deal_followers")
