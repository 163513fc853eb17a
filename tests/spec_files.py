"""Where the tests find the official Pipedrive OpenAPI specs (never copied into the repository).

Looked for in `$PIPEDRIVE_SPEC_DIR` when it is set (and only there), else in `<repo>/.specs`
(git-ignored; `make specs` downloads them there), else in `<repo>/../shared/pipedrive-api` (where
CI has them). A test that needs them skips with `SPECS_MISSING` when they are not found, and
fails instead under `CI=true`, like the Postgres and Chromium tests: CI must never skip them.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, NoReturn, Optional

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
SPEC_FILES = {"v1": "openapi-v1.yaml", "v2": "openapi-v2.yaml"}
SPECS_MISSING = "official Pipedrive OpenAPI specs not found: set PIPEDRIVE_SPEC_DIR, see README"


def spec_dir_candidates() -> list[Path]:
    """The folders looked in, in order."""
    env = os.environ.get("PIPEDRIVE_SPEC_DIR")
    if env:
        return [Path(env)]
    return [REPO_ROOT / ".specs", REPO_ROOT.parent / "shared" / "pipedrive-api"]


def find_spec_dir() -> Optional[Path]:
    """The first candidate folder holding both spec files, or None."""
    for path in spec_dir_candidates():
        if all((path / name).is_file() for name in SPEC_FILES.values()):
            return path
    return None


def specs_missing() -> NoReturn:
    """Skips the running test (fails it under `CI=true`) because the specs are not there."""
    looked = ", ".join(str(p) for p in spec_dir_candidates())
    if os.environ.get("CI"):
        pytest.fail(f"{SPECS_MISSING} (looked in {looked}; CI must have them)", pytrace=False)
    pytest.skip(SPECS_MISSING)


def spec_dir() -> Path:
    """The spec folder; skips (or, in CI, fails) the calling test or fixture when it is missing."""
    path = find_spec_dir()
    if path is None:
        specs_missing()
    return path


@lru_cache(maxsize=None)
def load_spec(api: str) -> dict[str, Any]:
    """Parse one spec file, `api` = "v1" | "v2" (cached per session; never mutate the result)."""
    with (spec_dir() / SPEC_FILES[api]).open("rb") as fh:
        return yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
