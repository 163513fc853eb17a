"""A greedy neighbour: another integration on the same API token that never backs off.

Pipedrive's burst window belongs to the token and the daily budget to the company, not to one
program: a second integration that shares the token takes slots from the window and tokens
from the budget, and if it keeps sending after its 429s, Cloudflare blocks the token for every
client using it. The neighbour sends its requests through the server's own pipeline (in
process: rate limits, budget and Cloudflare block apply; they are not in `server.log`) and
ignores every answer.

Use `fire(n)` in tests (n requests at once, no timing involved) or `start(per_second)` for a
background neighbour next to a real run; `SimServer.add_neighbour` and `/_sim/neighbours`
create them.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import SimServer

#: What a neighbour asks for by default: cheap (2 tokens) and always answered.
DEFAULT_PATH = "/api/v1/users/me"


class GreedyNeighbour:
    """Sends requests with a token and never backs off.

    Args:
        server: The server it talks to.
        token: The API token it uses (normally the one the client under test uses).
        path: The API path it requests.
    """

    def __init__(self, server: SimServer, token: str, path: str = DEFAULT_PATH) -> None:
        self.server = server
        self.token = token
        self.path = path
        self.statuses: Counter[int] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def fire(self, n: int) -> list[int]:
        """Send `n` requests right now, one after the other; returns their statuses."""
        out = []
        for _ in range(n):
            status = self.server.answer({"x-api-token": self.token}, self.path, {}, "neighbour").status
            with self._lock:
                self.statuses[status] += 1
            out.append(status)
        return out

    def start(self, per_second: float) -> GreedyNeighbour:
        """Keep sending `per_second` requests a second in a background thread until `stop()`."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, args=(1.0 / per_second,), daemon=True,
                                            name=f"sim-neighbour-{self.server.port}")
            self._thread.start()
        return self

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.fire(1)

    def stop(self) -> None:
        """Stop the background sending (no-op for a neighbour that only fires)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def stats(self) -> dict[str, Any]:
        """Requests sent and how they were answered (the token is not included)."""
        with self._lock:
            return {"path": self.path, "sent": sum(self.statuses.values()), "running": self._thread is not None,
                    "statuses": {str(k): v for k, v in sorted(self.statuses.items())}}
