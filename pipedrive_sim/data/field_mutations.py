"""Field mutations of an `Account`: add and rename custom fields, rename and delete options.

A mixin of `Account`. Field definitions live in the `FieldCatalog` (`field_definitions.py`);
both API shapes are rendered from it, so every change shows in v1 and v2 at once. Each change
bumps the version of the field set (`deal_fields`, ...; deal changes also move `lead_fields`,
since leads carry the deal custom fields).
"""

from __future__ import annotations

import hashlib

from .account_state import AccountState
from .custom_values import flatten_v1
from .dataset import FIELD_SET_OF
from .field_definitions import FieldDef, FieldOption


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
