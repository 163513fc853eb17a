"""Each use of dlt internals (`pipedrive/run/dlt_internals.py`) against the installed dlt: these
tests fail when dlt changes what the repair of a killed run relies on."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, List

import dlt
import pytest
from dlt.common.storages.file_storage import FileStorage

from pipedrive.run.dlt_internals import (
    ATOMIC_TEMP_FILE,
    atomic_temp_files,
    delete_extracted_package,
    extracted_packages_without_schema,
)


@pytest.fixture
def pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    return dlt.pipeline("internals", destination=dlt.destinations.duckdb(str(tmp_path / "i.duckdb")),
                        pipelines_dir=str(tmp_path / "p"), dataset_name="d")


def test_a_package_without_schema_is_found_and_deleted(pipeline: Any) -> None:
    assert extracted_packages_without_schema(pipeline) == []  # nothing extracted yet
    pipeline.extract([{"id": 1}], table_name="t")
    (load_id,) = pipeline.list_extracted_load_packages()
    assert extracted_packages_without_schema(pipeline) == []  # a complete package is left alone
    schema_files = list(Path(pipeline.working_dir).rglob(f"{load_id}/schema.json"))
    assert len(schema_files) == 1, "dlt moved the schema file of an extracted package"
    schema_files[0].unlink()  # what a kill during normalize's deletion leaves
    assert extracted_packages_without_schema(pipeline) == [load_id]
    delete_extracted_package(pipeline, load_id)
    assert pipeline.list_extracted_load_packages() == []
    pipeline.run([{"id": 2}], table_name="t")  # the pipeline works again
    with pipeline.sql_client() as client:
        assert client.execute_sql("SELECT id FROM t") == [(2,)]


def test_dlt_names_its_atomic_write_temp_files_as_the_pattern_expects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Catch the temp file dlt writes before its rename: its name must match `ATOMIC_TEMP_FILE`."""
    seen: List[str] = []
    real_replace = os.replace

    def spy(source: str, target: str) -> None:
        seen.append(os.path.basename(source))
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", spy)
    FileStorage.save_atomic(str(tmp_path), "schema.json", "{}")
    assert len(seen) == 1 and ATOMIC_TEMP_FILE.fullmatch(seen[0]), seen


def test_stray_temp_files_are_found_anywhere_in_the_working_dir(pipeline: Any) -> None:
    pipeline.run([{"id": 1}], table_name="t")
    assert atomic_temp_files(pipeline.working_dir) == []  # dlt's own files never match
    stray = Path(pipeline.working_dir) / "schemas" / "42fbd64b2ca4b76a"
    stray.write_text("{}")
    assert atomic_temp_files(pipeline.working_dir) == [str(stray)]
