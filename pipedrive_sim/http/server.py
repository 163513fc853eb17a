"""``SimServer``: a threaded HTTP/1.1 keep-alive server on 127.0.0.1 that serves an ``Account``.

Request pipeline for API paths (``/v1``, ``/api/v1``, ``/api/v2``): Cloudflare block -> auth (401)
-> burst limit (429) -> daily budget (429) -> route (404) -> faults -> handler (400 on bad
parameters) -> injected latency -> one ``sendall`` of head and body. ``/_sim/`` paths go to the
control API (no auth, not counted).
"""

from __future__ import annotations

import logging
from email.utils import formatdate
import socket
import struct
import threading
import time
from collections.abc import Iterable, Mapping
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from .accounting import Accounting, RequestLogEntry
from .auth import Authenticator
from .control import handle_control
from .errors import (
    ApiError,
    budget_exhausted,
    cloudflare_block,
    error_body,
    html_error_page,
    not_found,
    rate_limited,
)
from .faults import FaultRule, FaultSet, Latency
from .handlers import Request
from .index import IndexStore
from .neighbours import DEFAULT_PATH as NEIGHBOUR_PATH, GreedyNeighbour
from .oauth import DEFAULT_EXPIRES_IN, ENDPOINT as OAUTH_ENDPOINT, TOKEN_PATHS, OAuthIssuer
from .rate_limits import AbuseGuard, BurstLimiter, DailyBudget
from .routes import ROUTES, match

REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 429: "Too Many Requests", 500: "Internal Server Error",
           502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
logger = logging.getLogger(__name__)


class _Response:
    """What the pipeline produced for one request."""

    __slots__ = ("status", "body", "content_type", "headers", "cost", "outcome", "fault")

    def __init__(self) -> None:
        self.status = 200
        self.body = b""
        self.content_type = "application/json"
        self.headers: dict[str, str] = {}
        self.cost = 0
        self.outcome = "ok"
        self.fault: FaultRule | None = None


