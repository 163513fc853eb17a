"""Fixtures of the deal-children tests: the source against the simulator into DuckDB."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

# the autouse `_dlt_env` applies here too: no telemetry, fast retries, cwd in tmp_path
from tests.helpers.loader import Loader, dlt_env, settled_log  # noqa: F401 - dlt_env: autouse fixture

DEAL_LISTINGS = ("deals", "deals_archived")
SNAPSHOT_CHILDREN = ("deal_products", "deal_participants", "deal_followers")
ALL_CHILDREN = (
    "deal_products",
    "deal_changes",
    "deal_stage_changes",
    "deal_participants",
    "deal_followers",
)


def child_resources(*names: str, archived: bool = True) -> tuple[str, ...]:
    """Resource names for a run of the deal listings plus the given children (and their
    archived twins)."""
    out = list(DEAL_LISTINGS if archived else DEAL_LISTINGS[:1])
    for name in names:
        out.append(name)
        if archived:
            out.append(f"{name}_archived")
    return tuple(out)


@pytest.fixture
def make_loader(tmp_path: Path) -> Callable[..., Loader]:
    """Factory: `make_loader(server)` -> `Loader` (DuckDB, dev_mode) under tmp_path."""

    def factory(server: Any, name: str = "pd_children") -> Loader:
        return Loader(server.base_url, tmp_path / "pipelines", name)

    return factory


def requests_to(server: Any, endpoint: str) -> list[Any]:
    """Log entries of one endpoint (`"v2 /deals/products"`), settled."""
    return [entry for entry in settled_log(server) if entry.endpoint == endpoint]


def deal_id_of(entry: Any) -> int:
    """Deal id in the path of a per-deal request (`/api/v1/deals/7/changelog` -> 7)."""
    parts = entry.path.strip("/").split("/")
    return int(parts[parts.index("deals") + 1])


def batch_ids(entry: Any) -> list[int]:
    """Deal ids of a batched `/deals/products?deal_ids=` request."""
    return [int(p) for p in entry.params["deal_ids"].split(",")]


CHANGE_COLUMNS = (
    "deal_id, field_key, old_value, new_value, actor_user_id, strftime(time, '%Y-%m-%d %H:%M:%S')"
)


def loaded_changes(loader: Loader) -> Counter:
    """`deal_changes` rows as comparable tuples (time in the changelog's v1 format)."""
    return Counter(loader.rows(f"SELECT {CHANGE_COLUMNS} FROM deal_changes"))


def truth_changes(truth: dict[str, list[dict[str, Any]]]) -> Counter:
    """The simulator's changelog items as the same tuples."""
    return Counter(
        (c["deal_id"], c["field_key"], c["old_value"], c["new_value"], c["actor_user_id"], c["time"])
        for c in truth["deal_changelog"]
    )
