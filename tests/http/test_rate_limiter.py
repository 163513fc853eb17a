"""`RateLimiter` pacing on a fake clock: our own window log paces us, other clients' use of the
token (what the server counts beyond our log) is left to them until the server's reset."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import pytest
import requests

from pipedrive.http.rate_limiter import (
    MARGIN_RECOVERY,
    PACE_RECOVERY,
    PACE_RECOVERY_PER_SECOND,
    FOREIGN_MEMORY_SECONDS,
    MAX_LATE_ARRIVAL,
    WINDOW_MARGIN,
    WINDOW_MARGIN_STEP,
    RateLimitedAdapter,
    RateLimiter,
    seconds_in_flight,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _answer(limiter: RateLimiter, remaining: int, limit: int = 40, reset: int = 1, elapsed: float = 0.1) -> None:
    """Feeds the limiter the `x-ratelimit-*` headers of one response."""
    limiter.update_from_headers(
        {"x-ratelimit-limit": str(limit), "x-ratelimit-remaining": str(remaining), "x-ratelimit-reset": str(reset)},
        elapsed=elapsed,
    )


def _limiter(clock: FakeClock, limit: int = 40) -> RateLimiter:
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    _answer(limiter, remaining=limit, limit=limit, reset=2, elapsed=0.0)
    return limiter


def test_a_full_window_of_our_own_waits_only_until_our_oldest_request_leaves_it() -> None:
    clock = FakeClock()
    limiter = _limiter(clock)
    for i in range(40):
        limiter.acquire()
        clock.now += 0.01
        # the server reports our own requests: remaining falls to 0 without anyone else
        _answer(limiter, remaining=39 - i, reset=2, elapsed=0.005)
    assert clock.slept == []
    limiter.acquire()  # the 41st
    waited = sum(clock.slept)
    # until the first request (sent at 1000.0) is a window (plus margin) old, not a whole reset
    assert waited == pytest.approx(1000.0 + 2.0 * (1 + WINDOW_MARGIN) - 1000.4, abs=1e-6)
    assert limiter.foreign == 0


def test_requests_of_another_client_on_the_token_shrink_our_share_until_the_reset() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, limit=20)
    limiter.acquire()
    clock.now += 0.1
    # the server counts 13 in its window, we sent 1: another client used 12
    _answer(limiter, remaining=7, limit=20)
    assert limiter.foreign == 12
    for _ in range(7):  # 20 - 12 - 1 already sent
        limiter.acquire()
    assert clock.slept == []
    limiter.acquire()  # our share is used up: wait until our own 8 leave the window
    # (not only for the server's reset in 1 s: the other client comes back in bursts, and a
    # window filled between them leaves its next burst to 429s that count toward the block)
    assert sum(clock.slept) == pytest.approx(2.0 * (1 + WINDOW_MARGIN) - 0.1, abs=1e-6)
    assert limiter.foreign == 0  # the last response's estimate expired with the reset ...
    assert limiter.requests_per_second == pytest.approx(8 / 2.0)  # ... its share is remembered


def test_another_clients_share_is_forgotten_when_it_stays_away() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, limit=20)
    _answer(limiter, remaining=8, limit=20)  # another client used 12 of 20
    assert limiter.requests_per_second == pytest.approx(8 / 2.0)
    clock.now += FOREIGN_MEMORY_SECONDS - 0.5
    _answer(limiter, remaining=20, limit=20)  # gone from the window (between its bursts)
    assert limiter.requests_per_second == pytest.approx(8 / 2.0)
    clock.now += 1.0  # not seen for FOREIGN_MEMORY_SECONDS: the whole window is ours again
    assert limiter.requests_per_second == pytest.approx(20 / 2.0)


def test_a_halted_limiter_refuses_every_caller() -> None:
    clock = FakeClock()
    limiter = _limiter(clock)
    limiter.halt(lambda: RuntimeError("daily budget spent"))
    with pytest.raises(RuntimeError, match="daily budget spent"):
        limiter.acquire()


def test_a_429_our_own_late_requests_caused_widens_the_margin_and_keeps_the_pace() -> None:
    clock = FakeClock()
    limiter = _limiter(clock)
    for _ in range(40):
        limiter.acquire()
    clock.now += 0.1
    _answer(limiter, remaining=0)  # the 429's headers: a full window, all of it ours
    limiter.on_rate_limited(1.0)
    widened_at = clock.now
    assert limiter.foreign == 0 and limiter.pace == 1.0
    assert limiter.margin == pytest.approx(WINDOW_MARGIN + WINDOW_MARGIN_STEP)
    limiter.acquire()
    assert sum(clock.slept) == pytest.approx(1.0 + 2.0 * (1 + limiter.margin) - 1.1, abs=1e-6)
    # answers without a 429 give the margin back by the second, whatever their rate
    widened = limiter.margin
    _answer(limiter, remaining=20)
    assert limiter.margin == pytest.approx(widened - MARGIN_RECOVERY * (clock.now - widened_at))
    for answers, seconds_apart in ((10, 0.1), (1000, 0.001)):  # one second at 10/s, one at 1000/s
        before = limiter.margin
        for _ in range(answers):
            clock.now += seconds_apart
            _answer(limiter, remaining=20)
        assert limiter.margin == pytest.approx(before - MARGIN_RECOVERY)
    clock.now += WINDOW_MARGIN_STEP / MARGIN_RECOVERY
    _answer(limiter, remaining=20)
    assert limiter.margin == WINDOW_MARGIN


def test_a_429_another_client_caused_halves_the_pace() -> None:
    clock = FakeClock()
    limiter = _limiter(clock)
    for _ in range(10):
        limiter.acquire()
    clock.now += 0.1
    _answer(limiter, remaining=0)  # 40 counted, 10 ours: 30 belong to someone else
    limiter.on_rate_limited(1.0)
    assert limiter.foreign == 30 and limiter.pace == 0.5 and limiter.margin == WINDOW_MARGIN


def test_429s_of_requests_already_in_flight_are_one_event() -> None:
    """At high rates a dozen requests are out when the first 429 comes back; their 429s arrive
    while everybody waits and are not repeats: one wait, one margin step, the pace kept."""
    clock = FakeClock()
    limiter = _limiter(clock, limit=480)
    for _ in range(480):
        limiter.acquire()
    clock.now += 0.1
    _answer(limiter, remaining=0, limit=480)
    for _ in range(12):  # all sent at 1000.0, before the first 429 came back
        limiter.on_rate_limited(1.0, elapsed=clock.now - 1000.0)
        clock.now += 0.01
    assert limiter.rate_limited == 12
    assert limiter.pace == 1.0 and limiter.margin == pytest.approx(WINDOW_MARGIN + WINDOW_MARGIN_STEP)
    limiter.acquire()
    assert clock.now == pytest.approx(1000.0 + 2.0 * (1 + limiter.margin), abs=1e-6)  # the window, no backoff
    limiter.on_rate_limited(1.0, elapsed=0.1)  # sent after the reaction: a repeat, which backs off
    assert limiter.pace == 0.5


@pytest.mark.parametrize("per_second", [10, 20, 240])
def test_a_halved_pace_comes_back_at_most_as_fast_as_at_growths_rate(per_second: int) -> None:
    """2% per answer at Lite's and Growth's rates; at Ultimate's 240 answers/s no faster than 40% a
    second, so another client's share has time to leave the window first."""
    clock = FakeClock()
    limiter = _limiter(clock)
    _answer(limiter, remaining=0)  # a full window that is not ours
    limiter.on_rate_limited(1.0)
    assert limiter.pace == 0.5
    for _ in range(per_second):  # one second of answers
        clock.now += 1 / per_second
        _answer(limiter, remaining=20)
    expected = min(PACE_RECOVERY * per_second, PACE_RECOVERY_PER_SECOND)
    assert limiter.pace == pytest.approx(0.5 + expected)