class SimServer:
    """The simulated Pipedrive API over real HTTP.

    Args:
        account: the ``Account`` to serve.
        token: the accepted API token.
        tokens: further accepted API tokens.
        oauth_tokens: accepted OAuth access tokens (``Authorization: Bearer``; 4x burst limit), never expiring.
        oauth_clients: ``{client_id: client_secret}`` accepted by ``POST /oauth/token`` (Basic auth).
        oauth_refresh_tokens: refresh tokens accepted by ``grant_type=refresh_token``.
        oauth_codes: single-use codes accepted by ``grant_type=authorization_code``.
        oauth_expires_in: lifetime in seconds (wall clock) of the access tokens ``/oauth/token`` issues.
        rotate_refresh_tokens: every refresh returns a new refresh token and retires the old one.
        plan: ``lite`` | ``growth`` | ``premium`` | ``ultimate`` (burst limit and budget multiplier).
        seats: seats in the company (budget = 30,000 x multiplier x seats).
        daily_budget: override of the daily token budget.
        burst_limit: override of the per-2-second request limit of API tokens.
        latency_ms: fixed latency added to every API response.
        jitter_ms: extra uniform latency in ``[0, jitter_ms]`` (seeded).
        host: interface to bind.
        port: port (0: a free port).
        seed: seed for fault probabilities and jitter.
        abuse_threshold: 429s tolerated within ``abuse_window_s`` before the Cloudflare 403.
        abuse_window_s: window for counting 429s.
        abuse_cooldown_s: how long the 403 block lasts.
        recents_max_age_days: ``/recents`` clamps older ``since_timestamp`` values to this look-back.
        faults: fault rules to install at start (dicts of :meth:`FaultSet.add` arguments).
        prewarm: build the entity indexes in a background thread at start.
    """

    def __init__(
        self,
        account: Any,
        token: str = "sim-token",
        *,
        tokens: Iterable[str] = (),
        oauth_tokens: Iterable[str] = (),
        oauth_clients: Mapping[str, str] | None = None,
        oauth_refresh_tokens: Iterable[str] = (),
        oauth_codes: Iterable[str] = (),
        oauth_expires_in: float = DEFAULT_EXPIRES_IN,
        rotate_refresh_tokens: bool = False,
        plan: str = "growth",
        seats: int = 10,
        daily_budget: int | None = None,
        burst_limit: int | None = None,
        latency_ms: float = 0.0,
        jitter_ms: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        abuse_threshold: int = 50,
        abuse_window_s: float = 10.0,
        abuse_cooldown_s: float = 60.0,
        recents_max_age_days: float = 30.0,
        faults: Iterable[Mapping[str, Any]] = (),
        prewarm: bool = True,
    ) -> None:
        self.account = account
        self.prewarm = prewarm
        self.token = token
        self.plan = plan
        self.seats = seats
        self.host = host
        self.port = port
        self.data_lock = threading.RLock()
        self.store = IndexStore(account, self.data_lock)
        self.oauth = OAuthIssuer(
            oauth_clients,
            oauth_refresh_tokens,
            oauth_codes,
            expires_in=oauth_expires_in,
            rotate_refresh_tokens=rotate_refresh_tokens,
            api_domain=lambda: self.base_url,
        )
        self.auth = Authenticator([token, *tokens], oauth_tokens, self.oauth)
        self.limiter = BurstLimiter(plan, burst_limit)
        total = daily_budget if daily_budget is not None else DailyBudget.for_plan(plan, seats)
        self.budget = DailyBudget(total, lambda: account.clock.now().date())
        self.abuse = AbuseGuard(abuse_threshold, abuse_window_s, abuse_cooldown_s)
        self.faults = FaultSet(seed)
        for rule in faults:
            self.faults.add(**rule)
        self.latency = Latency(latency_ms, jitter_ms, seed)
        self.recents_max_age = timedelta(days=recents_max_age_days)
        self.accounting = Accounting()
        self.neighbours: list[GreedyNeighbour] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # ------------------------------------------------------------------------------ lifecycle
    def start(self) -> SimServer:
        """Bind and serve in a background thread; returns self."""
        handler = type("BoundHandler", (_Handler,), {"sim": self})
        self._httpd = _HTTPServer((self.host, self.port), handler)
        self.port = self._httpd.server_address[1]
        self._stopping.clear()
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name=f"sim-{self.port}", daemon=True)
        self._thread.start()
        if self.prewarm:
            threading.Thread(target=self._prewarm, name=f"sim-prewarm-{self.port}", daemon=True).start()
        return self

    def _prewarm(self) -> None:
        """Build the id-sorted index of every listed entity in the background (first pages stay fast)."""
        for entity in dict.fromkeys(r.entity for r in ROUTES if r.entity):
            if self._stopping.is_set():
                return
            try:
                self.store.get(entity).view("id")
            except Exception:  # noqa: BLE001 - warming is best effort; the request path reports errors
                return

    def stop(self) -> None:
        """Stop serving and close the socket (sleeping fault handlers and neighbours are stopped)."""
        self._stopping.set()
        for neighbour in self.neighbours:
            neighbour.stop()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def serve_forever(self) -> None:
        """Block until interrupted (starts the server first if needed)."""
        if self._httpd is None:
            self.start()
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(0.5)
        finally:
            self.stop()

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------------------ inspection
    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (v1 at /v1 and /api/v1, v2 at /api/v2)."""
        return f"http://{self.host}:{self.port}"

    @property
    def log(self) -> list[RequestLogEntry]:
        """Every API request served since the last reset."""
        return list(self.accounting.log)

    def stats(self) -> dict[str, Any]:
        """Totals per endpoint, requests, tokens spent, 429s served, 403 blocks, budget state."""
        stats = self.accounting.stats()
        stats["budget"] = {"total": self.budget.total, "spent": self.budget.spent, "remaining": self.budget.remaining}
        return stats

    def reset_log(self) -> None:
        """Forget the request log and totals (the budget is separate: ``budget.reset()``)."""
        self.accounting.reset()

    def add_neighbour(self, token: str | None = None, path: str = NEIGHBOUR_PATH,
                      per_second: float | None = None) -> GreedyNeighbour:
        """Another integration on a token (default: ``self.token``) that never backs off.

        Args:
            token: The API token it sends.
            path: The API path it requests.
            per_second: Start sending this many requests a second in the background (None: it
                only sends when told, ``neighbour.fire(n)``).
        """
        neighbour = GreedyNeighbour(self, token or self.token, path)
        self.neighbours.append(neighbour)
        return neighbour.start(per_second) if per_second else neighbour

    def info(self) -> dict[str, Any]:
        """Configuration summary (``GET /_sim/info``)."""
        return {"base_url": self.base_url, "token": self.token, "plan": self.plan, "seats": self.seats,
                "burst_limit": self.limiter.base_limit, "daily_budget": self.budget.total}

    # ------------------------------------------------------------------------------ pipeline
    def answer(self, headers: Any, path: str, params: dict[str, str], client: str) -> _Response:
        """Run the API pipeline for one GET request."""
        resp = _Response()
        raw_token = _raw_token(headers, params) or client
        rate_headers: dict[str, str] = {}
        try:
            if self.abuse.blocked(raw_token):
                resp.outcome = "blocked"
                raise cloudflare_block()
            try:
                principal = self.auth.authenticate(headers, params)
            except ApiError:
                resp.outcome = "unauthorized"
                raise
            allowed, rate_headers = self.limiter.hit(principal.token, principal.oauth)
            if not allowed:
                self.abuse.record_429(raw_token)
                resp.outcome = "rate_limited"
                raise rate_limited(rate_headers)
            if self.budget.exhausted():
                self.abuse.record_429(raw_token)
                resp.outcome = "budget_exhausted"
                raise budget_exhausted(rate_headers)
            found = match(path)
            if found is None:
                resp.outcome = "not_found"
                raise not_found()
            route, args = found
            resp.fault = self.faults.pick(path)
            if resp.fault is not None:
                resp.outcome = f"fault:{resp.fault.kind}"
                if resp.fault.kind == "rate_limited":
                    self.abuse.record_429(raw_token)
                _raise_for_fault(resp.fault, rate_headers)
            request = Request(
                params=params,
                args=args,
                account=self.account,
                store=self.store,
                now=self.account.clock.now(),
                recents_max_age=self.recents_max_age,
            )
            if resp.fault is not None and resp.fault.kind == "recents_null_items":
                probability = resp.fault.item_probability
                request.null_item_chance = lambda: self.faults.chance(probability)
            resp.cost = route.cost
            try:
                resp.body = route.handler(route, request)
            except ApiError:
                resp.outcome = "error"
                raise
            finally:
                self.budget.charge(route.cost)
            if resp.fault is not None and resp.fault.kind == "null_data":
                resp.body = orjson.dumps({"success": True, "data": None, "additional_data": None})
        except ApiError as err:
            resp.status, resp.body, resp.content_type = err.status, err.body, err.content_type
            resp.headers.update(err.headers)
        except Exception as exc:  # noqa: BLE001 - a simulator bug must still produce a response
            logger.exception("internal error serving %s", path)
            resp.status, resp.outcome = 500, "internal_error"
            resp.body = error_body(f"Simulator internal error: {type(exc).__name__}: {exc}")
        if resp.outcome != "blocked" and not (resp.fault is not None and resp.fault.kind == "no_ratelimit_headers"):
            for name, value in rate_headers.items() or self.limiter.peek().items():
                resp.headers.setdefault(name, value)
        return resp

    def answer_token(self, headers: Any, path: str, raw_body: bytes) -> _Response:
        """Run ``POST /oauth/token``: faults, then the issuer (no rate limit, no token cost)."""
        resp = _Response()
        try:
            resp.fault = self.faults.pick(path)
            if resp.fault is not None:
                resp.outcome = f"fault:{resp.fault.kind}"
                _raise_for_fault(resp.fault, {})
            resp.body, _ = self.oauth.token(headers.get("authorization"), headers.get("content-type"), raw_body)
        except ApiError as err:
            resp.status, resp.body, resp.content_type = err.status, err.body, err.content_type
            resp.headers.update(err.headers)
            if resp.fault is None:
                resp.outcome = "unauthorized" if err.status == 401 else "error"
        resp.headers["cache-control"] = "no-store"
        return resp

    def sleep(self, seconds: float) -> None:
        """Sleep, waking early when the server stops."""
        if seconds > 0:
            self._stopping.wait(seconds)


def _raw_token(headers: Any, params: Mapping[str, str]) -> str:
    """The credential string as sent (before validation), used as the abuse-block key."""
    authorization = headers.get("authorization") or ""
    return authorization or headers.get("x-api-token") or params.get("api_token") or ""


def _raise_for_fault(rule: FaultRule, rate_headers: Mapping[str, str]) -> None:
    """Faults that replace the response entirely (``rate_headers``: the window's headers)."""
    if rule.kind == "rate_limited":
        raise rate_limited({**rate_headers, "x-ratelimit-remaining": "0"})
    status = rule.status or 500
    if rule.kind == "error":
        raise ApiError(status, error_body("Internal server error" if status == 500 else REASONS.get(status, "Error")))
    if rule.kind == "maintenance":
        body = error_body("Pipedrive is currently undergoing scheduled maintenance. Please try again later.")
        raise ApiError(status, body, headers={"retry-after": "30"})
    if rule.kind == "html_error":
        raise ApiError(status, html_error_page(status, REASONS.get(status, "Error")), content_type="text/html")


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class _Handler(BaseHTTPRequestHandler):
    """Parses requests and writes each response with a single ``sendall``."""

    protocol_version = "HTTP/1.1"
    server_version = "pipedrive-sim"
    sim: SimServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Silence the default stderr access log."""

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_PATCH(self) -> None:  # noqa: N802
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        started = time.perf_counter()
        arrived = time.time()
        split = urlsplit(self.path)
        path = split.path
        length = int(self.headers.get("content-length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        if path.startswith("/_sim/"):
            status, body = handle_control(self.sim, method, path, raw_body)
            self._send(status, body, "application/json", {})
            return
        params: dict[str, str] = {}
        for key, value in parse_qsl(split.query, keep_blank_values=True):
            params[key] = f"{params[key]},{value}" if key in params else value
        sim = self.sim
        oauth = path in TOKEN_PATHS
        if oauth and method == "POST":
            resp = sim.answer_token(self.headers, path, raw_body)
        elif method != "GET":
            resp = _Response()
            resp.status, resp.body, resp.outcome = 405, error_body("Method not allowed"), "error"
        else:
            resp = sim.answer(self.headers, path, params, self.client_address[0])
        fault = resp.fault
        delay = sim.latency.seconds()
        if fault is not None and fault.kind in ("slow", "timeout"):
            delay += (fault.delay_ms or 0) / 1000.0
        sim.sleep(delay)
        logged = {k: v for k, v in params.items() if k != "api_token"}  # the token body is never logged
        found = None if oauth else match(path)
        sim.accounting.record(  # before sending, so a client that got the answer also sees it counted
            RequestLogEntry(
                method=method,
                path=path,
                params=logged,
                status=resp.status,
                token_cost=resp.cost,
                time=arrived,
                duration_ms=(time.perf_counter() - started) * 1000.0,
                endpoint=OAUTH_ENDPOINT if oauth else found[0].endpoint if found else "unknown",
                outcome=resp.outcome,
            )
        )
        try:
            if fault is not None and fault.kind == "reset":
                self._send_reset(resp)
            elif fault is not None and fault.kind == "truncated":
                self._send(resp.status, resp.body[: max(1, len(resp.body) // 2)], resp.content_type, resp.headers)
            else:
                self._send(resp.status, resp.body, resp.content_type, resp.headers)
        except OSError:
            self.close_connection = True

    def _head(self, status: int, length: int, content_type: str, headers: Mapping[str, str]) -> bytes:
        # like every HTTP server, Pipedrive sends its clock in `Date`: here the virtual clock
        now = formatdate(self.sim.account.clock.now().timestamp(), usegmt=True)
        lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}", f"Date: {now}",
                 f"Content-Type: {content_type}", f"Content-Length: {length}"]
        lines.extend(f"{name}: {value}" for name, value in headers.items())
        if self.close_connection:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _send(self, status: int, body: bytes, content_type: str, headers: Mapping[str, str]) -> None:
        if content_type == "application/json":
            content_type = "application/json; charset=utf-8"
        self.wfile.write(self._head(status, len(body), content_type, headers) + body)

    def _send_reset(self, resp: _Response) -> None:
        """Send the head and half the body, then abort the connection with a TCP RST."""
        head = self._head(resp.status, len(resp.body), "application/json; charset=utf-8", resp.headers)
        self.wfile.write(head + resp.body[: len(resp.body) // 2])
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()
