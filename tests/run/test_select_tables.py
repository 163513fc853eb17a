"""Selecting by table selects every resource that writes it (archived twins, inactive goals)."""

from __future__ import annotations

import pytest

from pipedrive import pipedrive_source
from pipedrive.run import UsageError, select_tables


@pytest.fixture()
def source():  # type: ignore[no-untyped-def]
    return pipedrive_source(api_token="a" * 40, base_url="http://127.0.0.1:9")


def resources_for(source, names):  # type: ignore[no-untyped-def]
    """The selected resources, without the deletion sweeps (which go with their listings)."""
    return [n for n in select_tables(source, names).selected_resources if not n.endswith("_sweep")]


def test_a_listing_brings_its_deletion_sweep(source) -> None:  # type: ignore[no-untyped-def]
    selected = list(select_tables(source, ["deals", "users"]).selected_resources)
    assert {"deals_sweep", "deals_archived_sweep"} <= set(selected)
    assert not [n for n in selected if n.endswith("_sweep") and not n.startswith("deals")]


def test_a_table_selects_all_its_writers(source) -> None:  # type: ignore[no-untyped-def]
    assert resources_for(source, ["projects"]) == ["projects", "projects_archived"]
    assert resources_for(source, ["goals", "deals"]) == ["goals", "goals_inactive", "deals", "deals_archived"]
    assert set(resources_for(source, ["deal_products"])) == {"deal_products", "deal_products_archived"}
    # every resource writes a table the selection can name
    everything = list(source.resources)
    fresh = pipedrive_source(api_token="a" * 40, base_url="http://127.0.0.1:9")
    assert set(select_tables(fresh, everything).selected_resources) == set(everything)


def test_a_resource_name_still_selects_just_that_resource(source) -> None:  # type: ignore[no-untyped-def]
    assert resources_for(source, ["deals_archived"]) == ["deals_archived"]


def test_unknown_names_list_the_tables(source) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError, match=r"unknown table\(s\) dealz; choose from: .*deals"):
        resources_for(source, ["deals", "dealz"])
