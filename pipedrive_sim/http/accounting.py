"""Request log and totals (``server.log``, ``server.stats()``, ``GET /_sim/stats``)."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RequestLogEntry:
    """One API request as the server answered it.

    Attributes:
        method: HTTP method.
        path: request path without the query string.
        params: query parameters (last value wins; ``api_token`` removed).
        status: HTTP status served.
        token_cost: tokens charged to the daily budget.
        time: wall-clock UNIX time when the request arrived.
        duration_ms: time to answer, injected latency included.
        endpoint: ``"<api> <path template>"`` (e.g. ``"v2 /deals"``), or ``"unknown"``.
        outcome: ``ok``, ``error``, ``rate_limited``, ``budget_exhausted``, ``blocked``,
            ``unauthorized``, ``not_found`` or ``fault:<kind>``.
    """

    method: str
    path: str
    params: dict[str, str]
    status: int
    token_cost: int
    time: float
    duration_ms: float
    endpoint: str
    outcome: str = "ok"


@dataclass
class EndpointStats:
    """Totals of one endpoint."""

    requests: int = 0
    tokens: int = 0
    statuses: Counter[int] = field(default_factory=Counter)


class Accounting:
    """Thread-safe request log with running totals.

    Args:
        log_limit: entries kept in the log (oldest dropped first); totals always cover every request.
    """

    def __init__(self, log_limit: int = 500_000) -> None:
        self._lock = threading.Lock()
        self.log_limit = log_limit
        self.log: list[RequestLogEntry] = []
        self._requests = 0
        self._endpoints: dict[str, EndpointStats] = defaultdict(EndpointStats)
        self._outcomes: Counter[str] = Counter()
        self._tokens = 0

    def record(self, entry: RequestLogEntry) -> None:
        """Append an entry and update the totals."""
        with self._lock:
            self.log.append(entry)
            if len(self.log) > 2 * self.log_limit:
                self.log = self.log[-self.log_limit :]
            self._requests += 1
            stats = self._endpoints[entry.endpoint]
            stats.requests += 1
            stats.tokens += entry.token_cost
            stats.statuses[entry.status] += 1
            self._outcomes[entry.outcome] += 1
            self._tokens += entry.token_cost

    def reset(self) -> None:
        """Forget the log and the totals."""
        with self._lock:
            self.log = []
            self._requests = 0
            self._endpoints.clear()
            self._outcomes.clear()
            self._tokens = 0

    def stats(self) -> dict[str, Any]:
        """Totals: requests, tokens spent, 429s served, 403 blocks, faults, per endpoint."""
        with self._lock:
            statuses: Counter[int] = Counter()
            for s in self._endpoints.values():
                statuses.update(s.statuses)
            return {
                "requests": self._requests,
                "tokens_spent": self._tokens,
                "responses_429": statuses[429],
                "rate_limited": self._outcomes["rate_limited"],
                "budget_exhausted": self._outcomes["budget_exhausted"],
                "blocked_403": self._outcomes["blocked"],
                "faults": sum(n for k, n in self._outcomes.items() if k.startswith("fault:")),
                "outcomes": dict(self._outcomes),
                "statuses": {str(k): v for k, v in sorted(statuses.items())},
                "endpoints": {
                    name: {
                        "requests": s.requests,
                        "tokens": s.tokens,
                        "statuses": {str(k): v for k, v in sorted(s.statuses.items())},
                    }
                    for name, s in sorted(self._endpoints.items())
                },
            }
