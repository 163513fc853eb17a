"""A simulator in a child process that the benchmark can still mutate and ask for minimums.

At the higher plans (Ultimate with OAuth: 240 requests/s) an in-process `SimServer` shares the
GIL with the pipeline it serves: every response the simulator renders delays one of ours, and the
benchmark would measure the simulator's CPU as ours. `harness.subprocess_sim` moves it out but
leaves the account behind the HTTP control API; this module keeps the account in the child and
runs the harness's own helpers there (`mutate_fraction`, `bench.minimum`), so scenarios read the
same as with an in-process simulator.

    with SimProcess("medium", plan="ultimate", oauth=True, latency_ms=100) as sim:
        sim.base_url, sim.stats(), sim.reset_log(), sim.mutate(0.01), sim.cursors(),
        sim.minimum(tables, cursors), sim.configure("growth", latency_ms=100)
"""

from __future__ import annotations

import multiprocessing
import traceback
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

OAUTH_CLIENT_ID = "bench-client"
OAUTH_CLIENT_SECRET = "bench-client-secret-0123456789"
OAUTH_REFRESH_TOKEN = "bench-refresh-token-0123456789"


def _warm(server: Any) -> None:
    """Rebuilds what the simulator rebuilds lazily after a mutation: the sorted indexes of every
    listed entity and the sorted change list behind `/v1/recents` (on `medium`, 0.8 s for the
    first `/v1/recents` and 0.3-1.1 s for the first page of each changed listing, inside the
    measured run; the real API has no such cost)."""
    from types import SimpleNamespace

    from pipedrive_sim.http.recents import RECENT_ITEMS, recent_entries
    from pipedrive_sim.http.routes import ROUTES

    for entity in dict.fromkeys(route.entity for route in ROUTES if route.entity):
        try:
            index = server.store.get(entity)
            for field in ("id", "update_time"):
                index.view(field)
        except Exception:  # noqa: BLE001 - best effort, as the simulator's own prewarm
            continue
    recent_entries(SimpleNamespace(store=server.store), tuple(RECENT_ITEMS))


def _serve(conn: Connection, size: str, seed: int, plan: str, oauth: bool, latency_ms: float,
           burst_limit: int | None) -> None:
    """The child: generates the account, serves it and answers commands until `stop`."""
    from bench import harness
    from bench.minimum import cursors_after_sync, minimum
    from pipedrive_sim import Account, SimServer
    from pipedrive_sim.http.rate_limits import BurstLimiter

    account = Account.generate(size=size, seed=seed)
    server = SimServer(
        account, token=harness.TOKEN, plan=plan, burst_limit=burst_limit, latency_ms=latency_ms,
        daily_budget=harness.UNLIMITED,
        oauth_clients={OAUTH_CLIENT_ID: OAUTH_CLIENT_SECRET} if oauth else None,
        oauth_refresh_tokens=[OAUTH_REFRESH_TOKEN] if oauth else (),
    ).start()
    conn.send(("ok", server.base_url))
    try:
        while True:
            command, args = conn.recv()
            try:
                if command == "stop":
                    conn.send(("ok", None))
                    return
                if command == "stats":
                    result: Any = server.stats()
                elif command == "reset_log":
                    server.reset_log()
                    server.limiter.reset()
                    result = None
                elif command == "log":
                    result = [(e.time, e.duration_ms, e.status, e.endpoint) for e in server.log]
                elif command == "paths":
                    result = [(e.time, e.path, e.status) for e in server.log]
                elif command == "mutate":
                    with server.data_lock:
                        result = harness.mutate_fraction(account, *args)
                    _warm(server)
                elif command == "configure":
                    plan_, burst_, latency_ = args
                    server.limiter = BurstLimiter(plan_, burst_)
                    server.latency.latency_ms = latency_
                    result = None
                elif command == "cursors":
                    result = cursors_after_sync(account)
                elif command == "minimum":
                    found = minimum(account, *args)
                    result = {"requests": found.requests, "tokens": found.tokens}
                else:
                    raise ValueError(f"unknown command {command!r}")
                conn.send(("ok", result))
            except Exception:  # noqa: BLE001 - reported to the parent, which raises it
                conn.send(("error", traceback.format_exc()))
    finally:
        server.stop()


