"""Without the official specs, the spec-based tests skip with one reason (and fail under CI=true).

Runs pytest in a subprocess on two spec-based modules (the simulator's token costs and the entity
table's parameters), with `PIPEDRIVE_SPEC_DIR` pointing at an empty folder, and reads the outcome
of every test from its JUnit XML report.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.spec_files import REPO_ROOT, SPECS_MISSING, find_spec_dir

SPEC_BASED = ["tests/sim/test_costs_match_spec.py", "tests/source/test_entities.py::test_token_costs_match_spec"]


def _outcomes(tmp_path: Path, ci: bool) -> dict[str, str]:
    """Test id -> "passed" | "skipped: <reason>" | "failed: <message>" of a run without specs."""
    empty = tmp_path / "no-specs"
    empty.mkdir(exist_ok=True)
    report = tmp_path / f"report-{ci}.xml"
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PIPEDRIVE_SPEC_DIR"] = str(empty)
    if ci:
        env["CI"] = "true"
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}",
         *SPEC_BASED],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    outcomes = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        skipped, failed = case.find("skipped"), case.find("failure")
        error = case.find("error")
        if skipped is not None:
            outcomes[name] = f"skipped: {skipped.get('message')}"
        elif failed is not None:
            outcomes[name] = f"failed: {failed.get('message')}"
        elif error is not None:
            outcomes[name] = f"error: {error.get('message')}"
        else:
            outcomes[name] = "passed"
    return outcomes


def test_without_specs_the_spec_tests_skip_with_the_reason(tmp_path: Path) -> None:
    outcomes = _outcomes(tmp_path, ci=False)
    skipped = [k for k, v in outcomes.items() if v == f"skipped: {SPECS_MISSING}"]
    assert len(skipped) >= 3, outcomes
    # the tests that do not read the specs still run; nothing fails or errors
    wrong = {k: v for k, v in outcomes.items() if k not in skipped and v != "passed"}
    assert not wrong, wrong


def test_without_specs_under_ci_the_spec_tests_fail(tmp_path: Path) -> None:
    outcomes = _outcomes(tmp_path, ci=True)
    # a test fails, a fixture errors: either way the run fails
    failed = [k for k, v in outcomes.items() if v.startswith(("failed: ", "error: ")) and SPECS_MISSING in v]
    assert len(failed) >= 3, outcomes
    wrong = {k: v for k, v in outcomes.items() if k not in failed and v != "passed"}
    assert not wrong, wrong
    assert not any(v.startswith("skipped") for v in outcomes.values())


def test_the_specs_are_found_where_ci_has_them() -> None:
    """Beside CI's checkout the lookup finds them (skips only on a bare clone, fails in CI)."""
    if find_spec_dir() is None:
        pytest.skip(SPECS_MISSING) if not os.environ.get("CI") else pytest.fail(SPECS_MISSING)
    assert (find_spec_dir() / "openapi-v2.yaml").stat().st_size > 100_000
