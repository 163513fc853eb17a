"""The HTTP side of the source: everything between a row of the entity table and the records of
its pages.

It owns the one client a run shares (`client`: base URLs, pagination over dlt's retrying
session, request and token counters, the run's token cap), authentication (`auth`: the
`x-api-token` header; `oauth`: OAuth 2.0 refresh), the host (`base_url`), the burst-window limiter
every attempt passes (`rate_limiter`), the paginators of the two Pipedrive paging styles
(`paginators`), reading a listing ahead in a thread (`read_ahead`) and the error taxonomy with
its one-line messages (`errors`). Nothing here knows about tables, dlt resources or state.
"""

from .client import PipedriveClient, RequestStats, TDataPage

__all__ = ["PipedriveClient", "RequestStats", "TDataPage"]