def test_a_waiting_listing_request_gets_the_next_slot_before_bulk_requests_that_waited_longer() -> None:
    """Real threads and clock: 2 bulk requests (per-deal children) start waiting for a full
    window, then a listing request; the first slot that frees goes to the listing."""
    limiter = RateLimiter(window=1.0)
    _answer(limiter, remaining=4, limit=4, reset=1, elapsed=0.0)
    for _ in range(4):  # 0.2 s apart: a slot frees every 0.2 s, time for the listing to take one
        limiter.acquire()
        time.sleep(0.2)
    order: list[str] = []
    lock = threading.Lock()

    def request(name: str, bulk: bool) -> None:
        with limiter.bulk() if bulk else contextlib.nullcontext():
            limiter.acquire()
        with lock:
            order.append(name)

    threads = [threading.Thread(target=request, args=(f"bulk {i}", True)) for i in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(0.05)
    threads.append(threading.Thread(target=request, args=("listing", False)))
    threads[-1].start()
    for thread in threads:
        thread.join(5)
    assert order[0] == "listing", order
    assert sorted(order) == ["bulk 0", "bulk 1", "listing"]


def test_bulk_requests_take_every_slot_when_no_listing_waits() -> None:
    clock = FakeClock()
    limiter = _limiter(clock)
    with limiter.bulk():
        for _ in range(40):
            limiter.acquire()
    assert clock.slept == []  # nothing held back for listings that are not there


def test_seconds_in_flight_leaves_out_the_wait_for_a_slot(sim_server: Any) -> None:
    """`Response.elapsed` includes the adapter's wait for the limiter; the server counted the
    request only after it, so the window estimate must use the time in flight."""
    limiter = RateLimiter(window=0.6)
    _answer(limiter, remaining=1, limit=1, reset=1, elapsed=0.0)
    limiter.acquire()  # the window is full for 0.6 s
    session = requests.Session()
    session.mount("http://", RateLimitedAdapter(limiter))
    response = session.get(f"{sim_server.base_url}/api/v1/currencies", headers={"x-api-token": sim_server.token})
    assert response.status_code == 200
    assert response.elapsed.total_seconds() >= 0.5
    assert seconds_in_flight(response) < 0.3


class WindowServer:
    """Pipedrive's burst window on the fake clock: every request (ours and another integration's)
    counts for `window` seconds from its arrival; a request beyond `limit` gets a 429."""

    def __init__(self, limit: int, window: float = 2.0) -> None:
        self.limit, self.window = limit, window
        self.arrivals: list[float] = []

    def count(self, now: float) -> int:
        self.arrivals = [t for t in self.arrivals if t > now - self.window]
        return len(self.arrivals)

    def request(self, now: float) -> bool:
        if self.count(now) >= self.limit:
            return False
        self.arrivals.append(now)
        return True


@pytest.mark.parametrize("neighbour_per_window", [12, 18, 25])
def test_a_neighbour_that_never_backs_off_cannot_drive_us_into_the_block(neighbour_per_window: int) -> None:
    """Ten simulated minutes next to an integration that fires `neighbour_per_window` requests every
    2 s whatever it gets back (25: more than the whole window). Our 429s stay rare in every 10-s span
    (Cloudflare blocks after many in a short time), and the run still makes progress."""
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    server = WindowServer(limit=20)
    latency, ours_429, served, next_burst = 0.05, [], 0, clock.now
    while clock.now < 1600.0:
        while next_burst <= clock.now:  # the neighbour's burst, on its own schedule
            for i in range(neighbour_per_window):
                server.request(next_burst + i * 0.001)
            next_burst += 2.0
        limiter.acquire()
        arrival = clock.now + latency
        if server.request(arrival):
            served += 1
            remaining = server.limit - server.count(arrival)
            limiter.update_from_headers(
                {"x-ratelimit-limit": "20", "x-ratelimit-remaining": str(remaining), "x-ratelimit-reset": "1"},
                elapsed=2 * latency,
            )
        else:
            ours_429.append(arrival)
            limiter.on_rate_limited(1.0)
        clock.now += 2 * latency
    worst = max(sum(1 for t in ours_429 if start <= t < start + 10.0) for start in ours_429) if ours_429 else 0
    assert worst <= 4, f"{worst} x 429 within 10 s"
    assert served >= 200 if neighbour_per_window < 20 else served > 0


def test_without_rate_limit_headers_the_smallest_plan_paces_us() -> None:
    """Some responses carry no `x-ratelimit-*` header at all: until one does, 20 per 2 s."""
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    for _ in range(40):
        limiter.acquire()
        limiter.update_from_headers({}, elapsed=0.0)
    assert limiter.limit is None and limiter.effective_limit == 20
    assert clock.now - 1000.0 >= 2.0  # the second 20 waited for the first to leave the window


def test_the_reset_header_is_relative_seconds() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, limit=20)
    limiter.on_rate_limited(3.0)  # x-ratelimit-reset: 3 means "in three seconds"
    limiter.acquire()
    assert sum(clock.slept) == pytest.approx(3.0, abs=1e-6)


