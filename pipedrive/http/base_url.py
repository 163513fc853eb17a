"""The host the API versions hang off: `base_url`, an OAuth `api_domain`, the company domain or
Pipedrive's default host, validated."""

import re
from typing import Optional
from urllib.parse import urlsplit

from .errors import PipedriveConfigError

DEFAULT_HOST = "https://api.pipedrive.com"

_DOMAIN_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_VERSION_SUFFIX = re.compile(r"/(?:api/)?v[12]/?$")


def normalize_company_domain(company_domain: str) -> str:
    """Reduces `acme`, `acme.pipedrive.com` or `https://acme.pipedrive.com/` to `acme`.

    Args:
        company_domain: The configured company domain.

    Returns:
        The bare company subdomain, lower case.

    Raises:
        PipedriveConfigError: When it is not a valid subdomain label.
    """
    domain = company_domain.strip().lower()
    if "://" in domain:
        domain = urlsplit(domain).netloc
    domain = domain.rstrip("/")
    if domain.endswith(".pipedrive.com"):
        domain = domain[: -len(".pipedrive.com")]
    if not _DOMAIN_LABEL.match(domain):
        raise PipedriveConfigError(
            f"Pipedrive company_domain {company_domain!r} is malformed: use the subdomain of "
            "https://<company_domain>.pipedrive.com, e.g. 'acme'"
        )
    return domain


def normalize_base_url(base_url: str) -> str:
    """Checks an explicit base URL and strips a trailing slash or `/api/v1`-style suffix.

    Args:
        base_url: e.g. `http://127.0.0.1:8765` or `https://acme.pipedrive.com`.

    Returns:
        The URL without trailing slash and version suffix.

    Raises:
        PipedriveConfigError: When it is not an http(s) URL without credentials, query string or
            fragment (the message never repeats them).
    """
    url = base_url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment or "@" in parts.netloc:
        # the message names scheme and host only: a rejected query or user:password@ may hold a token
        shown = f"{parts.scheme}://{parts.hostname}" if parts.scheme and parts.hostname else "it"
        raise PipedriveConfigError(
            f"Pipedrive base_url ({shown}...) is malformed: expected http(s)://host[:port] without "
            "credentials, query string or fragment (the token goes in api_token)"
        )
    return _VERSION_SUFFIX.sub("", url.rstrip("/")).rstrip("/")


def resolve_base_url(
    company_domain: Optional[str] = None,
    base_url: Optional[str] = None,
    api_domain: Optional[str] = None,
) -> str:
    """Returns the host URL the API versions hang off (`{base}/api/v1`, `{base}/api/v2`).

    Args:
        company_domain: Company subdomain; routes requests to the company's data center.
        base_url: Explicit host, wins over everything else (tests, proxies).
        api_domain: `api_domain` of an OAuth token response (the company's host); wins over
            `company_domain`.

    Returns:
        `base_url`, else `api_domain`, else `https://{company_domain}.pipedrive.com`, else
        `https://api.pipedrive.com`.
    """
    if base_url:
        return normalize_base_url(base_url)
    if api_domain:
        return normalize_base_url(api_domain)
    if company_domain:
        return f"https://{normalize_company_domain(company_domain)}.pipedrive.com"
    return DEFAULT_HOST
