"""Every use of dlt internals, in one place: what the repair of a killed run needs and dlt's public
API does not offer. Each function has a test that fails when dlt changes what it relies on
(`tests/run/test_dlt_internals.py`); nothing else in the package reaches into dlt's internals.
"""

import os
import re
from typing import Any, Callable, Dict, Iterable, List, Set

import dlt
from dlt.common.storages.load_package import PackageStorage

ATOMIC_TEMP_FILE = re.compile(r"[0-9a-f]{16}|[0-9a-f]{32}")
"""Names of dlt's temporary files (`uniq_id(8)` / `uniq_id()`): `FileStorage.save_atomic` writes one
and renames it over its target. dlt names none of its own files with a bare hex name."""


def extracted_packages_without_schema(pipeline: dlt.Pipeline) -> List[str]:
    """Load ids of extracted packages that have no schema file: what a kill during normalize leaves
    while normalize deletes a package it already normalized (dlt's `normalize()` fails on it for
    ever; its data is already in the normalized package).

    dlt has no public API for extracted packages; this is the storage `normalize()` reads.
    """
    storage = pipeline._get_normalize_storage()
    if not storage.is_storage_ready():
        return []  # a new pipeline: nothing extracted yet
    packages = storage.extracted_packages
    return [
        load_id
        for load_id in packages.list_packages()
        if not packages.storage.has_file(os.path.join(load_id, PackageStorage.SCHEMA_FILE_NAME))
    ]


def delete_extracted_package(pipeline: dlt.Pipeline, load_id: str) -> None:
    """Deletes one extracted (not yet normalized) package."""
    pipeline._get_normalize_storage().extracted_packages.delete_package(load_id, not_exists_ok=True)


def atomic_temp_files(working_dir: str) -> List[str]:
    """Temporary files of atomic writes a kill left before their rename, under a pipeline's working
    directory. dlt lists the schema folder by file name, so a stray `42fbd64b2ca4b76a` there is
    taken for a schema named so and every later run fails (`InvalidSchemaName`); dlt 1.31 never
    cleans them up, and `dlt.pipeline()` lists the schemas when it is created."""
    found = []
    for folder, _, files in os.walk(working_dir):
        found.extend(os.path.join(folder, name) for name in files if ATOMIC_TEMP_FILE.fullmatch(name))
    return found


def existing_tables(pipeline: dlt.Pipeline, tables: Iterable[str]) -> Set[str]:
    """The tables of `tables` that exist in the pipeline's dataset, in one information-schema query
    (dlt's job client reads table columns from the catalog; a missing table has none)."""
    with pipeline.destination_client() as client:
        return {name for name, columns in client.get_storage_tables(list(tables)) if columns}


def update_source_state(pipeline: dlt.Pipeline, source_name: str, update: Callable[[Dict[str, Any]], None]) -> None:
    """Changes the source state outside a run (saved locally; loaded with the next package), e.g.
    to clear what the protocol has applied. `Pipeline.managed_state` is how dlt's own `drop`
    command does it."""
    with pipeline.managed_state(extract_state=False) as state:
        update(state.setdefault("sources", {}).setdefault(source_name, {}))


def drop_resource_state(pipeline: dlt.Pipeline, resources: List[str]) -> None:
    """Wipes the state (cursors) of resources, keeping their tables: their next read starts from
    scratch. dlt's `pipeline drop --state-only`, which loads the change at once."""
    from dlt.pipeline.helpers import pipeline_drop

    pipeline_drop(pipeline, resources=resources, state_only=True)()
