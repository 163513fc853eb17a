"""Fixtures of the fault-injection suite (`make test-faults`): a simulator process per test,
pipeline processes under `tmp_path`, and a token scan of everything they left behind."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, List, Optional

import pytest

from ._harness import PipelineRunner, SimProcess
from ._leaks import assert_token_nowhere

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: List[pytest.Item]) -> None:
    """Marks every test of this folder `faults`."""
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.faults)


@pytest.fixture
def token() -> str:
    """A token unique to the test, so a scan can find any copy of it."""
    return "rel" + secrets.token_hex(18)


@pytest.fixture
def start_sim(token: str) -> Iterator[Callable[..., SimProcess]]:
    """Factory: `start_sim(size="tiny", **cli_options)` -> a running simulator process."""
    started: List[SimProcess] = []

    def factory(size: str = "tiny", **options: Any) -> SimProcess:
        options.setdefault("burst_limit", 1_000_000)
        sim = SimProcess(token, size=size, **options)
        started.append(sim)
        return sim

    yield factory
    for sim in started:
        sim.stop()


@pytest.fixture
def make_runner(tmp_path: Path, token: str) -> Iterator[Callable[..., PipelineRunner]]:
    """Factory: `make_runner(sim, **env)` -> a `PipelineRunner` with its own directories.

    After the test, every output, file and table the runs produced is searched for the token.
    """
    runners: List[tuple] = []

    def factory(sim: Optional[SimProcess], name: str = "run", token_override: Optional[str] = None, **env: str) -> PipelineRunner:
        base_url = sim.base_url if sim is not None else "http://127.0.0.1:9"
        runner = PipelineRunner.create(tmp_path / name, token_override or token, base_url, **env)
        runners.append((runner, token_override))
        return runner

    yield factory
    for runner, other_token in runners:
        for secret in filter(None, (token, other_token)):
            assert_token_nowhere(secret, runner.transcripts, runner.data_dir, runner.duckdb_path)
