"""Record builders: one method per entity, producing records in the entity's API shape.

`RecordFactory` is used by the generator (random records) and by `Account.create` (blank
records, `blank=True`: every optional value null). Every documented property is present; one
without a value is `null`, like the real API sends it (e.g. v2 deal `person_id`, activity
`due_time`), also where the spec declares the property non-nullable (see
`tests/sim/test_openapi_fidelity.py`, `NULL_IN_REAL_API`). Empty lists stay `[]`.
"""

from __future__ import annotations

import random
from typing import Any

from .dataset import Dataset
from .reference_records import COMPANY_ID, lead_uuid
from .field_definitions import FieldDef
from .text_samples import UNICODE_SAMPLES, person_name, sample_text
from .timestamps import DAY, date_str, local_date, v1_ts, v2_ts
from .custom_values import address_value, flatten_v1, make_value

_POOL = 48  # distinct generated values per custom field
_NULL_SHARE = 0.3  # share of null custom values in random records

#: The generated note attached to a lead, a project and a task (and pinned to the lead).
LINKED_NOTE = 4
#: The generated file attached to a person, an organization and a product.
LINKED_FILE = 4
#: Fields that v2 returns only when asked with `include_fields`; stored on the records.
INCLUDE_FIELDS: dict[str, tuple[str, ...]] = {
    "deals": ("products_count", "first_won_time"),
    "activities": ("attendees",),
}


