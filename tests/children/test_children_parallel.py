"""Per-deal requests fan out in parallel under the one shared rate limiter: fast, and (nearly) no 429s."""

from __future__ import annotations

from typing import Any, Callable

from tests.children.conftest import ALL_CHILDREN, child_resources
from tests.helpers.loader import Loader, settled_log

BURST = 30  # requests per rolling 2-second window
LATENCY_MS = 40


def _max_in_flight(log: list[Any]) -> int:
    events = sorted(
        [(e.time, 1) for e in log] + [(e.time + e.duration_ms / 1000, -1) for e in log],
        key=lambda x: (x[0], x[1]),
    )
    current = peak = 0
    for _, step in events:
        current += step
        peak = max(peak, current)
    return peak


MAX_429 = 2
"""The limiter paces by its own send times; a request that reaches the (in-process, GIL-sharing)
simulator later than the window margin allows can meet one 429, after which the margin widens."""


def test_children_fill_the_burst_window_with_at_most_two_429(
    make_sim: Callable[..., Any], make_loader: Callable[..., Loader]
) -> None:
    server = make_sim(size="tiny", burst_limit=BURST, latency_ms=LATENCY_MS)
    loader = make_loader(server)
    loader.run(*child_resources(*ALL_CHILDREN), max_tokens_per_run=None)

    log = settled_log(server)
    per_deal = [e for e in log if "{id}" in e.endpoint]
    assert len(per_deal) > 2 * BURST
    assert len([e for e in log if e.status == 429]) <= MAX_429
    assert _max_in_flight(per_deal) > 1  # deferred callables ran in parallel
    # nor slower than the window allows: the busiest 2 s carried (nearly) the whole burst
    times = sorted(e.time for e in log)
    busiest = max(sum(1 for t in times if start <= t < start + 2.0) for start in times)
    print(
        f"\n{len(log)} requests, busiest 2 s window {busiest}/{BURST}, max in flight {_max_in_flight(per_deal)}"
    )
    assert busiest >= BURST * 0.8
