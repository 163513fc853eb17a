"""How many requests a run keeps in flight, and the pool that runs the independent ones.

The burst limit caps the rate (`x-ratelimit-limit` per 2-s window: 20 on Lite to 480 on Ultimate
with OAuth), the latency decides how many requests that rate needs in flight: by Little's law,
`in flight = rate x time in flight`. At 100 ms, Lite needs one request in flight and Ultimate
with OAuth 24 (a window with free slots calls for more for a moment: `BURST_SECONDS`); a fixed pool is either too small for the high plans (dlt's 5 extract workers capped
every plan at ~39 requests/s, bench/RESULTS.md #6) or idles threads that only wait for the
limiter on the low ones. `in_flight_target` therefore sizes from what the `RateLimiter` learned:
the limit (at its current pace, without another client's share) and the moving average of the
time in flight of the run's responses. Nothing is configured.

`FanOut` runs independent requests (the per-deal children) in threads of its own, as many as
`in_flight_target` says. It is a pool of its own rather than dlt's extract pool because dlt's
pool has a fixed size (`[extract] workers`) and a fixed number of pending items
(`max_parallel_items`): the children queued there also delayed the listings' pages. The pool
re-reads its target before every job, so it follows the limiter through a run: a latency that
grows mid-run adds threads within a few responses (`LATENCY_WEIGHT`), one that falls lets
threads leave after their job, a 429 that halves the pace halves the threads, and a pool with
nothing to do ends its threads (`IDLE_SECONDS`). The rate itself stays the limiter's job: a
thread more than needed waits for a slot in the window, it does not send early.
"""

import contextvars
import math
import queue
import threading
from collections import deque
from concurrent.futures import Future
from typing import Any, Callable, Deque, Iterator, Optional, Tuple, TypeVar

from .rate_limiter import RateLimiter

T = TypeVar("T")

HEADROOM = 0.25
"""Share of requests in flight beyond Little's law: the time a job spends outside the request
(parsing, shaping, waiting for the interpreter) and the latency's spread."""
SPARE = 2
"""Requests in flight beyond that: a slow response does not leave the window unused."""
BURST_SECONDS = 0.5
"""The free part of the window is to be used within this time: a run that starts (or resumes
after a pause) on an empty window of 480 requests sends its first few hundred in a few round
trips instead of at the sustained pace, which is most of a short incremental run."""
MAX_IN_FLIGHT = 64
"""Upper bound of the target: Ultimate with OAuth (240 requests/s) at 200 ms needs ~62."""
IDLE_SECONDS = 1.0
"""A pool thread with no job for this long ends (a new job starts a new one)."""


def in_flight_target(limiter: RateLimiter) -> int:
    """Requests to keep in flight so the window is used fully: rate x latency, with headroom,
    or more while the window has room for a burst (its free slots within `BURST_SECONDS`).

    Args:
        limiter: The run's limiter (its rate, free slots and the measured time in flight).

    Returns:
        Between 1 and `MAX_IN_FLIGHT`.
    """
    latency = limiter.expected_latency
    sustained = math.ceil(limiter.requests_per_second * latency * (1 + HEADROOM)) + SPARE
    burst = math.ceil(limiter.free_in_window * latency / BURST_SECONDS)
    return max(1, min(MAX_IN_FLIGHT, max(sustained, burst)))


class FanOut:
    """A thread pool whose size follows a target read before every job.

    Args:
        target: Returns how many jobs may run at once (e.g. `in_flight_target` of the limiter).
        name: Prefix of the threads' names.

    Attributes:
        peak_workers: The most threads that ran at once (for tests and benchmarks).
    """

    def __init__(self, target: Callable[[], int], name: str = "pipedrive-fan-out") -> None:
        self._target = target
        self._name = name
        self._jobs: Deque[Tuple[Callable[[], Any], "Future[Any]"]] = deque()
        self._cond = threading.Condition()
        self._workers = 0
        self._busy = 0
        self._started = 0
        self.peak_workers = 0

    def submit(self, job: Callable[[], T]) -> "Future[T]":
        """Queues `job` (run with the caller's context variables, as dlt's pool does)."""
        future: "Future[T]" = Future()
        context = contextvars.copy_context()
        with self._cond:
            self._jobs.append((lambda: context.run(job), future))
            self._grow()
            self._cond.notify()
        return future

    @property
    def workers(self) -> int:
        """Threads running now."""
        with self._cond:
            return self._workers

    def _grow(self) -> None:
        """Starts threads up to the target (only as many as there is work for). Lock held."""
        wanted = min(self._target(), self._busy + len(self._jobs))
        while self._workers < wanted:
            self._workers += 1
            self._started += 1
            self.peak_workers = max(self.peak_workers, self._workers)
            threading.Thread(target=self._work, name=f"{self._name}-{self._started}", daemon=True).start()

    def _next_job(self) -> Optional[Tuple[Callable[[], Any], "Future[Any]"]]:
        """The next job, or None when this thread should end (idle, or above the target)."""
        with self._cond:
            while not self._jobs:
                if not self._cond.wait(IDLE_SECONDS) and not self._jobs:
                    self._workers -= 1
                    return None
            if self._workers > self._target():
                self._workers -= 1
                self._cond.notify()  # the job stays queued for a thread that stays
                return None
            self._busy += 1
            return self._jobs.popleft()

    def _work(self) -> None:
        while True:
            taken = self._next_job()
            if taken is None:
                return
            job, future = taken
            try:
                if future.set_running_or_notify_cancel():
                    try:
                        result = job()
                    except BaseException as error:  # noqa: BLE001 - handed to the future's owner
                        future.set_exception(error)
                    else:
                        future.set_result(result)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._grow()  # the target may have grown meanwhile (a slower API)


def deliver(jobs: Iterator[Callable[[], T]], pool: FanOut, pending: Callable[[], int]) -> Iterator[Optional[T]]:
    """Runs `jobs` on `pool`, at most `pending()` at a time, and yields their results as they
    complete; yields None while none is ready.

    Made for the body of a dlt transformer: dlt's extract loop takes a None from a generator as
    "nothing yet" and serves its other sources (listings, other transformers) meanwhile, so the
    waiting blocks neither dlt's loop nor a thread of its pool. dlt asks every ~10 ms, so asking
    costs one look at a queue the jobs' completions fill, whatever the number of jobs out. Jobs
    are taken from `jobs` only as they are submitted, so a generator that stops early (a token
    budget) leaves the rest untaken.

    Args:
        jobs: Zero-argument callables; taken lazily.
        pool: Where they run.
        pending: How many may be submitted and not yet delivered (read before each submission).

    Yields:
        Each job's result (its exception is raised here, in the consumer), or None.
    """
    completed: "queue.SimpleQueue[Future[T]]" = queue.SimpleQueue()
    outstanding = 0
    exhausted = False
    while True:
        while not exhausted and outstanding < pending():
            job = next(jobs, None)
            if job is None:
                exhausted = True
            else:
                pool.submit(job).add_done_callback(completed.put)
                outstanding += 1
        if not outstanding:
            return
        try:
            future = completed.get_nowait()
        except queue.Empty:
            yield None
            continue
        outstanding -= 1
        yield future.result()