class SimProcess:
    """`SimServer` in a child process (spawned, so nothing of the parent's state leaks in).

    Args:
        size: Account size.
        seed: Generator seed.
        plan: Pipedrive plan (burst limit per 2 s: lite 20, growth 40, premium 100, ultimate 120).
        oauth: Also accept OAuth (`oauth_settings`): the burst limit is then 4x the plan's.
        latency_ms: Latency added to every response.
        burst_limit: Override of the plan's API-token burst limit (None: the plan's).
        timeout_s: How long account generation may take.
    """

    def __init__(self, size: str, *, seed: int = 1, plan: str = "growth", oauth: bool = False,
                 latency_ms: float = 0.0, burst_limit: int | None = None, timeout_s: float = 900) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self.oauth = oauth
        self.size = size
        self.process = context.Process(
            target=_serve, args=(child, size, seed, plan, oauth, latency_ms, burst_limit), daemon=True,
            name=f"sim-{size}-{plan}",
        )
        self.process.start()
        if not self._conn.poll(timeout_s):
            self.close()
            raise TimeoutError("simulator did not start")
        self.base_url: str = self._result(self._conn.recv())

    @staticmethod
    def _result(answer: tuple[str, Any]) -> Any:
        status, value = answer
        if status != "ok":
            raise RuntimeError(f"simulator process failed:\n{value}")
        return value

    def _call(self, command: str, *args: Any) -> Any:
        self._conn.send((command, args))
        return self._result(self._conn.recv())

    def stats(self) -> dict[str, Any]:
        """`SimServer.stats()`."""
        return self._call("stats")  # type: ignore[no-any-return]

    def reset_log(self) -> None:
        """Forgets the request log and the burst windows (the next run starts on an empty window)."""
        self._call("reset_log")

    def log(self) -> list[tuple[float, float, int, str]]:
        """(arrival time, duration ms, status, endpoint) of every request since the last reset."""
        return self._call("log")  # type: ignore[no-any-return]

    def paths(self) -> list[tuple[float, str, int]]:
        """(arrival time, path, status) of every request since the last reset."""
        return self._call("paths")  # type: ignore[no-any-return]

    def mutate(self, fraction: float) -> dict[str, int]:
        """`harness.mutate_fraction` on the served account."""
        return self._call("mutate", fraction)  # type: ignore[no-any-return]

    def configure(self, plan: str, latency_ms: float, burst_limit: int | None = None) -> None:
        """Serves from now on with `plan`'s burst limit (or `burst_limit`) and `latency_ms` (an
        unthrottled full sync first, then the measured run under the plan)."""
        self._call("configure", plan, burst_limit, latency_ms)

    def cursors(self) -> dict[str, Any]:
        """`minimum.cursors_after_sync` of the served account."""
        return self._call("cursors")  # type: ignore[no-any-return]

    def minimum(self, tables: Sequence[str], since: dict[str, Any] | None) -> dict[str, int]:
        """Requests and tokens of `minimum.minimum` for the served account."""
        return self._call("minimum", list(tables), since)  # type: ignore[no-any-return]

    def oauth_settings(self) -> dict[str, str]:
        """`[sources.pipedrive.oauth]` settings for this simulator's OAuth client."""
        return {"client_id": OAUTH_CLIENT_ID, "client_secret": OAUTH_CLIENT_SECRET,
                "refresh_token": OAUTH_REFRESH_TOKEN, "token_url": f"{self.base_url}/oauth/token"}

    def close(self) -> None:
        """Stops the child (this process only, by its handle)."""
        if self.process.is_alive():
            try:
                self._conn.send(("stop", ()))
                self._conn.poll(10)
            except (OSError, EOFError):
                pass
            self.process.join(10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(10)

    def __enter__(self) -> SimProcess:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
