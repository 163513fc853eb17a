"""`AccountState`: what every part of an `Account` shares.

`Account` is assembled from a read side (`account.py`) and two mutation mixins
(`mutations.py`, `field_mutations.py`); this base class holds the state they all use (the
dataset, the virtual clock, the per-entity versions) and the small helpers around it: version
bookkeeping, the 30-day retention of deleted deals (`deletions.py`), record lookup and the timestamp format of
an entity.
"""

from __future__ import annotations

from typing import Any

from .clock import VirtualClock
from .dataset import CHILD_KINDS, DEAL_DERIVED, DERIVED, LINKED, RFC3339_V1, STORED, V2_ENTITIES, Dataset
from .embedded import EMBEDS
from .timestamps import v1_ts, v2_ts

#: entity -> entities whose rows are built from or embed its records (their versions move with
#: it): the per-deal derived entities, and the kinds that embed copies of it (`embedded.EMBEDS`;
#: v1 organizations embed their owner user).
_DEPENDENTS: dict[str, tuple[str, ...]] = {
    "deals": DEAL_DERIVED, **{e: ("deal_flow",) for e in (*LINKED, *CHILD_KINDS)},
    "persons": ("deal_participants", "deal_flow", "person_changelog"),
    "organizations": ("deal_participants", "deal_flow", "organization_changelog"),
    "users": ("organizations",),
}
for _embedder, _sources in EMBEDS.items():
    for _source in _sources:
        _DEPENDENTS[_source] = (*_DEPENDENTS.get(_source, ()), _embedder)


class AccountState:
    """The dataset, clock and versions of an account, with the helpers all its parts use.

    Args:
        data: The generated dataset.
        clock: The virtual clock (a fresh one at `START` if omitted).
    """

    def __init__(self, data: Dataset, clock: VirtualClock | None = None) -> None:
        self.data = data
        self.clock = clock or VirtualClock()
        self._versions: dict[str, int] = {e: 1 for e in STORED + DERIVED}
        self._cache: dict[str, tuple[int, list[dict[str, Any]]]] = {}
        self._created = 0
        self._links: tuple[tuple[int, ...], dict[str, dict[int, list[dict[str, Any]]]]] | None = None

    @property
    def seed(self) -> int:
        """The generator seed."""
        return self.data.seed

    @property
    def size(self) -> str:
        """The size name the account was generated with."""
        return self.data.size

    @property
    def edge_cases(self) -> dict[str, list[Any]]:
        """Edge case name (`entity:case`) -> ids of the records that carry it."""
        return self.data.edge_cases

    def _purged(self) -> int:
        """How many deleted deals are past the 30-day retention at the current time."""
        return self.data.deletions.purged("deals", self.clock.timestamp())

    def _is_purged(self, deal_id: int) -> bool:
        return self.data.deletions.is_purged("deals", deal_id, self.clock.timestamp())

    def version(self, entity: str) -> int:
        """A counter that increases whenever `records(entity)` may have changed.

        Also accepts `<field_set>_fields` (e.g. `deal_fields`) for field definitions.
        """
        base = self._versions.get(entity, 1)
        if entity in ("deals", "deal_products") or entity in DERIVED:
            base += self._purged()
        return base

    def _bump(self, *entities: str) -> None:
        """Move the versions of `entities` and of the derived entities built from them."""
        for entity in entities:
            for moved in (entity, *_DEPENDENTS.get(entity, ())):
                self._versions[moved] = self._versions.get(moved, 1) + 1

    def _now(self, entity: str) -> str | None:
        """`clock.now()` in the timestamp format of the entity's `update_time` (or `modified`)."""
        ts = self.clock.timestamp()
        return v2_ts(ts) if entity in V2_ENTITIES or entity in RFC3339_V1 else v1_ts(ts)

    def _get(self, entity: str, rec_id: Any) -> dict[str, Any]:
        if entity not in STORED:
            raise KeyError(f"entity {entity!r} cannot be changed directly")
        rec = self.data.store[entity].get(rec_id)
        if rec is None or (entity == "deals" and self._is_purged(rec_id)):
            raise KeyError(f"{entity} {rec_id!r} not found")
        return rec
