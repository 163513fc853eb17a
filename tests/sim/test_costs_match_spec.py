"""The simulator's token-cost table (``pipedrive_sim/http/cost_table.py``) matches the official specs.

Each GET operation's cost is the ``x-token-cost`` extension of the operation in
``openapi-v1.yaml`` / ``openapi-v2.yaml``, found as `tests/spec_files.py` says; without them the
tests skip, and fail under ``CI=true``.
"""

from __future__ import annotations

import importlib.util
from types import ModuleType
from typing import Any

import pytest

from pipedrive_sim.http.cost_table import TOKEN_COSTS
from pipedrive_sim.http.routes import token_cost
from tests.spec_files import REPO_ROOT, SPEC_FILES, load_spec, spec_dir


def spec_get_costs() -> dict[tuple[str, str, str], Any]:
    """Return ``(api, "GET", path) -> x-token-cost`` for every GET operation of both specs."""
    out: dict[tuple[str, str, str], Any] = {}
    for api in SPEC_FILES:
        for path, item in load_spec(api)["paths"].items():
            if "get" in item:
                out[(api, "GET", path)] = item["get"].get("x-token-cost")
    return out


def _served_get_operations() -> set[tuple[str, str, str]]:
    """Return the GET operations the simulator's router serves (``pipedrive_sim.http.routes.ROUTES``).

    Each route names its API version and the spec path template it serves.
    """
    from pipedrive_sim.http.routes import ROUTES  # noqa: PLC0415 - HTTP layer, imported late on purpose

    return {(route.api, "GET", route.path) for route in ROUTES}


def test_every_table_entry_equals_spec_cost() -> None:
    """Each (api, method, path) in TOKEN_COSTS has exactly the spec's x-token-cost."""
    spec = spec_get_costs()
    wrong = {k: (v, spec.get(k)) for k, v in TOKEN_COSTS.items() if spec.get(k) != v}
    assert not wrong, f"table entries differing from the spec (table, spec): {wrong}"


def test_table_covers_every_spec_get_operation() -> None:
    """No GET operation of either spec is missing from TOKEN_COSTS (and none is invented)."""
    spec = spec_get_costs()
    assert len(spec) > 100, "suspiciously few GET operations parsed from the specs"
    assert set(TOKEN_COSTS) == set(spec), {
        "missing": sorted(set(spec) - set(TOKEN_COSTS)),
        "not_in_spec": sorted(set(TOKEN_COSTS) - set(spec)),
    }


@pytest.mark.parametrize(
    ("api", "path", "expected"),
    [
        # Hand-checked against FACTS.md section 7 (extraction-relevant costs).
        ("v1", "/deals/{id}/flow", 40),
        ("v1", "/recents", 20),
        ("v1", "/leads/archived", 40),
        ("v1", "/users/me", 2),
        ("v1", "/deals/{id}/participants", 10),
        ("v2", "/deals", 10),
        ("v2", "/deals/archived", 20),
        ("v2", "/projects/archived", 10),
        ("v2", "/pipelines", 5),
        ("v2", "/stages", 5),
        ("v2", "/deals/products", 10),
    ],
)
def test_token_cost_known_values(api: str, path: str, expected: int) -> None:
    """token_cost returns the documented costs for a few well-known operations."""
    assert token_cost(api, "GET", path) == expected
    assert token_cost(api, "get", path) == expected


@pytest.mark.parametrize(
    ("api", "method", "path"),
    [
        ("v1", "GET", "/deals"),  # removed from the current v1 spec (FACTS.md section 5)
        ("v2", "GET", "/leads"),  # v1-only
        ("v3", "GET", "/deals"),
        ("v2", "GET", "/deals/123"),  # concrete path, not a template
        ("v2", "POST", "/deals"),  # only GET operations are tabulated
    ],
)
def test_token_cost_unknown_raises_keyerror(api: str, method: str, path: str) -> None:
    """Unknown operations raise KeyError instead of guessing a cost."""
    with pytest.raises(KeyError):
        token_cost(api, method, path)


def _load_generator() -> ModuleType:
    path = REPO_ROOT / "pipedrive_sim" / "tools" / "extract_costs.py"
    spec = importlib.util.spec_from_file_location("_extract_costs", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_costs_py_is_reproducible_from_spec() -> None:
    """Rerunning the generator on the specs yields byte-identical ``cost_table.py``."""
    gen = _load_generator()
    expected = gen.render(gen.extract_costs(spec_dir()))
    actual = (REPO_ROOT / "pipedrive_sim" / "http" / "cost_table.py").read_text()
    assert actual == expected, "pipedrive_sim/http/cost_table.py is stale: run pipedrive_sim/tools/extract_costs.py"


def test_every_served_get_operation_has_spec_cost() -> None:
    """Every GET operation the simulator serves is a spec operation, charged the spec's cost."""
    from pipedrive_sim.http.routes import ROUTES  # noqa: PLC0415

    served = _served_get_operations()
    spec = spec_get_costs()
    assert len(served) >= 40, f"the simulator reports only {len(served)} served operations"
    unknown = sorted(op for op in served if op not in spec)
    assert not unknown, f"served operations that are not GET operations of the spec: {unknown}"
    for op in sorted(served):
        assert token_cost(*op) == spec[op], op
    # The router charges what the table says (routes compute their cost from cost_table.py).
    wrong = [(r.api, r.path, r.cost, spec[(r.api, "GET", r.path)]) for r in ROUTES
             if r.cost != spec[(r.api, "GET", r.path)]]
    assert not wrong, f"routes charging a cost other than the spec's (api, path, charged, spec): {wrong}"
