"""Burst rate limits: one limiter shared by every (parallel) request of a run keeps inside the
window; 429s caused by someone else slow the run down instead of earning the Cloudflare block;
and the block itself, if it comes, is one clear line."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict

import pytest

from pipedrive.http.client import PipedriveClient
from pipedrive.entities import ApiVersion

from ._harness import PipelineRunner, SimProcess
from ._truth import assert_deals_equal_truth
from .test_rel_http_errors import assert_one_line_failure

CHILD_TABLES = ("deal_participants", "deal_followers", "deal_changes")
CHILDREN = ("--resources", ",".join(["deals", "deals_archived", *CHILD_TABLES, *(f"{c}_archived" for c in CHILD_TABLES)]))


def _report(capsys: Any, label: str, stats: Dict[str, Any], seconds: float) -> None:
    with capsys.disabled():
        print(
            f"\n[{label}] {stats['requests']} requests, {stats['responses_429']} x 429, "
            f"{stats['blocked_403']} x 403 block, {seconds:.1f} s"
        )


def test_parallel_requests_of_one_client_stay_inside_the_window(
    start_sim: Callable[..., SimProcess], token: str, capsys: Any
) -> None:
    sim = start_sim(burst_limit=10)
    client = PipedriveClient(token, sim.base_url)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda _: client.get("/users/me", api=ApiVersion.V1, token_cost=2), range(40)))
    seconds = time.monotonic() - started
    stats = sim.stats()
    _report(capsys, "8 threads, 40 requests, limit 10/2 s", stats, seconds)
    assert stats["responses_429"] <= 1  # at most the one burst before the first answer
    assert seconds >= 5.5  # 40 requests at 10 per 2 s cannot take less than ~6 s
    assert client.rate_limiter.limit == 10 and client.rate_limiter.waits > 0


def test_children_fan_out_under_a_low_burst_limit_without_429s(
    start_sim: Callable[..., SimProcess], make_runner: Callable[..., PipelineRunner], capsys: Any
) -> None:
    sim = start_sim(burst_limit=20, abuse_threshold=5)
    runner = make_runner(sim)
    result = runner.run(*CHILDREN)
    assert result.returncode == 0, result.stderr[-2000:]
    stats = sim.stats()
    _report(capsys, "children fan-out, limit 20/2 s", stats, result.seconds)
    assert stats["responses_429"] <= 2 and stats["blocked_403"] == 0
    assert stats["requests"] >= 60  # really fanned out (about 3 requests per deal)


def _steady_neighbour(sim: SimProcess, token: str, stop: threading.Event, per_window: int) -> int:
    """Another integration on the same token: `per_window` requests every 2 s, never more."""
    sent = 0
    while not stop.is_set():
        window_start = time.monotonic()
        for _ in range(per_window):
            request = urllib.request.Request(f"{sim.base_url}/api/v1/users/me", headers={"x-api-token": token})
            try:
                urllib.request.urlopen(request, timeout=5).read()
            except urllib.error.HTTPError:
                pass
            sent += 1
        stop.wait(max(0.0, 2.05 - (time.monotonic() - window_start)))
    return sent


def test_429s_from_a_shared_token_slow_the_run_down_and_it_completes_exactly(
    start_sim: Callable[..., SimProcess], make_runner: Callable[..., PipelineRunner],
    monkeypatch: pytest.MonkeyPatch, token: str, capsys: Any,
) -> None:
    sim = start_sim(burst_limit=20, abuse_threshold=15, abuse_window_s=10)
    runner = make_runner(sim, RUNTIME__REQUEST_MAX_ATTEMPTS="8", RUNTIME__REQUEST_MAX_RETRY_DELAY="3")
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as pool:
        neighbour = pool.submit(_steady_neighbour, sim, token, stop, 12)
        result = runner.run(*CHILDREN)
        stop.set()
        neighbour.result()
    assert result.returncode == 0, result.stderr[-2000:]
    stats = sim.stats()
    _report(capsys, "shared token: neighbour 12/2 s + pipeline, limit 20/2 s", stats, result.seconds)
    assert stats["blocked_403"] == 0  # never hammered into the Cloudflare block
    assert stats["responses_429"] <= 30  # both clients' 429s, spread over the run
    assert_deals_equal_truth(runner, monkeypatch, sim.ground_truth(), CHILD_TABLES)


def test_cloudflare_block_is_one_line_that_says_wait(
    start_sim: Callable[..., SimProcess], make_runner: Callable[..., PipelineRunner], token: str
) -> None:
    sim = start_sim(burst_limit=1, abuse_threshold=2, abuse_cooldown_s=60)
    for _ in range(5):  # somebody ignored the 429s
        request = urllib.request.Request(f"{sim.base_url}/api/v1/users/me", headers={"x-api-token": token})
        try:
            urllib.request.urlopen(request, timeout=5).read()
        except urllib.error.HTTPError:
            pass
    result = make_runner(sim).run()
    assert_one_line_failure(result, "403", "Cloudflare blocked", "wait", "other integrations")
