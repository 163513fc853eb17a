"""dlt source for the Pipedrive CRM: every entity, full history, incremental, readable custom
fields, deal children, deletions.

`pipedrive_source()` is the dlt source; `pipedrive.run.load(pipeline)` runs it the way this
project's command line does (preflight, repair of a killed run, chunks, one token budget, a
summary), for library, Airflow and Dagster users alike. The parts, one folder each: `http`
(client, auth, rate limiter, paginators, errors), `fields` (definitions, custom-field columns,
row shaping), `deal_children` (queue, budget, changelog, transformers), `run` (the run
protocol); `entities.py` is the declarative table everything is generated from, `listings.py`
turns its rows into resources. See `pipedrive/README.md` for tables and settings.

API reference: https://developers.pipedrive.com/docs/api/v1 and
https://developers.pipedrive.com/docs/api/v2 ; rate limits:
https://pipedrive.readme.io/docs/core-api-concepts-rate-limiting
"""

from dataclasses import replace
from typing import Any, List, Mapping, Optional

import dlt
from dlt.common.typing import TAnyDateTime
from dlt.extract.resource import DltResource

from .deal_children import deal_child_resources
from .deal_children.queue import DEFAULT_MAX_TOKENS_PER_RUN
from .entities import DEAL_CHILDREN, ENTITIES, FIELD_SETS, Entity, FieldSet
from .fields import FieldSetCache
from .fields.tables import custom_fields_mapping_resource, field_set_resource
from .http import PipedriveClient, RequestStats
from .http.auth import source_auth
from .http.base_url import resolve_base_url
from .http.errors import PipedriveConfigError, PipedriveError, PipedriveHTTPError
from .http.oauth import PipedriveOAuth, PipedriveOAuthCredentials
from .listings import HISTORY_TABLES, history_tables, listing_resource
from .session import RunSession
from .sweeps import sweep_resource

