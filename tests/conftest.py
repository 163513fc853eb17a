"""Shared pytest setup: simulator fixtures and no dlt telemetry."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
# no test may touch the developer's real pipelines (~/.dlt, or /var/dlt as root): a pipeline a
# test forgets to isolate lands in this session's temporary folder instead
os.environ.setdefault("DLT_DATA_DIR", tempfile.mkdtemp(prefix="pipedrive-tests-dlt-"))
REPO_ROOT = str(Path(__file__).resolve().parents[1])
if REPO_ROOT not in sys.path:  # the repo is not installed; make `pipedrive_sim` and `pipedrive` importable
    sys.path.insert(0, REPO_ROOT)

pytest_plugins = ["pipedrive_sim.pytest_plugin"]
