"""Shared pytest setup: simulator fixtures and no dlt telemetry."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
REPO_ROOT = str(Path(__file__).resolve().parents[1])
if REPO_ROOT not in sys.path:  # the repo is not installed; make `pipedrive_sim` and `pipedrive` importable
    sys.path.insert(0, REPO_ROOT)

pytest_plugins = ["pipedrive_sim.pytest_plugin"]
