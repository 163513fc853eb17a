"""`Account`: a simulated Pipedrive company account (the simulator's data layer).

The account stores records in the API shape of the endpoint that serves them (v2 shape for
v2 entities, v1 shape for v1 entities) as plain dicts ready for orjson. The HTTP layer reads
them through `records`, `version`, `to_v1`, `fields` and the per-deal accessors; tests and
benchmarks change them through the mutation API, which stamps `update_time` from the
virtual clock and bumps `version(entity)`.
"""

from __future__ import annotations

import bisect
import gc
import hashlib
import random
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Iterator

import orjson

from . import children, dealflow, mail
from .clock import START, VirtualClock
from .dataset import DERIVED, FIELD_SET_OF, STORED, V2_ENTITIES, Dataset
from .factory import RecordFactory, lead_uuid
from .fields import FieldDef, FieldOption
from .generator import RETENTION, generate
from .shapes import record_to_v1
from .timefmt import parse_ts, v1_ts, v2_to_v1, v2_ts
from .values import flatten_v1

#: Entities whose ids are strings (sorted as strings in the ground truth).
STRING_IDS = ("leads", "lead_labels", "goals", "call_logs")
#: Entities `create` builds with a record factory (others take the given dict as is).
_BUILDERS = {
    "deals": "deal", "persons": "person", "organizations": "organization", "activities": "activity",
    "products": "product", "projects": "project", "tasks": "task", "notes": "note", "files": "file",
    "leads": "lead", "call_logs": "call_log",
}
#: Archivable entity -> keys `archive` sets (`is_archived` to true, `archive_time` to now);
#: v2 projects have no `is_archived` flag, only `archive_time`.
_ARCHIVE_KEYS: dict[str, tuple[str, ...]] = {
    "deals": ("is_archived", "archive_time"), "leads": ("is_archived",), "projects": ("archive_time",),
}
#: Entities whose records link to a deal through `deal_id` (they appear in the deal's flow).
_LINKED = ("activities", "notes", "files", "call_logs")
#: Per-deal child kinds the mutation API can add to and remove from deals.
_CHILDREN = ("deal_followers", "deal_participants")
#: entity -> derived entities whose rows embed its records (their versions move with it).
_DEPENDENTS: dict[str, tuple[str, ...]] = {
    "deals": DERIVED, **{e: ("deal_flow",) for e in (*_LINKED, *_CHILDREN)},
    "persons": ("deal_participants", "deal_flow"), "organizations": ("deal_participants", "deal_flow"),
}
#: First id of followers/participants added through the mutation API (generated: deal id * 10 + k).
_FIRST_CHILD_ID = 1_000_000_000
#: Keys the mutation API owns; changes to them are not logged as deal changes.
_NOT_LOGGED = ("update_time", "add_time", "id")


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while building millions of acyclic dicts (it would dominate the time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class Account:
    """A simulated Pipedrive account.

    Args:
        data: The generated dataset.
        clock: The virtual clock (a fresh one at `START` if omitted).
    """

    def __init__(self, data: Dataset, clock: VirtualClock | None = None) -> None:
        self.data = data
        self.clock = clock or VirtualClock()
        self._versions: dict[str, int] = {e: 1 for e in STORED + DERIVED}
        self._cache: dict[str, tuple[int, list[dict[str, Any]]]] = {}
        self._deleted_sorted = sorted(data.deleted_at.values())
        self._created = 0
        self._links: tuple[tuple[int, ...], dict[str, dict[int, list[dict[str, Any]]]]] | None = None

    # -- construction --------------------------------------------------------------------
    @classmethod
    def generate(cls, size: str = "tiny", seed: int = 1, start: datetime = START) -> Account:
        """Generate a deterministic account.

        Args:
            size: `empty`, `tiny`, `small`, `medium` or `large`.
            seed: Random seed; the same size and seed give identical data.
            start: Initial virtual time; generated history lies before it.

        Returns:
            The new account.
        """
        clock = VirtualClock(start)
        with _gc_paused():
            data = generate(size, seed, clock.timestamp())
        gc.freeze()  # the generated records live as long as the account; keep them out of GC scans
        return cls(data, clock)

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

    # -- HTTP-layer read API -------------------------------------------------------------
    def _purged(self) -> int:
        """How many deleted deals are past the 30-day retention at the current time."""
        cutoff = self.clock.timestamp() - RETENTION
        return bisect.bisect_left(self._deleted_sorted, cutoff + 1) if self._deleted_sorted else 0

    def _is_purged(self, deal_id: int) -> bool:
        deleted = self.data.deleted_at.get(deal_id)
        return deleted is not None and deleted <= self.clock.timestamp() - RETENTION

    def version(self, entity: str) -> int:
        """A counter that increases whenever `records(entity)` may have changed.

        Also accepts `<field_set>_fields` (e.g. `deal_fields`) for field definitions.
        """
        base = self._versions.get(entity, 1)
        if entity in ("deals", "deal_products") or entity in DERIVED:
            base += self._purged()
        return base

    def records(self, entity: str) -> list[dict[str, Any]]:
        """Live records of an entity in its API shape, sorted by id. Do not mutate them.

        Deals include archived ones and ones deleted less than 30 days ago; leads and projects
        include archived ones. Derived per-deal entities return rows with `deal_id` for every
        listed deal.

        Raises:
            KeyError: For an unknown entity key.
        """
        version = self.version(entity)
        cached = self._cache.get(entity)
        if cached and cached[0] == version:
            return cached[1]
        if entity in DERIVED:
            rows = self._derived_rows(entity)
        elif entity in STORED:
            rows = list(self.data.store[entity].values())
            if entity == "deals":
                rows = [r for r in rows if not self._is_purged(r["id"])]
            elif entity == "deal_products":
                rows = [r for r in rows if not self._is_purged(r["deal_id"])]
            if entity in STRING_IDS:
                rows.sort(key=lambda r: str(r["id"]))
            elif entity != "lead_sources":
                rows.sort(key=lambda r: r["id"])
        else:
            raise KeyError(f"unknown entity {entity!r}")
        self._cache[entity] = (version, rows)
        return rows

    def _derived_rows(self, entity: str) -> list[dict[str, Any]]:
        getter = {"deal_followers": self.deal_followers, "deal_participants": self.deal_participants,
                  "deal_flow": self.deal_flow, "deal_changelog": self.deal_changelog}[entity]
        out = []
        for deal in self.records("deals"):
            out.extend({**row, "deal_id": deal["id"]} for row in getter(deal["id"]))
        return out

    def to_v1(self, entity: str, rec: dict[str, Any]) -> dict[str, Any]:
        """The v1 shape of a v2 record (v1 records are returned unchanged)."""
        if entity not in V2_ENTITIES:
            return rec
        field_set = FIELD_SET_OF.get(entity)
        custom = self.data.fields.custom(field_set) if field_set else []
        return record_to_v1(entity, rec, custom)

    def fields(self, field_set: str, api: str) -> list[dict[str, Any]]:
        """Field definitions of a set in the `api` ("v1" or "v2") shape.

        Raises:
            KeyError: For an unknown set, or `lead`/`note` with api="v2".
        """
        return self.data.fields.render(field_set, api)

    def field_definitions(self, field_set: str) -> list[dict[str, Any]]:
        """v2-shaped field definitions (v1 shape for the v1-only `lead` and `note` sets)."""
        return self.fields(field_set, "v1" if field_set in ("lead", "note") else "v2")

    def _deal(self, deal_id: int) -> dict[str, Any] | None:
        deal = self.data.store["deals"].get(deal_id)
        return None if deal is None or self._is_purged(deal_id) else deal

    def _linked(self) -> dict[str, dict[int, list[dict[str, Any]]]]:
        """entity -> deal id -> records of `_LINKED` entities that link to the deal (cached)."""
        key = tuple(self.version(e) for e in _LINKED)
        if self._links is None or self._links[0] != key:
            index: dict[str, dict[int, list[dict[str, Any]]]] = {e: {} for e in _LINKED}
            for entity in _LINKED:
                for rec in self.records(entity):
                    if rec.get("deal_id") is not None:
                        index[entity].setdefault(rec["deal_id"], []).append(rec)
            self._links = (key, index)
        return self._links[1]

    def deal_flow(self, deal_id: int) -> list[dict[str, Any]]:
        """v1 `/deals/{id}/flow` items of a deal, newest first ([] for unknown deals).

        All kinds of `dealflow.KINDS`; the HTTP layer applies `items` and `all_changes`
        with `dealflow.matches`.
        """
        deal = self._deal(deal_id)
        if deal is None:
            return []
        linked = self._linked()
        add_ts, end_ts = parse_ts(deal["add_time"]) or 0, parse_ts(deal["update_time"]) or 0
        items = [dealflow.item("dealChange", i["timestamp"], i["data"], i["data"]["id"])
                 for i in self.data.history.flow(deal_id)]
        items.append(dealflow.item("deal", v2_to_v1(deal["add_time"]), self.to_v1("deals", deal), -1))
        items += [dealflow.activity_item(self.to_v1("activities", a)) for a in linked["activities"].get(deal_id, ())]
        items += [dealflow.item("note", n["add_time"], n, n["id"]) for n in linked["notes"].get(deal_id, ())]
        items += [dealflow.item("file", f["add_time"], f, f["id"]) for f in linked["files"].get(deal_id, ())]
        items += [dealflow.item("call", v2_to_v1(c["start_time"]), c) for c in linked["call_logs"].get(deal_id, ())]
        items += [dealflow.follower_item(deal_id, row) for row in self._follower_rows(deal)]
        items += [dealflow.item("participant", row["add_time"], row, row["id"])
                  for row in self.deal_participants(deal_id)]
        person = self.data.store["persons"].get(deal.get("person_id"))
        items += [dealflow.item("mailMessage", v1_ts(ts), msg, msg["id"])
                  for ts, msg in mail.mail_messages(self.seed, deal, add_ts, end_ts, person)]
        items += dealflow.extras(self.seed, deal, add_ts, end_ts)
        return dealflow.assemble(items)

    def deal_changelog(self, deal_id: int) -> list[dict[str, Any]]:
        """v1 `/deals/{id}/changelog` items of a deal, newest first."""
        return self.data.history.changelog(deal_id) if self._deal(deal_id) else []

    def deal_participants(self, deal_id: int) -> list[dict[str, Any]]:
        """v1 `/deals/{id}/participants` rows of a deal."""
        deal = self._deal(deal_id)
        if deal is None:
            return []
        store = self.data.store
        top = self.data.next_ids.get("persons", 1) - 1
        rows = children.participants(self.seed, deal, store["persons"], top, store["users"], store["organizations"])
        return self.data.participant_edits.apply(deal_id, rows, "id")

    def _follower_rows(self, deal: dict[str, Any]) -> list[dict[str, Any]]:
        """Follower rows (`id`, `user_id`, `add_time`) of a deal, edits applied."""
        rows = children.followers(self.seed, deal, list(self.data.store["users"]))
        return self.data.follower_edits.apply(deal["id"], rows, "user_id")

    def deal_followers(self, deal_id: int) -> list[dict[str, Any]]:
        """v2 `/deals/{id}/followers` rows (`user_id`, `add_time`) of a deal."""
        deal = self._deal(deal_id)
        return [children.v2_follower(r) for r in self._follower_rows(deal)] if deal else []

    def deal_products(self, deal_id: int) -> list[dict[str, Any]]:
        """v2 deal-product rows of a deal, by id."""
        if self._deal(deal_id) is None:
            return []
        rows = self.data.store["deal_products"]
        return [rows[i] for i in self.data.products_of.get(deal_id, ()) if i in rows]

    def current_user(self) -> dict[str, Any]:
        """The v1 `/users/me` object of the token owner (user 1) with company data."""
        return {
            **self.data.store["users"][1],
            "company_id": 7001, "company_name": "Simulated Company 🚀", "company_domain": "simco",
            "company_country": "EE", "company_industry": "Software",
            "language": {"language_code": "en", "country_code": "US"},
        }

    # -- ground truth --------------------------------------------------------------------
    def ground_truth(self) -> dict[str, list[dict[str, Any]]]:
        """Every entity as a perfect full crawl would return it (deep copies, sorted by id).

        Per-deal entities (`deal_products`, `deal_followers`, `deal_participants`,
        `deal_flow`, `deal_changelog`) cover every listed deal (including archived and
        recently deleted ones), grouped by deal id ascending and in API order within a deal;
        their rows carry `deal_id`.
        """
        out = {}
        with _gc_paused():
            for entity in STORED + DERIVED:
                out[entity] = orjson.loads(orjson.dumps(self.records(entity)))
        return out

    # -- mutations -----------------------------------------------------------------------
    def _bump(self, *entities: str) -> None:
        """Move the versions of `entities` and of the derived entities built from them."""
        for entity in entities:
            for moved in (entity, *_DEPENDENTS.get(entity, ())):
                self._versions[moved] = self._versions.get(moved, 1) + 1

    def _now(self, entity: str) -> str | None:
        """`clock.now()` in the timestamp format of the entity's `update_time`."""
        ts = self.clock.timestamp()
        return v2_ts(ts) if entity in V2_ENTITIES or entity in ("leads",) else v1_ts(ts)

    def _get(self, entity: str, rec_id: Any) -> dict[str, Any]:
        if entity not in STORED:
            raise KeyError(f"entity {entity!r} cannot be changed directly")
        rec = self.data.store[entity].get(rec_id)
        if rec is None or (entity == "deals" and self._is_purged(rec_id)):
            raise KeyError(f"{entity} {rec_id!r} not found")
        return rec

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

        `deal_products` rows need `deal_id` and `product_id`; they update the deal's
        `products_count` and `update_time`. `deal_followers` need `deal_id` and `user_id`,
        `deal_participants` `deal_id` and `person_id` (see `_create_child`).

        Raises:
            KeyError: For unknown entities or referenced deals/products that do not exist.
            ValueError: When the user already follows / the person already participates.
        """
        if entity in _CHILDREN:
            return self._create_child(entity, data)
        if entity not in STORED:
            raise KeyError(f"entity {entity!r} cannot be created")
        ts = self.clock.timestamp()
        self._created += 1
        factory = RecordFactory(self.data, random.Random(f"{self.seed}:create:{self._created}"), ts)
        if entity == "deal_products":
            return self._create_deal_product(factory, data)
        rec_id: Any
        if entity == "leads":
            rec_id = lead_uuid(self.seed, "created-lead", self._created)
        elif entity == "lead_sources":
            rec_id = data["name"]
        else:
            rec_id = data.get("id") or self.data.next_ids.get(entity, len(self.data.store[entity]) + 1)
            self.data.next_ids[entity] = max(self.data.next_ids.get(entity, 1), rec_id + 1)
        builder = _BUILDERS.get(entity)
        if builder == "lead":
            base = factory.lead(self._created, ts, ts, blank=True)
            base["id"] = rec_id
        elif builder:
            base = getattr(factory, builder)(rec_id, ts, ts, blank=True)
        else:
            base = {"id": rec_id} if entity != "lead_sources" else {}
            template = next(iter(self.data.store[entity].values()), {})
            for key in ("add_time", "update_time"):
                if key in template:  # same timestamp keys (and format) as the existing records
                    base[key] = self._now(entity)
        rec = self._apply(entity, base, data)
        if entity == "deals":
            stage = self.data.store["stages"].get(rec["stage_id"])
            if stage:
                rec["pipeline_id"] = stage["pipeline_id"]
        if "update_time" in base:
            rec["update_time"] = self._now(entity)
        self.data.store[entity][rec_id] = rec
        self._bump(entity)
        return rec

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
        return row

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
            out = {**children.v2_follower(row), "deal_id": deal["id"]}
        else:
            person = self._get("persons", data["person_id"])
            if any(r["person"]["id"] == person["id"] for r in self.deal_participants(deal["id"])):
                raise ValueError(f"person {person['id']} already participates in deal {deal['id']}")
            store = self.data.store
            row = children.participant(row_id, deal, person, store["users"], store["organizations"], add_time=now)
            self.data.participant_edits.add(deal["id"], row, "id")
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
        """Update a record; returns the new version. Deals log a change per changed field.

        Raises:
            KeyError: If the record does not exist (or is a purged deal).
        """
        old = self._get(entity, rec_id)
        new = self._apply(entity, old, changes)
        now = self._now(entity)
        if "update_time" in old:
            new["update_time"] = now
        if entity == "deals":
            self._deal_side_effects(old, new, now)
            self._log_changes(old, new)
        self.data.store[entity][rec_id] = new
        if entity == "deal_products":
            self._touch_deal(new["deal_id"])
        self._bump(entity)
        return new

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

    def _log_changes(self, old: dict[str, Any], new: dict[str, Any], user_id: int = 1) -> None:
        ts = self.clock.timestamp()
        history = self.data.history
        for key, value in new.items():
            if key in _NOT_LOGGED or key.endswith("_time"):
                continue
            if key == "custom_fields":
                before = old.get("custom_fields") or {}
                for ckey, cval in value.items():
                    if before.get(ckey) != cval:
                        history.append(new["id"], ckey, before.get(ckey), cval, user_id, ts)
            elif old.get(key) != value:
                history.append(new["id"], key, old.get(key), value, user_id, ts)

    def delete(self, entity: str, rec_id: Any) -> None:
        """Delete a record.

        Deals become `status: deleted`, `is_deleted: true` and stay listed for 30 days of
        virtual time; deal-product rows update their deal; other records disappear.

        Raises:
            KeyError: If the record does not exist.
        """
        if entity in _CHILDREN:
            self._delete_child(entity, rec_id)
            return
        old = self._get(entity, rec_id)
        if entity == "deals":
            new = dict(old, status="deleted", is_deleted=True, update_time=self._now("deals"))
            self._log_changes(old, new)
            self.data.store["deals"][rec_id] = new
            self.data.deleted_at[rec_id] = self.clock.timestamp()
            bisect.insort(self._deleted_sorted, self.clock.timestamp())
            self._bump("deals", "deal_products")
            return
        del self.data.store[entity][rec_id]
        if entity == "deal_products":
            ids = self.data.products_of.get(old["deal_id"], [])
            if rec_id in ids:
                ids.remove(rec_id)
            self._touch_deal(old["deal_id"], products_delta=-1)
        self._bump(entity)

    def archive(self, entity: str, rec_id: Any) -> dict[str, Any]:
        """Archive a deal, lead or project: it moves from the default to the archived listing.

        Deals get `is_archived: true` and `archive_time`, leads `is_archived: true`, projects
        `archive_time` (their only archive marker in the v2 shape).

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
        return new

    # -- field mutations -----------------------------------------------------------------
    def _field(self, field_set: str, field_code: str) -> FieldDef:
        return self.data.fields.get(field_set, field_code)

    def _entities_of(self, field_set: str) -> list[str]:
        out = [e for e, s in FIELD_SET_OF.items() if s == field_set]
        return out + (["leads"] if field_set == "deal" else [])

    def _bump_fields(self, field_set: str) -> None:
        sets = [field_set] + (["lead"] if field_set == "deal" else [])
        self._bump(*(f"{s}_fields" for s in sets))

    def add_field(self, field_set: str, name: str, field_type: str, options: list[str] | None = None) -> str:
        """Add a custom field; existing records get a null value for it. Returns its field_code."""
        if field_set not in ("deal", "person", "organization", "activity", "product", "project"):
            raise KeyError(f"cannot add custom fields to {field_set!r}")
        ts = self.clock.timestamp()
        count = len(self.data.fields.custom(field_set))
        key = hashlib.sha1(f"{self.seed}:{field_set}:added:{count}:{name}".encode()).hexdigest()
        fd = self.data.fields.add_custom(field_set, key, name, field_type, ts, options)
        for entity in self._entities_of(field_set):
            store = self.data.store[entity]
            for rid, rec in store.items():
                if entity == "leads":
                    new = dict(rec)
                    flatten_v1(fd, None, new)
                else:
                    new = dict(rec, custom_fields={**(rec.get("custom_fields") or {}), key: None})
                store[rid] = new
            self._bump(entity)
        self._bump_fields(field_set)
        return key

    def rename_field(self, field_set: str, field_code: str, new_name: str) -> None:
        """Rename a field (records keep their values under the same key)."""
        fd = self._field(field_set, field_code)
        fd.name = new_name
        fd.update_ts = self.clock.timestamp()
        self._bump_fields(field_set)

    def _option(self, field_set: str, field_code: str, option_id: int | str) -> tuple[FieldDef, FieldOption]:
        fd = self._field(field_set, field_code)
        return fd, fd.option(option_id)

    def rename_option(self, field_set: str, field_code: str, option_id: int | str, new_label: str) -> None:
        """Rename an enum/set option."""
        fd, opt = self._option(field_set, field_code, option_id)
        opt.label = new_label
        opt.update_ts = fd.update_ts = self.clock.timestamp()
        self._bump_fields(field_set)

    def delete_option(self, field_set: str, field_code: str, option_id: int | str) -> None:
        """Delete an option: v1 lists it in `options_deleted`, v2 drops it; values stay."""
        fd, opt = self._option(field_set, field_code, option_id)
        assert fd.options is not None
        fd.options.remove(opt)
        fd.deleted_options.append(opt)
        opt.update_ts = fd.update_ts = self.clock.timestamp()
        self._bump_fields(field_set)
