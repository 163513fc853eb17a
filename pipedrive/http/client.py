"""`PipedriveClient`: the one HTTP client every resource of a run shares.

It owns the base URLs, the auth, pagination, dlt's retrying `requests` session, the request and
token counters, the shared `RateLimiter`, the run's token cap and the mapping of error responses
to `pipedrive.http.errors` exceptions.

Paging is a short loop over dlt's paginator interface (`init_request`, `update_state`,
`update_request`) and dlt's retrying session, instead of `RESTClient.paginate`: the client must
check the token cap before every request and map the response to an exception only after dlt's
retries, and `RESTClient` offers neither except through its private `_send_request`.
"""

import contextlib
import threading
from datetime import datetime
from email.utils import parsedate_to_datetime
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Mapping, Optional, Union

from dlt.common import json
from dlt.common.jsonpath import find_values
from dlt.sources.helpers.requests import Client, Request, Response
from dlt.sources.helpers.rest_client.paginators import BasePaginator
from requests import RequestException, Session
from requests.auth import AuthBase

from ..entities import ApiVersion, Endpoint, Entity, Paging
from .auth import PipedriveTokenAuth
from .concurrency import MAX_IN_FLIGHT
from .errors import (
    BlockedByCloudflareError,
    BudgetStop,
    DailyBudgetExceededError,
    TokenBudgetExceededError,
    error_for_exception,
    error_for_response,
)
from .paginators import make_paginator, paginator_for
from .rate_limiter import RateLimitedAdapter, RateLimiter, seconds_in_flight

TDataPage = List[Dict[str, Any]]

RETRY_STATUS_CODES = tuple(range(500, 600))
ADAPTER_POOL_SIZE = MAX_IN_FLIGHT + 32
"""Connections kept open: the fan-out's most plus dlt's extract workers (the listings); a request
beyond the pool opens a connection of its own and drops it afterwards."""


@dataclass
class EndpointStats:
    """Counters of one endpoint (`"v2 /deals"`)."""

    requests: int = 0
    tokens: int = 0
    errors: int = 0


@dataclass
class RequestStats:
    """Request and token counters of a run, thread safe.

    Attributes:
        requests: HTTP requests sent, retries included.
        tokens: Tokens charged (sum of `x-token-cost` of every non-429 response).
        rate_limited: 429 responses received.
        by_endpoint: Counters per `"<api> <path>"`.
    """

    requests: int = 0
    tokens: int = 0
    rate_limited: int = 0
    by_endpoint: Dict[str, EndpointStats] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def record(self, endpoint: str, token_cost: int, status_code: int) -> None:
        """Counts one HTTP response."""
        with self._lock:
            stats = self.by_endpoint.setdefault(endpoint, EndpointStats())
            self.requests += 1
            stats.requests += 1
            if status_code == 429:
                self.rate_limited += 1
            else:
                self.tokens += token_cost
                stats.tokens += token_cost
            if status_code >= 400:
                stats.errors += 1

    def as_dict(self) -> Dict[str, Any]:
        """Plain-dict snapshot, for logs and benchmarks."""
        with self._lock:
            return {
                "requests": self.requests,
                "tokens": self.tokens,
                "rate_limited": self.rate_limited,
                "by_endpoint": {k: vars(v).copy() for k, v in sorted(self.by_endpoint.items())},
            }


def _is_retryable(response: Optional[Response], exception: Optional[BaseException]) -> bool:
    """Retry predicate: a burst-window 429 and a malformed 2xx body (truncated JSON, `data: null`)
    are retried; a daily-budget 429 is not (5xx and transport errors retry by dlt's defaults)."""
    if response is None or (response.status_code != 429 and response.status_code >= 300):
        return False
    error = error_for_response(response, "")
    return error is not None and error.retryable


