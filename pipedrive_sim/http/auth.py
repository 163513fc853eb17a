"""Authentication: ``x-api-token`` header, legacy ``api_token`` query parameter, OAuth bearer."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from .errors import unauthorized


@dataclass(frozen=True)
class Principal:
    """Who made a request.

    Attributes:
        token: the API token or OAuth access token.
        oauth: True for ``Authorization: Bearer`` tokens (4x burst limit).
    """

    token: str
    oauth: bool


class BearerIssuer(Protocol):
    """Something that knows which issued OAuth access tokens are still valid."""

    def accepts(self, access_token: str) -> bool:
        """True while the token is valid."""


class Authenticator:
    """Checks request credentials against the accepted API and OAuth tokens.

    Args:
        api_tokens: accepted API tokens (header ``x-api-token`` or query ``api_token``).
        oauth_tokens: accepted OAuth access tokens (``Authorization: Bearer``), never expiring.
        issuer: accepts the access tokens issued by ``POST /oauth/token`` until they expire
            (:class:`pipedrive_sim.http.oauth.OAuthIssuer`), or None.
    """

    def __init__(
        self, api_tokens: Iterable[str], oauth_tokens: Iterable[str] = (), issuer: BearerIssuer | None = None
    ) -> None:
        self.api_tokens = set(api_tokens)
        self.oauth_tokens = set(oauth_tokens)
        self.issuer = issuer

    def authenticate(self, headers: Mapping[str, str], params: Mapping[str, str]) -> Principal:
        """Return the caller, or raise the real 401.

        The header wins over the query parameter; a bearer token is checked against the OAuth set.

        Raises:
            ApiError: 401 ``unauthorized access``.
        """
        authorization = headers.get("authorization") or ""
        if authorization[:7].lower() == "bearer ":
            token = authorization[7:].strip()
            if token in self.oauth_tokens or (self.issuer is not None and self.issuer.accepts(token)):
                return Principal(token, oauth=True)
            raise unauthorized()
        token = headers.get("x-api-token") or params.get("api_token") or ""
        if token in self.api_tokens:
            return Principal(token, oauth=False)
        raise unauthorized()
