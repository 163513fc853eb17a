"""A burst-window rate limiter shared by every request of a source run.

Pipedrive counts requests per token in a rolling 2-second window and reports the window in the
`x-ratelimit-limit`, `x-ratelimit-remaining` and `x-ratelimit-reset` (seconds) headers. The
limiter learns the limit from those headers and keeps its own rolling record of the requests it
let through, so parallel requests stay inside the window instead of discovering it by 429s.
When a 429 does arrive (another integration shares the token, or the limit changed) every caller
waits for the window to reset and the limiter lowers its pace, recovering step by step: a run
that meets 429s slows down instead of hammering, which is what earns the Cloudflare block.

Requests sent inside `RateLimiter.bulk()` (the per-deal child fetches: many independent requests)
give way to the others (listing pages: chains where each page waits for the previous one): a
free slot goes to a waiting listing request first. Without that, a long listing got one slot in
six while five threads fetched deal children, and ended the run alone (bench/RESULTS.md, #2).
"""

import bisect
import math
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, List, Mapping, Optional, Tuple

from dlt.common import logger
from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter

DEFAULT_WINDOW_SECONDS = 2.0
WINDOW_MARGIN = 0.03
"""Fraction of the window added when waiting for our oldest request to leave it (the server
stamps a request when it arrives, a little after we send it). 10% measurably capped a Growth
run at 18 of its 20 requests/s; 3% kept 429s near 1% (bench/RESULTS.md, benchmark 2)."""
WINDOW_MARGIN_STEP = 0.02
MAX_WINDOW_MARGIN = 0.15
"""A 429 that our own requests caused (they reached the server later than the margin allowed:
network jitter, a busy machine) widens the margin by a step, up to this."""
MARGIN_RECOVERY = 0.004
"""Margin given back per second without a 429: a step is back after 5 s. Without it, the 4 x 429
of a medium run on a busy machine left an 11% margin for the rest of the run: 18.0 instead of 19.1
requests/s (bench/RESULTS.md, benchmark 2). Per second, not per response: at Ultimate's 240
requests/s a step given back per 100 responses was gone in 0.4 s, and the same late arrivals
met the next 429 (bench/RESULTS.md, benchmark 6)."""
OWN_SHARE = 0.9
"""A 429 is our own (late arrivals, not another client) when our log holds this share of the
window: at 240 requests/s a few of ours arriving 20 ms late look like another client's share of a
few requests in the server's count."""
ARRIVAL_SLACK = 0.05
"""Seconds a request may take from our send to the server's count (connection, upload)."""
FOREIGN_MEMORY_SECONDS = 10.0
"""How long another client's share of the window stays left to it after it was last seen. An
integration that sends a burst every few seconds is absent from the window between its bursts; a
limiter that took the whole window then left the next burst to 429s, which count toward the
token's Cloudflare block as much as our own (bench/shared_token)."""
FOREIGN_NOISE = 0.05
"""Shares of the window up to this fraction of the limit are not remembered: at the higher plans
a few of our own requests arriving late look like another client's."""
MAX_LATE_ARRIVAL = 0.25
"""Seconds `settle` may move a request: the late arrivals of a first burst were within ~0.3 s, while
a first-window listing page the server works on for a second would, moved by all of it, hold its
slot (and every later request taking that slot) back by as much for the whole run."""
IN_FLIGHT_ATTRIBUTE = "seconds_in_flight"
"""Set by `RateLimitedAdapter` on each response (see `seconds_in_flight`)."""
MIN_PACE = 0.1
PACE_RECOVERY = 0.02
"""Pace regained per successful response after a 429 halved it, ..."""
PACE_RECOVERY_PER_SECOND = 0.4
"""... but at most this much per second: Growth's 20 responses/s regain 2% each, while at
Ultimate's 240/s a halved pace came back within 0.1 s, before another client's share had left
the window."""
REPEAT_WINDOW_SECONDS = 10.0
"""429s this close together count as repeated: Cloudflare blocks a client after too many 429s in a
short time (at least 10 minutes on the real API), so each repeat doubles the wait and halves the
pace, whoever caused it."""
MAX_BACKOFF_SECONDS = 32.0
ASSUMED_LIMIT = 20
"""Requests per window assumed until (or unless) a response carries `x-ratelimit-limit`: the
smallest plan's burst limit (Lite, API token). Some responses arrive without any rate-limit
header; without an assumption the limiter would not pace at all."""
ASSUMED_LATENCY = 0.25
"""Seconds in flight assumed until the first response was timed (a slow start is cheap: the first
answers arrive within a fraction of a second and replace it)."""
LATENCY_WEIGHT = 0.1
"""Weight of each new response in the moving average of the time in flight: a new latency level
is 65% learned after 10 responses, 95% after 30 (a fraction of a second at the higher plans), while
one slow response moves it by a tenth of its excess only."""


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
        sleep: Sleep function, replaceable in tests. By default a waiting caller sleeps on a
            condition that a larger `x-ratelimit-limit` wakes: the first callers of a run wait
            as for the assumed smallest limit (`ASSUMED_LIMIT`) until the first response tells
            the real one, and must not sleep out a window of the assumed limit then.

    Attributes:
        limit: Requests per window, learned from `x-ratelimit-limit` (None until a response).
        foreign: Requests in the server's window that our own log does not explain (another
            client on the same token), per the last response; 0 when the window is ours alone.
        pace: Fraction of `limit` in use (1.0; halves on each 429 another client caused,
            recovers on successes).
        margin: Fraction of the window our requests count beyond it (see `WINDOW_MARGIN`).
        latency: Moving average of the seconds a request spends in flight (None before the first
            timed response); with the window's rate it tells how many requests to keep in
            flight (`pipedrive.http.concurrency`).
        fastest: The shortest time in flight of the run's first window (see `settle`).
        waits: How many times a caller had to wait.
        waited_seconds: Total time callers waited.
        rate_limited: 429 responses reported through `on_rate_limited`.
    """

    def __init__(
        self,
        reserve: int = 0,
        window: float = DEFAULT_WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Optional[Callable[[float], None]] = None,
    ) -> None:
        self.reserve = reserve
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        # send times, ascending (appended under the lock from a monotonic clock); kept one
        # window longer than the window, to compare with a server count taken a latency ago
        self._sent: List[float] = []
        self._blocked_until: float = 0.0
        self._foreign_until: float = 0.0
        self._foreign_seen: List[Tuple[float, int]] = []  # (time, share) beyond `FOREIGN_NOISE`
        self.limit: Optional[int] = None
        self.foreign: int = 0
        self.pace: float = 1.0
        self.margin: float = WINDOW_MARGIN
        self._margin_at: float = 0.0  # when `margin` was last widened or given back
        self._pace_at: float = 0.0  # when `pace` was last halved or given back
        self.waits: int = 0
        self.waited_seconds: float = 0.0
        self.rate_limited: int = 0
        self._halted_by: Optional[Callable[[], Exception]] = None
        self._local = threading.local()
        self._waiting_ahead_of_bulk = 0
        self._recent_429s: List[float] = []
        self._reacted_at: float = float("-inf")
        self.latency: Optional[float] = None
        self.fastest: Optional[float] = None
        self._first_at: Optional[float] = None  # the run's first request (see `settle`)

    @property
    def effective_limit(self) -> int:
        """Requests per window: the last `x-ratelimit-limit`, else `ASSUMED_LIMIT`."""
        return self.limit if self.limit is not None else ASSUMED_LIMIT

    @property
    def requests_per_second(self) -> float:
        """The rate our share of the window allows: the limit at the current pace, without the
        reserve and what another client on the token uses, spread over the window."""
        with self._lock:
            return max(1, self._allowed_in_window()) / self.window

    @property
    def free_in_window(self) -> int:
        """Requests our share of the window would take right now (0 when it is full)."""
        with self._lock:
            span = self.window * (1 + self.margin)
            in_window = len(self._sent) - bisect.bisect_right(self._sent, self._clock() - span)
            return max(0, self._allowed_in_window() - in_window)

    @property
    def expected_latency(self) -> float:
        """`latency`, or `ASSUMED_LATENCY` before the first timed response."""
        latency = self.latency
        return latency if latency is not None else ASSUMED_LATENCY

    def _allowed_in_window(self) -> int:
        """Our requests per window: what the reserve and other clients leave, at the current pace
        (the pace scales our share only: halving the whole window on top of another client's
        share left one request per window next to a client using 12 of 20). Lock held."""
        share = self.effective_limit - self.reserve - self._foreign_share()
        return share if share <= 0 else max(1, math.floor(share * self.pace))

    def _foreign_share(self) -> int:
        """Requests to leave to other clients: the share the last response showed, or the largest
        one seen within `FOREIGN_MEMORY_SECONDS` (a client that comes back in bursts). Lock held."""
        now = self._clock()
        if self._foreign_seen and self._foreign_seen[0][0] <= now - FOREIGN_MEMORY_SECONDS:
            self._foreign_seen = [(t, n) for t, n in self._foreign_seen if t > now - FOREIGN_MEMORY_SECONDS]
        remembered = max((n for _, n in self._foreign_seen), default=0)
        return min(max(self.foreign, remembered), self.effective_limit - 1)

    def _sent_between(self, start: float, end: float) -> int:
        return bisect.bisect_right(self._sent, end) - bisect.bisect_right(self._sent, start)

    def _delay(self, now: float, held_back: int = 0) -> float:
        """Seconds the next request must wait (<= 0: send now). Call with the lock held.

        Args:
            now: The clock's time.
            held_back: Slots of the window left to requests that go first.
        """
        stale = bisect.bisect_right(self._sent, now - 2 * self.window)
        if stale:
            del self._sent[:stale]
        delay = self._blocked_until - now
        if delay > 0:
            return delay
        if self.foreign and now >= self._foreign_until:
            self.foreign = 0  # the server's window rolled on: the estimate is stale
        allowed = self._allowed_in_window()
        if allowed <= 0:
            if now < self._foreign_until:  # others fill the window: wait for the server's reset
                return self._foreign_until - now
            allowed = 1  # a remembered share fills it: one request per window keeps measuring
        allowed -= held_back
        if allowed <= 0:  # every slot the window has is spoken for by requests that go first
            return self.window / self.effective_limit
        # a request of ours counts until `window` (plus the margin) after we sent it: the server
        # counts it from its arrival, a little later
        span = self.window * (1 + self.margin)
        first = bisect.bisect_right(self._sent, now - span)
        in_window = len(self._sent) - first
        if in_window >= allowed:  # wait until enough of our own requests have left the window
            delay = self._sent[first + in_window - allowed] + span - now
            if self.foreign:  # ... or until the server's reset frees the others' share
                delay = min(delay, self._foreign_until - now)
            return delay
        return 0.0

    def acquire(self) -> float:
        """Blocks until a request may be sent, then reserves one slot in the current window.

        Returns:
            The time the slot was taken (the clock's), for `settle`.

        Raises:
            Exception: The error given to `halt`, once the limiter is halted.
        """
        bulk = getattr(self._local, "bulk", False)
        ahead_of_bulk = False  # counted in `_waiting_ahead_of_bulk`
        try:
            while True:
                with self._lock:
                    if self._halted_by is not None:
                        raise self._halted_by()
                    now = self._clock()
                    delay = self._delay(now, self._waiting_ahead_of_bulk if bulk else 0)
                    if delay <= 0:
                        self._sent.append(now)
                        if self._first_at is None:
                            self._first_at = now
                        return now
                    if not bulk and not ahead_of_bulk:
                        ahead_of_bulk = True
                        self._waiting_ahead_of_bulk += 1
                    self.waits += 1
                    self.waited_seconds += delay
                    if self._sleep is None:
                        self._changed.wait(delay)
                        continue
                self._sleep(delay)
        finally:
            if ahead_of_bulk:
                with self._lock:
                    self._waiting_ahead_of_bulk -= 1

    def settle(self, taken_at: float, in_flight: float) -> None:
        """Moves a request's place in our log to the latest moment the server can have counted it.

        The server counts a request when it arrives; the log has it from when its slot was taken.
        A request that took longer than the fastest one of the run spent the difference before it
        arrived or while the server worked on it: which of the two, the client cannot tell, so
        the request counts from `now - fastest` (its latest possible arrival), at most
        `MAX_LATE_ARRIVAL` later than its slot was taken. Only requests of the run's first
        window: its burst opens dozens of new connections at once and reached the server over a
        few hundred milliseconds while the log had it all at its start, so the next
        window's burst met the server's count of the late ones (4-11 x 429 at the start of a 1%
        incremental at Ultimate). Later requests go over open connections; settling them all
        took a Growth incremental from 15.5 to 18 s, their slowness being the server's work, not
        a late arrival (bench/RESULTS.md, round 4).

        Args:
            taken_at: What `acquire` returned for the request.
            in_flight: Seconds from sending it to its response.
        """
        first_at = self._first_at  # set once, by the run's first `acquire`
        if first_at is None or taken_at > first_at + self.window:
            return  # past the first window: nothing to settle, no lock on the hot path
        with self._lock:
            now = self._clock()
            fastest = self.fastest = in_flight if self.fastest is None else min(self.fastest, in_flight)
            latest = min(now - fastest, taken_at + MAX_LATE_ARRIVAL)
            if latest <= taken_at:
                return
            index = bisect.bisect_left(self._sent, taken_at)
            if index < len(self._sent) and self._sent[index] == taken_at:
                del self._sent[index]
                bisect.insort(self._sent, latest)

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """Requests this thread sends inside the block give way to other waiting requests.

        For many independent requests whose order does not matter (per-deal child fetches), so
        that chains of dependent requests (listing pages) are not starved by them.
        """
        outer = getattr(self._local, "bulk", False)
        self._local.bulk = True
        try:
            yield
        finally:
            self._local.bulk = outer

    def update_from_headers(self, headers: Mapping[str, str], elapsed: float = 0.0) -> None:
        """Learns the window state from a response's `x-ratelimit-*` headers.

        The server counts a request when it arrives, so `x-ratelimit-remaining` is its count at
        about `elapsed` seconds ago. Whatever our own log does not explain at that moment is
        another client's use of the same token, and is left to it until the server's reset.
        When the window is ours alone, the log alone paces us: waiting for
        `x-ratelimit-reset` (whole seconds, rounded up) would idle ~40% of a rate-limited run.
        Every response, with or without headers, also updates `latency`.

        Args:
            headers: Response headers (case-insensitive mapping).
            elapsed: Seconds from sending the request to its response (`seconds_in_flight`;
                not `Response.elapsed`, which also counts the wait for the limiter).
        """
        limit = _header_number(headers, "x-ratelimit-limit")
        remaining = _header_number(headers, "x-ratelimit-remaining")
        reset = _header_number(headers, "x-ratelimit-reset")
        with self._lock:
            if elapsed > 0:
                latency = self.latency
                self.latency = elapsed if latency is None else latency + LATENCY_WEIGHT * (elapsed - latency)
            if limit is not None:
                if self.limit is None or int(limit) > self.limit:
                    self._changed.notify_all()  # waits computed for a smaller limit are too long
                self.limit = int(limit)
            if remaining is not None and self.limit is not None:
                now = self._clock()
                counted_at = now - max(0.0, elapsed)
                # generous to our own log: a request of ours that arrived late is not another client
                span = self.window * (1 + self.margin) + ARRIVAL_SLACK
                ours = self._sent_between(counted_at - span, counted_at + ARRIVAL_SLACK)
                self.foreign = max(0, self.limit - int(remaining) - ours)
                self._foreign_until = now + (reset if reset is not None and reset > 0 else self.window)
                if self.foreign > FOREIGN_NOISE * self.limit:
                    self._foreign_seen.append((now, self.foreign))
                if remaining > self.reserve:
                    if self.pace < 1.0:
                        regained = min(PACE_RECOVERY, PACE_RECOVERY_PER_SECOND * max(0.0, now - self._pace_at))
                        self.pace = min(1.0, self.pace + regained)
                        self._pace_at = now
                    if self.margin > WINDOW_MARGIN:
                        recovered = MARGIN_RECOVERY * max(0.0, now - self._margin_at)
                        self.margin = max(WINDOW_MARGIN, self.margin - recovered)
                        self._margin_at = now

    def on_rate_limited(self, reset: Optional[float], elapsed: Optional[float] = None) -> None:
        """Reacts to a 429 by its cause:

        - a repeated 429 (another reaction within `REPEAT_WINDOW_SECONDS`): the model of the window
          is wrong, whoever caused it, so everybody waits for the window reset, and longer with
          every repeat (doubling up to `MAX_BACKOFF_SECONDS`), and the pace halves (down to
          `MIN_PACE`). This bounds our 429s in any short span, which is what keeps the token clear
          of the Cloudflare block even next to an integration that never backs off;
        - our own log explains (nearly) the full window (`OWN_SHARE`): some of our requests
          reached the server later than the margin allows, so the margin widens (up to
          `MAX_WINDOW_MARGIN`, given back over time). The wider margin itself holds the next
          requests back until enough of ours have left the window; waiting for the server's reset
          on top (whole seconds, at least 1) idled Ultimate's 240 requests/s for 1-2 s per 429;
        - another client shares the token: everybody waits for the reset, the pace halves and
          recovers step by step;
        - nothing explains it (no rate-limit headers): everybody waits for the reset.

        A 429 of a request sent before the last reaction (the dozen in flight at a high rate when
        the first 429 comes back) is counted, not reacted to again: taken as repeats, such a dozen
        backed off for 32 s and cut the pace to a tenth.

        Args:
            reset: Seconds until the window resets (`x-ratelimit-reset`, relative), if known.
            elapsed: Seconds the request was in flight (`seconds_in_flight`), to tell when it was
                sent; None: sent just now.
        """
        wait = reset if reset is not None and reset > 0 else self.window
        with self._lock:
            now = self._clock()
            self.rate_limited += 1
            sent_at = now - max(0.0, elapsed) if elapsed is not None else now
            if sent_at < self._reacted_at or now < self._blocked_until:
                return
            self._reacted_at = now
            self._recent_429s = [t for t in self._recent_429s if t > now - REPEAT_WINDOW_SECONDS] + [now]
            repeats = len(self._recent_429s) - 1
            span = self.window * (1 + self.margin) + ARRIVAL_SLACK
            ours = self._sent_between(sent_at - span, sent_at + ARRIVAL_SLACK)
            if repeats:
                wait = min(MAX_BACKOFF_SECONDS, wait * 2**repeats)
                self.pace = max(MIN_PACE, self.pace / 2)
                self._pace_at = now
                reaction = f"{repeats + 1} x 429 within {REPEAT_WINDOW_SECONDS:.0f} s: waiting {wait:.1f} s, backing off to {self.pace:.0%} of the window"
            elif ours >= OWN_SHARE * max(1, math.floor(self.effective_limit * self.pace) - self.reserve):
                # nearly all of the window is ours: a few of ours arrived late, whatever small
                # share the server's count put beyond our log
                self.margin = min(MAX_WINDOW_MARGIN, self.margin + WINDOW_MARGIN_STEP)
                self._margin_at = now
                reaction = f"widening the window margin to {self.margin:.0%}"
                wait = 0.0
            elif self.foreign:
                self.pace = max(MIN_PACE, self.pace / 2)
                self._pace_at = now
                reaction = f"waiting {wait:.1f} s, slowing down to {self.pace:.0%} of the window"
            else:  # nothing explains it (no headers): wait for the reset
                reaction = f"waiting {wait:.1f} s"
            self._blocked_until = max(self._blocked_until, now + wait)
        logger.warning(f"Pipedrive burst rate limit hit (429); {reaction}")

    def halt(self, make_error: Callable[[], Exception]) -> None:
        """Refuses every later request (e.g. once the daily token budget is spent).

        Args:
            make_error: Builds the exception `acquire` raises from now on, in every thread.
        """
        with self._lock:
            self._halted_by = make_error
            self._changed.notify_all()


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
        """Waits for a slot in the window, then sends; sets `response.seconds_in_flight` and
        settles the request's place in the limiter's log."""
        taken_at = self.limiter.acquire()
        sent = time.monotonic()
        response = super().send(request, *args, **kwargs)
        in_flight = time.monotonic() - sent
        setattr(response, IN_FLIGHT_ATTRIBUTE, in_flight)
        self.limiter.settle(taken_at, in_flight)
        return response


def seconds_in_flight(response: Response) -> float:
    """Seconds from sending `response`'s request to receiving it, without the wait for the limiter.

    `Response.elapsed` is measured around the adapter's `send`, so it also holds the time the
    request waited for a slot; the server counts the request when it arrives, after that wait.
    """
    in_flight = getattr(response, IN_FLIGHT_ATTRIBUTE, None)
    return float(in_flight) if in_flight is not None else response.elapsed.total_seconds()
