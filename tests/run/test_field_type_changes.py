"""Custom fields that change (issue 13 section 3): a text field becomes a number, an enum becomes a
set, a field is deleted and a new one created with its name, a field is renamed to another's name.
Each loads without failing, loses no value, never mixes two fields (or two types) in one column,
and the next day's incremental run equals a fresh load of the same account, compared column by
column (the retired column of a retyped or deleted field stays, empty: allowed below)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest

import pipedrive.schedule
from pipedrive_sim.pytest_plugin import UNTHROTTLED
from tests.helpers.compare_loads import Allowed, columns_only_in, compare_loads
from tests.helpers.loader import SimRuns

BY_DESIGN = {
    ("custom_fields_mapping", "column_name"): "a field keeps its first column name",
    ("deal_fields", "column_name"): "the same, in the definitions table",
    ("deal_changes", "column_name"): "the same: the deals column a change is in",
    ("deal_changes", "field_name"): "a change of a deleted field keeps the field's name; a fresh load never knew it",
}


def _field(account: Any, field_type: str) -> Dict[str, Any]:
    return next(f for f in account.field_definitions("deal") if f.get("is_custom_field") and f["field_type"] == field_type)


def text_to_number(account: Any) -> str:
    code = _field(account, "varchar")["field_code"]
    deal = account.records("deals")[0]["id"]
    account.update("deals", deal, {"custom_fields": {code: "42.5"}})
    account.clock.advance(minutes=1)
    account.change_field_type("deal", code, "double")
    return code


def enum_to_set(account: Any) -> str:
    code = _field(account, "enum")["field_code"]
    account.change_field_type("deal", code, "set")
    return code


def deleted_and_recreated(account: Any) -> str:
    old = _field(account, "varchar_auto")
    account.delete_field("deal", old["field_code"])
    code = account.add_field("deal", old["field_name"], "varchar_auto")
    account.update("deals", account.records("deals")[1]["id"], {"custom_fields": {code: "new field's value"}})
    return code


def renamed_to_another_name(account: Any) -> str:
    first, second = _field(account, "double"), _field(account, "int")
    account.rename_field("deal", first["field_code"], second["field_name"])
    return first["field_code"]


CHANGES = (text_to_number, enum_to_set, deleted_and_recreated, renamed_to_another_name)


def test_changed_custom_fields_load_and_the_next_run_equals_a_fresh_load(
    make_sim: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """All four changes on one account (one incremental pipeline, one fresh load: the suite's time)."""
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    server = make_sim(size="tiny", burst_limit=UNTHROTTLED)
    monkeypatch.setattr(pipedrive.schedule, "clock", server.account.clock.now)

    incremental = SimRuns(server, tmp_path, "incremental")
    incremental.run()
    server.account.clock.advance(hours=1)
    codes = [change(server.account) for change in CHANGES]
    server.account.clock.advance(hours=25)  # the next day: the definitions are due
    incremental.run()
    fresh = SimRuns(server, tmp_path, "fresh")
    fresh.run()

    # one field per column: no column holds values of two types (dlt would add a variant column)
    assert not [c for c in incremental.pipeline.default_schema.get_table("deals")["columns"] if "__v_" in c]
    with incremental.pipeline.sql_client() as client:
        mapped = dict(client.execute_sql("SELECT hash_key, column_name FROM custom_fields_mapping WHERE entity = 'deal'"))
    assert set(codes) <= set(mapped)
    current = set(mapped.values())
    # columns only the incremental load has, and no field uses any more: emptied, allowed to stay
    retired = {c for c in columns_only_in(incremental.pipeline, fresh.pipeline, "deals") | columns_only_in(incremental.pipeline, fresh.pipeline, "leads")
               if c not in current and not any(c.startswith(f"{k}_") for k in current)}
    assert retired  # the retyped and the deleted field left theirs
    allowed = Allowed(columns={**BY_DESIGN, **{(t, c): "the retired column of a retyped or deleted field"
                                               for t in ("deals", "leads") for c in retired}})
    problems: List[str] = compare_loads(incremental.pipeline, fresh.pipeline, allowed)
    assert not problems, "\n".join(problems)
    with incremental.pipeline.sql_client() as client:
        for column in retired:
            for table in ("deals", "leads"):
                if column in incremental.pipeline.default_schema.get_table(table)["columns"]:
                    assert client.execute_sql(f"SELECT count({column}) FROM {table}")[0][0] == 0, (table, column)
