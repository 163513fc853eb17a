"""Pipedrive error taxonomy: one exception class per failure kind, one place that maps responses.

Every message is one actionable line naming the HTTP status, the request path (never the full
URL with a query string, never the token) and what the user can do.
"""

import datetime as dt
from typing import Any, Dict, Optional, Type
from urllib.parse import parse_qsl, urlsplit

from dlt.common import json
from requests import RequestException, Response
from requests.exceptions import ConnectTimeout, ReadTimeout
from requests.structures import CaseInsensitiveDict


class PipedriveError(Exception):
    """Base class of every error the Pipedrive source raises."""


class PipedriveConfigError(PipedriveError, ValueError):
    """The source configuration (token, domain, base URL) is malformed."""


class PipedriveHTTPError(PipedriveError):
    """An HTTP error answered by the Pipedrive API.

    Attributes:
        status_code: HTTP status of the response.
        path: Request path without query string.
        api_message: The `error` text of the Pipedrive error body, if any.
    """

    retryable: bool = False
    hint: str = "check the request"

    def __init__(self, status_code: int, path: str, api_message: Optional[str] = None) -> None:
        self.status_code = status_code
        self.path = path
        self.api_message = api_message
        detail = f": {api_message}" if api_message else ""
        super().__init__(f"Pipedrive API {status_code} on GET {path}{detail} - {self.hint}")


class BadRequestError(PipedriveHTTPError):
    """400: the API rejected a parameter; the message lists the query parameters sent."""

    hint = "Pipedrive rejected a query parameter; fix the parameter named above"

    def __init__(
        self,
        status_code: int,
        path: str,
        api_message: Optional[str] = None,
        sent_params: Optional[str] = None,
    ) -> None:
        self.sent_params = sent_params
        if sent_params:
            self.hint = f"{self.hint} (sent: {sent_params})"
        super().__init__(status_code, path, api_message)


class AuthenticationError(PipedriveHTTPError):
    """401: the API token is invalid, revoked or belongs to another company."""

    hint = (
        "the API token is invalid, revoked or expired; copy it again from Pipedrive Settings > "
        "Personal preferences > API into SOURCES__PIPEDRIVE__API_TOKEN (or api_token under "
        "[sources.pipedrive] in .dlt/secrets.toml)"
    )


class PaymentRequiredError(PipedriveHTTPError):
    """402: the company account is not open (trial expired or unpaid)."""

    hint = (
        "the Pipedrive company account is not active (trial expired or unpaid); an admin must "
        "fix billing in Pipedrive before the load can run"
    )


class ForbiddenError(PipedriveHTTPError):
    """403: the user lacks a permission or the feature is not on the plan."""

    hint = (
        "the token's user lacks permission for this endpoint; use the token of an admin user "
        "or leave the table out with --resources"
    )


class BlockedByCloudflareError(ForbiddenError):
    """403 with an HTML page: Cloudflare blocked the client after repeated 429s."""

    hint = (
        "Cloudflare blocked this client after too many 429 responses; wait at least 10 minutes "
        "before rerunning, and stop other integrations from sharing this API token"
    )


class NotFoundError(PipedriveHTTPError):
    """404: the endpoint or record does not exist (wrong domain or removed record).

    On a per-parent child endpoint (e.g. `/deals/{id}/flow`) it means the parent was deleted
    between the listing and the child request: the deal children skip that parent.
    """

    hint = "not found; check company_domain / base_url (a list endpoint must exist)"


class GoneError(NotFoundError):
    """410: the endpoint or record was permanently removed."""

    hint = "permanently removed by Pipedrive; check company_domain / base_url or update the source"


class UnsupportedMediaTypeError(PipedriveHTTPError):
    """415: the feature behind the endpoint is not enabled on the company's plan.

    Resources catch it and skip their table with a warning instead of failing the run.
    """

    hint = "the feature behind this endpoint is not enabled on the plan; its table is skipped"


