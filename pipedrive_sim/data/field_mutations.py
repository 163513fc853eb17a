"""Field mutations of an `Account`: add, rename, retype and delete custom fields; rename and
delete options.

A mixin of `Account`. Field definitions live in the `FieldCatalog` (`field_definitions.py`);
both API shapes are rendered from it, so every change shows in v1 and v2 at once. Each change
bumps the version of the field set (`deal_fields`, ...; deal changes also move `lead_fields`,
since leads carry the deal custom fields), and of the entities whose values it rewrote.

Names are not unique in Pipedrive: a new field may take the name of an existing or deleted
one, and a rename may reuse another field's name. Keys are: they come from the field id,
which is never reused.

Whether a type change or a field deletion moves the `update_time` of the records whose values
it rewrote is not documented. The simulator does not by default (the records were not edited,
their field was; the change shows in the field's `update_time` only) and does with
`touch_records=True`, so a client can be tested against both (docs/sim-data-status.md).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from typing import Any

from .account_state import AccountState
from .custom_values import drop_v1, flatten_v1, unflatten_v1
from .dataset import FIELD_SET_OF
from .field_definitions import CUSTOM_TYPES, FieldDef, FieldOption
from .type_changes import OPTION_TYPES, convert, new_option_labels


class FieldMutations(AccountState):
    """Custom-field and option changes (mixed into `Account`)."""

    def _field(self, field_set: str, field_code: str) -> FieldDef:
        return self.data.fields.get(field_set, field_code)

    def _entities_of(self, field_set: str) -> list[str]:
        out = [e for e, s in FIELD_SET_OF.items() if s == field_set]
        return out + (["leads"] if field_set == "deal" else [])

    def _bump_fields(self, field_set: str) -> None:
        sets = [field_set] + (["lead"] if field_set == "deal" else [])
        self._bump(*(f"{s}_fields" for s in sets))

    def add_field(self, field_set: str, name: str, field_type: str, options: list[str] | None = None) -> str:
        """Add a custom field; existing records get a null value for it. Returns its field_code.

        The name may be the name of an existing or a deleted field: the key is new either way.
        """
        if field_set not in ("deal", "person", "organization", "activity", "product", "project"):
            raise KeyError(f"cannot add custom fields to {field_set!r}")
        ts = self.clock.timestamp()
        field_id = self.data.fields.next_field_id()
        key = hashlib.sha1(f"{self.seed}:{field_set}:added:{field_id}:{name}".encode()).hexdigest()
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
        """Rename a field (records keep their values under the same key; the name may be another
        field's)."""
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

    def _custom(self, field_set: str, field_code: str) -> FieldDef:
        fd = self._field(field_set, field_code)
        if not fd.is_custom:
            raise ValueError(f"{field_code!r} is a built-in field; only custom fields change type or go away")
        return fd

    def change_field_type(self, field_set: str, field_code: str, new_type: str, touch_records: bool = False) -> None:
        """Change a custom field's type; record values convert as `type_changes.py` says.

        Options: a field that becomes enum/set from a type without options gets one option per
        distinct text value; one that leaves enum/set loses its options (live and deleted).

        Args:
            field_set: The field set (`deal` also converts the leads' values).
            field_code: The custom field's key.
            new_type: One of the custom field types (`field_definitions.CUSTOM_TYPES`).
            touch_records: Also move the `update_time` of records whose value changed.

        Raises:
            KeyError: If the set has no such field.
            ValueError: For a built-in field or an unknown type.
        """
        fd = self._custom(field_set, field_code)
        if new_type not in CUSTOM_TYPES:
            raise ValueError(f"unknown custom field type {new_type!r}; expected one of {CUSTOM_TYPES}")
        old = dataclasses.replace(fd, options=list(fd.options) if fd.options is not None else None,
                                  deleted_options=list(fd.deleted_options))
        labels = {o.id: o.label for o in (*(old.options or ()), *old.deleted_options)}
        ts = self.clock.timestamp()
        if new_type in OPTION_TYPES and old.field_type not in OPTION_TYPES:
            texts = new_option_labels(self._values(field_set, old), old.field_type, labels)
            fd.options = self.data.fields.new_options(texts, ts)
        elif new_type not in OPTION_TYPES:
            fd.options, fd.deleted_options = None, []
        ids_by_label = {o.label: o.id for o in fd.options or ()}
        fd.field_type = new_type
        fd.update_ts = ts
        self._rewrite(field_set, old, fd, lambda v: convert(v, old.field_type, new_type, labels, ids_by_label),
                      touch_records)
        self._bump_fields(field_set)

    def delete_field(self, field_set: str, field_code: str, touch_records: bool = False) -> None:
        """Delete a custom field: it leaves the definitions and its values leave the records.

        Args:
            field_set: The field set (`deal` also removes the leads' values).
            field_code: The custom field's key.
            touch_records: Also move the `update_time` of records that had a value.

        Raises:
            KeyError: If the set has no such field.
            ValueError: For a built-in field.
        """
        fd = self._custom(field_set, field_code)
        self.data.fields.remove(field_set, field_code)
        self._rewrite(field_set, fd, None, lambda v: None, touch_records)
        self._bump_fields(field_set)

    def _values(self, field_set: str, fd: FieldDef) -> list[Any]:
        """Every record's v2 value of a field (leads' v1 values read back)."""
        out = []
        for entity in self._entities_of(field_set):
            for rec in self.data.store[entity].values():
                out.append(unflatten_v1(fd, rec) if entity == "leads" else (rec.get("custom_fields") or {}).get(fd.key))
        return out

    def _rewrite(self, field_set: str, old: FieldDef, new: FieldDef | None, change: Callable[[Any], Any],
                 touch: bool) -> None:
        """Rewrite a field's value in every record of the set: `change(v2 value)` under the new
        definition, or the value removed when `new` is None (a deleted field)."""
        for entity in self._entities_of(field_set):
            store = self.data.store[entity]
            now = self._now(entity)
            for rid, rec in store.items():
                if entity == "leads":
                    before = unflatten_v1(old, rec)
                    out = dict(rec)
                    drop_v1(old, out)
                    if new is not None:
                        flatten_v1(new, change(before), out)
                    after = None if new is None else unflatten_v1(new, out)
                else:
                    values = dict(rec.get("custom_fields") or {})
                    before = values.pop(old.key, None)
                    after = None if new is None else change(before)
                    if new is not None:
                        values[old.key] = after
                    out = dict(rec, custom_fields=values)
                if touch and before != after and "update_time" in out:
                    out["update_time"] = now
                store[rid] = out
            self._bump(entity)
