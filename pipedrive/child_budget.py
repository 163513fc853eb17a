"""The share of `max_tokens_per_run` the per-deal children may spend, shared by their threads.

The client enforces the cap as a hard stop (it raises before a request would exceed it, which
fails the run). The deal children must instead stop *cleanly*: before taking a deal from the
queue they reserve its cost here, and they stop taking deals once the reservation would pass
`cap * CHILD_SHARE`. The remaining share stays free for the listings of the same run (they cost
one request per 500 records) and for the rare extra changelog page.
"""

import threading
from typing import Optional

from .client import PipedriveClient

CHILD_SHARE = 0.9
"""Fraction of `max_tokens_per_run` the deal children may use."""


class ChildTokenBudget:
    """Thread-safe token reservations against the run's cap.

    Args:
        client: The run's client (its `stats.tokens` count what was spent so far, and its
            `max_tokens_per_run` is the cap; None means no cap).
        share: Fraction of the cap the children may spend.
    """

    def __init__(self, client: PipedriveClient, share: float = CHILD_SHARE) -> None:
        self.client = client
        cap = client.max_tokens_per_run
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
