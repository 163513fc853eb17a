"""Record mutations of an `Account`: create, update, delete and archive records.

A mixin of `Account` (`account_state.py` holds the state, `account.py` the read API): each mutation stamps
`update_time` from the virtual clock, bumps `version(entity)` and, for deals, logs the changed
fields as change events (the deal changelog and `dealChange` flow items). Per-deal children
(followers, participants, product rows) also move their deal's `update_time`.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from . import deal_children
from .account_state import AccountState
from .change_history import HISTORY_ENTITIES
from .custom_values import flatten_v1
from .dataset import CHILD_KINDS, STORED, UPDATE_TIME_FIELD
from .embedded import render
from .deletions import RESTORABLE, Deleted
from .record_factory import RecordFactory, local_close_dates
from .reference_records import REFERENCE_KINDS, blank, lead_uuid
from .timestamps import parse_ts
from .v1_shapes import RULES

#: Entities `create` builds with a record factory (others take the given dict as is).
_BUILDERS = {
    "deals": "deal", "persons": "person", "organizations": "organization", "activities": "activity",
    "products": "product", "projects": "project", "tasks": "task", "notes": "note", "files": "file",
    "leads": "lead", "call_logs": "call_log",
}
#: Archivable entity -> keys `archive` sets (`is_archived` to true, `archive_time` to now);
#: v2 projects have no `is_archived` flag, only `archive_time`.
_ARCHIVE_KEYS: dict[str, tuple[str, ...]] = {
    "deals": ("is_archived", "archive_time"), "leads": ("is_archived", "archive_time"), "projects": ("archive_time",),
}
#: Kinds the real API has no delete for -> what happens instead.
UNDELETABLE = {"lead_sources": "no delete in the API"}
#: Kinds whose deletion only marks the record inactive: it stays listed with `active_flag: false`
#: (`/activityTypes` lists inactive types, the spec: "Marks an activity type as deleted"; a user
#: is deactivated, never deleted; a currency is turned off).
_MARKED_INACTIVE = ("activity_types", "users", "currencies")
#: First id of followers/participants added through the mutation API (generated: deal id * 10 + k).
_FIRST_CHILD_ID = 1_000_000_000
#: Keys the mutation API owns or derives (the local dates follow the `*_time` keys, which are
#: not logged either); changes to them are not logged as deal changes.
_NOT_LOGGED = ("update_time", "add_time", "id", "local_won_date", "local_lost_date", "local_close_date")


class RecordMutations(AccountState):
    """create / update / delete / archive of records (mixed into `Account`)."""

    if TYPE_CHECKING:  # the read API of `Account`
        def deal_participants(self, deal_id: int) -> list[dict[str, Any]]: ...

        def _follower_rows(self, deal: dict[str, Any]) -> list[dict[str, Any]]: ...

    def _apply(self, entity: str, rec: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
        """Return a copy of `rec` with `changes` applied (custom fields in the entity's style)."""
        new = dict(rec)
        for key, value in changes.items():
            if key == "custom_fields" and entity == "leads":
                for fd in self.data.fields.custom("lead"):
                    if fd.key in value:
                        flatten_v1(fd, value[fd.key], new)
            elif key == "custom_fields":
                new["custom_fields"] = {**(rec.get("custom_fields") or {}), **value}
            else:
                new[key] = value
        return new

    def create(self, entity: str, data: dict[str, Any]) -> dict[str, Any]:
        """Create a record; returns it (API shape). `add_time`/`update_time` = clock.now().

        Every kind starts from a complete empty record of its shape (record factory for CRM
        records, `reference_records.blank` for reference kinds), then takes `data`.

        `deal_products` rows need `deal_id` and `product_id`; they update the deal's
        `products_count` and `update_time`. `deal_followers` need `deal_id` and `user_id`,
        `deal_participants` `deal_id` and `person_id` (see `_create_child`).

        Raises:
            KeyError: For unknown entities or referenced deals/products that do not exist.
            ValueError: When the user already follows / the person already participates.
        """
        if entity in CHILD_KINDS:
            return self._create_child(entity, data)
        if entity not in STORED:
            raise KeyError(f"entity {entity!r} cannot be created")
        ts = self.clock.timestamp()
        self._created += 1
        factory = RecordFactory(self.data, random.Random(f"{self.seed}:create:{self._created}"), ts)
        if entity == "deal_products":
            return self._create_deal_product(factory, data)
        rec_id: Any = None
        if entity in ("leads", "lead_labels"):  # UUID ids
            rec_id = lead_uuid(self.seed, "created-lead" if entity == "leads" else "created-label", self._created)
        elif entity != "lead_sources":  # a number; goals and call logs render it as a hex string id
            rec_id = data.get("id") or self.data.next_ids.get(entity, len(self.data.store[entity]) + 1)
            self.data.next_ids[entity] = max(self.data.next_ids.get(entity, 1), rec_id + 1)
        builder = _BUILDERS.get(entity)
        if builder == "lead":
            base = factory.lead(self._created, ts, ts, blank=True)
            base["id"] = rec_id
        elif builder:
            base = getattr(factory, builder)(rec_id, ts, ts, blank=True)
        elif entity in REFERENCE_KINDS:
            base = blank(entity, rec_id, ts, self.data.store, data)
        else:
            base = {}  # lead sources: a name only
        rec = self._apply(entity, base, data)
        if entity == "deals":
            stage = self.data.store["stages"].get(rec["stage_id"])
            if stage:
                rec["pipeline_id"] = stage["pipeline_id"]
        time_field = UPDATE_TIME_FIELD.get(entity, "update_time")
        if time_field in base:
            rec[time_field] = self._now(entity)
        self.data.store[entity][rec["name"] if entity == "lead_sources" else rec["id"]] = rec
        self._bump(entity)
        return render(entity, rec, self.data.store)

    def _create_deal_product(self, factory: RecordFactory, data: dict[str, Any]) -> dict[str, Any]:
        deal = self._get("deals", data["deal_id"])
        product = self._get("products", data["product_id"])
        row_id = self.data.next_ids.get("deal_products", 1)
        self.data.next_ids["deal_products"] = row_id + 1
        ids = self.data.products_of.setdefault(deal["id"], [])
        row = factory.deal_product(row_id, deal, product, self.clock.timestamp(), len(ids) + 1)
        row = self._apply("deal_products", row, {k: v for k, v in data.items() if k != "id"})
        self.data.store["deal_products"][row_id] = row
        ids.append(row_id)
        self._touch_deal(deal["id"], products_delta=1)
        self._bump("deal_products")
        return render("deal_products", row, self.data.store)

    def _create_child(self, entity: str, data: dict[str, Any]) -> dict[str, Any]:
        """Add a follower (`user_id`) or participant (`person_id`) to a deal (`deal_id`).

        Like in Pipedrive, the deal's flow gains a `follower`/`participant` item at the current
        time. The deal's `update_time` moves too (its follower/participant counts change; not
        confirmed against the real API). Returns the new row with `deal_id` (ground-truth shape).
        """
        deal = self._get("deals", data["deal_id"])
        now = self._now("deals")
        row_id = self.data.next_ids.get(entity, _FIRST_CHILD_ID)
        self.data.next_ids[entity] = row_id + 1
        if entity == "deal_followers":
            user_id = data["user_id"]
            if user_id not in self.data.store["users"]:
                raise KeyError(f"users {user_id!r} not found")
            if any(r["user_id"] == user_id for r in self._follower_rows(deal)):
                raise ValueError(f"user {user_id} already follows deal {deal['id']}")
            row = {"id": row_id, "user_id": user_id, "add_time": now}
            self.data.follower_edits.add(deal["id"], row, "user_id")
            out = {**deal_children.v2_follower(row), "deal_id": deal["id"]}
        else:
            person = self._get("persons", data["person_id"])
            if any(r["person"]["id"] == person["id"] for r in self.deal_participants(deal["id"])):
                raise ValueError(f"person {person['id']} already participates in deal {deal['id']}")
            # only the facts: the row is rendered from the person as it is when read
            self.data.participant_edits.add(deal["id"], {"id": row_id, "person_id": person["id"], "add_time": now}, "id")
            row = next(r for r in self.deal_participants(deal["id"]) if r["id"] == row_id)
            out = {**row, "deal_id": deal["id"]}
        self._touch_deal(deal["id"])
        self._bump(entity)
        return out

    def _delete_child(self, entity: str, rec_id: Any) -> None:
        """Remove a follower or participant; `rec_id` is `(deal_id, key)` or `"deal_id:key"`,
        key = the follower's user id / the participant row id (as the API's DELETE paths)."""
        deal_id, key = (int(p) for p in (rec_id.split(":") if isinstance(rec_id, str) else rec_id))
        deal = self._get("deals", deal_id)
        if entity == "deal_followers":
            rows, field, edits = self._follower_rows(deal), "user_id", self.data.follower_edits
        else:
            rows, field, edits = self.deal_participants(deal_id), "id", self.data.participant_edits
        if not any(r[field] == key for r in rows):
            raise KeyError(f"{entity} {rec_id!r} not found")
        edits.remove(deal_id, key, field)
        self._touch_deal(deal_id)
        self._bump(entity)

    def _touch_deal(self, deal_id: int, products_delta: int = 0) -> None:
        """Bump a deal's update_time (and products_count) after a change of its rows."""
        deal = self.data.store["deals"][deal_id]
        new = dict(deal)
        new["update_time"] = self._now("deals")
        new["products_count"] = max(0, (deal.get("products_count") or 0) + products_delta)
        self.data.store["deals"][deal_id] = new
        self._bump("deals")

    def update(self, entity: str, rec_id: Any, changes: dict[str, Any]) -> dict[str, Any]:
        """Update a record; returns the new version. Deals, persons and organizations log a
        change event per changed field (their changelogs; deals also their flow).

        Raises:
            KeyError: If the record does not exist (or is a purged deal).
        """
        old = self._get(entity, rec_id)
        new = self._apply(entity, old, changes)
        now = self._now(entity)
        time_field = UPDATE_TIME_FIELD.get(entity, "update_time")
        if time_field in old:  # kinds without one (currencies, roles, goals) just change
            new[time_field] = now
        if entity == "deals":
            self._deal_side_effects(old, new, now)
        if entity in HISTORY_ENTITIES:
            self._log_changes(entity, old, new)
        self.data.store[entity][rec_id] = new
        if entity == "deal_products":
            self._touch_deal(new["deal_id"])
        self._bump(entity)
        return render(entity, new, self.data.store)

    def _deal_side_effects(self, old: dict[str, Any], new: dict[str, Any], now: str | None) -> None:
        if new.get("stage_id") != old.get("stage_id"):
            new["stage_change_time"] = now
            stage = self.data.store["stages"].get(new["stage_id"])
            if stage:
                new["pipeline_id"] = stage["pipeline_id"]
        status = new.get("status")
        if status != old.get("status"):
            if status == "won":
                new["won_time"] = new["close_time"] = now
                if not new.get("first_won_time"):
                    new["first_won_time"] = now
            elif status == "lost":
                new["lost_time"] = new["close_time"] = now
            elif status == "open":
                new["close_time"] = None
                new["won_time"] = new["lost_time"] = None
        new |= local_close_dates(*(parse_ts(new.get(k)) for k in ("won_time", "lost_time", "close_time")))

    def _log_changes(self, entity: str, old: dict[str, Any], new: dict[str, Any], user_id: int = 1) -> None:
        """Append a change event per changed field. Persons and organizations use their v1 field
        keys (`emails` -> `email`, as the real changelog); deals keep the keys they always had."""
        ts = self.clock.timestamp()
        history = self.data.history
        renames = {} if entity == "deals" else RULES[entity].renames
        for key, value in new.items():
            if key in _NOT_LOGGED or key.endswith("_time"):
                continue
            if key == "custom_fields":
                before = old.get("custom_fields") or {}
                for ckey, cval in value.items():
                    if before.get(ckey) != cval:
                        history.append(entity, new["id"], ckey, before.get(ckey), cval, user_id, ts)
            elif old.get(key) != value:
                history.append(entity, new["id"], renames.get(key, key), old.get(key), value, user_id, ts)

    def delete(self, entity: str, rec_id: Any) -> None:
        """Delete a record (any stored kind the real API can delete).

        Deals become `status: deleted`, `is_deleted: true` and stay listed (`status=deleted`)
        for 30 days of virtual time; activity types, users (deactivated) and currencies stay
        listed with `active_flag: false`.
        Every other record leaves every listing at once; the six
        core kinds and leads stay in the trash for 30 days (`deleted_records`, `restore`),
        the other kinds forever (reported by `deleted_records`). Deal-product rows update
        their deal.

        Raises:
            KeyError: If the record does not exist (or is already deleted).
            ValueError: For kinds Pipedrive cannot delete (lead sources).
        """
        if entity in CHILD_KINDS:
            self._delete_child(entity, rec_id)
            return
        if entity in UNDELETABLE:
            raise ValueError(f"{entity} cannot be deleted ({UNDELETABLE[entity]})")
        old = self._get(entity, rec_id)
        ts = self.clock.timestamp()
        if entity in _MARKED_INACTIVE:
            new = dict(old, active_flag=False)
            time_field = UPDATE_TIME_FIELD.get(entity, "update_time")
            if time_field in old:
                new[time_field] = self._now(entity)
            self.data.store[entity][rec_id] = new
            self.data.deletions.add(entity, rec_id, Deleted(ts))
            self._bump(entity)
            return
        if entity == "deals":
            if old["is_deleted"]:
                raise KeyError(f"deals {rec_id!r} is already deleted")
            new = dict(old, status="deleted", is_deleted=True, update_time=self._now("deals"))
            self._log_changes("deals", old, new)
            self.data.store["deals"][rec_id] = new
            self.data.deletions.add("deals", rec_id, Deleted(ts, status=old["status"]))
            self._bump("deals", "deal_products")
            return
        del self.data.store[entity][rec_id]
        self.data.deletions.add(entity, rec_id, Deleted(ts, record=old))
        if entity == "deal_products":
            ids = self.data.products_of.get(old["deal_id"], [])
            if rec_id in ids:
                ids.remove(rec_id)
            self._touch_deal(old["deal_id"], products_delta=-1)
        self._bump(entity)

    def restore(self, entity: str, rec_id: Any) -> dict[str, Any]:
        """Bring a deleted deal or lead back, as Pipedrive users can within 30 days.

        The record is live again with a new `update_time`; a deal gets the status it had
        before the deletion (its won/lost times unchanged), logged as a status change.

        Raises:
            ValueError: For kinds that cannot be restored.
            KeyError: If the record is not deleted, or was purged (more than 30 days ago).
        """
        if entity not in RESTORABLE:
            raise ValueError(f"only {RESTORABLE} can be restored")
        if self.data.deletions.find(entity, rec_id, self.clock.timestamp()) is None:
            raise KeyError(f"{entity} {rec_id!r} is not in the trash (never deleted, or purged)")
        deleted = self.data.deletions.pop(entity, rec_id)
        if entity == "deals":
            old = self.data.store["deals"][rec_id]
            new = dict(old, status=deleted.status or "open", is_deleted=False, update_time=self._now("deals"))
            self._log_changes("deals", old, new)
            self._bump("deal_products")
        else:
            assert deleted.record is not None
            new = dict(deleted.record, update_time=self._now(entity))
        self.data.store[entity][rec_id] = new
        self._bump(entity)
        return render(entity, new, self.data.store)

    def archive(self, entity: str, rec_id: Any) -> dict[str, Any]:
        """Archive a deal, lead or project: it moves from the default to the archived listing.

        Deals and leads get `is_archived: true` and `archive_time`, projects `archive_time`
        (their only archive marker in the v2 shape).

        Raises:
            ValueError: For entities that cannot be archived.
            KeyError: If the record does not exist.
        """
        if entity not in _ARCHIVE_KEYS:
            raise ValueError(f"only {tuple(_ARCHIVE_KEYS)} can be archived")
        old = self._get(entity, rec_id)
        now = self._now(entity)
        new = dict(old, update_time=now)
        for key in _ARCHIVE_KEYS[entity]:
            new[key] = True if key == "is_archived" else now
        self.data.store[entity][rec_id] = new
        self._bump(entity)
        return render(entity, new, self.data.store)
