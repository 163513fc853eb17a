"""Rate limits: the 2-second burst window, the daily token budget and the Cloudflare block.

Numbers follow the token-based rate-limit docs: burst per token on a rolling 2-second window
(lite 20, growth 40, premium 100, ultimate 120 for API tokens; OAuth x4) and a daily company
budget of ``30,000 x plan multiplier x seats`` tokens charged by each operation's ``x-token-cost``.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import date

BURST_LIMITS = {"lite": 20, "growth": 40, "premium": 100, "ultimate": 120}
OAUTH_BURST_MULTIPLIER = 4
BUDGET_MULTIPLIERS = {"lite": 1, "growth": 2, "premium": 5, "ultimate": 7}
BUDGET_BASE = 30_000
WINDOW_SECONDS = 2.0


def check_plan(plan: str) -> str:
    """Validate a plan name (lite, growth, premium, ultimate)."""
    if plan not in BURST_LIMITS:
        raise ValueError(f"unknown plan {plan!r}; expected one of {sorted(BURST_LIMITS)}")
    return plan


class BurstLimiter:
    """Rolling 2-second request window per token.

    Args:
        plan: the company plan.
        limit_override: fixed limit for API tokens instead of the plan's (OAuth still x4).
        window: window length in seconds.
    """

    def __init__(self, plan: str, limit_override: int | None = None, window: float = WINDOW_SECONDS) -> None:
        self.base_limit = limit_override if limit_override is not None else BURST_LIMITS[check_plan(plan)]
        self.window = window
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def limit_for(self, oauth: bool) -> int:
        """The window limit for an API token or an OAuth token."""
        return self.base_limit * (OAUTH_BURST_MULTIPLIER if oauth else 1)

    def hit(self, token: str, oauth: bool) -> tuple[bool, dict[str, str]]:
        """Count a request; return whether it is allowed and the ``x-ratelimit-*`` headers.

        Rejected requests do not take a slot in the window.
        """
        limit = self.limit_for(oauth)
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(token, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            allowed = len(hits) < limit
            if allowed:
                hits.append(now)
            remaining = max(0, limit - len(hits))
            reset = (hits[0] + self.window - now) if hits else self.window
        headers = {
            "x-ratelimit-limit": str(limit),
            "x-ratelimit-remaining": str(remaining),
            "x-ratelimit-reset": str(max(1, math.ceil(reset))),
        }
        return allowed, headers

    def peek(self) -> dict[str, str]:
        """Headers for a caller without a window (e.g. a 401): full limit remaining."""
        limit = self.limit_for(False)
        return {"x-ratelimit-limit": str(limit), "x-ratelimit-remaining": str(limit),
                "x-ratelimit-reset": str(math.ceil(self.window))}

    def reset(self) -> None:
        """Forget all windows."""
        with self._lock:
            self._hits.clear()


class DailyBudget:
    """Company-wide daily token budget; resets when the virtual clock's UTC date changes.

    Args:
        total: tokens per day.
        today: returns the current (virtual) date.
    """

    def __init__(self, total: int, today: Callable[[], date]) -> None:
        self.total = total
        self.today = today
        self.spent = 0
        self._day = today()
        self._lock = threading.Lock()

    @staticmethod
    def for_plan(plan: str, seats: int) -> int:
        """``30,000 x plan multiplier x seats``."""
        return BUDGET_BASE * BUDGET_MULTIPLIERS[check_plan(plan)] * seats

    def _roll(self) -> None:
        day = self.today()
        if day != self._day:
            self._day = day
            self.spent = 0

    def exhausted(self) -> bool:
        """True once the day's budget is spent."""
        with self._lock:
            self._roll()
            return self.spent >= self.total

    def charge(self, tokens: int) -> None:
        """Spend tokens (may overshoot on the last request)."""
        with self._lock:
            self._roll()
            self.spent += tokens

    @property
    def remaining(self) -> int:
        """Tokens left today (never negative)."""
        with self._lock:
            self._roll()
            return max(0, self.total - self.spent)

    def reset(self, total: int | None = None) -> None:
        """Refill the budget (optionally with a new daily total)."""
        with self._lock:
            if total is not None:
                self.total = total
            self.spent = 0
            self._day = self.today()


class AbuseGuard:
    """Cloudflare-style block: more than ``threshold`` 429s within ``window`` seconds -> 403 for ``cooldown``.

    Args:
        threshold: 429 responses tolerated inside the window.
        window: seconds over which 429s are counted.
        cooldown: seconds the block lasts.
    """

    def __init__(self, threshold: int = 50, window: float = 10.0, cooldown: float = 60.0) -> None:
        self.threshold = threshold
        self.window = window
        self.cooldown = cooldown
        self._rejections: dict[str, deque[float]] = {}
        self._blocked_until: dict[str, float] = {}
        self._lock = threading.Lock()

    def blocked(self, client: str) -> bool:
        """True while ``client`` is blocked."""
        with self._lock:
            until = self._blocked_until.get(client)
            if until is None:
                return False
            if time.monotonic() >= until:
                del self._blocked_until[client]
                self._rejections.pop(client, None)
                return False
            return True

    def record_429(self, client: str) -> None:
        """Note a 429 served to ``client``; start a block when the threshold is passed."""
        now = time.monotonic()
        with self._lock:
            hits = self._rejections.setdefault(client, deque())
            hits.append(now)
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) > self.threshold:
                self._blocked_until[client] = now + self.cooldown

    def reset(self) -> None:
        """Lift all blocks."""
        with self._lock:
            self._rejections.clear()
            self._blocked_until.clear()
