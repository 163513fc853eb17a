"""Field definitions (`/dealFields`, `/personFields`, ...) in the v1 and v2 shapes.

A field set (`deal`, `person`, `organization`, `activity`, `product`, `project`, and the
v1-only `lead` and `note`) is a list of `FieldDef`: the built-in fields from the small tables
below plus generated custom fields of every custom field type. Both API shapes are rendered
from the same `FieldDef`, so renames and deleted options show up consistently in v1 and v2.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from .timestamps import v1_ts, v2_ts

#: Field sets served by both API versions.
FIELD_SETS_V2 = ("deal", "person", "organization", "activity", "product", "project")
#: All field sets (v1 also serves lead and note fields).
FIELD_SETS = FIELD_SETS_V2 + ("lead", "note")
#: Field sets that get generated custom fields (leads reuse the deal custom fields).
CUSTOM_FIELD_SETS = FIELD_SETS_V2

#: Every custom field type the simulator generates, in field order.
CUSTOM_TYPES = (
    "varchar", "text", "varchar_auto", "double", "int", "monetary", "date", "daterange", "time",
    "timerange", "enum", "set", "user", "org", "people", "phone", "address", "boolean",
)

#: Address sub-values, in the order the API lists them (v2 object keys, v1 `<key>_<sub>`).
ADDRESS_PARTS = (
    "street_number", "route", "sublocality", "locality", "admin_area_level_1",
    "admin_area_level_2", "country", "postal_code", "formatted_address",
)

#: Extra parts of a custom value: type -> sub-keys ( v2 object keys besides `value`).
VALUE_PARTS: dict[str, tuple[str, ...]] = {
    "monetary": ("currency",),
    "daterange": ("until",),
    "timerange": ("until", "timezone_name"),
    "address": ADDRESS_PARTS,
}

#: v1-only built-in field types and the v2 type used for them.
_V2_TYPE = {"pipeline": "int", "product": "int", "deal": "deal"}

#: `field_type` values the v1 spec allows in `*Fields` items (the GetField schema's enum).
V1_TYPES = frozenset((
    "address", "date", "daterange", "double", "enum", "monetary", "org", "people", "phone", "set",
    "text", "time", "timerange", "user", "varchar", "varchar_auto", "visible_to",
))
#: v1 `/productFields` allows the same minus `visible_to`.
V1_PRODUCT_TYPES = V1_TYPES - {"visible_to"}
#: Closest v1-spec type for types the v1 enum lacks (the real API may return the raw type).
_V1_FALLBACK = {
    "int": "double", "boolean": "enum", "status": "enum", "billing_frequency": "enum",
    "visible_to": "enum", "price_list": "varchar",
}

# Built-in fields: "key type Name", one per line; `*` after the type marks an
# include_fields-only (optional response) field in v2.
_BUILTINS: dict[str, str] = {
    "deal": """
        title varchar Title
        value monetary Value
        owner_id user Owner
        person_id people Contact person
        org_id org Organization
        pipeline_id pipeline Pipeline
        stage_id stage Stage
        status status Status
        probability double Probability
        lost_reason varchar Lost reason
        visible_to visible_to Visible to
        label_ids set Label
        expected_close_date date Expected close date
        add_time date Deal created
        update_time date Update time
        stage_change_time date Last stage change
        won_time date Won time
        lost_time date Lost time
        close_time date Deal closed on
        origin varchar Source origin
        channel enum Source channel
        products_count* int Number of products
        first_won_time* date First won time
    """,
    "person": """
        name varchar Name
        first_name varchar First name
        last_name varchar Last name
        owner_id user Owner
        org_id org Organization
        emails varchar Email
        phones phone Phone
        label_ids set Labels
        postal_address address Postal address
        birthday date Birthday
        job_title varchar Job title
        notes text Notes
        visible_to visible_to Visible to
        add_time date Person created
        update_time date Update time
        open_deals_count* int Open deals
    """,
    "organization": """
        name varchar Name
        owner_id user Owner
        address address Address
        label_ids set Labels
        website varchar Website
        linkedin varchar LinkedIn profile
        industry enum Industry
        annual_revenue int Annual revenue
        employee_count int Number of employees
        visible_to visible_to Visible to
        add_time date Organization created
        update_time date Update time
        people_count* int People
    """,
    "activity": """
        subject varchar Subject
        type varchar Type
        owner_id user Assigned to user
        deal_id deal Deal
        person_id people Contact person
        org_id org Organization
        due_date date Due date
        due_time time Due time
        duration time Duration
        busy boolean Free/busy
        done boolean Done
        location address Location
        public_description text Public description
        note text Note
        priority enum Priority
        add_time date Add time
        update_time date Update time
        attendees* varchar Attendees
    """,
    "product": """
        name varchar Name
        code varchar Product code
        unit varchar Unit
        tax double Tax
        category enum Category
        description text Description
        owner_id user Owner
        prices price_list Price
        billing_frequency billing_frequency Billing frequency
        is_linkable boolean Linkable
        visible_to visible_to Visible to
        add_time date Add time
        update_time date Update time
    """,
    "project": """
        title varchar Title
        description text Description
        status status Status
        board_id projects_board Board
        phase_id projects_phase Phase
        owner_id user Owner
        start_date date Start date
        end_date date End date
        deal_ids deal Deals
        person_ids people People
        org_ids org Organizations
        label_ids set Labels
        add_time date Add time
        update_time date Update time
    """,
    "lead": """
        title varchar Title
        owner_id user Owner
        person_id people Person
        organization_id org Organization
        value monetary Value
        expected_close_date date Expected close date
        label_ids set Labels
        source_name varchar Source
        visible_to visible_to Visible to
        add_time date Lead created
        update_time date Update time
    """,
    "note": """
        content text Content
        deal_id deal Deal
        person_id people Person
        org_id org Organization
        lead_id lead Lead
        user_id user User
        pinned_to_deal_flag boolean Pinned to deal
        add_time date Add time
        update_time date Update time
    """,
}

#: Built-in enum/set/status options: (field set, key) -> labels; ids are strings for
#: `status`, ints otherwise.
_BUILTIN_OPTIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("deal", "status"): ("open", "won", "lost", "deleted"),
    ("deal", "label_ids"): ("Hot", "Warm", "Cold"),
    ("deal", "channel"): ("Web", "Referral", "Event"),
    ("person", "label_ids"): ("Customer", "Prospect"),
    ("organization", "label_ids"): ("Partner", "Competitor"),
    ("organization", "industry"): ("Software", "Retail", "Manufacturing"),
    ("activity", "priority"): ("Low", "Medium", "High"),
    ("product", "category"): ("Hardware", "Services"),
    ("project", "status"): ("open", "completed", "canceled"),
    ("project", "label_ids"): ("Internal", "Customer"),
    ("lead", "label_ids"): ("Hot", "Warm", "Cold"),
}

_COLORS = ("blue", "green", "red", "yellow", "purple", "gray")


@dataclass
class FieldOption:
    """One option of an enum/set field."""

    id: int | str
    label: str
    color: str | None
    add_ts: int
    update_ts: int


@dataclass
class FieldDef:
    """One field of a field set; rendered to both API shapes.

    Attributes:
        id: Numeric v1 field id.
        key: v1 `key` / v2 `field_code` (a 40-hex hash for custom fields).
        name: Current display name.
        field_type: v1 field type (v2 maps a few v1-only types, see `v2_type`).
        order_nr: Position in the set.
        add_ts: Creation time (epoch seconds).
        update_ts: Last change time, or `None` for fields never updated.
        is_custom: True for custom fields (`edit_flag` / `is_custom_field`).
        options: Live options, or `None` for fields without options.
        deleted_options: Options deleted from an enum/set field.
        optional_response: v2 `is_optional_response_field` (only via `include_fields`).
    """

    id: int
    key: str
    name: str
    field_type: str
    order_nr: int
    add_ts: int
    update_ts: int | None
    is_custom: bool
    options: list[FieldOption] | None = None
    deleted_options: list[FieldOption] = field(default_factory=list)
    optional_response: bool = False

    @property
    def v2_type(self) -> str:
        """The v2 `field_type` of this field."""
        return _V2_TYPE.get(self.field_type, self.field_type)

    def option(self, option_id: int | str) -> FieldOption:
        """Return a live option by id.

        Raises:
            KeyError: If the field has no live option with that id.
        """
        for opt in self.options or ():
            if opt.id == option_id:
                return opt
        raise KeyError(f"field {self.key} has no option {option_id!r}")

    def subfield_keys(self) -> tuple[str, ...]:
        """Sub-value keys of a custom value (e.g. `currency` of a monetary field)."""
        return VALUE_PARTS.get(self.field_type, ())

    def v1_type(self, allowed: frozenset[str] = V1_TYPES) -> str:
        """The v1 `field_type`: the type itself if the v1 spec allows it, else the closest one.

        Relations without a v1 type (stage, pipeline, deal, lead, project, ...) map to `double`.
        """
        if self.field_type in allowed:
            return self.field_type
        return _V1_FALLBACK.get(self.field_type, "double")

    def to_v1(self, allowed: frozenset[str] = V1_TYPES) -> dict[str, Any]:
        """Render the field in the v1 `/dealFields` item shape."""
        out: dict[str, Any] = {
            "id": self.id,
            "key": self.key,
            "name": self.name,
            "group_id": None,
            "order_nr": self.order_nr,
            "picklist_data": None,
            "field_type": self.v1_type(allowed),
            "json_column_flag": self.is_custom,  # custom values live in a JSON column
            "add_time": v1_ts(self.add_ts),
            "update_time": v1_ts(self.update_ts),
            "last_updated_by_user_id": 1 if self.update_ts is not None else None,
            "created_by_user_id": 1,
            "active_flag": True,
            "edit_flag": self.is_custom,
            "index_visible_flag": True,
            "details_visible_flag": True,
            "add_visible_flag": not self.optional_response,
            "important_flag": False,
            "bulk_edit_allowed": True,
            "searchable_flag": self.field_type in ("varchar", "text", "phone", "varchar_auto"),
            "filtering_allowed": True,
            "sortable_flag": True,
            "mandatory_flag": self.key == "title",
            "restriction_settings": [],
            "user_restrictions": None,
            "description": None,
            "options": None if self.options is None else [{"id": o.id, "label": o.label} for o in self.options],
            "is_subfield": False,
        }
        if self.deleted_options:
            out["options_deleted"] = [{"id": o.id, "label": o.label} for o in self.deleted_options]
        subs = self.subfield_keys()
        if subs:
            out["subfields"] = [
                {"key": f"{self.key}_{sub}", "name": f"{self.name} ({sub})", "field_type": _sub_type(sub)}
                for sub in subs
            ]
        return out

    def to_v1_note(self) -> dict[str, Any]:
        """Render the field in the slimmer v1 `/noteFields` item shape."""
        return {
            "id": self.id,
            "key": self.key,
            "name": self.name,
            "field_type": self.v1_type(),
            "active_flag": True,
            "edit_flag": self.is_custom,
            "bulk_edit_allowed": True,
            "mandatory_flag": self.key == "content",
            "options": [{"id": o.id, "label": o.label} for o in self.options or ()],
        }

    def to_v2(self) -> dict[str, Any]:
        """Render the field in the v2 `/dealFields` item shape (deleted options omitted)."""
        subs = self.subfield_keys()
        return {
            "field_name": self.name,
            "field_code": self.key,
            "description": "",
            "field_type": self.v2_type,
            "options": None if self.options is None else [
                {"id": o.id, "label": o.label, "color": o.color, "add_time": v2_ts(o.add_ts),
                 "update_time": v2_ts(o.update_ts)}
                for o in self.options
            ],
            "subfields": [
                {"field_code": f"{self.key}_{sub}", "field_name": f"{self.name} ({sub})",
                 "field_type": _sub_type(sub)}
                for sub in subs
            ] or None,
            "is_custom_field": self.is_custom,
            "is_optional_response_field": self.optional_response,
            "ui_visibility": {"add_visible_flag": not self.optional_response, "details_visible_flag": True},
        }


def _sub_type(sub: str) -> str:
    """Field type of a sub-value (`currency` -> varchar, `until` -> date, ...)."""
    return {"until": "date", "currency": "varchar"}.get(sub, "varchar")


def field_hash(seed: int, field_set: str, n: int) -> str:
    """Deterministic 40-hex-char key of the n-th custom field of a set."""
    return hashlib.sha1(f"{seed}:{field_set}:{n}".encode()).hexdigest()


class FieldCatalog:
    """All field sets of one account, with option id allocation and mutation helpers.

    Args:
        created_ts: Creation time of the built-in fields (epoch seconds).
    """

    def __init__(self, created_ts: int) -> None:
        self.sets: dict[str, list[FieldDef]] = {}
        self._next_field_id = 12450
        self._next_option_id = 1
        self.created_ts = created_ts
        for field_set in FIELD_SETS:
            self.sets[field_set] = [self._builtin(field_set, line) for line in _lines(_BUILTINS[field_set])]
        for fd in self.sets["note"] + self.sets["lead"] + self.sets["deal"]:
            if fd.key in ("add_time", "update_time") and fd.field_type == "date":
                fd.update_ts = None  # some built-ins were never updated (update_time null)

    def _builtin(self, field_set: str, line: str) -> FieldDef:
        key, ftype, name = line.split(" ", 2)
        optional = ftype.endswith("*") or key.endswith("*")
        key, ftype = key.rstrip("*"), ftype.rstrip("*")
        labels = _BUILTIN_OPTIONS.get((field_set, key))
        options = None
        if labels is not None:
            string_ids = ftype == "status"
            options = [
                FieldOption(label if string_ids else i + 1, label, None, self.created_ts, self.created_ts)
                for i, label in enumerate(labels)
            ]
        return self._new(key, name, ftype, False, self.created_ts, options, field_set, optional)

    def _new(self, key: str, name: str, ftype: str, custom: bool, ts: int,
             options: list[FieldOption] | None, field_set: str, optional: bool = False) -> FieldDef:
        self._next_field_id += 1
        order = len(self.sets.get(field_set, ()))
        return FieldDef(self._next_field_id, key, name, ftype, order, ts, ts, custom, options,
                        optional_response=optional)

    def new_options(self, labels: list[str] | tuple[str, ...], ts: int) -> list[FieldOption]:
        """Allocate account-unique integer option ids for the given labels."""
        out = []
        for i, label in enumerate(labels):
            out.append(FieldOption(self._next_option_id, label, _COLORS[i % len(_COLORS)], ts, ts))
            self._next_option_id += 1
        return out

    def add_custom(self, field_set: str, key: str, name: str, field_type: str, ts: int,
                   options: list[str] | None = None) -> FieldDef:
        """Append a custom field to a set (leads see deal custom fields automatically)."""
        opts = None
        if field_type in ("enum", "set"):
            opts = self.new_options(options or ["Option A", "Option B"], ts)
        fd = self._new(key, name, field_type, True, ts, opts, field_set)
        self.sets[field_set].append(fd)
        return fd

    def remove(self, field_set: str, key: str) -> FieldDef:
        """Take a custom field out of its set.

        Raises:
            KeyError: If the set has no such field.
            ValueError: For a built-in field (only custom fields can be deleted).
        """
        fd = self.get(field_set, key)
        if not fd.is_custom:
            raise ValueError(f"{key!r} is a built-in field; only custom fields can be deleted")
        self.sets["deal" if field_set == "lead" else field_set].remove(fd)
        return fd

    def next_field_id(self) -> int:
        """The id the next field will get (ids are never reused, also after a deletion)."""
        return self._next_field_id + 1

    def custom(self, field_set: str) -> list[FieldDef]:
        """Custom fields of a set (lead -> the deal custom fields)."""
        source = "deal" if field_set == "lead" else field_set
        return [fd for fd in self.sets.get(source, ()) if fd.is_custom]

    def all(self, field_set: str) -> list[FieldDef]:
        """Built-in plus custom fields of a set, in order."""
        if field_set == "lead":
            return self.sets["lead"] + self.custom("deal")
        return self.sets[field_set]

    def get(self, field_set: str, key: str) -> FieldDef:
        """Return a field by key.

        Raises:
            KeyError: If the set has no such field.
        """
        for fd in self.all(field_set):
            if fd.key == key:
                return fd
        raise KeyError(f"{field_set} has no field {key!r}")

    def render(self, field_set: str, api: str) -> list[dict[str, Any]]:
        """Field definitions of a set in the shape of `api` ("v1" or "v2").

        Raises:
            KeyError: For an unknown set or a v1-only set requested as v2.
        """
        if api == "v2" and field_set not in FIELD_SETS_V2:
            raise KeyError(f"there is no v2 {field_set}Fields endpoint")
        if field_set not in FIELD_SETS:
            raise KeyError(f"unknown field set {field_set!r}")
        fields = self.all(field_set)
        if api == "v2":
            return [_v2_set_keys(field_set, fd.to_v2()) for fd in fields]
        if field_set == "note":
            return [fd.to_v1_note() for fd in fields]
        if field_set == "product":
            out = [fd.to_v1(V1_PRODUCT_TYPES) for fd in fields]
            for item in out:  # the v1 product field schema has no nullable options
                item["options"] = item["options"] or []
            return [_v1_set_keys(field_set, item) for item in out]
        return [_v1_set_keys(field_set, fd.to_v1()) for fd in fields]


#: v1 `*Fields`: the field whose value links to the record's page (`use_field`, `link`), as
#: a real `/dealFields` answer has them on the deal title.
_V1_LINKS = {"deal": ("title", "/deal/"), "person": ("name", "/person/"),
             "organization": ("name", "/organization/"), "product": ("name", "/product/")}
#: v1 `/dealFields`: bulk edit allowed only for deals in a status (shape as `mandatory_flag`'s
#: condition on won_time in a real answer; the key's own shape is not documented anywhere).
_V1_BULK_EDIT_CONDITIONS = {"won_time": {"status": "=won"}, "lost_time": {"status": "=lost"},
                            "lost_reason": {"status": "=lost"}}
#: v2 field sets whose spec declares `important_fields` / `required_fields`.
_V2_IMPORTANCE_SETS = ("deal", "person", "organization", "project")
#: v2 deal fields configured as important (at stages) or required (when won, per pipeline id).
_V2_IMPORTANT_AT = {"value": [2, 3]}
_V2_REQUIRED_WHEN = {"expected_close_date": {"1": ["won"]}}


def _v1_set_keys(field_set: str, item: dict[str, Any]) -> dict[str, Any]:
    """Add the keys of a v1 field item that depend on its set (deal pipelines, record links)."""
    if field_set == "deal":
        item["show_in_pipelines"] = {"show_in_all": True}
        if item["key"] in _V1_BULK_EDIT_CONDITIONS:
            item["bulk_edit_allowed_conditions"] = _V1_BULK_EDIT_CONDITIONS[item["key"]]
    if _V1_LINKS.get(field_set, ("",))[0] == item["key"]:
        item["use_field"], item["link"] = "id", _V1_LINKS[field_set][1]
    return item


def _v2_set_keys(field_set: str, item: dict[str, Any]) -> dict[str, Any]:
    """Add `important_fields` / `required_fields` where the v2 spec declares them (deal fields
    also carry stage ids and won/lost statuses; the other sets only the switch)."""
    if field_set not in _V2_IMPORTANCE_SETS:
        return item
    code = item["field_code"]
    is_deal = field_set == "deal"
    stages = _V2_IMPORTANT_AT.get(code, []) if is_deal else []
    statuses = _V2_REQUIRED_WHEN.get(code, {}) if is_deal else {}
    item["important_fields"] = {"enabled": bool(stages), "stage_ids": list(stages)}
    item["required_fields"] = {"enabled": bool(statuses)}
    if is_deal:
        item["required_fields"] |= {"stage_ids": [], "statuses": dict(statuses)}
    return item


def _lines(table: str) -> list[str]:
    return [line.strip() for line in table.strip().splitlines() if line.strip()]
