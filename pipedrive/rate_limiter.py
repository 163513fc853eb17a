"""A burst-window rate limiter shared by every request of a source run.

Pipedrive counts requests per token in a rolling 2-second window and reports the window in the
`x-ratelimit-limit`, `x-ratelimit-remaining` and `x-ratelimit-reset` (seconds) headers. The
limiter learns the limit from those headers and keeps its own rolling record of the requests it
let through, so parallel requests stay inside the window instead of discovering it by 429s.
When a 429 does arrive (another integration shares the token, or the limit changed) every caller
waits for the window to reset and the limiter lowers its pace, recovering step by step: a run
that meets 429s slows down instead of hammering, which is what earns the Cloudflare block.
"""

import math
import threading
import time
from collections import deque
from typing import Any, Callable, Deque, Mapping, Optional

from dlt.common import logger
from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter

DEFAULT_WINDOW_SECONDS = 2.0
WINDOW_MARGIN = 0.03
"""Fraction of the window added when waiting for our oldest request to leave it (the server
stamps a request when it arrives, a little after we send it). 10% measurably capped a Growth
run at 18 of its 20 requests/s; 3% kept 429s near 1% (bench/RESULTS.md, benchmark 2)."""
MIN_PACE = 0.25
PACE_RECOVERY = 0.02
"""Pace regained per successful response after a 429 halved it."""


def _header_number(headers: Mapping[str, str], name: str) -> Optional[float]:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class RateLimiter:
    """Thread-safe limiter fed by Pipedrive's `x-ratelimit-*` response headers.

    Args:
        reserve: Requests to keep unused in each window (headroom for other integrations
            of the same user).
        window: Length of the burst window in seconds.
        clock: Monotonic clock, replaceable in tests.
        sleep: Sleep function, replaceable in tests.

    Attributes:
        limit: Requests per window, learned from `x-ratelimit-limit` (None until a response).
        remaining: Requests left in the window per the last response, minus those sent since.
        pace: Fraction of `limit` in use (1.0; halves on each 429, recovers on successes).
        waits: How many times a caller had to wait.
        waited_seconds: Total time callers waited.
        rate_limited: 429 responses reported through `on_rate_limited`.
    """

    def __init__(
        self,
        reserve: int = 0,
        window: float = DEFAULT_WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.reserve = reserve
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._sent: Deque[float] = deque()
        self._blocked_until: float = 0.0
        self._remaining_until: float = 0.0
        self._in_flight: int = 0
        self.limit: Optional[int] = None
        self.remaining: Optional[int] = None
        self.pace: float = 1.0
        self.waits: int = 0
        self.waited_seconds: float = 0.0
        self.rate_limited: int = 0
        self._halted_by: Optional[Callable[[], Exception]] = None

    def _allowed_in_window(self) -> Optional[int]:
        if self.limit is None:
            return None
        return max(1, math.floor(self.limit * self.pace) - self.reserve)

    def _delay(self, now: float) -> float:
        """Seconds the next request must wait (<= 0: send now). Call with the lock held."""
        while self._sent and self._sent[0] <= now - self.window:
            self._sent.popleft()
        delay = self._blocked_until - now
        if delay > 0:
            return delay
        allowed = self._allowed_in_window()
        if allowed is not None and len(self._sent) >= allowed:
            return self._sent[0] + self.window * (1 + WINDOW_MARGIN) - now
        if self.remaining is not None:
            if now >= self._remaining_until:
                self.remaining = None  # the server's window rolled on: the estimate is stale
            elif self.remaining <= self.reserve:
                # others (same token) use the window too: wait until the server's reset
                return self._remaining_until - now
        return 0.0

    def acquire(self) -> None:
        """Blocks until a request may be sent, then reserves one slot in the current window.

        Raises:
            Exception: The error given to `halt`, once the limiter is halted.
        """
        while True:
            with self._lock:
                if self._halted_by is not None:
                    raise self._halted_by()
                now = self._clock()
                delay = self._delay(now)
                if delay <= 0:
                    self._sent.append(now)
                    self._in_flight += 1
                    if self.remaining is not None:
                        self.remaining -= 1
                    return
                self.waits += 1
                self.waited_seconds += delay
            self._sleep(delay)

    def release(self) -> None:
        """Marks a request acquired with `acquire` as answered (or failed)."""
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)

    def update_from_headers(self, headers: Mapping[str, str]) -> None:
        """Learns the window state from a response's `x-ratelimit-*` headers.

        Args:
            headers: Response headers (case-insensitive mapping).
        """
        limit = _header_number(headers, "x-ratelimit-limit")
        remaining = _header_number(headers, "x-ratelimit-remaining")
        reset = _header_number(headers, "x-ratelimit-reset")
        with self._lock:
            if limit is not None:
                self.limit = int(limit)
            if remaining is not None:
                now = self._clock()
                wait = reset if reset is not None and reset > 0 else self.window
                # the server's count at its answer; requests sent from now on are subtracted in
                # `acquire`. No blocking here: when the window is full because of our own
                # requests, `_delay` waits exactly until the oldest leaves the window, whereas
                # `x-ratelimit-reset` is rounded up to whole seconds (waiting for it idled ~40% of a
                # rate-limited run); only a full window our own log cannot explain (another
                # client on the same token) waits for the server's reset, in `_delay`.
                self.remaining = int(remaining)
                self._remaining_until = now + wait
                if remaining > self.reserve and self.pace < 1.0:
                    self.pace = min(1.0, self.pace + PACE_RECOVERY)

    def on_rate_limited(self, reset: Optional[float]) -> None:
        """Reacts to a 429: everybody waits for the window reset and the pace halves.

        Args:
            reset: Seconds until the window resets (`x-ratelimit-reset`), if known.
        """
        wait = reset if reset is not None and reset > 0 else self.window
        with self._lock:
            self.rate_limited += 1
            self._blocked_until = max(self._blocked_until, self._clock() + wait)
            self.pace = max(MIN_PACE, self.pace / 2)
            pace = self.pace
        logger.warning(
            f"Pipedrive burst rate limit hit (429); waiting {wait:.1f} s and slowing down to "
            f"{pace:.0%} of the window"
        )

    def halt(self, make_error: Callable[[], Exception]) -> None:
        """Refuses every later request (e.g. once the daily token budget is spent).

        Args:
            make_error: Builds the exception `acquire` raises from now on, in every thread.
        """
        with self._lock:
            self._halted_by = make_error

    def block_for(self, seconds: float) -> None:
        """Makes every caller wait `seconds` from now (after a 429 with Retry-After)."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self._clock() + max(seconds, 0.0))


class RateLimitedAdapter(HTTPAdapter):
    """Transport adapter that passes every attempt - retries included - through a limiter.

    dlt's retrying session retries inside `Session.send`; the adapter's `send` runs once per
    attempt, so a retried 429 waits for the shared window like any new request instead of
    firing from every thread at the same moment.

    Args:
        limiter: The run's shared limiter.
        **kwargs: `HTTPAdapter` options (e.g. `pool_maxsize`).
    """

    def __init__(self, limiter: RateLimiter, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.limiter = limiter

    def send(self, request: PreparedRequest, *args: Any, **kwargs: Any) -> Response:
        """Waits for a slot in the window, then sends."""
        self.limiter.acquire()
        try:
            return super().send(request, *args, **kwargs)
        finally:
            self.limiter.release()
