"""Selecting by table selects every resource that writes it (archived twins, inactive goals)."""

from __future__ import annotations

import pytest

from pipedrive import pipedrive_source
from pipedrive.run import UsageError, select_tables


@pytest.fixture()
def source():  # type: ignore[no-untyped-def]
    return pipedrive_source(api_token="a" * 40, base_url="http://127.0.0.1:9")


def resources_for(source, names):  # type: ignore[no-untyped-def]
    return list(select_tables(source, names).selected_resources)


def test_a_table_selects_all_its_writers(source) -> None:  # type: ignore[no-untyped-def]
    assert resources_for(source, ["projects"]) == ["projects", "projects_archived"]
    assert resources_for(source, ["goals", "deals"]) == ["goals", "goals_inactive", "deals", "deals_archived"]
    assert set(resources_for(source, ["deal_products"])) == {"deal_products", "deal_products_archived"}
    # every resource writes a table the selection can name
    assert set(resources_for(pipedrive_source(api_token="a" * 40, base_url="http://127.0.0.1:9"), list(source.resources))) == set(source.resources)


def test_a_resource_name_still_selects_just_that_resource(source) -> None:  # type: ignore[no-untyped-def]
    assert resources_for(source, ["deals_archived"]) == ["deals_archived"]


def test_unknown_names_list_the_tables(source) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError, match=r"unknown table\(s\) dealz; choose from: .*deals"):
        resources_for(source, ["deals", "dealz"])
