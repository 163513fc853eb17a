"""A burst-window rate limiter shared by every request of a source run.

Pipedrive counts requests per token in a rolling 2-second window and reports the window in the
`x-ratelimit-limit`, `x-ratelimit-remaining` and `x-ratelimit-reset` (seconds) headers. The
limiter learns the window from those headers and makes the next caller wait until the window
resets once it is (nearly) used up, so the source slows down before Pipedrive answers 429.
"""

import threading
import time
from typing import Callable, Mapping, Optional

DEFAULT_WINDOW_SECONDS = 2.0


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
        clock: Monotonic clock, replaceable in tests.
        sleep: Sleep function, replaceable in tests.
    """

    def __init__(
        self,
        reserve: int = 0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.reserve = reserve
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self.limit: Optional[int] = None
        self.remaining: Optional[int] = None
        self._blocked_until: float = 0.0
        self.waits: int = 0
        self.waited_seconds: float = 0.0

    def acquire(self) -> None:
        """Blocks until a request may be sent, then reserves one slot in the current window."""
        with self._lock:
            now = self._clock()
            delay = self._blocked_until - now
            if delay <= 0 and self.remaining is not None and self.remaining <= self.reserve:
                # window used up but reset unknown or already passed: nothing to wait for
                self.remaining = None
            if delay > 0:
                self.waits += 1
                self.waited_seconds += delay
                self._sleep(delay)
                self.remaining = None
            if self.remaining is not None:
                self.remaining -= 1

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
                self.remaining = int(remaining)
                if remaining <= self.reserve:
                    wait = reset if reset is not None and reset > 0 else DEFAULT_WINDOW_SECONDS
                    self._blocked_until = max(self._blocked_until, self._clock() + wait)

    def block_for(self, seconds: float) -> None:
        """Makes every caller wait `seconds` from now (after a 429 with Retry-After)."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self._clock() + max(seconds, 0.0))
