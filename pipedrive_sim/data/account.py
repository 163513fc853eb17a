"""`Account`: a simulated Pipedrive company account: construction, read API, ground truth.

The account stores records in the API shape of the endpoint that serves them (v2 shape for
v2 entities, v1 shape for v1 entities) as plain dicts ready for orjson. The HTTP layer reads
them only through this class: `records`, `version`, `to_v1`, `fields` and the per-deal
accessors (docs/sim-api.md). Tests and benchmarks change them through the mutation
API, which lives in its own mixins (`mutations.RecordMutations` for records,
`field_mutations.FieldMutations` for field definitions; both build on `AccountState`): every
mutation stamps `update_time` from the virtual clock and bumps `version(entity)`, which is how
the HTTP layer's caches learn that something changed.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Iterator

import orjson

from . import deal_children, deal_flow, mail_messages
from .change_history import HISTORY_ENTITIES
from .clock import START, VirtualClock
from .dataset import DERIVED, DERIVED_OF, FIELD_SET_OF, LINKED, STORED, V2_ENTITIES
from .embedded import EMBEDS, render
from .field_mutations import FieldMutations
from .generator import generate
from .mutations import RecordMutations
from .reference_records import COMPANY_ID
from .timestamps import parse_ts, v1_ts, v2_to_v1
from .v1_shapes import record_to_v1

#: Entities whose ids are strings (sorted as strings in the ground truth).
STRING_IDS = ("leads", "lead_labels", "goals", "call_logs")


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


class Account(RecordMutations, FieldMutations):
    """A simulated Pipedrive account (state and helpers: `AccountState`).

    Args:
        data: The generated dataset.
        clock: The virtual clock (a fresh one at `START` if omitted).
    """

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

    # -- HTTP-layer read API -------------------------------------------------------------
    def records(self, entity: str) -> list[dict[str, Any]]:
        """Live records of an entity in its API shape, sorted by id. Do not mutate them.

        Deals include archived ones and ones deleted less than 30 days ago; leads and projects
        include archived ones. Derived per-deal entities return rows with `deal_id` for every
        listed deal. Notes, files and deal products embed their related records as they are
        now (`embedded.py`).

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
            if entity in EMBEDS:  # copies of related records, as they are now
                store = self.data.store
                rows = [render(entity, r, store) for r in rows]
        else:
            raise KeyError(f"unknown entity {entity!r}")
        self._cache[entity] = (version, rows)
        return rows

    def _derived_rows(self, entity: str) -> list[dict[str, Any]]:
        getter = {"deal_followers": self.deal_followers, "deal_participants": self.deal_participants,
                  "deal_flow": self.deal_flow, "deal_changelog": self.deal_changelog,
                  "person_changelog": lambda i: self.changelog("persons", i),
                  "organization_changelog": lambda i: self.changelog("organizations", i)}[entity]
        owner, key = DERIVED_OF[entity]
        out = []
        for rec in self.records(owner):
            out.extend({**row, key: rec["id"]} for row in getter(rec["id"]))
        return out

    def to_v1(self, entity: str, rec: dict[str, Any]) -> dict[str, Any]:
        """The v1 shape of a v2 record (v1 records are returned unchanged)."""
        if entity not in V2_ENTITIES:
            return rec
        field_set = FIELD_SET_OF.get(entity)
        custom = self.data.fields.custom(field_set) if field_set else []
        return record_to_v1(entity, rec, custom, self.data.store["users"])

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
        """entity -> deal id -> records of `LINKED` entities that link to the deal (cached)."""
        key = tuple(self.version(e) for e in LINKED)
        if self._links is None or self._links[0] != key:
            index: dict[str, dict[int, list[dict[str, Any]]]] = {e: {} for e in LINKED}
            for entity in LINKED:
                for rec in self.records(entity):
                    if rec.get("deal_id") is not None:
                        index[entity].setdefault(rec["deal_id"], []).append(rec)
            self._links = (key, index)
        return self._links[1]

    def deal_flow(self, deal_id: int) -> list[dict[str, Any]]:
        """v1 `/deals/{id}/flow` items of a deal, newest first ([] for unknown deals).

        All kinds of `deal_flow.KINDS`; the HTTP layer applies `items` and `all_changes`
        with `deal_flow.matches`.
        """
        deal = self._deal(deal_id)
        if deal is None:
            return []
        linked = self._linked()
        add_ts, end_ts = parse_ts(deal["add_time"]) or 0, parse_ts(deal["update_time"]) or 0
        items = [deal_flow.item("dealChange", i["timestamp"], i["data"], i["data"]["id"])
                 for i in self.data.history.flow(deal_id)]
        items.append(deal_flow.item("deal", v2_to_v1(deal["add_time"]), self.to_v1("deals", deal), -1))
        items += [deal_flow.activity_item(self.to_v1("activities", a)) for a in linked["activities"].get(deal_id, ())]
        items += [deal_flow.item("note", n["add_time"], n, n["id"]) for n in linked["notes"].get(deal_id, ())]
        items += [deal_flow.item("file", f["add_time"], f, f["id"]) for f in linked["files"].get(deal_id, ())]
        items += [deal_flow.item("call", v2_to_v1(c["start_time"]), c) for c in linked["call_logs"].get(deal_id, ())]
        items += [deal_flow.follower_item(deal_id, row) for row in self._follower_rows(deal)]
        items += [deal_flow.item("participant", row["add_time"], row, row["id"])
                  for row in self.deal_participants(deal_id)]
        person = self.data.store["persons"].get(deal.get("person_id"))
        items += [deal_flow.item("mailMessage", v1_ts(ts), msg, msg["id"])
                  for ts, msg in mail_messages.mail_messages(self.seed, deal, add_ts, end_ts, person)]
        items += deal_flow.extras(self.seed, deal, add_ts, end_ts)
        return deal_flow.assemble(items)

    def deal_changelog(self, deal_id: int) -> list[dict[str, Any]]:
        """v1 `/deals/{id}/changelog` items of a deal, newest first."""
        return self.changelog("deals", deal_id)

    def changelog(self, entity: str, rec_id: Any) -> list[dict[str, Any]]:
        """v1 `/{deals|persons|organizations}/{id}/changelog` items, newest first ([] for
        records that are not live, e.g. deleted persons or purged deals).

        Raises:
            KeyError: For an entity without a field history.
        """
        if entity not in HISTORY_ENTITIES:
            raise KeyError(f"{entity!r} has no changelog")
        live = self._deal(rec_id) if entity == "deals" else self.data.store[entity].get(rec_id)
        return self.data.history.changelog(entity, rec_id) if live else []

    def deal_participants(self, deal_id: int) -> list[dict[str, Any]]:
        """v1 `/deals/{id}/participants` rows of a deal."""
        deal = self._deal(deal_id)
        if deal is None:
            return []
        store = self.data.store
        top = self.data.next_ids.get("persons", 1) - 1
        rows = deal_children.participants(self.seed, deal, store["persons"], top, store["users"], store["organizations"])
        rows = self.data.participant_edits.apply(deal_id, rows, "id")
        return deal_children.render_added(rows, deal, store["persons"], store["users"], store["organizations"])

    def _follower_rows(self, deal: dict[str, Any]) -> list[dict[str, Any]]:
        """Follower rows (`id`, `user_id`, `add_time`) of a deal, edits applied."""
        rows = deal_children.followers(self.seed, deal, list(self.data.store["users"]))
        return self.data.follower_edits.apply(deal["id"], rows, "user_id")

    def deal_followers(self, deal_id: int) -> list[dict[str, Any]]:
        """v2 `/deals/{id}/followers` rows (`user_id`, `add_time`) of a deal."""
        deal = self._deal(deal_id)
        return [deal_children.v2_follower(r) for r in self._follower_rows(deal)] if deal else []

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
            "company_id": COMPANY_ID, "company_name": "Simulated Company 🚀", "company_domain": "simco",
            "company_country": "EE", "company_industry": "Software",
            "language": {"language_code": "en", "country_code": "US"},
        }

    def deleted_records(self, entity: str) -> dict[Any, datetime]:
        """Deleted records of a stored entity -> when they were deleted (aware UTC datetime).

        Deals, activities, files, persons, products, organizations and leads only while they
        are within the 30-day retention (Pipedrive forgets them after that); the other kinds
        every deletion made through `delete`. Restored records are not in it.

        Raises:
            KeyError: For an entity that is not stored.
        """
        if entity not in STORED:
            raise KeyError(f"unknown stored entity {entity!r}")
        visible = self.data.deletions.visible(entity, self.clock.timestamp())
        return {rec_id: datetime.fromtimestamp(at, tz=timezone.utc) for rec_id, at in visible.items()}

    # -- ground truth --------------------------------------------------------------------
    def ground_truth(self) -> dict[str, list[dict[str, Any]]]:
        """Every entity as a perfect full crawl would return it (deep copies, sorted by id).

        Deleted records are not in it, except deals deleted less than 30 days ago (a crawl
        gets them with `status=deleted`); `deleted_records` says what was deleted.
        Per-deal entities (`deal_products`, `deal_followers`, `deal_participants`,
        `deal_flow`, `deal_changelog`) cover every listed deal (including archived and
        recently deleted ones), grouped by deal id ascending and in API order within a deal;
        their rows carry `deal_id`. `person_changelog` / `organization_changelog` rows carry
        `person_id` / `org_id`.
        """
        out = {}
        with _gc_paused():
            for entity in STORED + DERIVED:
                out[entity] = orjson.loads(orjson.dumps(self.records(entity)))
        return out
