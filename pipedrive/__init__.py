"""dlt source for the Pipedrive CRM: every entity, full history, incremental, readable custom
fields.

API v2 is used wherever it exists (deals, persons, organizations, activities, products,
pipelines, stages, projects, tasks and their field sets); API v1 only for entities v2 lacks.
See `pipedrive/README.md` for the tables, configuration, incremental and deletion behaviour.

API reference: https://developers.pipedrive.com/docs/api/v1 and
https://developers.pipedrive.com/docs/api/v2 ; rate limits:
https://pipedrive.readme.io/docs/core-api-concepts-rate-limiting
"""

from typing import Optional, Sequence

import dlt
from dlt.common.typing import TAnyDateTime
from dlt.extract.resource import DltResource

from .chunking import with_page_size
from .child_budget import DEFAULT_MAX_TOKENS_PER_RUN
from .client import PipedriveClient, RequestStats
from .config import resolve_base_url
from .entities import ENTITIES, ENTITIES_BY_NAME, FIELD_SETS, Entity, FieldSet
from .errors import PipedriveConfigError, PipedriveError, PipedriveHTTPError
from .oauth import PipedriveOAuth, PipedriveOAuthCredentials, source_auth
from .resources import build_resources

__all__ = [
    "pipedrive_source",
    "PipedriveClient",
    "RequestStats",
    "ENTITIES",
    "ENTITIES_BY_NAME",
    "FIELD_SETS",
    "Entity",
    "FieldSet",
    "PipedriveError",
    "PipedriveConfigError",
    "PipedriveHTTPError",
    "PipedriveOAuth",
    "PipedriveOAuthCredentials",
]

MAX_TABLE_NESTING = 0
"""Lists stay json columns (no child tables); nested dicts are flattened by the source itself."""


@dlt.source(name="pipedrive", max_table_nesting=MAX_TABLE_NESTING)
def pipedrive_source(
    api_token: Optional[str] = dlt.secrets.value,
    company_domain: Optional[str] = None,
    base_url: Optional[str] = None,
    start_date: Optional[TAnyDateTime] = None,
    hard_delete: bool = False,
    max_tokens_per_run: Optional[int] = None,
    max_pages_per_chunk: Optional[int] = None,
    page_size: Optional[int] = None,
    oauth: Optional[PipedriveOAuthCredentials] = None,
    run_stats: Optional[RequestStats] = None,
) -> Sequence[DltResource]:
    """Loads a Pipedrive company account: one table per entity, field sets, custom-field mapping.

    Args:
        api_token: API token (Settings > Personal preferences > API); sent only in the
            `x-api-token` header. Config: `[sources.pipedrive] api_token` in
            `.dlt/secrets.toml` or `SOURCES__PIPEDRIVE__API_TOKEN`. Leave it unset when using
            `oauth`; exactly one of the two must be configured.
        company_domain: `acme` for `https://acme.pipedrive.com` (routes to the company's data
            center). Default host: `https://api.pipedrive.com`.
        base_url: Explicit host that wins over `company_domain` (proxies, the simulator);
            v1 is `{base_url}/api/v1`, v2 `{base_url}/api/v2`. Host order: `base_url`, then the
            OAuth token response's `api_domain`, then `company_domain`, then the default.
        start_date: Earliest `update_time` loaded on the first run of incremental tables
            (deals, persons, organizations, activities, products, notes, leads, files).
            Later runs continue from the stored cursor. Default: full history.
        hard_delete: False (default) keeps rows Pipedrive reports deleted, with
            `is_deleted = true`; True deletes them from the destination.
        max_tokens_per_run: Hard cap on the API tokens of a run: the client stops the run
            with `TokenBudgetExceededError` before a request would exceed it (None: no hard
            cap). The deal children (products, changes, participants, followers: 10-40 tokens
            per deal) stop *cleanly* once the run has spent 90% of it - of 10,000 tokens when
            None, a third of the smallest daily budget (Lite, one seat) - and keep the remaining
            deals queued in dlt state for the next run. See `pipedrive.child_budget`.
        max_pages_per_chunk: Cut long backfills into chunks: an incremental table reads at
            most this many pages per run, then flags itself pending in its resource state
            (`pipedrive.chunking.pending_resources`); run the pipeline again until nothing is
            pending, as `pipedrive_pipeline.py` does. An interrupted run then loses at most one
            chunk per table. None: read everything in one run.
        page_size: Largest `limit` requested from list endpoints (default: each endpoint's
            maximum, usually 500); smaller pages make smaller chunks and requests.
        oauth: OAuth 2.0 app credentials instead of `api_token` (`client_id`, `client_secret`,
            `refresh_token`, optional `token_url`), from `[sources.pipedrive.oauth]` in
            `.dlt/secrets.toml` or `SOURCES__PIPEDRIVE__OAUTH__*`. Requests carry
            `Authorization: Bearer`; the access token is refreshed before it expires and on a
            401. The first token is fetched when the source is created (bad credentials fail
            here; its `api_domain` is the host unless `base_url` is set). See
            `pipedrive/oauth.py` and the README's OAuth section.

        run_stats: Request/token counters shared by the sources of one run: pass the same
            object to the source of every chunk so `max_tokens_per_run` caps the whole run and
            the totals can be reported (`pipedrive_pipeline.py` does). New counters by default.

    Returns:
        The resources, one per table.
    """
    auth = source_auth(api_token, oauth)
    # OAuth: the first token exchange happens here, so bad credentials fail before any load
    api_domain = auth.api_domain if isinstance(auth, PipedriveOAuth) else None
    client = PipedriveClient(
        auth,
        resolve_base_url(company_domain, base_url, api_domain),
        max_tokens_per_run=max_tokens_per_run,
        stats=run_stats,
    )
    return build_resources(
        client,
        start_date=start_date,
        hard_delete=hard_delete,
        entities=with_page_size(ENTITIES, page_size),
        max_pages_per_chunk=max_pages_per_chunk,
        max_tokens_per_run=(
            DEFAULT_MAX_TOKENS_PER_RUN if max_tokens_per_run is None else max_tokens_per_run
        ),
    )