__all__ = [
    "pipedrive_source",
    "PipedriveClient",
    "RequestStats",
    "RunSession",
    "HISTORY_TABLES",
    "ENTITIES",
    "DEAL_CHILDREN",
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
"""Lists stay json columns (no child tables); nested objects are flattened by the source itself."""


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
    refresh_reference: bool = False,
    refresh_hours: Optional[Mapping[str, float]] = None,
    deletion_sweep_hours: float = 24.0,
    history: Any = None,
    session: Optional[RunSession] = None,
) -> List[DltResource]:
    """Loads a Pipedrive company account: one table per entity, field sets, custom-field mapping.

    Args:
        api_token: API token (Settings > Personal preferences > API); sent only in the
            `x-api-token` header. Config: `[sources.pipedrive] api_token` in `.dlt/secrets.toml`
            or `SOURCES__PIPEDRIVE__API_TOKEN`. Leave it unset when using `oauth`.
        company_domain: `acme` for `https://acme.pipedrive.com` (routes to the company's data
            center). Default host: `https://api.pipedrive.com`.
        base_url: Explicit host that wins over everything (proxies, the simulator); v1 is
            `{base_url}/api/v1`, v2 `{base_url}/api/v2`. Then the OAuth token response's
            `api_domain`, then `company_domain`, then the default.
        start_date: Earliest `update_time` loaded on the first run of incremental tables.
            Later runs continue from the stored cursor. Default: full history.
        hard_delete: False (default) keeps rows Pipedrive reports deleted, with `is_deleted =
            true`; True deletes them from the destination.
        max_tokens_per_run: Hard cap on the API tokens of a run: the client stops the run with
            `TokenBudgetExceededError` before a request would exceed it (None: no hard cap). The
            deal children stop *cleanly* once the run has spent 90% of it (of 10,000 tokens when
            None) and keep the remaining deals queued for the next run.
        max_pages_per_chunk: Pages an incremental table reads per `pipeline.run()` before it
            flags itself as having more (`pipedrive.run.load` runs chunk after chunk until none
            has); with the protocol's default chunk size the session scales it with the burst
            limit for tables other than the deals (`RunSession.pages_per_chunk`). None: read
            everything in one run.
        page_size: Largest `limit` requested from list endpoints (default: each endpoint's
            maximum, usually 500).
        oauth: OAuth 2.0 app credentials instead of `api_token` (`[sources.pipedrive.oauth]`
            `client_id`, `client_secret`, `refresh_token`, optional `token_url`). The first token
            is fetched here, so bad credentials fail before any load.
        refresh_reference: Read every table read whole (users, stages, currencies, ...) and every
            field set in this run, due or not.
        refresh_hours: Freshness interval per table read whole (or `<set>_fields`), overriding
            the defaults of the entity table, e.g. `{"users": 1, "call_logs": 6}`.
        deletion_sweep_hours: Read every incremental listing's keys once the last deletion sweep
            is this old, so records deleted in Pipedrive are flagged (or removed) - the API does
            not report them (`pipedrive.sweeps`; 0: every run; `pipedrive.run.load` applies them).
        history: Keep every version of the records of these tables (True: every table of
            `HISTORY_TABLES`; a list of tables; in config `true` or `["deals", "persons"]`; typed
            `Any` because dlt cannot resolve a bool-or-list parameter from config) instead of only the latest: dlt's `scd2` merge, `_dlt_valid_from` /
            `_dlt_valid_to` stamped with the run's time; a deletion closes the last version.
        session: What the sources of one run share (one client: rate limiter, token cap,
            counters); pass the same `RunSession` to the source of every chunk. `pipedrive.run`
            does. A new one by default.

    Returns:
        The resources, one per table (listings, deal children, field sets, mapping).
    """
    session = session if session is not None else RunSession()
    session.hard_delete = hard_delete
    session.history = history_tables(history)
    refreshed = {e.table for e in ENTITIES if not e.is_incremental} | {f.table for f in FIELD_SETS}
    unknown_refresh = sorted(set(refresh_hours or {}) - refreshed)
    if unknown_refresh:
        raise PipedriveConfigError(
            f"refresh_hours: {', '.join(unknown_refresh)} is not a table read whole; choose from {', '.join(sorted(refreshed))}"
        )

    def make_client() -> PipedriveClient:
        auth = source_auth(api_token, oauth)
        # OAuth: the first token exchange happens here, so bad credentials fail before any load
        api_domain = auth.api_domain if isinstance(auth, PipedriveOAuth) else None
        return PipedriveClient(
            auth,
            resolve_base_url(company_domain, base_url, api_domain),
            max_tokens_per_run=max_tokens_per_run,
            stats=session.stats,  # type: ignore[union-attr]
        )

    client = session.client_for(make_client)
    overrides = dict(refresh_hours or {})
    entities = ENTITIES if page_size is None else tuple(
        replace(e, page_size=min(e.page_size, page_size)) for e in ENTITIES
    )
    field_set_rows = tuple(
        replace(f, refresh_hours=overrides[f.table]) if f.table in overrides else f for f in FIELD_SETS
    )
    field_sets = FieldSetCache(
        client, force=refresh_reference, field_sets={f.name: f for f in field_set_rows}, memo=session.memo,
        state_lock=session.lock,
    )
    listings = [
        listing_resource(
            entity, session, field_sets, start_date=start_date, hard_delete=hard_delete,
            max_pages_per_chunk=max_pages_per_chunk, refresh_hours=overrides.get(entity.table),
            force_refresh=refresh_reference, history=entity.table in session.history,
        )
        for entity in entities
    ]
    children = deal_child_resources(
        {resource.name: resource for resource in listings},
        session,
        field_sets,
        hard_delete=hard_delete,
        max_tokens_per_run=DEFAULT_MAX_TOKENS_PER_RUN if max_tokens_per_run is None else max_tokens_per_run,
    )
    sweeps = [
        sweep_resource(e, session, interval_hours=deletion_sweep_hours) for e in entities if e.is_incremental
    ]
    renamed_sets = sorted({e.custom_field_set for e in ENTITIES if e.custom_field_set})
    field_tables = [
        field_set_resource(f, field_sets, session, renames_records=f.name in renamed_sets, hard_delete=hard_delete)
        for f in field_set_rows
    ]
    return [*listings, *children, *sweeps, *field_tables, custom_fields_mapping_resource(field_sets, session, renamed_sets)]
