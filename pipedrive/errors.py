"""Pipedrive error taxonomy: one exception class per failure kind, one place that maps responses.

Every message is one actionable line naming the HTTP status, the request path (never the full
URL with a query string, never the token) and what the user can do.
"""

from typing import Any, Dict, Optional, Type

from requests import Response
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
    """400: the API rejected a parameter."""

    hint = "a query parameter was rejected; report it with the path above"


class AuthenticationError(PipedriveHTTPError):
    """401: the API token is invalid, revoked or belongs to another company."""

    hint = (
        "the API token is invalid or revoked; copy it again from Settings > Personal "
        "preferences > API and set SOURCES__PIPEDRIVE__API_TOKEN"
    )


class PaymentRequiredError(PipedriveHTTPError):
    """402: the company account is not open (trial expired or unpaid)."""

    hint = "the Pipedrive company account is not active (trial expired or unpaid)"


class ForbiddenError(PipedriveHTTPError):
    """403: the user lacks a permission or the feature is not on the plan."""

    hint = "the token's user lacks permission for this endpoint (admin or plan feature needed)"


class BlockedByCloudflareError(ForbiddenError):
    """403 with an HTML page: Cloudflare blocked the client after repeated 429s."""

    hint = (
        "Cloudflare blocked the client (usually after ignoring 429s); wait before retrying "
        "and lower concurrency"
    )


class NotFoundError(PipedriveHTTPError):
    """404: the resource or endpoint does not exist (wrong domain or removed record)."""

    hint = "not found; check company_domain / base_url or whether the record was deleted"


class GoneError(PipedriveHTTPError):
    """410: the resource was permanently removed."""

    hint = "the resource is permanently gone"


class UnsupportedMediaTypeError(PipedriveHTTPError):
    """415: the feature is not enabled for the company."""

    hint = "the feature behind this endpoint is not enabled for the company"


class RateLimitError(PipedriveHTTPError):
    """429 from the 2-second burst window; retried after `x-ratelimit-reset`."""

    retryable = True
    hint = "burst rate limit hit; retries wait for x-ratelimit-reset"


class DailyBudgetExceededError(RateLimitError):
    """429 because the company's daily token budget is spent: waiting minutes does not help."""

    retryable = False
    hint = (
        "the company's daily API token budget is spent; rerun after the budget resets "
        "(midnight, server time) - incremental state resumes where it stopped"
    )


class ServerError(PipedriveHTTPError):
    """5xx: Pipedrive failed or is in maintenance (503)."""

    retryable = True
    hint = "Pipedrive server error; retried with backoff, rerun later if it persists"


class TokenBudgetExceededError(PipedriveError):
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
        The exception to raise, or None for a 2xx/3xx response.
    """
    status = response.status_code
    if status < 400:
        return None
    message = _api_message(response)
    if status == 403 and message is None and _is_html(response):
        return BlockedByCloudflareError(status, path)
    if status == 429 and is_daily_budget_exhausted(status, response.headers, message):
        return DailyBudgetExceededError(status, path, message)
    if status >= 500:
        return ServerError(status, path, message)
    error_class = _ERRORS_BY_STATUS.get(status, PipedriveHTTPError)
    return error_class(status, path, message)


def raise_for_pipedrive_status(response: Response, path: str) -> None:
    """Raises the mapped `PipedriveHTTPError` for an error response.

    Args:
        response: The final response (after retries).
        path: Request path without query string.

    Raises:
        PipedriveHTTPError: When the response status is 4xx or 5xx.
    """
    error = error_for_response(response, path)
    if error is not None:
        raise error
