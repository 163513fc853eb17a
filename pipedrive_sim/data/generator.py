"""Deterministic generation of a whole account (`Account.generate(size, seed)`).

Every size except `empty` contains the fixed edge-case records (deal ids 1-15, first leads,
persons, ...) plus random records whose edge cases occur proportionally. Randomness comes
from per-entity `random.Random` instances seeded from the account seed, so entities do not
influence each other and the same seed always gives the same data.
"""

from __future__ import annotations

import random
from typing import Any, Callable

from . import reference_records
from .dataset import STORED, Dataset, is_archived
from .deletions import RETENTION, Deleted
from .record_factory import LINKED_FILE, LINKED_NOTE, RecordFactory, local_close_dates
from .field_definitions import CUSTOM_FIELD_SETS, CUSTOM_TYPES, FieldCatalog, field_hash
from .change_history import RECORD_HISTORY_SHARE, ChangeHistory, HistorySpec, generated_record_events
from .sizes import counts
from .timestamps import DAY, parse_ts, v1_ts, v2_ts

HISTORY = 4 * 365 * DAY  # generated records were added within this span before now
BIG_DEAL_ROWS = 520  # product rows of the deal that needs more than one 500-row page
_OPTION_LABELS = ("Alpha", "Beta", "Gamma", "Δέλτα 🚀", "Omega")

#: Fixed deal ids of the deal edge cases (present in every non-empty size).
DEAL_EDGES: dict[str, int] = {
    "nulls": 1, "many_products": 2, "deleted_recent": 3, "deleted_purged": 4, "archived": 5,
    "won_without_first_won_time": 6, "stage_back_and_forth": 7, "products_removed": 8,
    "deleted_option_values": 9, "unicode": 10, "empty_string": 11,
}
SAME_SECOND_DEALS = (12, 13, 14, 15)
#: Generated dealChange events per deal: randint(5, 15) // this (the flow also carries activities,
#: notes, files, calls, followers, participants, mail, the deal itself: ~10 items per deal in all).
CHANGE_EVENTS_DIVISOR = 4
#: Share of deals with a generated custom-field change (shown in the flow only with all_changes=1).
CUSTOM_CHANGE_SHARE = 0.5
#: The person and the organization that always have a generated field history.
HISTORY_RECORD = 4
#: Entities whose title the spec requires to be non-empty (`minLength: 1`).
_NON_EMPTY_TITLES = ("tasks",)


def generate(size: str, seed: int, now: int) -> Dataset:
    """Generate the dataset of an account.

    Args:
        size: `empty`, `tiny`, `small`, `medium` or `large`.
        seed: Random seed; equal seeds give equal data.
        now: Virtual "now" (epoch seconds); all history lies before it.

    Returns:
        The filled dataset.
    """
    n = counts(size)
    created = now - HISTORY - 200 * DAY
    data = Dataset(seed, size, {e: {} for e in STORED}, FieldCatalog(created), ChangeHistory(seed))
    _reference_records(data, n, seed, created)
    _recent_reference_changes(data, now)
    _custom_fields(data, seed, created)
    data.next_ids = {e: n.get(e, 0) + 1 for e in STORED if e not in ("lead_sources",)}
    for e in ("deals",):
        data.next_ids[e] = max(n[e], len(DEAL_EDGES) + len(SAME_SECOND_DEALS)) + 1 if n[e] else 1
    for e in ("activity_types", "currencies", "users", "pipelines", "stages", "roles", "filters", "goals"):
        data.next_ids[e] = len(data.store[e]) + 1
    if size != "empty":
        gen = _Generator(data, n, seed, now)
        gen.run()
    return data


