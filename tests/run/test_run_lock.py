"""The run lock: a second run of a pipeline gives up at once (or waits) while another holds it, and
the lock of a killed process is taken over at once. The holder is a real second process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipedrive.run.lock import RunInProgressError, lock_path, run_lock

REPO = Path(__file__).resolve().parents[2]
HOLDER = """
import sys, time
from pipedrive.run.lock import run_lock
with run_lock(sys.argv[1], "pipedrive"):
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _hold(pipelines_dir: Path, seconds: float) -> "subprocess.Popen[str]":
    """A process that takes the lock, says so, and keeps it `seconds`."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(pipelines_dir), str(seconds)],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, text=True,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "locked"
    return process


def test_a_second_run_gives_up_at_once_naming_the_holder(tmp_path: Path) -> None:
    holder = _hold(tmp_path, 60)
    try:
        started = time.monotonic()
        with pytest.raises(RunInProgressError, match=rf"pid {holder.pid} on .*, since 20\d\d-"):
            with run_lock(str(tmp_path), "pipedrive"):
                pass
        assert time.monotonic() - started < 10
    finally:
        holder.kill()
        holder.wait()


def test_the_lock_of_a_killed_run_is_taken_over(tmp_path: Path) -> None:
    holder = _hold(tmp_path, 60)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert Path(lock_path(str(tmp_path), "pipedrive")).exists()  # the file stays, the lock does not
    with run_lock(str(tmp_path), "pipedrive"):
        pass


def test_waiting_for_the_lock_runs_once_the_holder_ends(tmp_path: Path) -> None:
    holder = _hold(tmp_path, 1)
    with run_lock(str(tmp_path), "pipedrive", wait_seconds=60):
        assert holder.wait(timeout=60) == 0  # the holder had finished before the lock was ours


def test_nested_takes_in_one_process_share_the_lock(tmp_path: Path) -> None:
    with run_lock(str(tmp_path), "pipedrive"):
        with run_lock(str(tmp_path), "pipedrive"):
            pass
        # still held by the outer block: another process cannot take it
        probe = subprocess.run(
            [sys.executable, "-c", "import sys\nfrom pipedrive.run.lock import run_lock\n"
             "try:\n    run_lock(sys.argv[1], 'pipedrive').__enter__()\nexcept Exception as e:\n    print(type(e).__name__)",
             str(tmp_path)],
            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=60,
        )
        assert probe.stdout.strip() == "RunInProgressError"
