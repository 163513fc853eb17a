"""How many requests a run keeps in flight (`in_flight_target`) and the pool that follows it
(`FanOut`, `deliver`): sized from the limiter's limit and latency, on the limiter's fake clock or
with jobs that wait on events (no timing luck)."""

from __future__ import annotations

import threading
from typing import Any, Callable, List, Optional

import pytest

from pipedrive.http.concurrency import BURST_SECONDS, MAX_IN_FLIGHT, FanOut, deliver, in_flight_target
from pipedrive.http.rate_limiter import RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _limiter(clock: FakeClock, limit: int, latency: float) -> RateLimiter:
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    limiter.update_from_headers(
        {"x-ratelimit-limit": str(limit), "x-ratelimit-remaining": str(limit), "x-ratelimit-reset": "2"},
        elapsed=latency,
    )
    return limiter


def _fill_window(limiter: RateLimiter) -> None:
    while limiter.free_in_window:
        limiter.acquire()


@pytest.mark.parametrize(
    "limit, latency, expected",
    [
        (20, 0.1, 4),  # Lite: 10/s x 0.1 s x 1.25 + 2
        (40, 0.1, 5),  # Growth
        (480, 0.1, 32),  # Ultimate with OAuth: 240/s x 0.1 s x 1.25 + 2
        (480, 0.2, 62),
        (480, 1.0, MAX_IN_FLIGHT),
    ],
)
def test_a_full_window_keeps_rate_times_latency_in_flight(limit: int, latency: float, expected: int) -> None:
    clock = FakeClock()
    limiter = _limiter(clock, limit, latency)
    _fill_window(limiter)
    assert in_flight_target(limiter) == expected


def test_a_free_window_is_used_within_the_burst_time() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, 480, 0.1)
    assert in_flight_target(limiter) == MAX_IN_FLIGHT  # 480 free x 0.1 s / 0.5 s = 96, capped
    for _ in range(400):
        limiter.acquire()
    assert in_flight_target(limiter) == 32  # 80 free: 16 for the burst, the sustained 32 wins
    lite = _limiter(FakeClock(), 20, 0.1)
    assert in_flight_target(lite) == max(4, round(20 * 0.1 / BURST_SECONDS))  # Lite stays gentle


def test_the_target_follows_the_latency_during_a_run() -> None:
    """A latency that rises from 100 ms to 400 ms is mostly learned within 30 responses."""
    clock = FakeClock()
    limiter = _limiter(clock, 480, 0.1)
    _fill_window(limiter)
    before = in_flight_target(limiter)
    for _ in range(30):
        limiter.update_from_headers({}, elapsed=0.4)
    assert before == 32 and in_flight_target(limiter) == MAX_IN_FLIGHT
    for _ in range(60):
        limiter.update_from_headers({}, elapsed=0.1)
    assert in_flight_target(limiter) <= 34


class Gate:
    """Jobs that block until released, counting how many run at once."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.running = 0
        self.peak = 0
        self.started = threading.Semaphore(0)

    def job(self, value: Any) -> Callable[[], Any]:
        def run() -> Any:
            with self.lock:
                self.running += 1
                self.peak = max(self.peak, self.running)
            self.started.release()
            self.release.wait(10)
            with self.lock:
                self.running -= 1
            return value

        return run


def test_the_pool_runs_as_many_jobs_at_once_as_its_target() -> None:
    target = [3]
    pool = FanOut(lambda: target[0])
    gate = Gate()
    futures = [pool.submit(gate.job(i)) for i in range(10)]
    for _ in range(3):
        assert gate.started.acquire(timeout=5)
    assert not gate.started.acquire(timeout=0.2)  # a fourth does not start
    assert gate.peak == 3 and pool.workers == 3
    target[0] = 6  # e.g. the latency rose: the pool grows as jobs finish
    gate.release.set()
    assert [f.result(5) for f in futures] == list(range(10))
    assert gate.peak <= 6 and pool.peak_workers <= 6


def test_deliver_yields_none_while_waiting_and_raises_a_jobs_error_in_the_consumer() -> None:
    pool = FanOut(lambda: 4)
    gate = Gate()
    both_delivered = threading.Event()

    def failing() -> Any:
        both_delivered.wait(10)
        raise ValueError("HTTP 500")

    jobs = iter([gate.job("a"), gate.job("b"), failing])
    delivered = deliver(jobs, pool, lambda: 3)
    assert next(delivered) is None  # nothing done yet: dlt's loop serves other sources
    gate.release.set()
    results: List[Optional[str]] = []
    with pytest.raises(ValueError, match="HTTP 500"):
        for item in delivered:
            results.append(item)
            if sorted(r for r in results if r is not None) == ["a", "b"]:
                both_delivered.set()
    assert sorted(r for r in results if r is not None) == ["a", "b"]


def test_deliver_takes_jobs_only_as_it_submits_them() -> None:
    """At most `pending` jobs are taken ahead of their results: the queue and the token budget
    behind the job iterator are drained only as fast as the requests go."""
    pool = FanOut(lambda: 8)
    gate = Gate()
    taken: List[int] = []

    def jobs() -> Any:
        for i in range(20):
            taken.append(i)
            yield gate.job(i)

    delivered = deliver(jobs(), pool, lambda: 3)
    assert next(delivered) is None
    assert len(taken) == 3
    gate.release.set()
    assert sorted(item for item in delivered if item is not None) == list(range(20))