def _reference_records(data: Dataset, n: dict[str, int], seed: int, created: int) -> None:
    rng = random.Random(f"{seed}:config")
    store = data.store
    pipelines, stages = reference_records.pipelines_and_stages(max(n["pipelines"], 1), created)
    rows: dict[str, list[dict[str, Any]]] = {
        "users": reference_records.users(max(n["users"], 1), created, rng),
        "currencies": reference_records.currencies(),
        "activity_types": reference_records.activity_types(created),
        "pipelines": pipelines, "stages": stages,
        "roles": reference_records.roles(n["roles"]),
        "filters": reference_records.filters(n["filters"], created),
        "goals": reference_records.goals(n["goals"], created),
        "lead_labels": reference_records.lead_labels(n["lead_labels"], seed, created),
    }
    for entity, recs in rows.items():
        store[entity] = {r["id"]: r for r in recs}
    store["lead_sources"] = {r["name"]: r for r in reference_records.lead_sources()}


def _recent_reference_changes(data: Dataset, now: int) -> None:
    """Touch one record of each reference kind a few days ago, so `/recents` sees config too."""
    store = data.store
    touches = (("pipelines", 1, "update_time", v2_ts), ("stages", 1, "update_time", v2_ts),
               ("activity_types", 1, "update_time", v1_ts), ("users", 1, "modified", v1_ts),
               ("filters", len(store["filters"]), "update_time", v1_ts))
    for days, (entity, rec_id, key, fmt) in enumerate(touches, 1):
        never_updated = entity == "filters" and rec_id == 1  # keeps its null update_time
        if rec_id in store[entity] and not never_updated:
            store[entity][rec_id][key] = fmt(now - days * DAY)


def _custom_fields(data: Dataset, seed: int, created: int) -> None:
    """One custom field of every type per field set; names include unicode."""
    for field_set in CUSTOM_FIELD_SETS:
        for i, ftype in enumerate(CUSTOM_TYPES):
            name = f"{ftype.replace('_', ' ').title()} ({field_set})"
            if ftype == "varchar":
                name = f"Référence client ✓ ({field_set})"
            options = list(_OPTION_LABELS) if ftype in ("enum", "set") else None
            data.fields.add_custom(field_set, field_hash(seed, field_set, i), name, ftype,
                                   created + (i + 1) * DAY, options)


