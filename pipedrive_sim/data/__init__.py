"""The data layer: a simulated Pipedrive account and everything it stores.

It owns the records of every entity in their API shapes, the field definitions, the generated
history (deal change events, flow items, mail, per-deal children), the reference records
(users, pipelines, stages, currencies, ...), the virtual clock and the mutation API tests use
to change the account. It knows nothing about HTTP and never imports `pipedrive_sim.http`.
The HTTP layer reads it only through the names exported here: `Account` and its read API
(docs/sim-api.md), plus a few facts about record shapes that the HTTP layer's
filters and caches need (`is_archived`, `INCLUDE_FIELDS`, `V2_ENTITIES`, `UPDATE_TIME_FIELD`).
"""

from .account import Account
from .clock import START, VirtualClock
from .dataset import UPDATE_TIME_FIELD, V2_ENTITIES, is_archived
from .record_factory import INCLUDE_FIELDS

__all__ = ["INCLUDE_FIELDS", "START", "UPDATE_TIME_FIELD", "V2_ENTITIES", "Account", "VirtualClock", "is_archived"]
