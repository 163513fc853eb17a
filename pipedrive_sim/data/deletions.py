"""Deleted records of every kind, and Pipedrive's 30-day retention.

Pipedrive keeps deleted activities, deals, files, persons, products and organizations for 30
days, then removes them for good: after that no API request sees them (changelog "permanent
deletion logic for 6 core entities", 2023-01-30). Only deals can be listed deleted
(`/deals?status=deleted`); every other deleted record leaves every listing at once. Users can
restore deleted deals and leads within the 30 days, so leads are kept that long too.

Deals stay in the store (marked `status: deleted`) because they are still listed; the other
kinds move out of it into their `Deleted` entry here, which keeps the record for a restore.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

from .timestamps import DAY

#: How long deleted records of the `RETAINED` kinds stay (visible to `/deals?status=deleted`,
#: restorable, reported by `Account.deleted_records`).
RETENTION = 30 * DAY
#: The six core kinds Pipedrive keeps for `RETENTION`, plus leads (restorable as long).
RETAINED = ("deals", "activities", "files", "persons", "products", "organizations", "leads")
#: Kinds a user can bring back from the trash within `RETENTION`.
RESTORABLE = ("deals", "leads")


@dataclass
class Deleted:
    """One deleted record.

    Attributes:
        at: When it was deleted (epoch seconds).
        record: The record as it was, for kinds that leave the store (None for deals).
        status: A deal's status before the deletion (what a restore brings back).
    """

    at: int
    record: dict[str, Any] | None = None
    status: str | None = None


class Deletions:
    """Every deleted record of an account, by entity, with the retention rule."""

    def __init__(self) -> None:
        self.by_entity: dict[str, dict[Any, Deleted]] = {}
        self._times: dict[str, list[int]] = {}  # sorted deletion times (for `purged`)

    def add(self, entity: str, rec_id: Any, deleted: Deleted) -> None:
        """Record a deletion."""
        self.by_entity.setdefault(entity, {})[rec_id] = deleted
        bisect.insort(self._times.setdefault(entity, []), deleted.at)

    def pop(self, entity: str, rec_id: Any) -> Deleted:
        """Forget a deletion (the record was restored).

        Raises:
            KeyError: If the record was not deleted.
        """
        deleted = self.by_entity.get(entity, {}).pop(rec_id)
        self._times[entity].remove(deleted.at)
        return deleted

    def is_purged(self, entity: str, rec_id: Any, now: int) -> bool:
        """Whether a deleted record of a retained kind is past the retention at `now`."""
        deleted = self.by_entity.get(entity, {}).get(rec_id)
        return deleted is not None and entity in RETAINED and deleted.at <= now - RETENTION

    def find(self, entity: str, rec_id: Any, now: int) -> Deleted | None:
        """The deletion of a record, or None if it was not deleted or is purged at `now`."""
        deleted = self.by_entity.get(entity, {}).get(rec_id)
        return None if deleted is None or self.is_purged(entity, rec_id, now) else deleted

    def purged(self, entity: str, now: int) -> int:
        """How many deletions of `entity` are past the retention at `now` (grows with time)."""
        times = self._times.get(entity)
        if not times or entity not in RETAINED:
            return 0
        return bisect.bisect_left(times, now - RETENTION + 1)

    def visible(self, entity: str, now: int) -> dict[Any, int]:
        """Deleted records still known at `now` -> deletion time: retained kinds within the
        retention, every deletion of the other kinds (they have no retention to run out)."""
        return {rec_id: d.at for rec_id, d in self.by_entity.get(entity, {}).items()
                if not self.is_purged(entity, rec_id, now)}