class _Generator:
    """Fills the CRM records of a non-empty account."""

    def __init__(self, data: Dataset, n: dict[str, int], seed: int, now: int) -> None:
        self.data, self.n, self.seed, self.now = data, n, seed, now
        self.edges = data.edge_cases

    def rng(self, name: str) -> random.Random:
        """An independent random source for one entity/purpose."""
        return random.Random(f"{self.seed}:{name}")

    def factory(self, name: str) -> RecordFactory:
        """A record factory with its own random source."""
        return RecordFactory(self.data, self.rng(name), self.now)

    def times(self, rng: random.Random, count: int) -> list[tuple[int, int]]:
        """(add, update) pairs, add ascending with the id; update in [add, now - 1 h].

        A quarter of the records were updated within the last 30 days (incremental loads and
        `/recents` see them), a tenth never (update == add).
        """
        adds = sorted(self.now - rng.randint(2 * DAY, HISTORY) for _ in range(count))
        out = []
        recent = self.now - RETENTION
        for add in adds:
            roll = rng.random()
            if roll < 0.1:
                upd = add  # never updated
            elif roll < 0.35:
                upd = rng.randint(max(add, recent), self.now - 3600)  # recently active
            else:
                upd = rng.randint(add, self.now - 3600)
            out.append((add, upd))
        return out

    def fill(self, entity: str, build: Callable[..., dict[str, Any]], count: int) -> None:
        """Generate `count` records of a simple entity; record 1 is all-null, 2 unicode, 3 empty."""
        f = self.factory(entity)
        store = self.data.store[entity]
        for i, (add, upd) in enumerate(self.times(f.rng, count), 1):
            rec = build(i, add, upd, blank=i == 1)
            store[rec["id"]] = rec
        self._text_edges(entity, store)

    def _text_edges(self, entity: str, store: dict[Any, dict[str, Any]]) -> None:
        title = next((k for k in ("title", "name", "subject", "content") if k in next(iter(store.values()), {})), None)
        ids = list(store)
        if title and len(ids) >= 3:
            store[ids[1]][title] = "Ünïcödé 🚀 東京 עסקה Cafe\u0301"
            if entity not in _NON_EMPTY_TITLES:
                store[ids[2]][title] = ""
        self.edges[f"{entity}:nulls"] = ids[:1]
        self.edges[f"{entity}:unicode"] = ids[1:2]
        self.edges[f"{entity}:empty_string"] = [] if entity in _NON_EMPTY_TITLES else ids[2:3]

    def run(self) -> None:
        """Generate every entity (referenced entities first), then the cross-entity edge cases."""
        n = self.n
        f = self.factory
        self.fill("organizations", f("organizations").organization, n["organizations"])
        self.fill("persons", f("persons").person, n["persons"])
        self.fill("products", f("products").product, n["products"])
        self.deals()
        self.deal_products()
        self.fill("activities", f("activities").activity, n["activities"])
        self.fill("leads", f("leads").lead, n["leads"])
        self.fill("notes", f("notes").note, n["notes"])
        self.fill("files", f("files").file, n["files"])
        self.fill("call_logs", f("call_logs").call_log, n["call_logs"])
        self.fill("projects", f("projects").project, n["projects"])
        self.fill("tasks", f("tasks").task, n["tasks"])
        self.edges["notes:lead_project_task"] = [LINKED_NOTE] if LINKED_NOTE in self.data.store["notes"] else []
        self.edges["files:person_org_product"] = [LINKED_FILE] if LINKED_FILE in self.data.store["files"] else []
        self.archive("leads")
        self.archive("projects")
        self.field_changes()
        self.same_second()
        self.record_histories()

    # -- deals ---------------------------------------------------------------------------
    def deals(self) -> None:
        """Deals with their status, edge cases and history spec (events are derived lazily)."""
        data, now = self.data, self.now
        f = self.factory("deals")
        rng = f.rng
        total = data.next_ids["deals"] - 1
        edge_of = {v: k for k, v in DEAL_EDGES.items()}
        stages_of: dict[int, tuple[int, ...]] = {}
        for st in data.store["stages"].values():
            stages_of.setdefault(st["pipeline_id"], ())
            stages_of[st["pipeline_id"]] += (st["id"],)
        store = data.store["deals"]
        edges: dict[str, list[int]] = {k: [] for k in DEAL_EDGES}
        custom_rng = self.rng("deals:custom_changes")  # own stream: the deal data stays as it was
        for (deal_id, (add, upd)) in enumerate(self.times(rng, total), 1):
            edge = edge_of.get(deal_id)
            roll = rng.random()
            status = "open" if roll < 0.55 else "won" if roll < 0.8 else "lost" if roll < 0.95 else "deleted"
            if edge in ("deleted_recent", "deleted_purged"):
                status = "deleted"
            elif edge in ("won_without_first_won_time",):
                status = "won"
            elif edge in ("nulls", "many_products", "archived", "products_removed", "stage_back_and_forth"):
                status = "open"
            elif deal_id in SAME_SECOND_DEALS and status == "deleted":
                status = "lost"
            deleted_at = None
            if status == "deleted":
                recent = edge == "deleted_recent" or (edge is None and rng.random() < 0.5)
                deleted_at = now - (rng.randint(1, 29) if recent else rng.randint(31, 400)) * DAY
                upd = deleted_at
                add = min(add, deleted_at - DAY)
            title = {"unicode": "Сделка 🚀 東京 صفقة Cafe\u0301", "empty_string": ""}.get(edge or "")
            rec = f.deal(deal_id, add, upd, blank=edge == "nulls", status=status, title=title)
            if deleted_at is not None:
                data.deletions.add("deals", deal_id, Deleted(deleted_at, status="open"))
                (edges["deleted_recent"] if now - deleted_at < RETENTION else edges["deleted_purged"]).append(deal_id)
            archived = edge == "archived" or (edge is None and status != "deleted" and rng.random() < 0.03)
            if archived:
                rec["is_archived"] = True
                rec["archive_time"] = rec["update_time"]
                edges["archived"].append(deal_id)
            if status == "won" and (edge == "won_without_first_won_time" or (edge is None and rng.random() < 0.05)):
                rec["first_won_time"] = None
                edges["won_without_first_won_time"].append(deal_id)
            bounce = edge == "stage_back_and_forth" or (edge is None and rng.random() < 0.1)
            if bounce:
                edges["stage_back_and_forth"].append(deal_id)
            stages = stages_of[rec["pipeline_id"]]
            moved = bounce or stages.index(rec["stage_id"]) > 0
            stage_ts = rng.randint(add, upd) if moved else add
            rec["stage_change_time"] = v2_ts(stage_ts)
            close = rec.get("won_time") or rec.get("lost_time")
            close_ts = rng.randint(max(stage_ts, add), upd) if close else deleted_at
            if close:
                stamp = v2_ts(close_ts)
                rec["close_time"] = stamp
                rec["won_time" if status == "won" else "lost_time"] = stamp
                rec |= local_close_dates(*((close_ts, None) if status == "won" else (None, close_ts)), close_ts)
                if rec["first_won_time"] is not None:
                    rec["first_won_time"] = stamp
            set_keys = [k for k, v in rec["custom_fields"].items() if v is not None]
            custom = ()
            if set_keys and custom_rng.random() < CUSTOM_CHANGE_SHARE:
                key = custom_rng.choice(set_keys)
                custom = ((key, rec["custom_fields"][key]),)
            data.history.specs[deal_id] = HistorySpec(
                add, stage_ts, upd, stages, rec["stage_id"], rec["value"], status, close_ts,
                rec["owner_id"], rng.randint(5, 15) // CHANGE_EVENTS_DIVISOR, bounce, custom)
            store[deal_id] = rec
        for k in ("nulls", "many_products", "products_removed", "deleted_option_values", "unicode", "empty_string"):
            edges[k] = [DEAL_EDGES[k]]
        self._deleted_option_values(store[DEAL_EDGES["deleted_option_values"]])
        for key, ids in edges.items():
            self.edges[f"deals:{key}"] = sorted(ids)

    def _deleted_option_values(self, rec: dict[str, Any]) -> None:
        """Make a deal reference the options that `field_changes` deletes later."""
        cf = dict(rec["custom_fields"])
        for fd in self.data.fields.custom("deal"):
            if fd.field_type == "enum":
                cf[fd.key] = fd.options[-1].id
            elif fd.field_type == "set":
                cf[fd.key] = [fd.options[0].id, fd.options[-1].id]
        rec["custom_fields"] = cf

    def deal_products(self) -> None:
        """Product rows: ~70% of deals get some, one deal >500, one had rows removed."""
        data = self.data
        f = self.factory("deal_products")
        rng = f.rng
        deals = data.store["deals"]
        products = list(data.store["products"].values())
        rows = data.store["deal_products"]
        if not products:
            return
        plain = [d for d in deals if d not in DEAL_EDGES.values()]
        with_products = max(len(plain) * 7 // 10, 1)
        per_deal = max(1, round(2 * self.n["deal_products"] / with_products - 1))
        plan: dict[int, int] = {d: rng.randint(1, per_deal) for d in rng.sample(plain, min(with_products, len(plain)))
                                if not deals[d]["is_deleted"] or d in self.edges["deals:deleted_recent"]}
        plan[DEAL_EDGES["many_products"]] = BIG_DEAL_ROWS
        plan[DEAL_EDGES["products_removed"]] = 3
        removed = {d: 1 for d in plan if plan[d] > 1 and rng.random() < 0.03}  # ~3%: a row was removed
        removed[DEAL_EDGES["products_removed"]] = 2
        next_id = 1
        for deal_id in sorted(plan):
            deal = deals[deal_id]
            add0 = _ts(deal["add_time"])
            upd = _ts(deal["update_time"])
            ids = []
            for k in range(plan[deal_id]):
                product = products[rng.randrange(len(products))]
                row = f.deal_product(next_id, deal, product, rng.randint(add0, upd), k + 1 if k % 7 else None)
                next_id += 1
                if removed.get(deal_id, 0) > k:
                    continue  # created then removed from the deal: the id stays consumed
                rows[row["id"]] = row
                ids.append(row["id"])
            data.products_of[deal_id] = ids
            deal["products_count"] = len(ids)
        data.next_ids["deal_products"] = next_id
        self.edges["deals:without_products"] = sorted(d for d in deals if not data.products_of.get(d))
        self.edges["deals:products_removed"] = sorted(removed)

    # -- other edge cases ----------------------------------------------------------------
    def archive(self, entity: str) -> None:
        """Archive the second record of an entity and ~5% of the others.

        Both get `archive_time` (stamped with `update_time`); leads also `is_archived: true`
        (the v2 project shape has no flag: an archived project is one with an `archive_time`).

        Args:
            entity: `leads` or `projects`.
        """
        rng = self.rng(f"{entity}:archive")
        records = list(self.data.store[entity].values())
        archived = [r for i, r in enumerate(records) if i == 1 or (i > 2 and rng.random() < 0.05)]
        for rec in archived:
            rec["archive_time"] = rec["update_time"]
            if entity == "leads":
                rec["is_archived"] = True
        self.edges[f"{entity}:archived"] = [r["id"] for r in archived]

    def field_changes(self) -> None:
        """Rename some custom fields and delete one option of each enum/set field."""
        cat = self.data.fields
        ts = self.now - 20 * DAY
        for field_set in CUSTOM_FIELD_SETS:
            for fd in cat.custom(field_set):
                if fd.field_type in ("enum", "set") and fd.options:
                    opt = fd.options.pop()
                    opt.update_ts = ts
                    fd.deleted_options.append(opt)
                    fd.update_ts = ts
                if fd.field_type == "text":
                    fd.name = f"{fd.name} (renamed)"
                    fd.update_ts = ts
        self.edges["fields:deleted_options"] = [
            (fd.key, o.id) for s in CUSTOM_FIELD_SETS for fd in cat.custom(s) for o in fd.deleted_options]

    def record_histories(self) -> None:
        """A generated field history for about one in five persons and organizations, always
        for record `HISTORY_RECORD` (after `same_second`, so no event is later than its
        record's final `update_time`)."""
        users = list(self.data.store["users"])
        for entity, first_id in (("persons", 3_000_000_000), ("organizations", 4_000_000_000)):
            rng = self.rng(f"{entity}:history")
            for rec in self.data.store[entity].values():
                if rng.random() < RECORD_HISTORY_SHARE or rec["id"] == HISTORY_RECORD:
                    events = generated_record_events(entity, rec, users, rng, first_id + rec["id"] * 10)
                    self.data.history.generated[(entity, rec["id"])] = events
            self.edges[f"{entity}:with_history"] = sorted(i for e, i in self.data.history.generated if e == entity)

    def same_second(self) -> None:
        """Give groups of records one shared update_time, one group across a 500-row page."""
        for entity in ("deals", "persons", "organizations", "activities", "products", "deal_products",
                       "notes", "files", "leads", "projects", "tasks"):
            store = self.data.store[entity]
            key = "update_time"
            listed = list(store.values())
            if entity in ("deals", "leads", "projects"):  # the default listing: no archived, no deleted
                listed = [r for r in listed if not r.get("is_deleted") and not is_archived(r)]
            order = sorted(listed, key=lambda r: (r[key], str(r["id"])))
            groups = [order[i:i + 12] for i in (494, 1494) if len(order) > i + 12]
            if entity == "deals":
                groups.append([store[d] for d in SAME_SECOND_DEALS if d in store])
            elif len(order) >= 8:
                groups.append(order[len(order) // 2: len(order) // 2 + 4])
            for group in groups:
                stamp = max(r[key] for r in group)
                for r in group:
                    r[key] = stamp
            self.edges[f"{entity}:same_update_time"] = sorted({r["id"] for g in groups for r in g}, key=str)


def _ts(stamp: str) -> int:
    value = parse_ts(stamp)
    assert value is not None
    return value
