"""OAuth 2.0 token endpoint of the simulator: ``POST /oauth/token`` (and ``/oauth/token/``).

The real endpoint lives on ``https://oauth.pipedrive.com``; the simulator serves it on its own
port, so a client points its token URL at ``{server.base_url}/oauth/token``.

- Client authentication: ``Authorization: Basic base64(client_id:client_secret)``, checked against
  the registered clients; missing or wrong -> 401 ``invalid_client``.
- Body: ``application/x-www-form-urlencoded`` (anything else -> 400 ``invalid_request``).
- ``grant_type=refresh_token`` + ``refresh_token``: must be a live refresh token (else 400
  ``invalid_grant``). ``grant_type=authorization_code`` + ``code`` + ``redirect_uri``: codes are single
  use. Other grant types -> 400 ``unsupported_grant_type``.
- Success: ``{access_token, token_type: "Bearer", refresh_token, scope, expires_in, api_domain}`` as in
  the v1 spec. The access token is accepted as ``Authorization: Bearer`` until ``expires_in`` seconds
  of wall-clock time have passed (then 401 like any wrong token). With ``rotate_refresh_tokens`` every
  refresh returns a new refresh token and retires the one used.
- :meth:`OAuthIssuer.revoke_all` invalidates every issued access token at once (a 401 mid-run).

Error bodies follow the messages of Pipedrive's "OAuth status codes" page
(``Invalid grant: refresh_token is invalid``, ``Invalid client: client is invalid``, ...); the exact
JSON envelope of the real endpoint is not documented, so the body carries the RFC 6749 ``error`` code
and the Pipedrive text in ``message``.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

import orjson

from .errors import ApiError

TOKEN_PATHS = ("/oauth/token", "/oauth/token/")
ENDPOINT = "oauth /oauth/token"
DEFAULT_EXPIRES_IN = 3599
DEFAULT_SCOPE = "base,deals:read,contacts:read,activities:read,products:read,projects:read,users:read,leads:read,recents:read,goals:read"


def oauth_error(status: int, code: str, message: str) -> ApiError:
    """An error answer of the token endpoint.

    Args:
        status: 400 (request / grant errors) or 401 (client authentication).
        code: RFC 6749 error code (``invalid_grant``, ``invalid_client``, ...).
        message: Pipedrive's human-readable text.
    """
    body = orjson.dumps({"success": False, "error": code, "message": message})
    headers = {"www-authenticate": 'Basic realm="oauth"'} if status == 401 else None
    return ApiError(status, body, headers=headers)


class OAuthIssuer:
    """Registered OAuth clients, live refresh tokens and codes, issued access tokens with expiry.

    Args:
        clients: ``{client_id: client_secret}`` accepted by the token endpoint.
        refresh_tokens: refresh tokens accepted by ``grant_type=refresh_token``.
        codes: single-use authorization codes accepted by ``grant_type=authorization_code``.
        expires_in: lifetime in seconds of every access token issued (wall clock).
        rotate_refresh_tokens: return a new refresh token on every refresh and retire the old one.
        scope: the ``scope`` reported in token responses.
        api_domain: callable returning the ``api_domain`` of token responses (the server's base URL).
        clock: seconds clock used for expiry (default ``time.monotonic``).
    """

    def __init__(
        self,
        clients: Mapping[str, str] | None = None,
        refresh_tokens: Iterable[str] = (),
        codes: Iterable[str] = (),
        *,
        expires_in: float = DEFAULT_EXPIRES_IN,
        rotate_refresh_tokens: bool = False,
        scope: str = DEFAULT_SCOPE,
        api_domain: Callable[[], str] = lambda: "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clients = dict(clients or {})
        self.refresh_tokens = set(refresh_tokens)
        self.codes = set(codes)
        self.expires_in = expires_in
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.scope = scope
        self.api_domain = api_domain
        self.clock = clock
        self.issued = 0
        self.issued_tokens: list[str] = []  # every access and refresh token handed out (leak tests)
        self._access: dict[str, float] = {}  # access token -> expiry on self.clock
        self._lock = threading.Lock()

    # ------------------------------------------------------------------------------ bearer check
    def accepts(self, access_token: str) -> bool:
        """True while ``access_token`` was issued here, is not expired and not revoked."""
        with self._lock:
            expiry = self._access.get(access_token)
            return expiry is not None and self.clock() < expiry

    def revoke_all(self) -> int:
        """Invalidate every issued access token (refresh tokens stay valid); returns how many."""
        with self._lock:
            count = len(self._access)
            self._access.clear()
            return count

    def configure(self, **settings: Any) -> dict[str, Any]:
        """Change ``expires_in`` / ``rotate_refresh_tokens`` at run time (control API)."""
        with self._lock:
            if "expires_in" in settings:
                self.expires_in = float(settings["expires_in"])
            if "rotate_refresh_tokens" in settings:
                self.rotate_refresh_tokens = bool(settings["rotate_refresh_tokens"])
            return self.describe()

    def describe(self) -> dict[str, Any]:
        """Settings and counters, without any secret (``GET /_sim/oauth``)."""
        now = self.clock()
        return {
            "clients": sorted(self.clients),
            "expires_in": self.expires_in,
            "rotate_refresh_tokens": self.rotate_refresh_tokens,
            "issued": self.issued,
            "live_access_tokens": sum(1 for expiry in self._access.values() if now < expiry),
            "refresh_tokens": len(self.refresh_tokens),
        }

    # ------------------------------------------------------------------------------ token endpoint
    def token(self, authorization: str | None, content_type: str | None, raw_body: bytes) -> tuple[bytes, str]:
        """Answer one ``POST /oauth/token``.

        Args:
            authorization: the ``Authorization`` request header.
            content_type: the ``Content-Type`` request header.
            raw_body: the form-encoded body.

        Returns:
            (JSON body, grant type) of the 200 answer.

        Raises:
            ApiError: 401 ``invalid_client``; 400 ``invalid_request`` / ``unsupported_grant_type`` /
                ``invalid_grant``.
        """
        self._authenticate_client(authorization)
        if "application/x-www-form-urlencoded" not in (content_type or "").lower():
            raise oauth_error(400, "invalid_request", "Invalid request: content must be application/x-www-form-urlencoded")
        form = dict(parse_qsl(raw_body.decode("utf-8", "replace"), keep_blank_values=True))
        grant_type = form.get("grant_type") or ""
        with self._lock:
            if grant_type == "refresh_token":
                refresh_token = self._use_refresh_token(form.get("refresh_token") or "")
            elif grant_type == "authorization_code":
                refresh_token = self._use_code(form.get("code") or "", form.get("redirect_uri") or "")
            elif not grant_type:
                raise oauth_error(400, "invalid_request", "Missing parameter: grant_type")
            else:
                raise oauth_error(400, "unsupported_grant_type", "Unsupported grant type: grant_type is invalid")
            access_token = "sim-oauth-" + secrets.token_hex(24)
            self._access[access_token] = self.clock() + self.expires_in
            self.issued_tokens.append(access_token)
            self.issued += 1
            expires_in = self.expires_in
        body = {
            "access_token": access_token,
            "token_type": "Bearer",
            "refresh_token": refresh_token,
            "scope": self.scope,
            "expires_in": int(expires_in) if float(expires_in).is_integer() else expires_in,
            "api_domain": self.api_domain(),
        }
        return orjson.dumps(body), grant_type

    def _authenticate_client(self, authorization: str | None) -> None:
        header = authorization or ""
        if header[:6].lower() != "basic ":
            raise oauth_error(401, "invalid_client", "Invalid client: cannot retrieve client credentials")
        try:
            client_id, _, client_secret = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise oauth_error(401, "invalid_client", "Invalid client: cannot retrieve client credentials") from None
        expected = self.clients.get(client_id)
        if expected is None or not secrets.compare_digest(expected, client_secret):
            raise oauth_error(401, "invalid_client", "Invalid client: client is invalid")

    def _use_refresh_token(self, refresh_token: str) -> str:
        """Check a refresh token (caller holds the lock); returns the one to hand out."""
        if refresh_token not in self.refresh_tokens:
            raise oauth_error(400, "invalid_grant", "Invalid grant: refresh_token is invalid")
        if not self.rotate_refresh_tokens:
            return refresh_token
        self.refresh_tokens.discard(refresh_token)
        return self._new_refresh_token()

    def _use_code(self, code: str, redirect_uri: str) -> str:
        """Exchange a single-use authorization code (caller holds the lock)."""
        if not redirect_uri:
            raise oauth_error(400, "invalid_request", "Invalid request: redirect_uri is not a valid URI")
        if code not in self.codes:
            raise oauth_error(400, "invalid_grant", "Invalid grant: authorization_code is invalid")
        self.codes.discard(code)
        return self._new_refresh_token()

    def _new_refresh_token(self) -> str:
        token = "sim-refresh-" + secrets.token_hex(20)
        self.refresh_tokens.add(token)
        self.issued_tokens.append(token)
        return token
