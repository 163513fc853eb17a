"""`PipedriveClient`: the one HTTP client every resource of a source run shares.

It owns the base URLs, the `x-api-token` header, pagination (dlt `RESTClient` + the paginators in
`pipedrive.paginators`), dlt's retrying `requests` session, the request/token counters, the
shared `RateLimiter` and the mapping of error responses to `pipedrive.errors` exceptions.
"""

import contextlib
import threading
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Mapping, Optional, Union

from dlt.common import json, logger
from dlt.sources.helpers.requests import Client, Request, Response
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.paginators import BasePaginator
from requests import RequestException
from requests.auth import AuthBase

from .entities import ApiVersion, Entity, FieldSet, Paging
from .errors import (
    DailyBudgetExceededError,
    TokenBudgetExceededError,
    error_for_exception,
    error_for_response,
    raise_for_pipedrive_status,
)
from .paginators import make_paginator, paginator_for
from .rate_limiter import RateLimitedAdapter, RateLimiter, seconds_in_flight

TDataPage = List[Dict[str, Any]]

RETRY_STATUS_CODES = tuple(range(500, 600))
ADAPTER_POOL_SIZE = 50


class PipedriveTokenAuth(AuthBase):
    """Sends the API token in the `x-api-token` header (never in the URL); hides it in repr."""

    def __init__(self, api_token: str) -> None:
        self._api_token = api_token

    def __call__(self, request: Any) -> Any:
        request.headers["x-api-token"] = self._api_token
        return request

    def __repr__(self) -> str:
        return "PipedriveTokenAuth(api_token=***)"


@dataclass
class EndpointStats:
    """Counters of one endpoint (`"v2 /deals"`)."""

    requests: int = 0
    tokens: int = 0
    errors: int = 0


