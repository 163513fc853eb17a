"""The simulator's import rules (docs/DESIGN.md section 3), checked on the source text.

`pipedrive_sim.data` never imports `pipedrive_sim.http`; `pipedrive_sim.http` imports only the
names `pipedrive_sim/data/__init__.py` exports, never a data module directly; nothing in the
simulator imports the source (`pipedrive`).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "pipedrive_sim"


def _imports(path: Path) -> list[str]:
    """Absolute dotted names of everything a module imports (relative imports resolved)."""
    package = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            out += [module] if node.module else [f"{module}.{alias.name}" for alias in node.names]
    return out


def _violations(folder: str, rule: str) -> list[str]:
    found = []
    for path in sorted((PACKAGE / folder).rglob("*.py") if folder else PACKAGE.rglob("*.py")):
        for name in _imports(path):
            if (rule == "no_http" and name.startswith("pipedrive_sim.http")) \
                    or (rule == "data_api_only" and name.startswith("pipedrive_sim.data.")) \
                    or (rule == "no_source" and (name == "pipedrive" or name.startswith("pipedrive."))):
                found.append(f"{path.relative_to(PACKAGE.parent)}: imports {name}")
    return found


def test_data_layer_never_imports_http() -> None:
    assert not _violations("data", "no_http")


def test_http_layer_uses_only_what_data_exports() -> None:
    assert not _violations("http", "data_api_only")


def test_simulator_never_imports_the_source() -> None:
    assert not _violations("", "no_source")


def test_the_checks_see_imports() -> None:
    """Guard against a vacuous pass: the resolver finds the imports that do exist."""
    assert "pipedrive_sim.data" in _imports(PACKAGE / "http" / "filters.py")
    assert "pipedrive_sim.data.account" in _imports(PACKAGE / "data" / "__init__.py")
    assert "pipedrive_sim.http.rate_limits" in _imports(PACKAGE / "__main__.py")
