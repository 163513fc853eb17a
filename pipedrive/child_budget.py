"""The token budget of the per-deal children: a clean stop below `max_tokens_per_run`.

Per-deal endpoints are the only part of a run whose cost grows with every record (10-40 tokens
per deal); listings cost 5-40 tokens per 500 records. The client enforces an explicit
`max_tokens_per_run` as a hard stop (it raises before a request would exceed it, which fails the
run). The deal children must instead stop *cleanly*: before taking a deal from its queue a child
transformer reserves the deal's cost here, and the children stop taking deals once the run's
total spend (listings included) plus the reservations would pass `cap * CHILD_SHARE`. The rest of
the cap stays free for listings that finish after the children stopped and for the rare extra
changelog page.

Without an explicit cap the listings are not capped and the children use
`DEFAULT_MAX_TOKENS_PER_RUN`, which leaves most of any company's daily budget to other tools:
Pipedrive grants 30,000 tokens x plan multiplier (Lite 1, Growth 2, Premium 5, Ultimate 7) x
seats per day, so 10,000 tokens is a third of the smallest possible budget (Lite, one seat) and
3% of Growth with 10 seats. At ~40 tokens per deal (changelog 20 + participants 10 + followers
10, products 10 per 100 deals) a default run fetches the children of ~225 deals.
"""

import threading
from typing import Optional

from .client import PipedriveClient

DEFAULT_MAX_TOKENS_PER_RUN = 10_000
"""Cap of the deal children when `pipedrive_source(max_tokens_per_run=None)` (module docstring)."""
CHILD_SHARE = 0.9
"""Fraction of `max_tokens_per_run` the run may have spent when the deal children stop."""


class ChildTokenBudget:
    """Thread-safe token reservations against the run's cap.

    Args:
        client: The run's client (its `stats.tokens` count what the run spent so far).
        cap: `max_tokens_per_run` (None: no cap).
        share: Fraction of the cap the run may have spent when the children stop.
    """

    def __init__(
        self, client: PipedriveClient, cap: Optional[int], share: float = CHILD_SHARE
    ) -> None:
        self.client = client
        self.cap = cap
        self.limit: Optional[int] = None if cap is None else int(cap * share)
        self._reserved = 0
        self._lock = threading.Lock()
        self.exhausted = False
        """True once a reservation was refused in this run."""

    @property
    def spent(self) -> int:
        """Tokens the client has spent in this run (all resources)."""
        return self.client.stats.tokens

    def try_reserve(self, tokens: int) -> bool:
        """Reserves `tokens` if they fit under the children's limit.

        Args:
            tokens: Expected cost of the work about to start.

        Returns:
            False (and nothing reserved) when the work does not fit.
        """
        with self._lock:
            if self.limit is not None and self.spent + self._reserved + tokens > self.limit:
                self.exhausted = True
                return False
            self._reserved += tokens
            return True

    def release(self, tokens: int) -> None:
        """Returns a reservation once its requests were counted by the client (or not sent)."""
        with self._lock:
            self._reserved = max(0, self._reserved - tokens)
