"""Invariants of the declarative entity table, checked against the official specs."""

from __future__ import annotations

import pytest

from pipedrive.entities import DEAL_CHILDREN, ENTITIES, FIELD_SETS, ApiVersion, Paging
from tests.spec_files import SPEC_FILES, load_spec


# every table the brief requires, one resource each
REQUIRED_TABLES = {
    "currencies", "activity_types", "stages", "filters", "pipelines", "notes", "users", "activities",
    "deals", "files", "organizations", "persons", "products", "leads", "lead_labels", "lead_sources",
    "projects", "tasks", "goals", "call_logs", "roles",
}
# entities Pipedrive serves in v2: they must not be read from v1
V2_ENTITIES = {"deals", "persons", "organizations", "activities", "products", "pipelines", "stages", "projects", "tasks"}


@pytest.fixture(scope="module")
def specs() -> dict[str, dict]:
    """Both official specs (missing: the tests skip, and fail under `CI=true`)."""
    return {api: load_spec(api) for api in SPEC_FILES}


def _operation(specs: dict[str, dict], api: ApiVersion, path: str) -> dict:
    return specs[api.value]["paths"][path]["get"]


def _param_names(spec: dict, operation: dict) -> set[str]:
    names = set()
    for param in operation.get("parameters", []):
        if "$ref" in param:
            param = spec["components"]["parameters"][param["$ref"].rsplit("/", 1)[-1]]
        names.add(param["name"])
    return names


def test_every_required_table_has_a_resource() -> None:
    tables = {e.table for e in ENTITIES}
    assert REQUIRED_TABLES <= tables
    assert len({e.name for e in ENTITIES}) == len(ENTITIES)


def test_v2_used_wherever_it_exists_and_never_recents() -> None:
    for entity in ENTITIES:
        assert "recents" not in entity.path
        if entity.table in V2_ENTITIES:
            assert entity.api is ApiVersion.V2, entity.name
    for field_set in FIELD_SETS:
        expected = ApiVersion.V1 if field_set.name in ("lead", "note") else ApiVersion.V2
        assert field_set.api is expected, field_set.name


def test_token_costs_match_spec(specs: dict[str, dict]) -> None:
    for entity in (*ENTITIES, *DEAL_CHILDREN):
        if entity.token_cost == 0:  # derived from another child's rows, sends no request
            continue
        assert _operation(specs, entity.api, entity.path)["x-token-cost"] == entity.token_cost, entity.name
    for field_set in FIELD_SETS:
        assert _operation(specs, field_set.api, field_set.path)["x-token-cost"] == field_set.token_cost
        if field_set.deleted_options_source:
            source = field_set.deleted_options_source
            assert _operation(specs, source.api, source.path)["x-token-cost"] == source.token_cost


def test_parameters_exist_in_spec(specs: dict[str, dict]) -> None:
    for entity in (*ENTITIES, *DEAL_CHILDREN):
        operation = _operation(specs, entity.api, entity.path)
        names = _param_names(specs[entity.api.value], operation)
        cursor = getattr(entity, "cursor", None)
        sent = set(getattr(entity, "base_params", lambda: entity.params)())
        sent |= {cursor.since_param} if cursor and cursor.since_param else set()
        sent |= {entity.batch_param} if getattr(entity, "batch_param", None) else set()
        if entity.paging is Paging.CURSOR:
            sent |= {"cursor", "limit"}
        elif entity.paging is Paging.OFFSET:
            sent |= {"start", "limit"}
        assert sent <= names, (entity.name, sent - names)


def test_page_sizes_respect_documented_maxima() -> None:
    sizes = {e.path: e.page_size for e in ENTITIES}
    assert sizes["/files"] == 100
    assert sizes["/callLogs"] == 50
    assert all(e.page_size <= 500 for e in ENTITIES)


def test_incremental_entities_sort_by_their_cursor() -> None:
    for entity in ENTITIES:
        if entity.cursor and entity.cursor.since_param:
            assert entity.is_chunkable and entity.cursor.order == "asc", entity.name
        if entity.is_incremental:
            assert entity.cursor.sort_params, entity.name
            assert any("update_time" in value for value in entity.cursor.sort_params.values())
        else:  # read whole: on a schedule, and never covered by /recents
            assert 0 < entity.refresh_hours <= 24 and entity.recents_item is None, entity.name


def test_archived_listings_merge_into_live_tables() -> None:
    by_name = {e.name: e for e in ENTITIES}
    assert by_name["deals_archived"].table == "deals"
    assert by_name["leads_archived"].table == "leads"
    assert by_name["deals_archived"].record_defaults["is_archived"] is True
    assert by_name["deals"].record_defaults["is_archived"] is False
    assert by_name["deals"].params["status"] == "open,won,lost,deleted"
    assert "products_count" in by_name["deals"].params["include_fields"]
    assert by_name["deals_archived"].token_cost == 20 and by_name["deals_archived"].path == "/deals/archived"
    assert by_name["leads_archived"].stops_at_cursor and not by_name["leads"].stops_at_cursor
    assert by_name["leads"].custom_field_set == "deal"


def test_entities_are_immutable() -> None:
    with pytest.raises(Exception):
        ENTITIES[0].path = "/other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        ENTITIES[0].params["x"] = "y"  # type: ignore[index]


def _resolve(spec: dict, node: dict) -> dict:
    while isinstance(node, dict) and "$ref" in node:
        target = spec
        for part in node["$ref"].split("/")[1:]:
            target = target[part]
        node = target
    return node


def _properties(spec: dict, node: dict) -> set[str]:
    node = _resolve(spec, node)
    names = set((node.get("properties") or {}).keys())
    for part in node.get("allOf", []):
        names |= _properties(spec, part)
    return names


def _item_keys(spec: dict, path: str) -> set[str]:
    operation = spec["paths"][path]["get"]
    body = _resolve(spec, operation["responses"]["200"]["content"]["application/json"]["schema"])
    parts = [body] + [_resolve(spec, p) for p in body.get("allOf", [])]
    data = next(_resolve(spec, p["properties"]["data"]) for p in parts if "data" in p.get("properties", {}))
    keys = _properties(spec, data.get("items", data))
    for param in operation.get("parameters", []):
        param = _resolve(spec, param)
        if param["name"] == "include_fields":
            keys |= set(param["schema"].get("enum", []))
    return keys


def test_builtin_columns_cover_every_spec_record_key(specs: dict[str, dict]) -> None:
    from pipedrive.fields.column_hints import RECORD_KEYS

    for entity in ENTITIES:
        if entity.custom_field_set and not entity.path.endswith("archived"):
            keys = _item_keys(specs[entity.api.value], entity.path)
            assert keys <= RECORD_KEYS[entity.table], (entity.name, keys - RECORD_KEYS[entity.table])
