"""Authentication of API requests: the API token, checked and sent only in the `x-api-token`
header (never in a URL: dlt's URL redaction does not know `api_token`), or OAuth 2.0
(`pipedrive.http.oauth`); `source_auth` picks the one configured."""

import re
from typing import Any, Optional, Union

from requests.auth import AuthBase

from .errors import PipedriveConfigError
from .oauth import SETTINGS, PipedriveOAuth, PipedriveOAuthCredentials

_TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_\-.:]{8,256}$")


class PipedriveTokenAuth(AuthBase):
    """Sends the API token in the `x-api-token` header; hides it in repr."""

    def __init__(self, api_token: str) -> None:
        self._api_token = api_token

    def __call__(self, request: Any) -> Any:
        request.headers["x-api-token"] = self._api_token
        return request

    def __repr__(self) -> str:
        return "PipedriveTokenAuth(api_token=***)"


def validate_api_token(api_token: object) -> str:
    """Checks that the API token looks like a token, without ever echoing it.

    Args:
        api_token: The configured token.

    Returns:
        The token with surrounding whitespace removed.

    Raises:
        PipedriveConfigError: When the token is missing or obviously malformed.
    """
    if not isinstance(api_token, str) or not api_token.strip():
        raise PipedriveConfigError(
            "Pipedrive api_token is empty: set SOURCES__PIPEDRIVE__API_TOKEN or "
            "[sources.pipedrive] api_token in .dlt/secrets.toml"
        )
    token = api_token.strip()
    if not _TOKEN_PATTERN.match(token):
        raise PipedriveConfigError(
            f"Pipedrive api_token is malformed ({len(token)} characters, expected 8-256 letters, "
            "digits or -_.: without spaces, e.g. the 40-character token from Settings > "
            "Personal preferences > API)"
        )
    return token


def source_auth(
    api_token: Optional[str], oauth: Optional[PipedriveOAuthCredentials]
) -> Union[PipedriveTokenAuth, PipedriveOAuth]:
    """The auth of a source run: the API token or OAuth, exactly one of them.

    Args:
        api_token: The configured API token, or None/empty.
        oauth: The resolved `[sources.pipedrive.oauth]` credentials, or None.

    Returns:
        `PipedriveTokenAuth` for an API token, the shared `PipedriveOAuth` for OAuth.

    Raises:
        PipedriveConfigError: Both or neither are configured, or the one given is malformed.
    """
    has_token = isinstance(api_token, str) and bool(api_token.strip())
    if oauth is not None and has_token:
        raise PipedriveConfigError(
            "Pipedrive api_token and [sources.pipedrive.oauth] are both configured: keep one "
            "(remove SOURCES__PIPEDRIVE__API_TOKEN or the SOURCES__PIPEDRIVE__OAUTH__* settings)"
        )
    if oauth is not None:
        return PipedriveOAuth.shared(oauth)
    if not has_token:
        raise PipedriveConfigError(
            "Pipedrive credentials missing: set SOURCES__PIPEDRIVE__API_TOKEN (api_token under "
            "[sources.pipedrive] in .dlt/secrets.toml) or OAuth client_id, client_secret and "
            f"refresh_token under {SETTINGS}"
        )
    return PipedriveTokenAuth(validate_api_token(api_token))
