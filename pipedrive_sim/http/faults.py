"""Fault injection: scoped, counted, seeded faults and latency.

A fault rule applies to API requests whose path (e.g. ``/api/v2/deals``) matches ``path`` (a
regex searched in the path). It fires for at most ``count`` matching requests (None: forever),
each with ``probability`` (drawn from a seeded RNG), after skipping the first ``skip`` matches.

Kinds:
    ``error``               JSON 5xx (``status``, default 500)
    ``maintenance``         503 scheduled-maintenance JSON
    ``html_error``          HTML gateway page (``status``, default 502)
    ``slow``                sleep ``delay_ms`` (default 2000) then answer normally
    ``timeout``             sleep ``delay_ms`` (default 30000, longer than client timeouts) then answer
    ``reset``               send the headers and part of the body, then reset the connection
    ``truncated``           200 whose JSON body is cut in half (Content-Length matches the cut body)
    ``null_data``           200 with ``"data": null``
    ``recents_null_items``  ``/recents`` items get ``"data": null`` (each with ``item_probability``)
    ``no_ratelimit_headers``  answer normally, but without any ``x-ratelimit-*`` header (some real
                            responses arrive so)
    ``rate_limited``        a burst 429 (``x-ratelimit-remaining: 0``), as if another client had just
                            filled the window; counts toward the Cloudflare block like a real 429
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

FAULT_KINDS = frozenset(
    {"error", "maintenance", "html_error", "slow", "timeout", "reset", "truncated", "null_data", "recents_null_items",
     "no_ratelimit_headers", "rate_limited"}
)
DEFAULT_STATUS = {"error": 500, "maintenance": 503, "html_error": 502}
DEFAULT_DELAY_MS = {"slow": 2000.0, "timeout": 30000.0}


@dataclass
class FaultRule:
    """One configured fault.

    Attributes:
        kind: one of :data:`FAULT_KINDS`.
        path: regex searched in the request path.
        count: how many times it fires (None: unlimited).
        probability: chance to fire on each matching request.
        skip: matching requests to let through before firing.
        status: HTTP status for ``error``/``maintenance``/``html_error``.
        delay_ms: sleep for ``slow``/``timeout``.
        item_probability: per-item chance for ``recents_null_items``.
        fired: how many times it fired so far.
    """

    kind: str
    path: str = ".*"
    count: int | None = None
    probability: float = 1.0
    skip: int = 0
    status: int | None = None
    delay_ms: float | None = None
    item_probability: float = 0.5
    fired: int = 0
    seen: int = 0
    _regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {sorted(FAULT_KINDS)}")
        self._regex = re.compile(self.path)
        if self.status is None:
            self.status = DEFAULT_STATUS.get(self.kind)
        if self.delay_ms is None:
            self.delay_ms = DEFAULT_DELAY_MS.get(self.kind)

    @property
    def exhausted(self) -> bool:
        """True once it fired ``count`` times."""
        return self.count is not None and self.fired >= self.count

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly description."""
        data = asdict(self)
        data.pop("_regex", None)
        return data


class FaultSet:
    """The active fault rules of a server.

    Args:
        seed: seed of the RNG used for probabilities.
    """

    def __init__(self, seed: int = 0) -> None:
        self.rules: list[FaultRule] = []
        self.rng = random.Random(seed)
        self._lock = threading.Lock()

    def add(self, kind: str, path: str = ".*", count: int | None = None, **options: Any) -> FaultRule:
        """Add a rule (see the module docstring for kinds and options) and return it."""
        rule = FaultRule(kind=kind, path=path, count=count, **options)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        """Remove all rules."""
        with self._lock:
            self.rules.clear()

    def pick(self, path: str) -> FaultRule | None:
        """The first rule that fires for ``path`` (its counters are updated), or None."""
        with self._lock:
            for rule in self.rules:
                if rule.exhausted or not rule._regex.search(path):
                    continue
                rule.seen += 1
                if rule.seen <= rule.skip:
                    continue
                if rule.probability < 1.0 and self.rng.random() >= rule.probability:
                    continue
                rule.fired += 1
                return rule
        return None

    def chance(self, probability: float) -> bool:
        """Draw from the seeded RNG."""
        with self._lock:
            return self.rng.random() < probability

    def describe(self) -> list[dict[str, Any]]:
        """All rules as dicts."""
        with self._lock:
            return [r.to_dict() for r in self.rules]


class Latency:
    """Fixed plus jittered latency added to every API response (seeded).

    Args:
        latency_ms: fixed delay.
        jitter_ms: extra uniform delay in ``[0, jitter_ms]``.
        seed: RNG seed.
    """

    def __init__(self, latency_ms: float = 0.0, jitter_ms: float = 0.0, seed: int = 0) -> None:
        self.latency_ms = latency_ms
        self.jitter_ms = jitter_ms
        self.rng = random.Random(seed)
        self._lock = threading.Lock()

    def seconds(self) -> float:
        """The delay for the next response, in seconds."""
        if not self.jitter_ms:
            return self.latency_ms / 1000.0
        with self._lock:
            jitter = self.rng.uniform(0.0, self.jitter_ms)
        return (self.latency_ms + jitter) / 1000.0
