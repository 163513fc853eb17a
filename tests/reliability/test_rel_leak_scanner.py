"""The token scan that runs after every test of this folder can fail: it finds a token hidden
the ways dlt stores things (gzip load-package files, the compressed state blob, DuckDB rows)."""

from __future__ import annotations

import gzip
from pathlib import Path

import duckdb
from dlt.common.versioned_state import compress_state

from ._leaks import files_with, tables_with

SECRET = "rel0123456789abcdef0123456789abcdef"


def test_scanner_finds_plain_gzipped_and_state_encoded_copies(tmp_path: Path) -> None:
    (tmp_path / "clean.txt").write_text("nothing to see")
    assert files_with(SECRET, [tmp_path]) == []
    (tmp_path / "package.jsonl.gz").write_bytes(gzip.compress(f'{{"x": "{SECRET}"}}'.encode()))
    (tmp_path / "state.json").write_text(f'{{"state": "{compress_state({"sources": {"token": SECRET}})}"}}')  # type: ignore[arg-type]
    assert sorted(Path(p).name for p in files_with(SECRET, [tmp_path])) == ["package.jsonl.gz", "state.json"]


def test_scanner_finds_the_token_in_a_duckdb_row(tmp_path: Path) -> None:
    path = tmp_path / "x.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute("CREATE SCHEMA d")
        connection.execute("CREATE TABLE d.t (a VARCHAR, s VARCHAR)")
        connection.execute("INSERT INTO d.t VALUES ('clean', ?)", [compress_state({"k": SECRET})])  # type: ignore[arg-type]
    assert tables_with(SECRET, path) == ["d.t"]
    assert tables_with("not-there-0123456789", path) == []
