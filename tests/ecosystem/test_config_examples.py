"""The configuration examples in docs/destinations/ resolve into dlt destination configurations.

Each ```toml block of a doc is written, as it is in the doc, to `.dlt/secrets.toml` (or
`.dlt/config.toml` when the block's first line says so) in an empty folder; a fresh Python process
started there resolves the destination's client configuration exactly as `pipeline.run` does
(`get_destination_client_initial_config` + `Destination.configuration`) and reports the resolved
credentials. No network and no destination extras are needed for that. `export NAME=value` lines
of ```sh blocks are checked the same way through environment variables.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs" / "destinations"
DESTINATIONS = ["bigquery", "snowflake", "motherduck", "postgres"]

RESOLVE_SCRIPT = r"""
import json, sys
import dlt
from dlt.dataset.utils import get_destination_client_initial_config

name = sys.argv[1]
destination = dlt.destinations.__dict__[name]()
initial = get_destination_client_initial_config(destination, dataset_name="pipedrive_data")
config = destination.configuration(initial)
creds = config.credentials
out = {
    "config_type": type(config).__name__,
    "credentials_type": type(creds).__name__,
    "resolved": bool(config.is_resolved() and creds.is_resolved()),
    "credentials": {k: (v if isinstance(v, (str, int, float, bool, type(None))) else str(v))
                    for k, v in dict(creds).items()},
    "location": getattr(config, "location", None),
    "url": None,
}
if hasattr(creds, "to_url"):
    out["url"] = creds.to_url().render_as_string(hide_password=True)
