"""`RunSession`: what every source of one run shares with the others and with the run protocol.

A run builds a new dlt source for each chunk; the session carries what must outlive a chunk: the
one client (so one rate limiter, one token cap, one set of counters), why the run stopped early
(the daily budget or the token cap: every resource ends cleanly and keeps what it read), which
tables were read whole in the chunk (the protocol marks the rows they no longer returned), the
one `/v1/recents` answer that tells which listings changed, and the lock the resources take when
they update shared parts of the source state from their threads.
"""

import threading
from typing import Any, Callable, Dict, Iterable, List, Optional, Set, Tuple

from .http import PipedriveClient, RequestStats
from .http.errors import BudgetStop


CHUNK_PAGES_LIMIT = 40
"""The burst limit (requests per 2 s) the protocol's default chunk size is set for: Growth with an
API token. A chunk costs fixed local work (a dlt run: set-up, normalize, load, DuckDB checkpoint)
while the API waits, and at Ultimate with OAuth (480) 20 pages of a listing are a fraction of a
second of requests; scaled with the limit, a chunk holds about as many seconds of requests on every
plan (bench/RESULTS.md, round 5)."""
MAX_CHUNK_SCALE = 6
"""At most this many times the pages (reached at 240 per 2 s): a chunk's rows are merged through one
DuckDB connection held for the chunk, and its memory grows with them. `large` at Ultimate with
OAuth peaked at 817 MB in 20-page chunks and at 1,133 MB scaled 12 times (bench/RESULTS.md, round
5); 6 times still reads its listings within the chunks its deals take."""


class RunSession:
    """Shared by the sources of one run; pass the same one to `pipedrive_source(session=...)`.

    Attributes:
        stats: The run's request and token counters.
        client: The client, once the first source of the run built it.
        complete_reads: Resource -> (table, key column, keys) of the listings read whole in the
            current chunk.
        sweeps: The deletion sweeps completed in the current chunk.
        lock: Guards updates of shared source state from parallel resources.
        recents: Item kinds `/v1/recents` reported changed in this run.
        hard_delete: The source's deletion mode.
        history: Tables that keep every version.
        scale_chunks: Whether `pages_per_chunk` follows the burst limit (the protocol's default
            chunk size) or keeps the pages asked for (a chunk size the caller chose).
    """

    def __init__(self, scale_chunks: bool = False) -> None:
        self.scale_chunks = scale_chunks
        self.stats = RequestStats()
        self.client: Optional[PipedriveClient] = None
        self.complete_reads: Dict[str, Tuple[str, str, Set[Any]]] = {}
        self.sweeps: List[Any] = []
        """`pipedrive.sweeps.SweepResult` of the sweeps completed in the current chunk."""
        self.lock = threading.RLock()
        self.recents: Optional[Set[str]] = None
        """Item kinds `/v1/recents` reported changed this run; None before the request (or when
        it could not tell)."""
        self.recents_asked = False
        self._memo: Dict[str, Any] = {}
        self._memo_locks: Dict[str, threading.Lock] = {}
        self.hard_delete = False
        """The source's deletion mode (the protocol deletes or flags rows gone upstream)."""
        self.history: Set[str] = set()
        """Tables that keep every version (dlt `scd2`)."""

    def memo(self, key: str, read: Callable[[], Any], fresh: bool = False) -> Any:
        """`read()` once per run: what several resources of a run read alike (the stages, which the
        `stages` table and the stage changes both need). `fresh` reads again and keeps the new
        answer. Each key has its own lock: a read (a request) never holds up the other threads."""
        with self.lock:
            key_lock = self._memo_locks.setdefault(key, threading.Lock())
        with key_lock:
            if fresh or key not in self._memo:
                self._memo[key] = read()
            return self._memo[key]

    def pages_per_chunk(self, pages: int) -> int:
        """`pages` at the Growth limit or below (or without `scale_chunks`), `pages x limit / 40`
        above it (at most `MAX_CHUNK_SCALE` times), the limit being the one the API announced so
        far (`CHUNK_PAGES_LIMIT`)."""
        limit = self.client.rate_limiter.limit if self.client is not None else None
        if not self.scale_chunks or not limit or limit <= CHUNK_PAGES_LIMIT:
            return pages
        return pages * min(limit, MAX_CHUNK_SCALE * CHUNK_PAGES_LIMIT) // CHUNK_PAGES_LIMIT

    def client_for(self, make: Callable[[], PipedriveClient]) -> PipedriveClient:
        """The run's client, built by `make` the first time."""
        with self.lock:
            if self.client is None:
                self.client = make()
            return self.client

    @property
    def stopped_by(self) -> Optional[BudgetStop]:
        """The budget stop that ended the run early, if any."""
        return self.client.stopped_by if self.client is not None else None

    def completed(self, resource: str, table: str, key: str, keys: Iterable[Any]) -> None:
        """Records that a listing was read whole in this chunk, and every key it listed."""
        with self.lock:
            self.complete_reads[resource] = (table, key, set(keys))

    def start_chunk(self) -> None:
        """Forgets the previous chunk's complete reads."""
        with self.lock:
            self.complete_reads = {}
            self.sweeps = []
