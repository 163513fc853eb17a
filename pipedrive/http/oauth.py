"""OAuth 2.0 for the Pipedrive source: credentials (a dlt configspec) and a `requests` auth that
keeps a valid access token.

Configuration (instead of `api_token`), `.dlt/secrets.toml`:

    [sources.pipedrive.oauth]
    client_id = "..."
    client_secret = "..."
    refresh_token = "..."
    # token_url = "https://oauth.pipedrive.com/oauth/token"

or `SOURCES__PIPEDRIVE__OAUTH__CLIENT_ID` / `__CLIENT_SECRET` / `__REFRESH_TOKEN` / `__TOKEN_URL`.

`PipedriveOAuth` exchanges the refresh token at the token URL (`grant_type=refresh_token`, client
authentication `Authorization: Basic base64(client_id:client_secret)`), sends
`Authorization: Bearer <access_token>` on every API request, refreshes before the token expires and
once more when the API answers 401 (revoked or expired early), then resends the request. One lock
serializes refreshes: parallel resources wait for the one refresh in flight instead of each doing
their own. Tokens live in memory only: never in logs, exception messages, `repr`, the pipeline state
or the trace (`client_secret` and `refresh_token` are dlt secret values).
"""

import base64
import hashlib
import threading
import time
from typing import Any, ClassVar, Dict, Iterable, List, Optional
from urllib.parse import urlsplit

from dlt.common import logger
from dlt.common.configuration.specs import CredentialsConfiguration, configspec
from dlt.common.typing import TSecretStrValue
from dlt.sources.helpers.requests import Client
from requests import PreparedRequest, RequestException, Response
from requests.auth import AuthBase

from .errors import AuthenticationError, PipedriveConfigError, PipedriveError, error_for_response

DEFAULT_TOKEN_URL = "https://oauth.pipedrive.com/oauth/token"
REFRESH_MARGIN_S = 300.0
"""Refresh this long before `expires_in` runs out (at most a quarter of the token's lifetime)."""
TOKEN_REQUEST_TIMEOUT_S = 30.0
MAX_RESENDS = 3
"""Resends of one request after 401s: a token refreshed by another thread may be revoked again
before this one uses it; a token this request's own refresh got that is still rejected ends it."""
SETTINGS = "[sources.pipedrive.oauth] in .dlt/secrets.toml"
ENV = "SOURCES__PIPEDRIVE__OAUTH__"


@configspec
class PipedriveOAuthCredentials(CredentialsConfiguration):
    """OAuth 2.0 app credentials of a Pipedrive app (Developer Hub) and the refresh token of one
    installation.

    Attributes:
        client_id: The app's client id.
        client_secret: The app's client secret (secret value).
        refresh_token: Refresh token from the one-time authorization (secret value); it expires
            when unused for 60 days.
        token_url: Token endpoint; the default is Pipedrive's, tests point it at the simulator.
    """

    client_id: str = None
    client_secret: TSecretStrValue = None
    refresh_token: TSecretStrValue = None
    token_url: str = DEFAULT_TOKEN_URL

    __config_gen_annotations__: ClassVar[List[str]] = ["client_id", "client_secret", "refresh_token"]


class OAuthCredentialsError(PipedriveConfigError):
    """The token endpoint rejected the client credentials or the refresh token: a setting to fix."""


class OAuthTokenEndpointError(PipedriveError):
    """The token endpoint failed (5xx after retries, unreachable, or a malformed answer)."""


class OAuthAccessRevokedError(AuthenticationError):
    """The API rejected a freshly refreshed access token: the app was uninstalled or lost scopes."""

    hint = (
        "the API rejected a freshly refreshed OAuth access token: the app was uninstalled, "
        f"revoked or lost its scopes; re-authorize it and update refresh_token in {SETTINGS} "
        f"({ENV}REFRESH_TOKEN)"
    )


