"""The container of everything an account stores (filled by the generator, owned by `Account`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .deal_children import ChildEdits
from .deletions import Deletions
from .field_definitions import FieldCatalog
from .change_history import ChangeHistory

#: v2 entities (records in the v2 shape).
V2_ENTITIES = (
    "deals", "persons", "organizations", "activities", "products", "pipelines", "stages",
    "projects", "tasks", "deal_products", "deal_followers",
)
#: v1 entities (records in the v1 shape).
V1_ENTITIES = (
    "activity_types", "currencies", "users", "filters", "notes", "files", "leads", "lead_labels",
    "lead_sources", "goals", "call_logs", "roles", "deal_participants", "deal_flow", "deal_changelog",
    "person_changelog", "organization_changelog",
)
#: Kinds whose last-change time is not `update_time` (v1 users carry `modified`).
UPDATE_TIME_FIELD: dict[str, str] = {"users": "modified"}
#: v1 kinds whose timestamps are RFC 3339 like v2 (the real API sends them so).
RFC3339_V1 = ("leads", "lead_labels")
#: Entities derived per deal on demand (not stored as records).
DEAL_DERIVED = ("deal_followers", "deal_participants", "deal_flow", "deal_changelog")
#: Derived entity -> (the entity whose records it belongs to, the key its ground-truth rows carry).
DERIVED_OF: dict[str, tuple[str, str]] = {
    **{e: ("deals", "deal_id") for e in DEAL_DERIVED},
    "person_changelog": ("persons", "person_id"), "organization_changelog": ("organizations", "org_id"),
}
#: Entities derived on demand (not stored as records).
DERIVED = tuple(DERIVED_OF)
#: Entities stored as records, keyed by id (lead_sources by name).
STORED = tuple(e for e in V2_ENTITIES + V1_ENTITIES if e not in DERIVED)
#: Entities whose records link to a deal through `deal_id` (they appear in the deal's flow).
LINKED = ("activities", "notes", "files", "call_logs")
#: Per-deal child kinds the mutation API can add to and remove from deals.
CHILD_KINDS = ("deal_followers", "deal_participants")
#: Field set of each entity that has custom or built-in field definitions.
FIELD_SET_OF = {
    "deals": "deal", "persons": "person", "organizations": "organization", "activities": "activity",
    "products": "product", "projects": "project", "leads": "lead", "notes": "note",
}


def is_archived(rec: dict[str, Any]) -> bool:
    """Whether a record is archived (served by the `/archived` listing, not the default one).

    Deals and leads carry `is_archived`; v2 projects have no flag, an archived project is one
    with a non-null `archive_time`.

    Args:
        rec: A record in its API shape.
    """
    return bool(rec.get("is_archived")) or rec.get("archive_time") is not None


@dataclass
class Dataset:
    """Records and metadata of one account.

    Attributes:
        seed: Generator seed.
        size: Size name the data was generated with.
        store: entity -> {id: record} in id order (API shape).
        fields: All field definitions.
        history: Change events of deals, persons and organizations (generated + appended).
        deletions: Deleted records of every kind (deals stay in `store`, marked deleted).
        products_of: deal id -> ids of its deal-product rows.
        edge_cases: name -> ids of records that carry that edge case.
        next_ids: entity -> next integer id to allocate.
        follower_edits: Followers added/removed through the mutation API (by user id).
        participant_edits: Participants added/removed through the mutation API (by row id).
    """

    seed: int
    size: str
    store: dict[str, dict[Any, dict[str, Any]]]
    fields: FieldCatalog
    history: ChangeHistory
    deletions: Deletions = field(default_factory=Deletions)
    products_of: dict[int, list[int]] = field(default_factory=dict)
    edge_cases: dict[str, list[Any]] = field(default_factory=dict)
    next_ids: dict[str, int] = field(default_factory=dict)
    follower_edits: ChildEdits = field(default_factory=ChildEdits)
    participant_edits: ChildEdits = field(default_factory=ChildEdits)
