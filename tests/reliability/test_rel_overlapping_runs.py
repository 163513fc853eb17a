"""Two runs of the command line started close together on one pipeline folder (cron without
`flock`, a manual run during a scheduled one): the second exits 4 at once with one line naming the
first, or runs after it; never a stuck pipeline. Ten rounds with random delays between the two
starts, each followed by one more run that must complete and leave the destination equal to the
simulator's ground truth."""

from __future__ import annotations

import random
import time
from typing import Callable

import pytest

from ._harness import PipelineRunner, SimProcess
from ._truth import assert_destination_equals_truth
from .test_rel_kill_resume import PAGE_SIZE, mutate

ROUNDS = 10


def test_overlapping_runs_never_leave_a_pipeline_a_later_run_cannot_complete(
    start_sim: Callable[..., SimProcess], make_runner: Callable[..., PipelineRunner], monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = start_sim()
    runner = make_runner(sim, name="overlap", SOURCES__PIPEDRIVE__PAGE_SIZE=PAGE_SIZE)
    rng = random.Random(7)
    refused = 0
    for round_ in range(ROUNDS):
        if round_:
            mutate(sim)
        first = runner.start("--chunk-pages", "1")
        time.sleep(rng.uniform(0.0, 1.5))
        second = runner.start("--chunk-pages", "1")
        results = [runner.finish(first), runner.finish(second)]
        for result in results:
            assert result.returncode in (0, 4), result.stderr[-2000:]
            if result.returncode == 4:
                refused += 1
                assert len(result.error_lines) == 1, result.stderr[-2000:]
                assert "another run of pipeline 'pipedrive' is in progress (pid " in result.error_lines[0]
        after = runner.run()
        assert after.returncode == 0, after.stderr[-2000:]
        assert_destination_equals_truth(runner, monkeypatch, sim.ground_truth())
    assert refused >= ROUNDS // 2  # most rounds really overlapped
