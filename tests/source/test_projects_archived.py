"""Archived projects: `/projects` + `/projects/archived` load into one `projects` replace table."""

from __future__ import annotations

from typing import Any, Callable

from pipedrive_sim import SimServer
from tests.helpers.loader import Loader

PROJECT_RESOURCES = ("projects", "projects_archived")


def _loaded(loader: Loader) -> list[tuple[Any, ...]]:
    """`(id, title, status, is_archived, archived_at_set)` per row, duplicates kept."""
    return sorted(loader.rows(
        "SELECT id, title, status, is_archived, archive_time IS NOT NULL FROM projects"
    ))


def _truth(server: SimServer) -> list[tuple[Any, ...]]:
    """The same tuples from the simulator's ground truth (archived = `archive_time` set)."""
    return sorted(
        (p["id"], p["title"], p["status"], p["archive_time"] is not None, p["archive_time"] is not None)
        for p in server.account.ground_truth()["projects"]
    )


def test_projects_table_holds_live_and_archived_projects(
    sim_server: SimServer, make_loader: Callable[..., Loader]
) -> None:
    loader = make_loader(sim_server)
    loader.run(*PROJECT_RESOURCES)

    loaded = _loaded(loader)
    assert loaded == _truth(sim_server)
    # both listings landed: the second replace did not wipe the first one's rows
    assert {row[3] for row in loaded} == {True, False}
    assert loader.columns("projects")["is_archived"] == "bool"
    requested = {entry.path for entry in sim_server.log}
    assert {"/api/v2/projects", "/api/v2/projects/archived"} <= requested


def test_archiving_a_project_between_runs_is_reflected(
    sim_server: SimServer, make_loader: Callable[..., Loader]
) -> None:
    loader = make_loader(sim_server)
    loader.run(*PROJECT_RESOURCES)
    account = sim_server.account
    target = next(p for p in account.records("projects") if p["archive_time"] is None)

    account.clock.advance(minutes=5)
    archived = account.archive("projects", target["id"])
    loader.run(*PROJECT_RESOURCES, refresh_reference=True)  # projects are read four times a day

    loaded = _loaded(loader)
    assert loaded == _truth(sim_server)
    assert [row[3] for row in loaded if row[0] == target["id"]] == [True]
    assert loader.rows(
        f"SELECT strftime(archive_time, '%Y-%m-%dT%H:%M:%SZ') FROM projects WHERE id = {target['id']}"
    ) == [(archived["archive_time"],)]