class RecordFactory:
    """Builds records for one account.

    Args:
        data: The account dataset (for field definitions, users, pipelines, counts).
        rng: Random source.
        now: Current virtual time (epoch seconds).
    """

    def __init__(self, data: Dataset, rng: random.Random, now: int) -> None:
        self.data = data
        self.rng = rng
        self.now = now
        self._pools: dict[str, list[Any]] = {}
        self._users: list[int] | None = None
        self._set_pools: dict[str, list[tuple[str, list[Any]]]] = {}
        self._types: list[str] | None = None

    # -- helpers -------------------------------------------------------------------------
    def _ctx(self) -> dict[str, Any]:
        store = self.data.store
        return {
            "now": self.now,
            "users": list(store["users"]) or [1],
            "orgs": self.data.next_ids.get("organizations", 1) - 1,
            "persons": self.data.next_ids.get("persons", 1) - 1,
            "currencies": [c["code"] for c in store["currencies"].values()] or ["EUR"],
        }

    def pool(self, fd: FieldDef) -> list[Any]:
        """Pre-generated non-null v2 values of a custom field (cached)."""
        pool = self._pools.get(fd.key)
        if pool is None:
            ctx = self._ctx()
            pool = [make_value(fd, self.rng, ctx) for _ in range(_POOL)]
            self._pools[fd.key] = pool
        return pool

    def custom_v2(self, field_set: str, blank: bool) -> dict[str, Any]:
        """A `custom_fields` object: every custom field key, random value or null."""
        fields = self._set_pools.get(field_set)
        if fields is None:
            fields = [(fd.key, self.pool(fd)) for fd in self.data.fields.custom(field_set)]
            self._set_pools[field_set] = fields
        if blank:
            return {key: None for key, _ in fields}
        rnd = self.rng.random
        return {key: None if rnd() < _NULL_SHARE else pool[int(rnd() * _POOL)] for key, pool in fields}

    def custom_v1(self, field_set: str, blank: bool, out: dict[str, Any]) -> None:
        """Write random (or null) custom values v1-style into a v1 record."""
        values = self.custom_v2(field_set, blank)
        for fd in self.data.fields.custom(field_set):
            flatten_v1(fd, values[fd.key], out)

    def _user(self) -> int:
        if self._users is None:
            self._users = list(self.data.store["users"]) or [1]
        return self._users[int(self.rng.random() * len(self._users))]

    def _creator(self, rec_id: int, owner: int) -> int:
        """Who created a record: mostly its owner, every fifth one a colleague (no random draw,
        so adding the key left every other generated value as it was)."""
        users = self._users if self._users is not None else list(self.data.store["users"]) or [1]
        return owner if rec_id % 5 else users[rec_id % len(users)]

    def _ref(self, entity: str, share: float) -> int | None:
        """A random existing-range id of `entity`, or None with probability 1 - share."""
        top = self.data.next_ids.get(entity, 1) - 1
        if top < 1 or self.rng.random() >= share:
            return None
        return self.rng.randint(1, top)

    def text(self, long: bool = False) -> str:
        """Random text (with unicode edge cases)."""
        return sample_text(self.rng, long)

    # -- v2 entities ---------------------------------------------------------------------
    def deal(self, id: int, add: int, upd: int, blank: bool = False, *, status: str = "open",
             stage_id: int | None = None, title: str | None = None, close: int | None = None) -> dict[str, Any]:
        """A v2 deal (`status` decides won/lost/close times; first_won_time = won_time)."""
        rng = self.rng
        stages = self.data.store["stages"]
        if stage_id is None and blank:
            stage_id = min(stages)  # new deals start in the first stage of the first pipeline
        stage = stages[stage_id] if stage_id else rng.choice(list(stages.values()))
        value = 0 if blank else round(rng.uniform(0, 100000), 2)
        if close is None and status in ("won", "lost"):
            close = rng.randint(add, upd)
        title = title if title is not None else ("" if blank else self.text())
        owner = self._user() if not blank else 1
        rec: dict[str, Any] = {
            "id": id, "title": title, "creator_user_id": 1 if blank else self._creator(id, owner), "owner_id": owner,
            "person_id": None if blank else self._ref("persons", 0.85),
            "org_id": None if blank else self._ref("organizations", 0.7),
        }
        rec |= {
            "pipeline_id": stage["pipeline_id"], "stage_id": stage["id"], "value": value,
            "currency": "EUR" if blank else rng.choice(("EUR", "EUR", "USD", "GBP", "JPY")),
            "add_time": v2_ts(add), "update_time": v2_ts(upd), "stage_change_time": v2_ts(add),
            "is_deleted": status == "deleted", "is_archived": False, "status": status,
            "probability": None if blank or rng.random() < 0.5 else rng.randint(0, 100),
            "lost_reason": self.text() if status == "lost" and not blank else None,
            "visible_to": 3, "close_time": v2_ts(close),
            "won_time": v2_ts(close) if status == "won" else None,
            "lost_time": v2_ts(close) if status == "lost" else None,
        }
        rec |= local_close_dates(close if status == "won" else None, close if status == "lost" else None, close)
        rec["expected_close_date"] = date_str(add + (0 if blank else rng.randint(0, 180)) * DAY)
        rec |= {
            "label_ids": [] if blank else rng.sample((1, 2, 3), rng.randint(0, 2)),
            "origin": "ManuallyCreated", "origin_id": None, "channel": None, "channel_id": None,
            "source_lead_id": None, "arr": None, "mrr": None, "acv": None,
            "archive_time": None, "products_count": 0,
            "first_won_time": v2_ts(close) if status == "won" else None,
            "custom_fields": self.custom_v2("deal", blank),
        }
        return rec

    def person(self, id: int, add: int, upd: int, blank: bool = False) -> dict[str, Any]:
        """A v2 person."""
        rng = self.rng
        first, last = ("", "") if blank else person_name(rng)
        if not blank and rng.random() < 0.05:
            first = rng.choice(UNICODE_SAMPLES)
        rec: dict[str, Any] = {
            "id": id, "name": f"{first} {last}".strip(), "first_name": first, "last_name": last,
            "owner_id": 1 if blank else self._user(),
            "org_id": None if blank else self._ref("organizations", 0.6), "picture_id": None,
        }
        slug = f"{first}.{last}".lower().replace(" ", "")
        rec |= {
            "add_time": v2_ts(add), "update_time": v2_ts(upd),
            "emails": [] if blank or rng.random() < 0.1 else [
                {"value": f"{slug}{id}@example.com", "primary": True, "label": "work"}],
            "phones": [] if blank or rng.random() < 0.3 else [
                {"value": f"+372 5{rng.randint(100000, 999999)}", "primary": True, "label": "mobile"}],
            "is_deleted": False, "visible_to": 3,
            "label_ids": [] if blank else rng.sample((1, 2), rng.randint(0, 1)),
            "postal_address": None if blank or rng.random() >= 0.3 else _v2_address(address_value(rng)),
            "notes": None, "im": [],
            "job_title": None if blank or rng.random() >= 0.4 else self.text(),
            "birthday": None if blank or rng.random() >= 0.2 else date_str(add - rng.randint(7000, 20000) * DAY),
            "custom_fields": self.custom_v2("person", blank),
        }
        return rec

    def organization(self, id: int, add: int, upd: int, blank: bool = False) -> dict[str, Any]:
        """A v2 organization."""
        rng = self.rng
        rec: dict[str, Any] = {
            "id": id, "name": "" if blank else self.text(), "owner_id": 1 if blank else self._user(),
            "add_time": v2_ts(add), "update_time": v2_ts(upd), "is_deleted": False, "visible_to": 3,
        }
        rec["address"] = None if blank or rng.random() >= 0.6 else _v2_address(address_value(rng))
        rec |= {
            "label_ids": [] if blank else rng.sample((1, 2), rng.randint(0, 1)),
            "website": None if blank or rng.random() < 0.5 else f"https://org{id}.example.com",
            "linkedin": None,
            "industry": None if blank or rng.random() < 0.5 else rng.randint(1, 3),
            "annual_revenue": None if blank or rng.random() < 0.6 else rng.randint(0, 10**8),
            "employee_count": None if blank or rng.random() < 0.6 else rng.randint(1, 5000),
            "custom_fields": self.custom_v2("organization", blank),
        }
        return rec

    def activity(self, id: int, add: int, upd: int, blank: bool = False) -> dict[str, Any]:
        """A v2 activity (custom fields included; `attendees` is an include field)."""
        rng = self.rng
        if self._types is None:
            self._types = [t["key_string"] for t in self.data.store["activity_types"].values()] or ["call"]
        types = self._types
        done = not blank and rng.random() < 0.6
        rec: dict[str, Any] = {
            "id": id, "subject": "" if blank else self.text(), "type": "call" if blank else rng.choice(types),
            "owner_id": 1 if blank else self._user(), "creator_user_id": 1 if blank else self._user(),
            "is_deleted": False, "add_time": v2_ts(add), "update_time": v2_ts(upd),
        }
        for key, entity, share in (("deal_id", "deals", 0.6), ("person_id", "persons", 0.6),
                                   ("org_id", "organizations", 0.4)):
            rec[key] = None if blank else self._ref(entity, share)
        rec |= {"lead_id": None, "project_id": None,
                "due_date": date_str(add + (0 if blank else rng.randint(0, 30)) * DAY),
                "due_time": None, "duration": None}
        if not blank and rng.random() < 0.7:
            rec["due_time"] = f"{rng.randint(7, 18):02d}:{rng.choice((0, 30)):02d}:00"
            rec["duration"] = f"0{rng.randint(0, 2)}:{rng.choice((15, 30, 45)):02d}:00"
        rec |= {"busy": not blank and rng.random() < 0.5, "done": done,
                "marked_as_done_time": v2_ts(upd) if done else None}
        rec["location"] = _v2_address(address_value(rng)) if not blank and rng.random() < 0.2 else None
        person = rec["person_id"]
        rec |= {
            "participants": [{"person_id": person, "primary": True}] if person else [],
            "attendees": [],
            "public_description": "" if blank else (self.text(long=True) if rng.random() < 0.3 else ""),
            "note": "" if blank else (self.text(long=True) if rng.random() < 0.3 else ""),
            "custom_fields": self.custom_v2("activity", blank),
            "conference_meeting_client": None, "conference_meeting_url": None, "conference_meeting_id": None,
            "priority": rng.randint(1, 3) if not blank and rng.random() < 0.5 else None,
        }
        return rec

    def product(self, id: int, add: int, upd: int, blank: bool = False) -> dict[str, Any]:
        """A v2 product with one price per currency it is sold in."""
        rng = self.rng
        price = 0 if blank else round(rng.uniform(1, 5000), 2)
        return {
            "id": id, "name": "" if blank else self.text(), "code": "" if blank else f"SKU-{id:05d}",
            "unit": "" if blank else rng.choice(("pcs", "h", "license", "kg")),
            "tax": 0 if blank else rng.choice((0, 9, 20, 22)), "is_deleted": False, "is_linkable": True,
            "visible_to": 3, "owner_id": 1 if blank else self._user(),
            "add_time": v2_ts(add), "update_time": v2_ts(upd),
            "description": "" if blank else self.text(long=True),
            "category": None if blank or rng.random() < 0.5 else rng.choice(("1", "2")),
            "custom_fields": self.custom_v2("product", blank),
            "billing_frequency": "one-time" if blank else rng.choice(("one-time", "monthly", "annually")),
            "billing_frequency_cycles": None,
            "prices": [] if blank else [{
                "product_id": id, "price": price, "currency": "EUR", "cost": round(price * 0.6, 2),
                "direct_cost": None, "notes": "",
            }],
        }

    def deal_product(self, id: int, deal: dict[str, Any], product: dict[str, Any], add: int,
                     order_nr: int | None) -> dict[str, Any]:
        """A v2 deal-product row attaching `product` to `deal`."""
        rng = self.rng
        quantity = rng.randint(1, 20)
        prices = product.get("prices") or [{"price": 0}]
        item_price = prices[0]["price"]
        discount = rng.choice((0, 0, 5, 10))
        tax = product.get("tax", 0)
        return {
            "id": id, "sum": round(quantity * item_price * (1 - discount / 100), 2), "tax": tax,
            "deal_id": deal["id"], "name": product["name"], "product_id": product["id"],
            "product_variation_id": None, "order_nr": order_nr, "add_time": v2_ts(add),
            "update_time": v2_ts(add), "comments": "" if rng.random() < 0.8 else self.text(),
            "currency": deal["currency"], "discount": discount, "discount_type": "percentage",
            "quantity": quantity, "item_price": item_price,
            "tax_method": rng.choice(("exclusive", "inclusive", "none")), "is_enabled": True,
            "billing_frequency": product.get("billing_frequency", "one-time"),
            "billing_frequency_cycles": None, "billing_start_date": None,
        }

    def project(self, id: int, add: int, upd: int, blank: bool = False) -> dict[str, Any]:
        """A v2 project."""
        rng = self.rng
        rec: dict[str, Any] = {
            "id": id, "title": "" if blank else self.text(), "description": "" if blank else self.text(True),
            "status": "open" if blank else rng.choice(("open", "open", "completed", "canceled")),
            "board_id": 1, "phase_id": 1 if blank else rng.randint(1, 3), "owner_id": 1 if blank else self._user(),
        }
        rec["start_date"] = date_str(add)
        rec["end_date"] = date_str(add + (0 if blank else rng.randint(10, 200)) * DAY)
        rec |= {
            "deal_ids": [] if blank else [d for d in (self._ref("deals", 0.5),) if d],
            "person_ids": [], "org_ids": [], "label_ids": [],
            "health_status": None, "add_time": v2_ts(add), "update_time": v2_ts(upd),
            "status_change_time": v2_ts(add), "archive_time": None,
            "custom_fields": self.custom_v2("project", blank),
        }
        return rec

    def task(self, id: int, add: int, upd: int, blank: bool = False) -> dict[str, Any]:
        """A v2 project task."""
        rng = self.rng
        done = not blank and rng.random() < 0.4
        projects = self.data.next_ids.get("projects", 2) - 1
        return {
            "id": id, "title": ("" if blank else self.text()) or "Task",  # the spec requires a non-empty title
            "creator_id": 1 if blank else self._user(),
            "description": None if blank or rng.random() < 0.5 else self.text(True),
            "project_id": 1 if blank else rng.randint(1, max(projects, 1)),
            "is_done": done, "is_milestone": not blank and rng.random() < 0.1,
            "due_date": None if blank or rng.random() < 0.4 else date_str(add + rng.randint(1, 60) * DAY),
            "start_date": None if blank else date_str(add), "parent_task_id": None,
            "assignee_ids": [] if blank else [self._user()], "priority": None,
            "add_time": v2_ts(add), "update_time": v2_ts(upd),
            "marked_as_done_time": v2_ts(upd) if done else None,
        }

    # -- v1 entities ---------------------------------------------------------------------
    def note(self, id: int, add: int, upd: int, blank: bool = False) -> dict[str, Any]:
        """A v1 note, attached to a deal, person and/or organization (or a lead, project, task)."""
        rng = self.rng
        user = 1 if blank else self._user()
        rec: dict[str, Any] = {
            "id": id, "active_flag": True, "add_time": v1_ts(add),
            "content": "" if blank else f"<p>{self.text(long=True)}</p>",
        }
        for key, entity, share, obj, attr in (
            ("deal_id", "deals", 0.6, "deal", "title"), ("person_id", "persons", 0.4, "person", "name"),
            ("org_id", "organizations", 0.3, "organization", "name"),
        ):
            ref = None if blank else self._ref(entity, share)
            target = self.data.store[entity].get(ref) if ref else None
            rec[key] = None if target is None else ref
            rec[obj] = None  # embedded copy: rendered when read (`embedded.py`)
        links = self._note_links(id, rec["deal_id"] is None) if not blank else {}
        rec |= {
            "lead_id": links.get("lead_id"), "lead": None,
            "project_id": links.get("project_id"), "task_id": links.get("task_id"),
            "last_update_user_id": user,
            "pinned_to_deal_flag": rec["deal_id"] is not None and rng.random() < 0.1,
            "pinned_to_lead_flag": bool(links.get("pinned_to_lead")),
            "pinned_to_organization_flag": False, "pinned_to_person_flag": False,
            "pinned_to_project_flag": False, "pinned_to_task_flag": False,
            "update_time": v1_ts(upd),
            "user": None, "user_id": user,
        }
        return rec

    def _note_links(self, note_id: int, without_deal: bool) -> dict[str, Any]:
        """Lead, project and task a generated note is attached to (most have none).

        Drawn from a random source of their own (seeded by the note id), so adding these keys
        left every other generated value as it was. A third of the notes without a deal belong
        to a lead; one in twenty notes to a project, half of those to one of its tasks. Note
        `LINKED_NOTE` has all three (and is pinned to its lead), so every size shows them.
        """
        aux = random.Random(self.data.seed * 1_000_033 + note_id)
        top = {e: self.data.next_ids.get(e, 1) - 1 for e in ("leads", "projects", "tasks")}
        every = note_id == LINKED_NOTE
        out: dict[str, Any] = {}
        if top["leads"] and (every or (without_deal and aux.random() < 0.3)):
            out["lead_id"] = lead_uuid(self.data.seed, "lead", aux.randint(1, top["leads"]))
            out["pinned_to_lead"] = every or aux.random() < 0.1
        if top["projects"] and (every or aux.random() < 0.05):
            out["project_id"] = aux.randint(1, top["projects"])
            if top["tasks"] and (every or aux.random() < 0.5):
                out["task_id"] = aux.randint(1, top["tasks"])
        return out

    def _file_links(self, file_id: int) -> dict[str, int]:
        """Person, organization and product a generated file is attached to besides its deal
        (a random source of their own, so no other generated value moved; `LINKED_FILE` has
        all three)."""
        aux = random.Random(self.data.seed * 2_000_029 + file_id)
        out = {}
        for kind, entity, share in (("person", "persons", 0.3), ("org", "organizations", 0.2), ("product", "products", 0.1)):
            top = self.data.next_ids.get(entity, 1) - 1
            if top and (aux.random() < share or file_id == LINKED_FILE):
                out[kind] = aux.randint(1, top)
        return out

    def file(self, id: int, add: int, upd: int, blank: bool = False) -> dict[str, Any]:
        """A v1 file record (metadata only)."""
        rng = self.rng
        name = "empty.txt" if blank else f"{self.text().replace(' ', '_')}.{rng.choice(('pdf', 'png', 'docx'))}"
        rec: dict[str, Any] = {"id": id, "user_id": 1 if blank else self._user()}
        deal = self.data.store["deals"].get(None if blank else self._ref("deals", 0.7))
        # No linked object: the id is null and its name "" (the spec's example, e.g. `person_name: ""`);
        # the names of linked objects are rendered when read (`embedded.py`).
        links = {} if blank else self._file_links(id)
        for kind in ("deal", "person", "org", "product", "activity", "lead", "project"):
            rec[f"{kind}_id"] = links.get(kind)
            if kind != "activity":
                rec[f"{kind}_name"] = ""
        if deal is not None:
            rec["deal_id"] = deal["id"]
        rec |= {
            "add_time": v1_ts(add), "update_time": v1_ts(upd), "file_name": name,
            "file_size": 0 if blank else rng.randint(100, 5_000_000), "active_flag": True,
            "inline_flag": False, "remote_location": "s3", "remote_id": f"files/{id}", "cid": "",
            "s3_bucket": "", "mail_message_id": "", "mail_template_id": "",
            "url": f"https://example.pipedrive.com/v1/files/{id}/download", "name": name, "description": "",
        }
        return rec

    def lead(self, n: int, add: int, upd: int, blank: bool = False) -> dict[str, Any]:
        """A v1 lead (UUID id) carrying the deal custom fields v1-style."""
        rng = self.rng
        labels = list(self.data.store["lead_labels"])
        rec: dict[str, Any] = {
            "id": lead_uuid(self.data.seed, "lead", n), "title": "" if blank else self.text(),
            "owner_id": 1 if blank else self._user(), "creator_id": 1 if blank else self._user(),
            "label_ids": [] if blank or not labels else rng.sample(labels, rng.randint(0, min(2, len(labels)))),
            "person_id": None if blank else self._ref("persons", 0.7),
            "organization_id": None if blank else self._ref("organizations", 0.5),
            "source_name": "Manually created" if blank else rng.choice(("Manually created", "Web forms", "API")),
            "origin": "ManuallyCreated", "origin_id": None, "channel": None, "channel_id": None,
            "source_deal_id": None, "is_archived": False, "archive_time": None, "was_seen": not blank and rng.random() < 0.5,
            "value": None if blank or rng.random() < 0.3 else {"amount": rng.randint(0, 50000), "currency": "EUR"},
            "expected_close_date": None if blank or rng.random() < 0.5 else date_str(add + 30 * DAY),
            "next_activity_id": None, "add_time": v2_ts(add), "update_time": v2_ts(upd),
            "visible_to": "3", "cc_email": f"lead{n}@pipedrivemail.com",
        }
        self.custom_v1("deal", blank, rec)
        return rec

    def call_log(self, n: int, add: int, upd: int, blank: bool = False) -> dict[str, Any]:
        """A v1 call log (string id, RFC 3339 start/end times)."""
        rng = self.rng
        length = 0 if blank else rng.randint(0, 3600)
        rec: dict[str, Any] = {
            "user_id": 1 if blank else self._user(), "subject": "" if blank else self.text(),
            "duration": str(length), "outcome": "connected" if blank else rng.choice(
                ("connected", "no_answer", "left_message", "busy", "wrong_number")),
            "from_phone_number": "+3725000000", "to_phone_number": f"+3725{rng.randint(100000, 999999)}",
            "start_time": v2_ts(add), "end_time": v2_ts(add + length),
        }
        for key, entity, share in (("person_id", "persons", 0.7), ("deal_id", "deals", 0.5)):
            rec[key] = None if blank else self._ref(entity, share)
        rec |= {"note": "", "id": f"{n:024x}", "has_recording": False, "company_id": COMPANY_ID}
        return rec


def local_close_dates(won: int | None, lost: int | None, close: int | None) -> dict[str, str | None]:
    """A v2 deal's `local_won_date`, `local_lost_date` and `local_close_date`: the dates of its
    won, lost and close times in the company's time zone (null while they have not happened)."""
    return {"local_won_date": local_date(won), "local_lost_date": local_date(lost), "local_close_date": local_date(close)}


def _v2_address(addr: dict[str, Any]) -> dict[str, Any]:
    """A built-in v2 address object: value plus every part (null when not resolved)."""
    out = {"value": addr["value"]}
    for key in ("country", "admin_area_level_1", "admin_area_level_2", "locality", "sublocality",
                "route", "street_number", "subpremise", "postal_code"):
        out[key] = addr.get(key)
    return out
