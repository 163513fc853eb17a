"""`pipedrive_pipeline.py` end to end against the simulator: the final summary (rows per table,
requests, tokens, what a capped backfill left queued) and one token budget for a whole chunked
run."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

import duckdb
import pytest

import pipedrive_pipeline
from pipedrive_sim.pytest_plugin import UNTHROTTLED

SUMMARY_ROW = re.compile(r"^(\w+)\s+(\d+)$")
API_LINE = re.compile(r"^API: (\d+) requests, (\d+) tokens \((\d+) answered 429")


@pytest.fixture()
def script_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[[Any], None]:
    """Points the script at a simulator, with its DuckDB file and pipeline under tmp_path."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt"))

    def point_at(server: Any) -> None:
        monkeypatch.setenv("SOURCES__PIPEDRIVE__API_TOKEN", server.token)
        monkeypatch.setenv("SOURCES__PIPEDRIVE__BASE_URL", server.base_url)

    return point_at


def run_script(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[dict[str, int], tuple[int, int, int], str]:
    code = pipedrive_pipeline.main(list(argv))
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert code == 0, out
    rows = {m[1]: int(m[2]) for line in out.splitlines() if (m := SUMMARY_ROW.match(line.strip()))}
    api = next(m for line in out.splitlines() if (m := API_LINE.match(line.strip())))
    return rows, (int(api[1]), int(api[2]), int(api[3])), out


def test_summary_reports_rows_requests_and_tokens_of_the_run(
    make_sim: Callable[..., Any], script_env: Callable[[Any], None], capsys: pytest.CaptureFixture[str]
) -> None:
    server = make_sim(size="tiny", burst_limit=UNTHROTTLED)
    script_env(server)
    rows, (requests, tokens, limited), _ = run_script(capsys, "--chunk-pages", "1")

    # every table the summary lists has exactly that many rows in the DuckDB file
    with duckdb.connect("pipedrive.duckdb", read_only=True) as db:
        for table, count in rows.items():
            assert db.sql(f"select count(*) from pipedrive_data.{table}").fetchone()[0] == count, table
    assert rows["deals"] == len(server.account.ground_truth()["deals"])
    # the totals are those of the whole run (preflight and every chunk), as the API counted them
    log = server.log
    assert requests == len(log) and limited == sum(e.status == 429 for e in log)
    assert tokens == sum(e.token_cost for e in log)


def test_token_cap_spans_all_chunks_of_a_run_and_the_summary_shows_the_queue(
    make_sim: Callable[..., Any],
    script_env: Callable[[Any], None],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = make_sim(size="small", burst_limit=UNTHROTTLED)
    script_env(server)
    cap = 3_000
    monkeypatch.setenv("SOURCES__PIPEDRIVE__MAX_TOKENS_PER_RUN", str(cap))
    # small pages make many chunks: each chunk's source must draw from the same budget
    monkeypatch.setenv("SOURCES__PIPEDRIVE__PAGE_SIZE", "100")
    _, (_, tokens, _), out = run_script(
        capsys, "--chunk-pages", "1", "--resources", "deals,deal_changes,deal_participants"
    )
    assert re.search(r"^chunk \d+ loaded; more to read for", out, re.M), out  # really chunked
    assert tokens == sum(e.token_cost for e in server.log) <= cap
    queued = re.search(r"deals still queued for their children.*: (.*)$", out, re.M)
    assert queued, out
    # what the summary says is queued is what a second run fetches, and then nothing is left
    left = dict(part.rsplit(" ", 1) for part in queued[1].split(", "))
    assert int(left["deal_changes"]) > 0
    server.reset_log()
    monkeypatch.setenv("SOURCES__PIPEDRIVE__MAX_TOKENS_PER_RUN", "1000000")
    _, _, out = run_script(capsys, "--resources", "deals,deal_changes,deal_participants")
    fetched = sum(1 for e in server.log if e.path.endswith("/changelog"))
    # the archived deals' changes are queued under their own resource and fetched by the same path
    assert fetched == sum(int(n) for name, n in left.items() if name.startswith("deal_changes"))
    assert "still queued" not in out


def test_null_column_notices_are_dropped_unless_verbose(
    make_sim: Callable[..., Any], script_env: Callable[[Any], None], capsys: pytest.CaptureFixture[str]
) -> None:
    import logging

    notice = logging.LogRecord(
        "dlt", logging.WARNING, "validate.py", 113,
        "In schema `pipedrive`: The following columns in table 'deals' did not receive any data "
        "during this load and therefore could not have their types inferred:", None, None,
    )
    other = logging.LogRecord("dlt", logging.WARNING, "x.py", 1, "Pipedrive burst rate limit hit", None, None)
    dlt_logger = logging.getLogger("dlt")
    dlt_logger.removeFilter(pipedrive_pipeline.NULL_COLUMN_NOTICE)
    server = make_sim(size="tiny", burst_limit=UNTHROTTLED)
    script_env(server)
    run_script(capsys, "--verbose", "--resources", "users")
    assert dlt_logger.filter(notice)  # --verbose keeps dlt's notice
    run_script(capsys, "--resources", "users")
    assert not dlt_logger.filter(notice) and dlt_logger.filter(other)


def test_an_account_with_nearly_no_data_loads_and_sums_up(
    make_sim: Callable[..., Any], script_env: Callable[[Any], None], capsys: pytest.CaptureFixture[str]
) -> None:
    """The `empty` account: most endpoints return no row; the run succeeds and the summary lists
    exactly the tables that were created."""
    server = make_sim(size="empty", burst_limit=UNTHROTTLED)
    script_env(server)
    rows, _, out = run_script(capsys)
    with duckdb.connect("pipedrive.duckdb", read_only=True) as db:
        created = {name for (name,) in db.sql(
            "select table_name from information_schema.tables where table_schema = 'pipedrive_data'").fetchall()}
    assert "deals" not in created and "deals" not in rows
    assert rows and set(rows) == created - {name for name in created if name.startswith("_dlt")}
    assert "Traceback" not in out


def test_a_table_the_schema_knows_but_the_destination_lacks_is_not_counted(
    make_sim: Callable[..., Any], tmp_path: Path
) -> None:
    """Counting rows after a load must not fail a good load on a table the stored schema declares
    and the destination does not have (issue 13 section 4: `CatalogException: Table with name
    activity_fields does not exist!` after every served record had landed)."""
    from pipedrive.run import load
    from pipedrive.run.summary import table_row_counts
    from tests.helpers.loader import duckdb_pipeline

    server = make_sim(size="tiny", burst_limit=UNTHROTTLED)
    pipeline = duckdb_pipeline(tmp_path, "counts")
    load(pipeline, api_token=server.token, base_url=server.base_url)
    with pipeline.sql_client() as client:
        client.execute_sql(f"DROP TABLE {client.make_qualified_table_name('activity_fields')}")
    counts = table_row_counts(pipeline)
    assert "activity_fields" not in counts and "activity_fields" in pipeline.default_schema.tables
    assert counts["deals"] == len(server.account.ground_truth()["deals"])