class ResponseMeter:
    """Response hook of one request: counts every attempt and feeds the rate limiter.

    requests runs response hooks inside `Session.send`, which dlt's retry wraps, so the meter
    sees every attempt, retries included. It also tells the adapter the request's cost and
    whether it gives way to others (`RateLimiter.bulk`).

    Args:
        client: The owning client.
        endpoint: Counter key, e.g. `"v2 /deals"`.
        token_cost: `x-token-cost` of one request.
    """

    def __init__(self, client: "PipedriveClient", endpoint: str, token_cost: int) -> None:
        self.client = client
        self.endpoint = endpoint
        self.token_cost = token_cost

    def __call__(self, response: Response, *args: Any, **kwargs: Any) -> Response:
        _decode_json_once(response)
        self.client.stats.record(self.endpoint, self.token_cost, response.status_code)
        if self.client.first_server_time is None:
            self.client.note_server_time(response.headers.get("date"))
        limiter = self.client.rate_limiter
        limiter.update_from_headers(response.headers, seconds_in_flight(response))
        if response.status_code == 429:
            reset = response.headers.get("x-ratelimit-reset")
            if reset is not None and "retry-after" not in response.headers:
                # dlt's retry waits for Retry-After; Pipedrive sends x-ratelimit-reset
                response.headers["Retry-After"] = reset
            if _is_retryable(response, None):  # burst, not the daily budget
                limiter.on_rate_limited(_seconds(reset), seconds_in_flight(response))
        return response


def _seconds(value: Optional[str]) -> Optional[float]:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _decode_json_once(response: Response) -> None:
    """Parses the body once (dlt's orjson-backed `json`) and serves it to every `response.json()`
    (paginators and the error mapping read it too). A body that does not parse is left alone."""
    try:
        body = json.loadb(response.content)
    except (ValueError, TypeError):
        return
    response.json = lambda **kwargs: body  # type: ignore[method-assign]


def _request_path(request: Any) -> str:
    """Path of a request URL without scheme, host or query string (safe for messages)."""
    url = request.url or ""
    path = url.split("://", 1)[-1]
    path = "/" + path.split("/", 1)[1] if "/" in path else "/"
    return path.split("?", 1)[0]


def _records(body: Any, data_selector: str) -> TDataPage:
    """The records of a response body (`data`, `data.goals`, `$` for the whole body)."""
    if data_selector == "$":
        return [body]
    if data_selector == "data" and isinstance(body, dict):
        data = body.get("data")
    else:
        found = find_values(data_selector, body)
        data = found[0] if len(found) == 1 else found
    if data is None:
        return []
    rows = data if isinstance(data, list) else [data]
    return [record for record in rows if record is not None]


