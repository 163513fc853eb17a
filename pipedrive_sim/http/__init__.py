"""The HTTP layer: `SimServer` serves an `Account` as the Pipedrive REST API on 127.0.0.1.

It owns everything between the socket and the account: the route table and its handlers,
query filters, sorting and pagination, the per-entity indexes and byte caches, error bodies,
authentication (API tokens, OAuth bearer tokens and the `/oauth/token` endpoint), rate limits
(burst window, daily token budget, Cloudflare block) with the token cost of each operation
(generated from the specs), fault injection, request accounting and the `/_sim/` control API.
It may use only what `pipedrive_sim.data` exports (the `Account` read API and the record
facts listed there); it never reaches into the data layer's modules or mutates records
except through the `Account` mutation API (the `/_sim/` control routes).
"""

from .server import SimServer

__all__ = ["SimServer"]
