"""Repair of what an interrupted or overlapping run left behind, before the next run extracts
anything.

A `kill -9` can land anywhere inside dlt: between an atomic write and its rename (a stray temp
file that breaks every later run), while normalize deletes a package it already normalized (a
half-deleted package `normalize()` fails on for ever), or after extract or normalize (pending
packages that `pipeline.run()` would load instead of extracting anything new). Each is repaired
here, in that order; the data of a repaired package is never lost (it is in the next stage's
package, or loaded now).

The stored schema and the destination can also fall out of step: runs that overlapped on two
machines, a table dropped by hand. dlt then believes a table exists that does not, and every load
into it fails (or, when the schema happens to change, the table comes back empty and its cursor
skips the history). `tables_to_reload` finds such tables; the run protocol reloads them with
dlt's `refresh="drop_resources"` for just the resources that write them (which also makes dlt
re-create the schema's tables), and continues incrementally for everything else.
"""

import os
from typing import Callable, List, Mapping

import dlt

from ..entities import DEAL_CHILDREN, DEAL_LISTINGS
from .dlt_internals import (
    atomic_temp_files,
    delete_extracted_package,
    existing_tables,
    extracted_packages_without_schema,
)

TProgress = Callable[[str], None]


def repair_working_dir(working_dir: str) -> List[str]:
    """Deletes the temporary files of atomic writes a kill interrupted before their rename.

    Returns:
        The paths deleted, relative to `working_dir`.
    """
    deleted = []
    for path in atomic_temp_files(working_dir):
        os.remove(path)
        deleted.append(os.path.relpath(path, working_dir))
    return deleted


def reopen_if_repaired(pipeline: dlt.Pipeline, progress: TProgress) -> dlt.Pipeline:
    """Deletes stray temp files of a killed run's writes and returns the pipeline, re-attached if
    there were any: `dlt.pipeline()` lists the schema folder when it is created, so an object
    created before the repair still takes the stray file for a schema."""
    deleted = repair_working_dir(pipeline.working_dir)
    if not deleted:
        return pipeline
    progress("resuming: deleted the temporary file(s) of a write a killed run left")
    return dlt.attach(
        pipeline.pipeline_name,
        pipelines_dir=pipeline.pipelines_dir,
        destination=pipeline.destination,
        staging=pipeline.staging,
        dataset_name=pipeline.dataset_name,
        progress=pipeline.collector,
    )


def finish_interrupted_run(pipeline: dlt.Pipeline, progress: TProgress) -> None:
    """Loads the packages an interrupted run extracted or normalized but did not load (with the
    state of their chunk), after discarding half-deleted extracted packages."""
    for load_id in extracted_packages_without_schema(pipeline):
        delete_extracted_package(pipeline, load_id)
        progress("resuming: discarded a half-deleted package a killed run left")
    if pipeline.has_pending_data:
        progress("resuming: loading the package(s) an interrupted run left")
        pipeline.normalize()
        pipeline.load()


def tables_to_reload(pipeline: dlt.Pipeline, table_of: Mapping[str, str]) -> List[str]:
    """Tables the pipeline has loaded before that are missing in the destination.

    Args:
        pipeline: The pipeline about to run.
        table_of: Resource name -> table of the source's resources (only those tables count).
    """
    if pipeline.first_run or not pipeline.default_schema_name:
        return []
    schema = pipeline.default_schema
    loaded = set(schema.data_table_names(seen_data_only=True)) & set(table_of.values())
    return sorted(loaded - existing_tables(pipeline, loaded)) if loaded else []


def reload_resources(missing: List[str], table_of: Mapping[str, str]) -> List[str]:
    """The resources to reload from scratch for the missing tables: every writer of each, plus the
    deal listings for a deal-child table (its rows come only from deals the listing yields)."""
    children = {child.table for child in DEAL_CHILDREN}
    tables = set(missing)
    if tables & children:
        tables.update(table_of[name] for name in DEAL_LISTINGS if name in table_of)
    return [name for name, table in table_of.items() if table in tables]