class BudgetStop(PipedriveError):
    """The run may send no more requests: the daily token budget or `max_tokens_per_run` is spent.

    Not a failure of the data read so far: every resource ends cleanly when it meets one, keeps
    what it has completely read (listing pages up to the last complete one, the deal children
    fetched so far) and leaves the rest for the next run.
    """


class RateLimitError(PipedriveHTTPError):
    """429 from the 2-second burst window; retried after `x-ratelimit-reset`."""

    retryable = True
    hint = "burst rate limit hit; retries wait for x-ratelimit-reset"


class DailyBudgetExceededError(RateLimitError, BudgetStop):
    """429 because the company's daily token budget is spent: waiting minutes does not help.

    Attributes:
        resets_in: Time until the next UTC midnight, the earliest the budget can reset (the API
            resets at midnight of an unnamed server timezone).
    """

    retryable = False

    def __init__(self, status_code: int, path: str, api_message: Optional[str] = None) -> None:
        self.resets_in = seconds_until_utc_midnight()
        hours, minutes = divmod(int(self.resets_in) // 60, 60)
        self.hint = (
            "the company's daily API token budget is spent; it resets at midnight Pipedrive "
            f"server time (next UTC midnight in {hours}h{minutes:02d}m); rerun then - loaded "
            "chunks are kept and the run resumes after the last one"
        )
        super().__init__(status_code, path, api_message)


class ServerError(PipedriveHTTPError):
    """5xx: Pipedrive failed or is in maintenance (503)."""

    retryable = True
    hint = (
        "Pipedrive server error, still failing after retries with backoff; rerun later "
        "(503 = scheduled maintenance)"
    )


class MalformedResponseError(PipedriveHTTPError):
    """200 whose body is not the expected JSON (truncated, not JSON, or `data: null` without
    `additional_data`); retried like a 5xx, raised when every attempt was malformed."""

    retryable = True
    hint = "Pipedrive sent an incomplete response on every retry; rerun later"


class PipedriveConnectionError(PipedriveError):
    """The host could not be reached or did not answer in time, after every retry.

    Attributes:
        path: Request path without query string.
    """

    def __init__(self, path: str, host: str, reason: str) -> None:
        self.path = path
        super().__init__(
            f"Pipedrive unreachable on GET {path} at {host} ({reason}) after retries - check "
            "the network and company_domain / base_url ([runtime] request_timeout, "
            "request_max_attempts tune the retries)"
        )


class TokenBudgetExceededError(BudgetStop):
    """The per-run token cap (`max_tokens_per_run`) would be exceeded by the next request."""


_ERRORS_BY_STATUS: Dict[int, Type[PipedriveHTTPError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: PaymentRequiredError,
    403: ForbiddenError,
    404: NotFoundError,
    410: GoneError,
    415: UnsupportedMediaTypeError,
    429: RateLimitError,
}

_DAILY_BUDGET_MARKERS = ("daily", "budget", "quota")


def _api_message(response: Response) -> Optional[str]:
    """Extracts `error` (+ `code`) from a Pipedrive JSON error body: one short line."""
    try:
        body: Any = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    message = body.get("error") or body.get("message")
    if not isinstance(message, str):
        return None
    code = body.get("code")
    if isinstance(code, str) and code not in message:
        message = f"{message} ({code})"
    return " ".join(message.split())[:200]


def seconds_until_utc_midnight(now: Optional[dt.datetime] = None) -> float:
    """Seconds from `now` (default: the current time) to the next UTC midnight."""
    now = now or dt.datetime.now(dt.timezone.utc)
    tomorrow = (now + dt.timedelta(days=1)).date()
    midnight = dt.datetime.combine(tomorrow, dt.time(), tzinfo=dt.timezone.utc)
    return (midnight - now).total_seconds()


def _sent_params(response: Response) -> Optional[str]:
    """`name=value` pairs of the request's query string (the token never travels there)."""
    request = response.request
    if request is None or not request.url:
        return None
    pairs = parse_qsl(urlsplit(request.url).query, keep_blank_values=True)
    shown = [f"{k}={v[:60]}" for k, v in pairs if "token" not in k.lower()]
    return ", ".join(shown)[:300] or None


_BODY_PROBLEM_ATTR = "_pipedrive_body_problem"


def body_problem(response: Response) -> Optional[str]:
    """Says what is wrong with the body of a successful response, or None when it is fine.

    A body is wrong when it is not JSON (e.g. truncated) or has `"data": null` without
    `additional_data` (an empty v1 list still reports its pagination). The verdict is cached on
    the response: the retry predicate and the final check both ask.

    Args:
        response: A 2xx response.
    """
    if _BODY_PROBLEM_ATTR in response.__dict__:
        return response.__dict__[_BODY_PROBLEM_ATTR]  # type: ignore[no-any-return]
    problem: Optional[str] = None
    if response.status_code != 204:
        try:
            # reuse the body `client._decode_json_once` already parsed (one parse per response)
            parsed = response.__dict__.get("json")
            body = parsed() if parsed is not None else json.loadb(response.content)
        except ValueError:
            problem = f"body is not valid JSON ({len(response.content)} bytes, truncated?)"
        else:
            if (
                isinstance(body, dict)
                and "data" in body
                and body["data"] is None
                and body.get("additional_data") is None
            ):
                problem = "data is null"
    response.__dict__[_BODY_PROBLEM_ATTR] = problem
    return problem


def _is_html(response: Response) -> bool:
    content_type = response.headers.get("content-type", "")
    return "html" in content_type or response.text.lstrip()[:15].lower().startswith("<!doctype")


def is_daily_budget_exhausted(
    status_code: int, headers: "CaseInsensitiveDict[str]", api_message: Optional[str]
) -> bool:
    """Tells a daily-budget 429 from a burst-window 429.

    A burst 429 comes with `x-ratelimit-remaining: 0`; a daily-budget 429 says so in its body or
    still has burst capacity left in the window.
    """
    if status_code != 429:
        return False
    if api_message and any(marker in api_message.lower() for marker in _DAILY_BUDGET_MARKERS):
        return True
    remaining = headers.get("x-ratelimit-remaining")
    try:
        return remaining is not None and int(float(remaining)) > 0
    except ValueError:
        return False


def error_for_response(response: Response, path: str) -> Optional[PipedriveHTTPError]:
    """Maps an HTTP response to the matching exception, or None when it succeeded.

    Args:
        response: The final response (after retries).
        path: Request path without query string, used in the message.

    Returns:
        The exception to raise, or None for a well-formed 2xx or a 3xx response.
    """
    status = response.status_code
    if status < 300:
        problem = body_problem(response)
        return None if problem is None else MalformedResponseError(status, path, problem)
    if status < 400:
        return None
    message = _api_message(response)
    if status == 403 and message is None and _is_html(response):
        return BlockedByCloudflareError(status, path)
    if status == 429 and is_daily_budget_exhausted(status, response.headers, message):
        return DailyBudgetExceededError(status, path, message)
    if status >= 500:
        return ServerError(status, path, message)
    if status == 400:
        return BadRequestError(status, path, message, _sent_params(response))
    error_class = _ERRORS_BY_STATUS.get(status, PipedriveHTTPError)
    return error_class(status, path, message)


def error_for_exception(exc: RequestException, path: str) -> PipedriveConnectionError:
    """Maps a transport failure left after dlt's retries to a one-line error.

    Args:
        exc: The `requests` exception (connection refused, DNS failure, timeout, reset).
        path: Request path without query string.

    Returns:
        The error naming the endpoint and the host (never the query string).
    """
    url = exc.request.url if exc.request is not None and exc.request.url else ""
    host = urlsplit(url).netloc or "the API host"
    if isinstance(exc, (ReadTimeout, ConnectTimeout)):
        reason = "timed out"
    else:
        text = str(exc)
        known = ("Connection refused", "Name or service not known", "Connection reset",
                 "Temporary failure in name resolution", "Connection aborted", "IncompleteRead")
        reason = next((k.lower() for k in known if k in text), type(exc).__name__)
    return PipedriveConnectionError(path, host, reason)