class PipedriveOAuth(AuthBase):
    """`requests` auth that sends `Authorization: Bearer <access_token>` and keeps the token fresh.

    Thread safe: one refresh at a time; a request that got 401 with an access token somebody else
    already replaced just resends with the new one.

    Args:
        credentials: Client id/secret, refresh token and token URL.
        http_client: dlt retrying `Client` for the token requests (5xx, 429 and connection errors
            retried with the `[runtime] request_*` settings; 4xx answers are final).
        clock: Monotonic seconds clock (tests).

    Attributes:
        refreshes: Successful token requests made by this object.
    """

    _shared: ClassVar[Dict[str, "PipedriveOAuth"]] = {}
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        credentials: PipedriveOAuthCredentials,
        *,
        http_client: Optional[Client] = None,
        clock: Any = time.monotonic,
    ) -> None:
        self._client_id = (credentials.client_id or "").strip()
        self._client_secret = str(credentials.client_secret or "").strip()
        self._configured_refresh_token = str(credentials.refresh_token or "").strip()
        self._refresh_token = self._configured_refresh_token
        self.token_url = (credentials.token_url or DEFAULT_TOKEN_URL).strip()
        self._check_settings()
        self._clock = clock
        self._lock = threading.RLock()
        self._access_token: Optional[str] = None
        self._refresh_at = 0.0
        self._api_domain: Optional[str] = None
        self.refreshes = 0
        if http_client is None:
            http_client = Client(raise_for_status=False, request_timeout=TOKEN_REQUEST_TIMEOUT_S)
            http_client.configure()
        self._http_client = http_client

    @classmethod
    def shared(cls, credentials: PipedriveOAuthCredentials) -> "PipedriveOAuth":
        """The process-wide auth for these credentials.

        Several sources built in one process (chunked runs, parallel pipelines) share one access
        token, one refresh lock and, when the endpoint rotates refresh tokens, the current one.

        Args:
            credentials: Resolved OAuth credentials.
        """
        key = hashlib.sha256(
            "\0".join(
                str(v or "")
                for v in (credentials.token_url, credentials.client_id,
                          credentials.client_secret, credentials.refresh_token)
            ).encode()
        ).hexdigest()
        with cls._shared_lock:
            auth = cls._shared.get(key)
            if auth is None:
                auth = cls._shared[key] = cls(credentials)
            return auth

    @classmethod
    def clear_shared(cls) -> None:
        """Forgets every shared auth (tests; a new process starts from the configured token)."""
        with cls._shared_lock:
            cls._shared.clear()

    # ------------------------------------------------------------------------------ requests auth
    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.access_token()}"
        request.register_hook("response", self._handle_401)
        return request

    def __repr__(self) -> str:
        return f"PipedriveOAuth(client_id={self._client_id!r}, token_url={self.token_url!r}, tokens=***)"

    # ------------------------------------------------------------------------------ tokens
    def access_token(self) -> str:
        """A valid access token: refreshes first when there is none or it is about to expire."""
        with self._lock:
            if self._access_token is None or self._clock() >= self._refresh_at:
                self._refresh()
            assert self._access_token is not None
            return self._access_token

    @property
    def api_domain(self) -> Optional[str]:
        """`api_domain` of the last token response (`https://<company>.pipedrive.com`); fetches a
        token first when there is none yet."""
        self.access_token()
        return self._api_domain

    def renew(self, rejected: Optional[str] = None) -> str:
        """Refreshes unless the rejected access token was already replaced; returns the current one.

        Args:
            rejected: The access token the API answered 401 to (None: refresh unconditionally).
        """
        with self._lock:
            if rejected is None or rejected == self._access_token:
                self._refresh()
            assert self._access_token is not None
            return self._access_token

    def _refresh(self) -> None:
        """POSTs `grant_type=refresh_token` and stores the answer (caller holds the lock)."""
        started = self._clock()
        body = self._token_request(
            {"grant_type": "refresh_token", "refresh_token": self._refresh_token}
        )
        access_token = body.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise OAuthTokenEndpointError(
                f"Pipedrive OAuth token endpoint {self._where()} answered without access_token"
            )
        try:
            expires_in = float(body.get("expires_in") or 3599)
        except (TypeError, ValueError):
            expires_in = 3599.0
        self._access_token = access_token
        self._refresh_at = started + expires_in - min(REFRESH_MARGIN_S, expires_in / 4)
        api_domain = body.get("api_domain")
        self._api_domain = api_domain if isinstance(api_domain, str) and api_domain else None
        new_refresh = body.get("refresh_token")
        if isinstance(new_refresh, str) and new_refresh and new_refresh != self._refresh_token:
            if self._refresh_token == self._configured_refresh_token:
                logger.warning(
                    "Pipedrive OAuth: the token endpoint issued a new refresh token; this process "
                    "uses it from memory, but the configured one may stop working - re-authorize "
                    f"and update refresh_token in {SETTINGS} if the next run fails with invalid_grant"
                )
            self._refresh_token = new_refresh
        self.refreshes += 1
        logger.info(
            f"Pipedrive OAuth: access token refreshed (valid {expires_in:.0f} s, api_domain "
            f"{urlsplit(self._api_domain or '').netloc or 'not given'})"
        )

    def _token_request(self, form: Dict[str, str]) -> Dict[str, Any]:
        """Sends one form-encoded POST to the token URL with Basic client authentication."""
        basic = base64.b64encode(f"{self._client_id}:{self._client_secret}".encode()).decode()
        try:
            response = self._http_client.session.post(
                self.token_url,
                data=form,
                headers={"Authorization": f"Basic {basic}", "Accept": "application/json"},
                timeout=TOKEN_REQUEST_TIMEOUT_S,
            )
        except RequestException as exc:
            raise OAuthTokenEndpointError(
                f"Pipedrive OAuth token endpoint {self._where()} unreachable "
                f"({type(exc).__name__}) after retries - check the network and token_url in "
                f"{SETTINGS} ({ENV}TOKEN_URL)"
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400 or not isinstance(body, dict):
            raise self._token_error(response.status_code, body)
        return body

    def _token_error(self, status: int, body: Any) -> PipedriveError:
        """The one-line error for a failed token request, naming the setting to fix."""
        code = body.get("error") if isinstance(body, dict) else None
        text = body.get("message") or body.get("error_description") if isinstance(body, dict) else None
        detail = self._scrub(" ".join(f"{code or ''} {text or ''}".split()))[:200]
        where = f"Pipedrive OAuth token endpoint {self._where()} answered {status}"
        where += f" ({detail})" if detail else ""
        if code == "invalid_client" or status == 401:
            return OAuthCredentialsError(
                f"{where}: client_id or client_secret is wrong - copy them from the app in "
                f"Pipedrive Developer Hub into {SETTINGS} ({ENV}CLIENT_ID, {ENV}CLIENT_SECRET)"
            )
        if code == "invalid_grant":
            return OAuthCredentialsError(
                f"{where}: the refresh token is invalid, expired (unused for 60 days), revoked or "
                f"already rotated - re-authorize the app and update refresh_token in {SETTINGS} "
                f"({ENV}REFRESH_TOKEN)"
            )
        if 400 <= status < 500:
            return OAuthCredentialsError(
                f"{where}: check client_id, client_secret, refresh_token and token_url in {SETTINGS}"
            )
        return OAuthTokenEndpointError(
            f"{where}: still failing after retries; rerun later or check token_url in {SETTINGS}"
        )

    def _handle_401(self, response: Response, **kwargs: Any) -> Response:
        """Response hook: on 401 refresh (once, shared) and resend the request with the new token.

        A resend rejected again with a token another thread had refreshed (the access was revoked
        once more meanwhile) refreshes again; a token this hook refreshed itself and the API still
        rejects means the app lost its access (`OAuthAccessRevokedError`).
        """
        request = response.request
        if response.status_code != 401 or request is None or getattr(request, "_pd_oauth_resent", False):
            return response
        rejected = (request.headers.get("Authorization") or "")[len("Bearer "):]
        for _ in range(MAX_RESENDS):
            refreshes_before = self.refreshes
            token = self.renew(rejected=rejected)
            refreshed_here = self.refreshes != refreshes_before
            _ = response.content  # drain the body so the connection goes back to the pool
            response.close()
            retry = request.copy()
            retry.headers["Authorization"] = f"Bearer {token}"
            retry._pd_oauth_resent = True  # type: ignore[attr-defined]
            resent: Response = response.connection.send(retry, **kwargs)  # type: ignore[attr-defined]
            resent.history.append(response)
            resent.request = retry
            if resent.status_code != 401:
                return resent
            if refreshed_here:
                break
            response, rejected = resent, token
        path = urlsplit(retry.url or "").path or "/"
        error = error_for_response(resent, path)
        raise OAuthAccessRevokedError(401, path, error.api_message if error else None)

    # ------------------------------------------------------------------------------ helpers
    def _check_settings(self) -> None:
        missing = [
            name
            for name, value in (
                ("client_id", self._client_id),
                ("client_secret", self._client_secret),
                ("refresh_token", self._refresh_token),
            )
            if not value
        ]
        if missing:
            raise OAuthCredentialsError(
                f"Pipedrive OAuth {', '.join(missing)} empty: set them in {SETTINGS} "
                f"({', '.join(ENV + m.upper() for m in missing)})"
            )
        parts = urlsplit(self.token_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise OAuthCredentialsError(
                f"Pipedrive OAuth token_url {self.token_url!r} is malformed: expected an http(s) "
                f"URL such as {DEFAULT_TOKEN_URL} ({ENV}TOKEN_URL)"
            )

    def _where(self) -> str:
        parts = urlsplit(self.token_url)
        return f"{parts.netloc}{parts.path}"

    def _scrub(self, text: str) -> str:
        """Masks every secret this object knows, in case an endpoint echoes one back."""
        for secret in self._secrets():
            if secret and len(secret) >= 4:
                text = text.replace(secret, "***")
        return text

    def _secrets(self) -> Iterable[str]:
        return (self._client_secret, self._refresh_token, self._configured_refresh_token,
                self._access_token or "")
