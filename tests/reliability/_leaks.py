"""Searches everything a pipeline run leaves behind for the API token.

Places: stdout/stderr (dlt's log goes to stderr), every file under the dlt data dir (pipeline
state, schemas, load packages - gzip-compressed - and the pickled trace), and every value of
every table in the DuckDB file (including `_dlt_pipeline_state`, whose `state` column is
zlib-compressed and base64-encoded).
"""

from __future__ import annotations

import base64
import binascii
import gzip
import re
import zlib
from pathlib import Path
from typing import Iterable, Iterator, List

import duckdb

_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/=]{40,}")


def _expanded(data: bytes) -> Iterator[bytes]:
    """The bytes, their gunzipped form, and every zlib-compressed base64 run inside."""
    yield data
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
            yield data
        except (OSError, EOFError):
            pass
    for run in _BASE64_RUN.findall(data):
        try:
            yield zlib.decompress(base64.b64decode(run))
        except (binascii.Error, zlib.error, ValueError):
            continue


def files_with(token: str, roots: Iterable[Path]) -> List[str]:
    """Files under `roots` whose (decompressed) content contains the token."""
    needle = token.encode()
    hits = []
    for root in roots:
        for path in sorted(p for p in Path(root).rglob("*") if p.is_file()):
            if path.suffix in (".duckdb", ".wal"):
                continue  # compressed columns: searched through SQL below
            if any(needle in chunk for chunk in _expanded(path.read_bytes())):
                hits.append(str(path))
    return hits


def tables_with(token: str, duckdb_file: Path) -> List[str]:
    """`schema.table` of every DuckDB table holding the token in any value."""
    if not duckdb_file.exists():
        return []
    hits = []
    needle = token.encode()
    with duckdb.connect(str(duckdb_file), read_only=True) as connection:
        tables = connection.execute(
            "SELECT table_schema, table_name FROM information_schema.tables"
        ).fetchall()
        for schema, table in tables:
            rows = connection.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall()
            text = repr(rows).encode()
            if needle in text or any(needle in chunk for chunk in _expanded(text)):
                hits.append(f"{schema}.{table}")
    return hits


def assert_token_nowhere(token: str, transcripts: Iterable[str], data_dir: Path, duckdb_file: Path) -> None:
    """Fails when the token appears in any output, file or table of the runs."""
    leaked_output = [text[:200] for text in transcripts if token in text]
    assert not leaked_output, f"token printed: {leaked_output}"
    assert not files_with(token, [data_dir]), f"token in files: {files_with(token, [data_dir])}"
    assert not tables_with(token, duckdb_file), f"token in tables: {tables_with(token, duckdb_file)}"
