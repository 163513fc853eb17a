"""A persistent queue of deals that still need their per-deal children, kept in dlt state, and
the token budget it is drained within.

Per-deal endpoints cost 10-40 tokens per deal, so one run may not afford every changed deal.
Each deal-child transformer keeps its own queue in its dlt resource state: deals enter in the
order the deals listing yields them (oldest `update_time` first), are taken from the head while
the run's token budget allows, and whatever is left is committed with the load package, so the
next run continues exactly there. A deal that changes again while queued keeps its place (it is
fetched once, with its latest data).

dlt has no queue primitive and its `incremental` keeps one cursor per resource, which cannot
express "these 40,000 deals are still owed"; hence this small hand-written structure.

State layout (JSON, compact because a backfill may queue 100k deals):
`{"queued": {"<deal id>": <entry>}, "sinces": [...], "boundary": {...}}` where
`entry = since_index * 2 + deleted_bit` and `sinces[since_index]` is the lower bound of the
change time still owed for that deal (None: its whole history).
"""

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, MutableMapping, Optional, Set

import orjson

from ..http import PipedriveClient

QUEUED_KEY = "queued"
_OLD_QUEUED_KEY = "pending"
"""The name of `queued` before 2026-12 (read once, so a queue left by an older run is kept)."""
SINCES_KEY = "sinces"
BOUNDARY_KEY = "boundary"
DELETED_KEY = "deleted_deals"
"""Deals queued as deleted: if one comes back (restored in Pipedrive), its history is read again
so the rows flagged deleted are flagged live."""


@dataclass(frozen=True)
class QueuedDeal:
    """A deal taken from the queue.

    Attributes:
        deal_id: The deal id.
        since: Oldest change time (v1 format) still owed for this deal; None: all history.
        deleted: The deal was deleted in Pipedrive when it was queued.
    """

    deal_id: int
    since: Optional[str]
    deleted: bool


