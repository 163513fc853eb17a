"""docs/destinations/cron.md: the incremental state lives in the destination too.

Run, delete the local pipelines folder (a new container / wiped worker), change the account, run
again: dlt restores the cursors from `_dlt_pipeline_state` and the second run is incremental.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Callable

import dlt
import pytest

from pipedrive import pipedrive_source

from tests.helpers.ground_truth import as_utc, assert_matches_ground_truth, mutate

UNTHROTTLED = 1_000_000


def make_pipeline(tmp_path: Path) -> Any:
    return dlt.pipeline(
        pipeline_name="pipedrive",
        destination=dlt.destinations.duckdb(str(tmp_path / "pipedrive.duckdb")),
        dataset_name="pipedrive_data",
        pipelines_dir=str(tmp_path / "pipelines"),
    )


def run(pipeline: Any, server: Any) -> None:
    source = pipedrive_source(api_token=server.token, base_url=server.base_url)
    assert not pipeline.run(source, loader_file_format="jsonl").has_failed_jobs


def deal_cursor(pipeline: Any) -> Any:
    inc = pipeline.state["sources"]["pipedrive"]["resources"]["deals"]["incremental"]["update_time"]
    return as_utc(inc["last_value"])


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("restore", [True, False], ids=["restored", "control_no_restore"])
def test_incremental_continues_after_local_state_is_lost(
    make_sim: Callable[..., Any], tmp_path: Path, restore: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipedrive_sim import Account

    account = Account.generate(size="tiny", seed=1)
    server = make_sim(account=account, burst_limit=UNTHROTTLED)
    first = make_pipeline(tmp_path)
    run(first, server)
    cursor = deal_cursor(first)
    first_run_requests = len(server.log)

    shutil.rmtree(tmp_path / "pipelines")  # the local state is gone, the destination keeps it
    done = mutate(account)
    server.reset_log()
    # cron.md's [pipelines.pipedrive] restore_from_destination (default true), as an env var
    monkeypatch.setenv("PIPELINES__PIPEDRIVE__RESTORE_FROM_DESTINATION", str(restore).lower())
    second = make_pipeline(tmp_path)
    assert second.config.restore_from_destination is restore
    run(second, server)

    deal_calls = [e for e in server.log if e.path == "/api/v2/deals"]
    assert deal_calls
    if restore:
        # the cursor came back from _dlt_pipeline_state: only changes were requested
        sent = [as_utc(e.params.get("updated_since")) for e in deal_calls]
        assert sent == [cursor] * len(deal_calls), (sent, cursor)
        assert len(server.log) < first_run_requests
        assert deal_cursor(second) > cursor
        assert_matches_ground_truth(
            second, account.ground_truth(), missing_ok={"persons": done["persons_deleted"]}
        )
    else:
        # control: without the restore the second run starts from scratch (full reload)
        sent = [as_utc(e.params.get("updated_since")) for e in deal_calls]
        assert all(since is None or since < cursor for since in sent), (sent, cursor)
        assert len(server.log) >= first_run_requests
