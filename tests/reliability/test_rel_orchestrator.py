"""The run protocol called the way an orchestrator calls it - a plain function in a fresh process,
on a worker whose local pipeline folder is wiped between calls - survives a `kill -9` in the middle
and ends equal to the ground truth, full and incremental."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path
from typing import Callable

import pytest

from ._harness import PipelineRunner, SimProcess
from ._truth import assert_destination_equals_truth
from .test_rel_kill_resume import PAGE_SIZE, mutate

TASK = Path(__file__).resolve().parent / "orchestrator_task.py"


def test_plain_call_killed_then_called_again_on_a_wiped_worker_equals_ground_truth(
    start_sim: Callable[..., SimProcess], make_runner: Callable[..., PipelineRunner], monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = start_sim()
    runner = make_runner(sim, name="orchestrator", SOURCES__PIPEDRIVE__PAGE_SIZE=PAGE_SIZE)
    runner.script = TASK

    killed = runner.run_with_hook("chunk 1 loaded", lambda process: os.kill(process.pid, signal.SIGKILL))
    assert killed.returncode == -signal.SIGKILL
    shutil.rmtree(runner.pipelines_dir)  # a fresh worker: the state comes back from the destination

    done = runner.run()
    assert done.returncode == 0, done.stderr[-2000:]
    assert "chunk(s)" in done.stdout
    assert_destination_equals_truth(runner, monkeypatch, sim.ground_truth())

    mutate(sim)
    shutil.rmtree(runner.pipelines_dir)
    incremental = runner.run()
    assert incremental.returncode == 0, incremental.stderr[-2000:]
    assert_destination_equals_truth(runner, monkeypatch, sim.ground_truth())
