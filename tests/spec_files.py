"""Where the tests find the official Pipedrive OpenAPI specs (never copied into the repository):
`$PIPEDRIVE_SPEC_DIR`, else `<repo>/../shared/pipedrive-api` (where CI puts them)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
SPEC_FILES = {"v1": "openapi-v1.yaml", "v2": "openapi-v2.yaml"}


def spec_dir() -> Path:
    """Return the spec directory, failing the test with a clear message when it is missing."""
    env = os.environ.get("PIPEDRIVE_SPEC_DIR")
    path = Path(env) if env else REPO_ROOT.parent / "shared" / "pipedrive-api"
    missing = [name for name in SPEC_FILES.values() if not (path / name).is_file()]
    if missing:
        pytest.fail(
            f"Pipedrive OpenAPI specs not found: {missing} in {path}. Set PIPEDRIVE_SPEC_DIR to the "
            "directory holding openapi-v1.yaml and openapi-v2.yaml.",
            pytrace=False,
        )
    return path


@lru_cache(maxsize=None)
def load_spec(api: str) -> dict[str, Any]:
    """Parse one spec file, `api` = "v1" | "v2" (cached per session; never mutate the result)."""
    with (spec_dir() / SPEC_FILES[api]).open("rb") as fh:
        return yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