print("RESULT " + json.dumps(out))
"""

PIPELINE_CONFIG_SCRIPT = r"""
import json, dlt
p = dlt.pipeline("pipedrive", destination="duckdb", dataset_name="pipedrive_data")
print("RESULT " + json.dumps({"restore_from_destination": p.config.restore_from_destination}))
"""


def code_blocks(doc: Path, lang: str) -> List[str]:
    """Returns the fenced code blocks of one language in a markdown file."""
    return re.findall(rf"^```{lang}\n(.*?)^```", doc.read_text(), flags=re.S | re.M)


def toml_blocks(doc: Path) -> List[Tuple[str, str, Dict[str, Any]]]:
    """Returns (target file, text, parsed) for each toml block; the first line names the file."""
    blocks = []
    for text in code_blocks(doc, "toml"):
        first = text.splitlines()[0].strip()
        assert first in ("# .dlt/secrets.toml", "# .dlt/config.toml"), (
            f"{doc.name}: a toml example must start with '# .dlt/secrets.toml' or "
            f"'# .dlt/config.toml', got {first!r}"
        )
        blocks.append((first[2:], text, tomllib.loads(text)))
    return blocks


def clean_env(tmp_path: Path) -> Dict[str, str]:
    """The environment without any dlt configuration, so only the example can resolve."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not re.match(r"(DESTINATION|SOURCES|CREDENTIALS|PIPELINES|DLT_|MOTHERDUCK|GOOGLE)", k.upper())
    }
    env["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    env["DLT_DATA_DIR"] = str(tmp_path / "dlt_data")
    env["HOME"] = str(tmp_path / "home")
    return env


def run_in(folder: Path, script: str, args: List[str], env: Dict[str, str]) -> Dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, f"resolution failed:\n{proc.stdout}\n{proc.stderr}"
    return json.loads(lines[-1][len("RESULT "):])


def resolve_with_files(tmp_path: Path, files: Dict[str, str], destination: str) -> Dict[str, Any]:
    folder = tmp_path / "project"
    (folder / ".dlt").mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return run_in(folder, RESOLVE_SCRIPT, [destination], clean_env(tmp_path))


def flatten(tree: Dict[str, Any], prefix: Tuple[str, ...] = ()) -> Dict[Tuple[str, ...], Any]:
    out: Dict[Tuple[str, ...], Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(flatten(value, prefix + (key,)))
        else:
            out[prefix + (key,)] = value
    return out


def expected_credentials(parsed: Dict[str, Any], destination: str) -> Dict[str, Any]:
    """Credential fields the example sets as separate keys (connection strings checked apart)."""
    creds = parsed.get("destination", {}).get(destination, {}).get("credentials")
    return creds if isinstance(creds, dict) else {}


@pytest.mark.parametrize("destination", DESTINATIONS)
def test_toml_examples_resolve(destination: str, tmp_path: Path) -> None:
    doc = DOCS / f"{destination}.md"
    blocks = [b for b in toml_blocks(doc) if destination in b[2].get("destination", {})]
    assert blocks, f"{doc.name} has no [destination.{destination}...] example"
    for i, (target, text, parsed) in enumerate(blocks):
        result = resolve_with_files(tmp_path / f"block{i}", {target: text}, destination)
        assert result["resolved"], result
        got = result["credentials"]
        for key, value in expected_credentials(parsed, destination).items():
            # motherduck keeps the token in `password`; the rest map 1:1
            assert got.get(key) == value, f"{doc.name} block {i}: {key}={got.get(key)!r} != {value!r}"
        conn = parsed["destination"][destination].get("credentials")
        if isinstance(conn, str):
            # a connection string example: its host/database end up in the credentials
            assert got.get("database"), result
            if destination != "motherduck":
                assert got.get("host") and got["host"] in conn, result
            assert got.get("password") and got["password"] in conn, "password/token not parsed"
        location = parsed["destination"][destination].get("location")
        if location:
            assert result["location"] == location


def test_readme_sections_examples_resolve(tmp_path: Path) -> None:
    """The README has its own copy of a destination example (Destinations and scheduling)."""
    doc = REPO / "README.md"
    checked = 0
    for i, (target, text, parsed) in enumerate(toml_blocks(doc)):
        for destination in parsed.get("destination", {}):
            result = resolve_with_files(tmp_path / f"block{i}", {target: text}, destination)
            assert result["resolved"], result
            for key, value in expected_credentials(parsed, destination).items():
                assert result["credentials"].get(key) == value
            checked += 1
    assert checked


@pytest.mark.parametrize("destination", ["bigquery", "snowflake"])
def test_env_examples_resolve(destination: str, tmp_path: Path) -> None:
    """`export DESTINATION__...` lines of the docs resolve the same destination."""
    exports: Dict[str, str] = {}
    for block in code_blocks(DOCS / f"{destination}.md", "sh"):
        for name, value in re.findall(r"^export (DESTINATION__\w+)=(.*)$", block, flags=re.M):
            value = value.strip().strip('"')
            if value.startswith("$("):  # shell substitution: any non-empty value
                value = "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n"
            exports[name] = value
    assert exports, f"{destination}.md has no export DESTINATION__... example"
    folder = tmp_path / "project"
    folder.mkdir()
    env = clean_env(tmp_path)
    env.update(exports)
    result = run_in(folder, RESOLVE_SCRIPT, [destination], env)
    assert result["resolved"], result
    assert result["credentials"].get("database") or result["credentials"].get("project_id")


def test_motherduck_default_token_env(tmp_path: Path) -> None:
    """motherduck.md: with MOTHERDUCK_TOKEN set, the database name alone is enough."""
    folder = tmp_path / "project"
    folder.mkdir()
    env = clean_env(tmp_path)
    env["MOTHERDUCK_TOKEN"] = "md-token-from-env"
    env["DESTINATION__MOTHERDUCK__CREDENTIALS__DATABASE"] = "pipedrive"
    assert "MOTHERDUCK_TOKEN" in (DOCS / "motherduck.md").read_text()
    result = run_in(folder, RESOLVE_SCRIPT, ["motherduck"], env)
    assert result["resolved"] and result["credentials"]["database"] == "pipedrive"


def test_missing_credentials_do_not_resolve(tmp_path: Path) -> None:
    """Control: the resolver really fails without the example (so the tests above can fail)."""
    folder = tmp_path / "project"
    (folder / ".dlt").mkdir(parents=True)
    proc = subprocess.run(
        [sys.executable, "-c", RESOLVE_SCRIPT, "snowflake"],
        cwd=folder,
        env=clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "ConfigFieldMissingException" in proc.stderr or "Missing" in proc.stderr


@pytest.mark.parametrize("destination", DESTINATIONS)
def test_pip_extra_exists(destination: str) -> None:
    """The `pip install "dlt[...]"` line of each doc names real dlt extras."""
    extras = set(importlib.metadata.metadata("dlt").get_all("Provides-Extra") or [])
    text = (DOCS / f"{destination}.md").read_text()
    named = re.findall(r'pip install "dlt\[([\w,]+)\]"', text)
    assert named, f"{destination}.md does not say which dlt extra to install"
    for group in named:
        for extra in group.split(","):
            assert extra in extras, f"dlt has no extra {extra!r}"


def test_cron_restore_from_destination_key(tmp_path: Path) -> None:
    """cron.md's `[pipelines.pipedrive] restore_from_destination` is the key dlt reads."""
    (target, text, parsed), = [b for b in toml_blocks(DOCS / "cron.md") if "pipelines" in b[2]]
    assert parsed["pipelines"]["pipedrive"]["restore_from_destination"] is True
    folder = tmp_path / "project"
    (folder / ".dlt").mkdir(parents=True)
    # flip the documented value: if dlt did not read this key, it would stay at its default (true)
    (folder / target).write_text(text.replace("restore_from_destination = true", "restore_from_destination = false"))
    result = run_in(folder, PIPELINE_CONFIG_SCRIPT, [], clean_env(tmp_path))
    assert result["restore_from_destination"] is False


@pytest.mark.parametrize("doc", ["airflow.md", "dagster.md"])
def test_orchestrator_examples_are_valid_python(doc: str) -> None:
    """The DAG / Dagster definitions parse, import real names of the run protocol and call `load`
    on the pipeline the command line uses (same name, same dataset: same state)."""
    import pipedrive.run

    blocks = code_blocks(DOCS / doc, "python")
    assert blocks
    for block in blocks:
        tree = ast.parse(block)
        imported = {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module == "pipedrive.run"
            for alias in node.names
        }
        assert "load" in imported and all(hasattr(pipedrive.run, name) for name in imported), imported
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
        pipelines = [c for c in calls if isinstance(c.func, ast.Attribute) and c.func.attr == "pipeline"]
        assert pipelines, "the example builds no dlt.pipeline"
        for call in pipelines:
            assert ast.literal_eval(call.args[0]) == "pipedrive"  # same state as pipedrive_pipeline.py
            kwargs = {k.arg: k.value for k in call.keywords}
            assert ast.literal_eval(kwargs["dataset_name"]) == "pipedrive_data"
        assert any(isinstance(c.func, ast.Name) and c.func.id == "load" for c in calls)