@dataclass
class RequestStats:
    """Request and token counters of a client, thread safe.

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


def _is_retryable_rate_limit(
    response: Optional[Response], exception: Optional[BaseException]
) -> bool:
    """Retry predicate: a burst-window 429 and a malformed 2xx body (truncated JSON, `data: null`)
    are retried; a daily-budget 429 is not (5xx and transport errors retry by dlt's defaults)."""
    if response is None or (response.status_code != 429 and response.status_code >= 300):
        return False
    error = error_for_response(response, "")
    return error is not None and error.retryable


class ResponseMeter:
    """Per-request response hook: counts every attempt and feeds the rate limiter.

    requests runs response hooks inside `Session.send`, which dlt's retry wraps, so the meter
    sees every attempt, retries included.

    Args:
        client: The owning client (stats and limiter).
        endpoint: Counter key, e.g. `"v2 /deals"`.
        token_cost: `x-token-cost` of one request.
        bulk: The request gives way to others in the rate limiter (`RateLimiter.bulk`).
    """

    def __init__(
        self, client: "PipedriveClient", endpoint: str, token_cost: int, bulk: bool = False
    ) -> None:
        self.client = client
        self.endpoint = endpoint
        self.token_cost = token_cost
        self.bulk = bulk

    def __call__(self, response: Response, *args: Any, **kwargs: Any) -> Response:
        _decode_json_once(response)
        self.client.stats.record(self.endpoint, self.token_cost, response.status_code)
        self.client.rate_limiter.update_from_headers(response.headers, seconds_in_flight(response))
        if response.status_code == 429:
            reset = response.headers.get("x-ratelimit-reset")
            if reset is not None and "retry-after" not in response.headers:
                # dlt's retry waits for Retry-After; Pipedrive sends x-ratelimit-reset
                response.headers["Retry-After"] = reset
            if _is_retryable_rate_limit(response, None):  # burst, not the daily budget
                self.client.rate_limiter.on_rate_limited(_seconds(reset))
        return response


def _seconds(value: Optional[str]) -> Optional[float]:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _meter(request: Request) -> Optional[ResponseMeter]:
    """The request's `ResponseMeter` (it carries the token cost and the bulk flag)."""
    for hook in (request.hooks or {}).get("response", []):
        if isinstance(hook, ResponseMeter):
            return hook
    return None


class _MeteredRESTClient(RESTClient):
    """RESTClient whose every logical request passes the token cap, the rate limiter and the
    error mapping."""

    def __init__(self, owner: "PipedriveClient", base_url: str, session: Any) -> None:
        super().__init__(base_url=base_url, auth=owner._auth, data_selector="data", session=session)
        self._owner = owner

    def _send_request(self, request: Request, **kwargs: Any) -> Response:
        meter = _meter(request)
        self._owner._before_request(meter.token_cost if meter else 0)
        limiter = self._owner.rate_limiter
        try:
            # the adapter acquires the limiter in this thread, once per attempt
            with limiter.bulk() if meter and meter.bulk else contextlib.nullcontext():
                response = super()._send_request(request, **kwargs)
        except RequestException as exc:  # left after dlt's retries: connection, timeout, reset
            raise error_for_exception(exc, _request_path(request)) from exc
        try:
            raise_for_pipedrive_status(response, _request_path(request))
        except DailyBudgetExceededError as error:
            # listings run in parallel threads: without this, each would send one more request
            # into the spent budget before learning it is spent
            status, path, message = error.status_code, error.path, error.api_message
            limiter.halt(lambda: DailyBudgetExceededError(status, path, message))
            raise
        return response


def _decode_json_once(response: Response) -> None:
    """Parses the body once (dlt's orjson-backed `json`) and serves it to every `response.json()`.

    dlt's RESTClient and paginators each call `response.json()` (two full parses of a 500-row
    page with the stdlib/simplejson decoder). A body that does not parse is left alone, so the
    caller sees the usual decode error.
    """
    try:
        body = json.loadb(response.content)
    except (ValueError, TypeError):
        return
    response.json = lambda **kwargs: body  # type: ignore[method-assign]


def _request_path(request: Request) -> str:
    """Path of a request URL without scheme, host or query string (safe for messages)."""
    url = request.url or ""
    path = url.split("://", 1)[-1]
    path = "/" + path.split("/", 1)[1] if "/" in path else "/"
    return path.split("?", 1)[0]


class PipedriveClient:
    """HTTP client for the Pipedrive v1 and v2 APIs.

    Args:
        api_token: API token, sent only in the `x-api-token` header; or a ready `requests` auth
            (e.g. `pipedrive.oauth.PipedriveOAuth`, which sends `Authorization: Bearer`).
        base_url: Host URL; v1 is `{base_url}/api/v1`, v2 is `{base_url}/api/v2`.
        rate_limiter: Limiter shared with other clients of the same token; a new one by default.
        max_tokens_per_run: Stop with `TokenBudgetExceededError` before a request would push the
            run's token spend above this cap (None: no cap).
        http_client: dlt retrying `Client` to draw sessions from; by default one that retries
            5xx, connection errors and burst 429s (honouring Retry-After / x-ratelimit-reset)
            with the `[runtime] request_*` settings.
        stats: Counters to continue, so that the sources of one run's chunks count (and cap)
            their tokens together; new counters by default.

    Attributes:
        stats: Request and token counters (`RequestStats`).
        rate_limiter: The shared `RateLimiter`.
    """

    def __init__(
        self,
        api_token: Union[str, AuthBase],
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
        # shared counters let several sources of one run (its chunks) spend one token budget
        self.stats = stats if stats is not None else RequestStats()
        self._auth = api_token if isinstance(api_token, AuthBase) else PipedriveTokenAuth(api_token)
        self._reserved_tokens = 0
        self._budget_lock = threading.Lock()
        if http_client is None:
            http_client = Client(
                raise_for_status=False,
                status_codes=RETRY_STATUS_CODES,
                retry_condition=_is_retryable_rate_limit,
            )
            http_client.configure()
        self._http_client = http_client
        self._rest_clients: Dict[ApiVersion, _MeteredRESTClient] = {}

    def api_url(self, api: ApiVersion) -> str:
        """Base URL of one API version, e.g. `https://acme.pipedrive.com/api/v2`."""
        return f"{self.base_url}/api/{ApiVersion(api).value}"

    def _rest_client(self, api: ApiVersion) -> _MeteredRESTClient:
        api = ApiVersion(api)
        # sessions are thread-local in dlt's Client: one RESTClient per version and thread
        # would be ideal; RESTClient keeps a single session, so take it lazily per call site
        client = self._rest_clients.get(api)
        if client is None:
            session = self._http_client.session
            # every attempt, retries included, waits for the shared window
            adapter = RateLimitedAdapter(self.rate_limiter, pool_maxsize=ADAPTER_POOL_SIZE)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            client = _MeteredRESTClient(self, self.api_url(api), session)
            self._rest_clients[api] = client
        return client

    def _before_request(self, cost: int) -> None:
        if self.max_tokens_per_run is not None:
            with self._budget_lock:
                if self.stats.tokens + cost > self.max_tokens_per_run:
                    raise TokenBudgetExceededError(
                        f"Pipedrive token cap reached: {self.stats.tokens} tokens spent, next "
                        f"request costs {cost}, max_tokens_per_run={self.max_tokens_per_run}; "
                        "rerun to continue from the saved cursors"
                    )

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
    ) -> Iterator[TDataPage]:
        """Yields every page of a list endpoint.

        Args:
            path: Path relative to the version base, e.g. `/deals`.
            api: API version of `path`.
            paging: Paging style (ignored when `paginator` is given).
            page_size: `limit` to request.
            token_cost: `x-token-cost` of one request (for the counters and the token cap).
            params: Query parameters (without paging parameters).
            data_selector: JSON path of the records in the body.
            paginator: A custom paginator instead of the one `paging` selects.
            bulk: One of many independent fetches (per-deal children): its requests give way
                to listing pages in the rate limiter (`RateLimiter.bulk`).

        Yields:
            Lists of records, one per page (possibly empty).
        """
        endpoint = f"{ApiVersion(api).value} {path}"
        hooks = {"response": [ResponseMeter(self, endpoint, token_cost, bulk)]}
        request_params = {k: v for k, v in (params or {}).items() if v is not None}
        for page in self._rest_client(api).paginate(
            path,
            params=request_params,
            paginator=paginator or make_paginator(paging, page_size),
            hooks=hooks,
            data_selector=data_selector,
        ):
            yield [record for record in page if record is not None]

    def paginate_entity(
        self, entity: Entity, params: Optional[Mapping[str, Any]] = None
    ) -> Iterator[TDataPage]:
        """Yields the pages of an entity's listing with its constant parameters applied.

        Args:
            entity: Row of the entity table.
            params: Extra per-run parameters (e.g. `updated_since`), merged over the entity's.

        Yields:
            Lists of raw records.
        """
        return self.paginate(
            entity.path,
            api=entity.api,
            paging=entity.paging,
            page_size=entity.page_size,
            token_cost=entity.token_cost,
            params={**entity.base_params(), **(params or {})},
            data_selector=entity.data_selector,
            paginator=paginator_for(entity),
        )

    def paginate_field_set(self, field_set: FieldSet) -> Iterator[TDataPage]:
        """Yields the pages of a `*Fields` definitions endpoint."""
        return self.paginate(
            field_set.path,
            api=field_set.api,
            paging=field_set.paging,
            page_size=field_set.page_size,
            token_cost=field_set.token_cost,
        )

    def get(
        self,
        path: str,
        *,
        api: ApiVersion = ApiVersion.V2,
        token_cost: int = 0,
        params: Optional[Mapping[str, Any]] = None,
    ) -> Any:
        """Sends one GET and returns the parsed JSON body (envelope included).

        Args:
            path: Path relative to the version base.
            api: API version of `path`.
            token_cost: `x-token-cost` of the request.
            params: Query parameters.

        Returns:
            The decoded JSON body.
        """
        for page in self.paginate(
            path, api=api, paging=Paging.NONE, token_cost=token_cost, params=params,
            data_selector="$",
        ):
            return page[0] if page else None
        return None

    def log_stats(self) -> None:
        """Logs the request and token counters at INFO level."""
        snapshot = self.stats.as_dict()
        logger.info(
            f"Pipedrive: {snapshot['requests']} requests, {snapshot['tokens']} tokens, "
            f"{snapshot['rate_limited']} rate limited"
        )