def deal_fingerprint(deal: Any) -> str:
    """Short digest of a deal row: tells a re-listed, unchanged deal from one changed again
    within the same second (Pipedrive timestamps have one-second resolution)."""
    payload = orjson.dumps(deal, option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.blake2b(payload, digest_size=8).hexdigest()


class DealQueue:
    """Ordered, de-duplicated queue of deal ids backed by a resource-state dict.

    Works on an in-memory `OrderedDict` (O(1) pops from the head; popping the head of a plain
    dict repeatedly is quadratic in CPython) and writes it back to the state on `save()`.
    All methods are thread-safe.

    Args:
        state: The transformer's `dlt.current.resource_state()` (updated in place).
    """

    def __init__(self, state: MutableMapping[str, Any]) -> None:
        self._state = state
        self._lock = threading.RLock()
        self._sinces: List[Optional[str]] = list(state.get(SINCES_KEY) or [])
        self._pending: "OrderedDict[int, int]" = OrderedDict(
            (int(deal_id), int(entry))
            for deal_id, entry in (state.pop(_OLD_QUEUED_KEY, None) or state.get(QUEUED_KEY) or {}).items()
        )
        boundary = state.get(BOUNDARY_KEY) or {}
        self._boundary_time: Optional[str] = boundary.get("update_time")
        self._boundary: Dict[str, str] = dict(boundary.get("fingerprints") or {})
        self.previous_boundary: Optional[str] = self._boundary_time
        """Newest deal `update_time` seen by earlier runs (None on the first run)."""
        self._previous_fingerprints: Dict[str, str] = dict(self._boundary)
        self.resumed = len(self._pending)
        """Deals left over by earlier runs."""
        self._deleted: Optional[Set[int]] = None

    def __len__(self) -> int:
        with self._lock:
            return len(self._pending)

    def is_new(self, deal_id: int, update_time: Optional[str], fingerprint: str) -> bool:
        """Whether a listed deal carries news, remembering it if so.

        The deals cursor is inclusive (`updated_since` = last cursor value), so every run lists
        the newest deal(s) of the previous run again; those are skipped unless their row differs.
        A deal older than the newest one earlier runs saw is skipped too (the listing is read
        again from scratch: its table was reloaded, or a field changed type; its children are
        loaded already).

        Decided against the boundary the queue was loaded with, never against deals of this run:
        dlt hands the pages of one listing to a transformer in no fixed order (each page's
        transformer call is a generator of its own, taken round-robin), and a boundary moved by a
        later page skipped whole earlier pages (500 deals without children on `medium`).

        Args:
            deal_id: Deal id.
            update_time: The deal's `update_time` as listed (one timestamp format per queue).
            fingerprint: `deal_fingerprint` of the listed row.
        """
        with self._lock:
            if update_time is None:
                return True
            previous = self.previous_boundary
            if previous is not None and (
                update_time < previous
                or (update_time == previous and self._previous_fingerprints.get(str(deal_id)) == fingerprint)
            ):
                return False
            # the boundary the next run decides against: the newest deal, whatever the page order
            if self._boundary_time is None or update_time > self._boundary_time:
                self._boundary_time = update_time
                self._boundary = {str(deal_id): fingerprint}
            elif update_time == self._boundary_time:
                self._boundary[str(deal_id)] = fingerprint
            return True

    def _since_index(self, since: Optional[str]) -> int:
        if since not in self._sinces:
            self._sinces.append(since)
        return self._sinces.index(since)

    def restored(self, deal_id: int, deleted: bool) -> bool:
        """Notes whether a listed deal is deleted; True when it was deleted and is not any more."""
        with self._lock:
            if self._deleted is None:  # read once: rebuilding it per listed deal was quadratic
                self._deleted = set(self._state.get(DELETED_KEY) or [])
            known = self._deleted
            was_deleted = not deleted and deal_id in known
            if deleted != (deal_id in known):
                if deleted:
                    known.add(deal_id)
                else:
                    known.discard(deal_id)
                self._state[DELETED_KEY] = sorted(known)
            return was_deleted

    def push(self, deal_id: int, since: Optional[str], deleted: bool = False) -> None:
        """Queues a deal at the tail, or updates it in place when already queued.

        A deal already queued keeps its position and the older of the two `since` values, so
        nothing it owes is lost and it is fetched once.
        """
        with self._lock:
            known = self._pending.get(deal_id)
            if known is not None:
                old_since = self._sinces[known // 2]
                if old_since is None or (since is not None and old_since <= since):
                    since = old_since
            self._pending[deal_id] = self._since_index(since) * 2 + int(deleted)

    def push_front(self, deals: List[QueuedDeal]) -> None:
        """Puts deals taken from the queue back at its head, in their order."""
        with self._lock:
            for deal in reversed(deals):
                self._pending[deal.deal_id] = self._since_index(deal.since) * 2 + int(deal.deleted)
                self._pending.move_to_end(deal.deal_id, last=False)

    def discard(self, deal_id: int) -> None:
        """Removes a deal (it needs no request any more, e.g. its products were all removed)."""
        with self._lock:
            self._pending.pop(deal_id, None)

    def pop(self) -> Optional[QueuedDeal]:
        """Takes the oldest deal, or None when the queue is empty."""
        with self._lock:
            if not self._pending:
                return None
            deal_id, entry = self._pending.popitem(last=False)
            return QueuedDeal(deal_id, self._sinces[entry // 2], bool(entry % 2))

    def save(self) -> None:
        """Writes the queue back into the resource state (unused `since` values dropped)."""
        with self._lock:
            used = sorted({entry // 2 for entry in self._pending.values()})
            remap = {old: new for new, old in enumerate(used)}
            self._sinces = [self._sinces[i] for i in used]
            for deal_id, entry in self._pending.items():
                self._pending[deal_id] = remap[entry // 2] * 2 + entry % 2
            self._state[SINCES_KEY] = list(self._sinces)
            self._state[QUEUED_KEY] = {str(k): v for k, v in self._pending.items()}
            self._state[BOUNDARY_KEY] = {
                "update_time": self._boundary_time,
                "fingerprints": dict(self._boundary),
            }


def queued_deals(source_state: Mapping[str, Any]) -> Dict[str, int]:
    """Deals still queued per deal-child resource, e.g. after a run stopped at its token cap.

    Args:
        source_state: The source's state, e.g. `pipeline.state["sources"]["pipedrive"]`.

    Returns:
        Resource name -> number of queued deals, for the resources with a non-empty queue.
    """
    resources = source_state.get("resources") or {}
    return {
        name: len(state[QUEUED_KEY])
        for name, state in sorted(resources.items())
        if isinstance(state, Mapping) and isinstance(state.get(QUEUED_KEY), Mapping)
        and state[QUEUED_KEY]
    }


DEFAULT_MAX_TOKENS_PER_RUN = 10_000
"""Cap of the deal children when `pipedrive_source(max_tokens_per_run=None)` (module docstring)."""
CHILD_SHARE = 0.9
"""Fraction of `max_tokens_per_run` the run may have spent when the deal children stop."""


class ChildTokenBudget:
    """Thread-safe token reservations against the run's cap: the queue is drained within it.

    The token budget of the per-deal children: a clean stop below `max_tokens_per_run`.

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
