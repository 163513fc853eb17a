"""PostgreSQL as a second real destination: the `small` simulated account, then an incremental
update with deletes, compared row by row with the simulator's ground truth.

Needs a running server: `PIPEDRIVE_TEST_POSTGRES=postgresql://loader:loader@127.0.0.1:5432/pipedrive_test`
(`.ci/setup_services.sh` installs, starts and prints it). Skipped locally without it, failed in CI.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import dlt
import pytest

from pipedrive import pipedrive_source
from pipedrive.run.destination import loader_file_format

from tests.helpers.ground_truth import assert_matches_ground_truth, as_utc, mutate, require_service

UNTHROTTLED = 1_000_000


@pytest.fixture
def postgres_url() -> str:
    return require_service("PIPEDRIVE_TEST_POSTGRES", "no PostgreSQL server for the destination tests")


@pytest.fixture
def pg_pipeline(postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Any]]:
    """Factory of pipelines into fresh Postgres schemas; the schemas are dropped afterwards."""
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    monkeypatch.chdir(tmp_path)
    created: list[Any] = []

    def factory(name: str = "pipedrive_pg") -> Any:
        pipeline = dlt.pipeline(
            pipeline_name=name,
            destination=dlt.destinations.postgres(postgres_url),
            dataset_name=f"pd_test_{uuid.uuid4().hex[:10]}",
            pipelines_dir=str(tmp_path / "pipelines"),
        )
        created.append(pipeline)
        return pipeline

    yield factory
    for pipeline in created:
        with pipeline.sql_client() as client:
            for schema in (pipeline.dataset_name, f"{pipeline.dataset_name}_staging"):
                client.execute_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def run(pipeline: Any, server: Any, **source_kwargs: Any) -> Any:
    source = pipedrive_source(api_token=server.token, base_url=server.base_url, **source_kwargs)
    # the same loader format pipedrive_pipeline.py picks for Postgres (its lossless default)
    info = pipeline.run(source, loader_file_format=loader_file_format(pipeline))
    assert not info.has_failed_jobs
    return info


def column_types(pipeline: Any, table: str) -> dict[str, str]:
    with pipeline.sql_client() as client:
        rows = client.execute_sql(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = %s AND table_name = %s",
            pipeline.dataset_name, table,
        )
    return dict(rows)


def assert_postgres_types(pipeline: Any) -> None:
    """Real Postgres types, not text: timestamps, numerics, booleans, jsonb for lists."""
    deals = column_types(pipeline, "deals")
    assert deals["update_time"] == "timestamp with time zone"
    assert deals["value"] == "numeric"
    assert deals["is_deleted"] == "boolean"
    assert deals["label_ids"] == "jsonb"
    assert column_types(pipeline, "persons")["emails"] == "jsonb"


def assert_deal_followers(pipeline: Any, truth: dict[str, list[dict[str, Any]]]) -> None:
    """A deal child table: (deal, follower) pairs of the API, each once.

    The source spends at most `max_tokens_per_run` on per-deal child requests and continues with
    the remaining deals in the next run, so one run of the small account holds a subset.
    """
    with pipeline.sql_client() as client:
        table = client.make_qualified_table_name("deal_followers")
        rows = client.execute_sql(f"SELECT deal_id, user_id FROM {table}")
    assert len(rows) == len(set(rows))
    expected = {(r["deal_id"], r["user_id"]) for r in truth["deal_followers"]}
    assert rows and set(rows) <= expected, sorted(set(rows) - expected)[:5]


@pytest.mark.parametrize("hard_delete", [False, True], ids=["soft_delete", "hard_delete"])
def test_small_account_then_incremental_with_deletes(
    make_sim: Callable[..., Any], pg_pipeline: Callable[..., Any], hard_delete: bool
) -> None:
    from pipedrive_sim import Account

    account = Account.generate(size="small", seed=1)
    server = make_sim(account=account, burst_limit=UNTHROTTLED)
    pipeline = pg_pipeline()

    run(pipeline, server, hard_delete=hard_delete)
    # dlt loads Postgres csv with COPY ... FORCE_NULL: "" arrives as NULL (a deal with title "")
    csv = loader_file_format(pipeline) == "csv"
    compared = assert_matches_ground_truth(
        pipeline, account.ground_truth(), hard_delete=hard_delete, empty_is_null=csv
    )
    assert compared["deals"] >= 300 and compared["activities"] >= 1000  # really the small account
    assert_postgres_types(pipeline)
    assert_deal_followers(pipeline, account.ground_truth())
    first_run_requests = len(server.log)
    deals_cursor = as_utc(
        pipeline.state["sources"]["pipedrive"]["resources"]["deals"]["incremental"]["update_time"]["last_value"]
    )

    done = mutate(account)
    server.reset_log()
    run(pipeline, server, hard_delete=hard_delete)

    truth = account.ground_truth()
    # persons deleted in Pipedrive vanish from the API: an incremental load cannot see that
    assert_matches_ground_truth(
        pipeline, truth, hard_delete=hard_delete, missing_ok={"persons": done["persons_deleted"]},
        empty_is_null=csv,
    )
    # the second run was incremental: deals were asked for with updated_since = last cursor
    deal_calls = [e for e in server.log if e.path == "/api/v2/deals"]
    assert deal_calls and all("updated_since" in e.params for e in deal_calls)
    assert {as_utc(e.params["updated_since"]) for e in deal_calls} <= {deals_cursor}
    assert len(server.log) < first_run_requests
    with pipeline.sql_client() as client:
        deals = client.make_qualified_table_name("deals")
        deleted = client.execute_sql(
            f"SELECT id, is_deleted, status FROM {deals} WHERE id IN ({','.join(map(str, done['deals_deleted']))})"
        )
        archived = client.execute_sql(
            f"SELECT is_archived FROM {deals} WHERE id = {done['deals_archived'][0]}"
        )
    if hard_delete:
        assert deleted == []
    else:
        assert sorted(deleted) == [(i, True, "deleted") for i in sorted(done["deals_deleted"])]
    assert archived == [(True,)]