def test_a_request_slower_than_the_fastest_counts_from_its_latest_possible_arrival() -> None:
    """A run's first burst: 40 slots taken at once, the server counted the late ones up to 0.4 s
    later (new connections). The next window's requests wait for those, not for the log's t=0."""
    clock = FakeClock()
    limiter = _limiter(clock)
    taken = [limiter.acquire() for _ in range(40)]
    assert clock.slept == [] and set(taken) == {1000.0}
    clock.now = 1000.1
    limiter.settle(taken[0], in_flight=0.1)  # the fastest: arrived at once
    clock.now = 1000.3
    for slot in taken[1:20]:
        limiter.settle(slot, in_flight=0.3)  # 0.2 s slower: counted at 1000.2 at the latest
    clock.now = 1001.0
    for slot in taken[20:]:
        limiter.settle(slot, in_flight=1.0)  # slower still: moved by MAX_LATE_ARRIVAL only
    assert limiter.fastest == pytest.approx(0.1)
    limiter.acquire()  # the first one left the window: one slot free at the window's end
    assert clock.now == pytest.approx(1000.0 + 2.0 * (1 + WINDOW_MARGIN))
    for _ in range(19):
        limiter.acquire()  # the next 19 count until 0.2 s later
    assert clock.now == pytest.approx(1000.2 + 2.0 * (1 + WINDOW_MARGIN))
    limiter.acquire()
    assert clock.now == pytest.approx(1000.0 + MAX_LATE_ARRIVAL + 2.0 * (1 + WINDOW_MARGIN))


def test_a_request_as_fast_as_the_fastest_keeps_its_place() -> None:
    clock = FakeClock()
    limiter = _limiter(clock)
    taken = [limiter.acquire() for _ in range(40)]
    clock.now = 1000.1
    for slot in taken:
        limiter.settle(slot, in_flight=0.1)
    limiter.acquire()
    assert clock.now == pytest.approx(1000.0 + 2.0 * (1 + WINDOW_MARGIN))


def test_requests_after_the_first_window_keep_their_place() -> None:
    """Later requests go over open connections: a slow answer is the server's work, not a late
    arrival, and settling it would waste the window."""
    clock = FakeClock()
    limiter = _limiter(clock)
    limiter.settle(limiter.acquire(), in_flight=0.1)
    clock.now = 1003.0  # past the first window
    taken = [limiter.acquire() for _ in range(39)]
    clock.now = 1003.5
    for slot in taken:
        limiter.settle(slot, in_flight=0.5)
    clock.now = 1004.0
    limiter.acquire()
    limiter.acquire()  # the 41st of the window: waits for the 1003.0 ones, not for 1003.4
    assert clock.now == pytest.approx(1003.0 + 2.0 * (1 + WINDOW_MARGIN))
