"""Error responses of the Pipedrive API, byte for byte as the real API sends them.

Every error the HTTP layer produces is an :class:`ApiError`; the server turns it into a response
with :meth:`ApiError.body`. The JSON bodies follow the documented error envelope
``{"success": false, "error": ..., "error_info": ..., "data": null, "additional_data": null}``.
"""

from __future__ import annotations

from typing import Any

import orjson

ERROR_INFO = "Please check developers.pipedrive.com"

CLOUDFLARE_403_HTML = b"""<!DOCTYPE html>
<!--[if lt IE 7]> <html class="no-js ie6 oldie" lang="en-US"> <![endif]-->
<html class="no-js" lang="en-US">
<head>
<title>Attention Required! | Cloudflare</title>
<meta charset="UTF-8" />
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
</head>
<body>
<div id="cf-wrapper">
  <div id="cf-error-details" class="cf-error-details-wrapper">
    <h1 data-translate="block_headline">Sorry, you have been blocked</h1>
    <h2 class="cf-subheadline"><span data-translate="unable_to_access">You are unable to access</span> pipedrive.com</h2>
    <p>This website is using a security service to protect itself from online attacks.</p>
    <span class="cf-footer-item">Cloudflare Ray ID: <strong>7f0000000000sim0</strong></span>
  </div>
</div>
</body>
</html>
"""

GATEWAY_HTML_TEMPLATE = """<!DOCTYPE html>
<html>
<head><title>{status} {reason}</title></head>
<body>
<center><h1>{status} {reason}</h1></center>
<hr><center>cloudflare</center>
</body>
</html>
"""


def error_body(message: str, **extra: Any) -> bytes:
    """Serialize the standard Pipedrive error envelope.

    Args:
        message: the ``error`` text.
        **extra: extra top-level keys (e.g. ``errorCode``), inserted after ``error``.

    Returns:
        The JSON body as bytes.
    """
    body: dict[str, Any] = {"success": False, "error": message}
    body.update(extra)
    body.update({"error_info": ERROR_INFO, "data": None, "additional_data": None})
    return orjson.dumps(body)


def html_error_page(status: int, reason: str) -> bytes:
    """Return a Cloudflare-style HTML error page (used for 5xx gateway faults)."""
    return GATEWAY_HTML_TEMPLATE.format(status=status, reason=reason).encode()


class ApiError(Exception):
    """An error response: HTTP status, body bytes, content type and extra headers.

    Args:
        status: HTTP status code.
        body: response body bytes.
        content_type: ``Content-Type`` header value.
        headers: extra response headers.
    """

    def __init__(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status}: {body[:200]!r}")
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers or {}


def bad_request(message: str) -> ApiError:
    """400 with the standard envelope (invalid or out-of-range parameter)."""
    return ApiError(400, error_body(message))


def not_found(message: str = "Unknown method .") -> ApiError:
    """404 with the standard envelope (unknown path or missing entity)."""
    return ApiError(404, error_body(message))


def unauthorized() -> ApiError:
    """401 for a missing or wrong token (body as in the v1 spec's ``/users/me`` example)."""
    return ApiError(401, error_body("unauthorized access", errorCode=401))


def rate_limited(headers: dict[str, str]) -> ApiError:
    """429 for the 2-second burst limit."""
    return ApiError(429, error_body("Request over limit", errorCode=429), headers=headers)


def budget_exhausted(headers: dict[str, str]) -> ApiError:
    """429 once the company's daily token budget is spent (distinct message from the burst 429)."""
    message = "Daily API token budget exceeded. Requests are blocked until the budget resets."
    return ApiError(429, error_body(message, errorCode=429, code="daily_token_budget_exceeded"), headers=headers)


def cloudflare_block() -> ApiError:
    """403 Cloudflare HTML page served to a client that keeps hammering after 429s."""
    return ApiError(403, CLOUDFLARE_403_HTML, content_type="text/html; charset=UTF-8")