class PipedriveClient:
    """HTTP client for the Pipedrive v1 and v2 APIs.

    Args:
        auth: API token (sent only in the `x-api-token` header) or a `requests` auth such as
            `pipedrive.http.oauth.PipedriveOAuth` (`Authorization: Bearer`).
        base_url: Host URL; v1 is `{base_url}/api/v1`, v2 is `{base_url}/api/v2`.
        rate_limiter: Limiter shared with other clients of the same token; a new one by default.
        max_tokens_per_run: Stop with `TokenBudgetExceededError` before a request would push the
            run's token spend above this cap (None: no cap).
        http_client: dlt retrying `Client` to draw sessions from; by default one that retries
            5xx, connection errors, burst 429s and malformed bodies with the `[runtime]
            request_*` settings.
        stats: Counters to continue (the chunks of one run count and cap their tokens together).

    Attributes:
        stats: Request and token counters.
        rate_limiter: The shared limiter.
        stopped_by: The budget stop (daily budget or token cap) that ended the run's requests.
    """

    def __init__(
        self,
        auth: Union[str, AuthBase],
        base_url: str,
        *,
        rate_limiter: Optional[RateLimiter] = None,
        max_tokens_per_run: Optional[int] = None,
        http_client: Optional[Client] = None,
        stats: Optional[RequestStats] = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.rate_limiter = rate_limiter or RateLimiter()
        self.max_tokens_per_run = max_tokens_per_run
        self.stats = stats if stats is not None else RequestStats()
        self._auth = auth if isinstance(auth, AuthBase) else PipedriveTokenAuth(auth)
        self._cap_lock = threading.Lock()
        self._reserved = 0
        """Token cost of the requests in flight (the cap counts them before they are answered)."""
        if http_client is None:
            http_client = Client(
                raise_for_status=False, status_codes=RETRY_STATUS_CODES, retry_condition=_is_retryable
            )
            http_client.configure()
        self._http_client = http_client
        self._adapter = RateLimitedAdapter(self.rate_limiter, pool_maxsize=ADAPTER_POOL_SIZE)
        self._sessions: Dict[int, Session] = {}
        self.stopped_by: Optional[BudgetStop] = None
        self.first_server_time: Optional[datetime] = None
        """The API's clock (`Date` header) at the first response of the run."""

    def note_server_time(self, date_header: Optional[str]) -> None:
        """Keeps the server's clock of the run's first response (from its `Date` header)."""
        try:
            parsed = parsedate_to_datetime(date_header) if date_header else None
        except (TypeError, ValueError):
            parsed = None
        if parsed is not None and self.first_server_time is None:
            self.first_server_time = parsed

    def api_url(self, api: ApiVersion) -> str:
        """Base URL of one API version, e.g. `https://acme.pipedrive.com/api/v2`."""
        return f"{self.base_url}/api/{ApiVersion(api).value}"

    def _session(self, http_client: Optional[Client] = None) -> Session:
        """The retrying session of `http_client` (default: the client's own), with the limiter's
        adapter mounted, so every attempt, retries included, waits for the shared window.

        One session per `Client`, shared by all threads (urllib3's pool is thread safe): dlt's
        `Client.session` gives each thread its own, and those thread-local sessions kept dlt's
        extract pool from joining its threads at shutdown.
        """
        http_client = http_client or self._http_client
        with self._cap_lock:
            session = self._sessions.get(id(http_client))
            if session is None:
                session = http_client.session
                session.mount("http://", self._adapter)
                session.mount("https://", self._adapter)
                self._sessions[id(http_client)] = session
            return session

    @contextlib.contextmanager
    def _reserve(self, cost: int) -> Iterator[None]:
        """Holds `cost` against `max_tokens_per_run` while the request is in flight: requests sent
        in parallel cannot pass the check together and overspend the cap (a retry of a request
        that was already let through is not checked again)."""
        with self._cap_lock:
            cap = self.max_tokens_per_run
            if cap is not None and self.stats.tokens + self._reserved + cost > cap:
                error = TokenBudgetExceededError(
                    f"Pipedrive token cap reached: {self.stats.tokens} tokens spent, {self._reserved} "
                    f"in flight, next request costs {cost}, max_tokens_per_run={cap}; what was read "
                    "is loaded, rerun to continue after it"
                )
                self.stopped_by = self.stopped_by or error
                raise error
            self._reserved += cost
        try:
            yield
        finally:
            with self._cap_lock:
                self._reserved -= cost

    def _send(self, request: Request, token_cost: int, bulk: bool, http_client: Optional[Client]) -> Response:
        """One logical request: cap check, dlt's retries through the limiter, error mapping."""
        session = self._session(http_client)
        prepared = session.prepare_request(request)
        path = _request_path(prepared)
        limiter = self.rate_limiter
        try:
            with self._reserve(token_cost), limiter.bulk() if bulk else contextlib.nullcontext():
                response = session.send(prepared)
        except RequestException as exc:  # left after dlt's retries: connection, timeout, reset
            raise error_for_exception(exc, path) from exc
        error = error_for_response(response, path)
        if isinstance(error, BlockedByCloudflareError) and isinstance(self.stopped_by, DailyBudgetExceededError):
            # requests in flight when the budget ran out each got a daily 429: enough of them at
            # once (a large fan-out) makes Cloudflare block the next ones; the run was stopping
            # anyway, so they end it as the budget stop they follow, not as an error
            raise DailyBudgetExceededError(self.stopped_by.status_code, path, self.stopped_by.api_message)
        if isinstance(error, DailyBudgetExceededError):
            # listings run in parallel threads: without this, each would send one more request
            # into the spent budget before learning it is spent
            status, message = error.status_code, error.api_message
            limiter.halt(lambda: DailyBudgetExceededError(status, path, message))
            self.stopped_by = self.stopped_by or error
        if error is not None:
            raise error
        return response

    def paginate(
        self,
        path: str,
        *,
        api: ApiVersion = ApiVersion.V2,
        paging: Paging = Paging.CURSOR,
        page_size: int = 500,
        token_cost: int = 0,
        params: Optional[Mapping[str, Any]] = None,
        data_selector: str = "data",
        paginator: Optional[BasePaginator] = None,
        bulk: bool = False,
        http_client: Optional[Client] = None,
    ) -> Iterator[TDataPage]:
        """Yields every page of a list endpoint.

        Args:
            path: Path relative to the version base, e.g. `/deals`.
            api: API version of `path`.
            paging: Paging style (ignored when `paginator` is given).
            page_size: `limit` to request.
            token_cost: `x-token-cost` of one request (counters and token cap).
            params: Query parameters (without paging parameters).
            data_selector: JSON path of the records in the body (`$`: the whole body).
            paginator: A paginator instead of the one `paging` selects.
            bulk: One of many independent fetches (per-deal children): its requests give way to
                listing pages in the rate limiter.
            http_client: dlt `Client` with other retry settings than the client's own.

        Yields:
            Lists of records, one per page (possibly empty).
        """
        meter = ResponseMeter(self, f"{ApiVersion(api).value} {path}", token_cost)
        request = Request(
            "GET",
            f"{self.api_url(api)}/{path.lstrip('/')}",
            params={k: v for k, v in (params or {}).items() if v is not None},
            auth=self._auth,
            hooks={"response": [meter]},
        )
        paginator = paginator or make_paginator(paging, page_size)
        paginator.init_request(request)
        while True:
            response = self._send(request, token_cost, bulk, http_client)
            page = _records(response.json(), data_selector)
            paginator.update_state(response, page)
            paginator.update_request(request)
            yield page
            if not paginator.has_next_page:
                return

    def paginate_endpoint(
        self, endpoint: Endpoint, params: Optional[Mapping[str, Any]] = None, *, bulk: bool = False,
        path: Optional[str] = None, paginator: Optional[BasePaginator] = None,
    ) -> Iterator[TDataPage]:
        """Yields the pages of a row of the entity table with its constant parameters applied.

        Args:
            endpoint: An `Entity`, `DealChild` or `FieldSet` row.
            params: Per-run parameters (e.g. `updated_since`), merged over the row's own; the
                row's cursor adds its sort parameters.
            bulk: See `paginate`.
            path: The path with its placeholder filled (`/deals/7/changelog`).
            paginator: Another paginator than the row's own.
        """
        constant = endpoint.base_params() if isinstance(endpoint, Entity) else endpoint.params
        return self.paginate(
            path or endpoint.path,
            api=endpoint.api,
            paging=endpoint.paging,
            page_size=endpoint.page_size,
            token_cost=endpoint.token_cost,
            params={**constant, **(params or {})},
            data_selector=endpoint.data_selector,
            paginator=paginator or (paginator_for(endpoint) if isinstance(endpoint, Entity) else None),
            bulk=bulk,
        )

    def get(
        self, path: str, *, api: ApiVersion = ApiVersion.V2, token_cost: int = 0,
        params: Optional[Mapping[str, Any]] = None,
    ) -> Any:
        """Sends one GET and returns the decoded body (envelope included)."""
        pages = self.paginate(path, api=api, paging=Paging.NONE, token_cost=token_cost, params=params, data_selector="$")
        return next(iter(pages), [None])[0]

    def probe(self, path: str, *, api: ApiVersion = ApiVersion.V1, token_cost: int = 0) -> Any:
        """`get` with two attempts and a 15 s timeout: a wrong token, an unpaid account or an
        unreachable host fails in seconds, before a run starts (the run's own retries back off for
        up to a minute)."""
        quick = Client(raise_for_status=False, request_max_attempts=2, request_timeout=15)
        pages = self.paginate(
            path, api=api, paging=Paging.NONE, token_cost=token_cost, data_selector="$", http_client=quick
        )
        return next(iter(pages), [None])[0]
