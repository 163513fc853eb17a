"""Bad configuration and bad input: `pipedrive_pipeline.py` exits non-zero with one line that
says what to fix, before loading anything, and never echoes the token."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, List, Tuple

import pytest

from ._harness import PipelineRunner, SimProcess
from .test_rel_http_errors import assert_one_line_failure

# case -> (extra args, env overrides, exit code, words of the message)
CASES: Dict[str, Tuple[List[str], Dict[str, str], int, Tuple[str, ...]]] = {
    "missing token": ([], {"SOURCES__PIPEDRIVE__API_TOKEN": ""}, 2, ("api_token", "SOURCES__PIPEDRIVE__API_TOKEN")),
    "malformed token": ([], {"SOURCES__PIPEDRIVE__API_TOKEN": "has spaces in it"}, 2, ("api_token is malformed",)),
    "wrong token": ([], {"SOURCES__PIPEDRIVE__API_TOKEN": "wrongtoken0123456789abcdef"}, 1, ("401", "SOURCES__PIPEDRIVE__API_TOKEN")),
    "unknown resource": (["--resources", "deals,dealz"], {}, 2, ("unknown table(s) dealz", "choose from")),
    "bad start date": (["--start-date", "2024-02-31"], {}, 2, ("--start-date '2024-02-31' is not a date", "YYYY-MM-DD")),
    "unreachable host": ([], {"SOURCES__PIPEDRIVE__BASE_URL": "http://127.0.0.1:9"}, 1, ("unreachable", "127.0.0.1:9", "connection refused", "base_url")),
    "malformed base url": ([], {"SOURCES__PIPEDRIVE__BASE_URL": "ftp://x"}, 2, ("base_url", "malformed")),
    "unknown destination": (["--destination", "duckdbb"], {}, 2, ("unknown destination 'duckdbb'", "duckdb")),
    "secret in the base url": ([], {"SOURCES__PIPEDRIVE__BASE_URL": "http://127.0.0.1:9/?api_token=secret42"}, 2,
                               ("base_url (http://127.0.0.1...) is malformed", "api_token")),
    "unknown history table": ([], {"SOURCES__PIPEDRIVE__HISTORY": '["dealz"]'}, 2,
                              ("history: dealz cannot keep history", "choose from")),
    "unknown refresh table": ([], {"SOURCES__PIPEDRIVE__REFRESH_HOURS": '{"userz": 1}'}, 2,
                              ("refresh_hours: userz is not a table read whole", "users")),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_configuration_is_one_line(
    case: str, start_sim: Callable[..., SimProcess], make_runner: Callable[..., PipelineRunner]
) -> None:
    args, env, code, needles = CASES[case]
    sim = start_sim()
    runner = make_runner(sim)
    result = runner.run(*args, **env)
    assert_one_line_failure(result, *needles, code=code)
    assert "secret42" not in result.stdout + result.stderr
    assert not runner.duckdb_path.exists()  # nothing was loaded
    assert sim.stats()["requests"] <= 1  # at most the one preflight request


def test_unwritable_duckdb_path_is_one_line(
    tmp_path: Path, start_sim: Callable[..., SimProcess], make_runner: Callable[..., PipelineRunner]
) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")  # works as root too, unlike a read-only directory
    path = str(blocker / "x.duckdb")
    runner = make_runner(start_sim(), DESTINATION__DUCKDB__CREDENTIALS=path)
    line = assert_one_line_failure(runner.run(), "cannot open the destination database", "DESTINATION__DUCKDB__CREDENTIALS", code=2)
    assert path in line
