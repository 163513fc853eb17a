"""Selecting tables: a table may be written by several resources (a listing and its archived
twin, `goals` and `goals_inactive`, a deal child and the twin fed by archived deals)."""

from typing import List, Sequence

from dlt.extract.source import DltSource


def resources_for(source: DltSource, names: Sequence[str]) -> List[str]:
    """Resources to select so that each named table is loaded completely.

    Selecting `projects` alone would make its replace table lose the archived projects, which
    `projects_archived` writes; selecting by table avoids that.

    Args:
        source: A `pipedrive_source()`.
        names: Table or resource names.

    Returns:
        In the source's order: every resource writing a named table, and the resources named
        that are not tables themselves (e.g. `deals_archived` alone).

    Raises:
        ValueError: A name is neither a table nor a resource of the source; the message lists
            the valid names.
    """
    tables = {name: resource.table_name for name, resource in source.resources.items()}
    unknown = sorted(set(names) - set(tables) - set(tables.values()))
    if unknown:
        raise ValueError(
            f"unknown table(s) {', '.join(unknown)}; choose from: "
            + ", ".join(sorted(set(tables.values())))
        )
    wanted_tables = set(names) & set(tables.values())
    return [name for name, table in tables.items() if name in names or table in wanted_tables]
