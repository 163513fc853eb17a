"""Field definitions of every field set: read when due, shared by everything that needs them.

The `<set>_fields` tables, the `custom_fields_mapping` table, the shaping of every entity using a
set and the field names of `deal_changes` all read from one `FieldSetCache` per source. A set's
definitions are read at most every `FieldSet.refresh_hours` (`read_at` in the source state), when
the run is forced to (`refresh_reference`, a full refresh, `due_now`), and at once when a record
holds a field or an option the source does not know; otherwise everything comes from what earlier
runs kept in the source state (columns, names, types, option labels, built-in field names).
"""

import threading
from typing import Any, Callable, Dict, List, Mapping, MutableMapping, Optional, Set

import dlt

from ..entities import ENTITIES, FIELD_SETS_BY_NAME, FieldSet
from ..http import PipedriveClient
from ..schedule import READ_AT_KEY, due_now, is_due, mark_due, utc_now
from .column_hints import RECORD_KEYS
from .mapper import CustomFieldMapper, FieldDefinition, parse_field_definition

MAPPING_TABLE = "custom_fields_mapping"
STATE_KEY = "custom_fields"
"""Source state: field set -> hash -> the mapper's decisions (column, name, type, options)."""
PENDING_CHANGES_KEY = "pending_field_changes"
"""Source state: field set -> changes rows already loaded must follow (applied and cleared by the
run protocol after the load: `pipedrive.run.maintenance.apply_field_changes`)."""
SETS_STATE_KEY = "field_sets"
"""Source state: field set -> `builtin_names` (key -> name of built-in fields)."""


def reserved_columns(field_set: str) -> Set[str]:
    """Built-in record keys of every table whose records the field set renames."""
    tables = {e.table for e in ENTITIES if e.custom_field_set == field_set}
    return set().union(*(RECORD_KEYS.get(table, frozenset()) for table in tables))


class FieldSetCache:
    """Reads field definitions when due and builds the custom-field mappers of one source run.

    Must be used inside resource extraction: it reads and updates `dlt.current.source_state()`.

    Args:
        client: The run's client.
        force: Read every set's definitions in this run, due or not.
        field_sets: Field sets by name (defaults to the entity table's `FIELD_SETS`).
        memo: Keeps what a read returned for the rest of the run (`RunSession.memo`): a set read
            in one chunk because a record needed it is loaded into its table in the next one.
        state_lock: The lock every resource takes to change the shared source state
            (`RunSession.lock`).
    """

    def __init__(
        self, client: PipedriveClient, *, force: bool = False,
        field_sets: Mapping[str, FieldSet] = FIELD_SETS_BY_NAME,
        memo: Optional[Callable[..., Any]] = None,
        state_lock: Optional[threading.RLock] = None,
    ) -> None:
        self.client = client
        self._memo = memo or (lambda key, read, fresh=False: read())
        self._state_lock = state_lock or threading.RLock()
        self.force = force
        self.field_sets = field_sets
        self._raw: Dict[str, List[Dict[str, Any]]] = {}
        self._mappers: Dict[str, CustomFieldMapper] = {}
        self._due: Dict[str, bool] = {}
        self._lock = threading.RLock()

    def _set_state(self, name: str) -> MutableMapping[str, Any]:
        return dlt.current.source_state().setdefault(SETS_STATE_KEY, {}).setdefault(name, {})  # type: ignore[no-any-return]

    def _table_state(self, name: str) -> MutableMapping[str, Any]:
        """The `<set>_fields` resource's state, where the last read's time lives (a reload of the
        table with `refresh="drop_resources"` wipes it, and the set is due again)."""
        resources = dlt.current.source_state().setdefault("resources", {})
        return resources.setdefault(self.field_sets[name].table, {})  # type: ignore[no-any-return]

    def is_due(self, name: str) -> bool:
        """Whether the set's definitions are read in this run (decided once per run)."""
        with self._lock:
            if name not in self._due:
                forced = self.force or self.field_sets[name].table in due_now(dlt.current.source_state())
                last = self._table_state(name).get(READ_AT_KEY)
                self._due[name] = is_due(last, self.field_sets[name].refresh_hours, forced=forced)
            return self._due[name] or name in self._raw

    def read(self, name: str, fresh: bool = False) -> List[Dict[str, Any]]:
        """The set's definitions from the API (read once per run, or again when `fresh`: a record
        holds a field or option the last read did not have), noted in the state."""
        with self._lock:
            if name not in self._raw:
                field_set = self.field_sets[name]
                due_at_start = self.is_due(name)
                raw = self._memo(
                    field_set.table,
                    lambda: [item for page in self.client.paginate_endpoint(field_set) for item in page],
                    fresh=fresh,
                )
                self._table_state(name)[READ_AT_KEY] = utc_now().isoformat()
                self._set_state(name)["builtin_names"] = {
                    str(d.get(field_set.key_field)): str(d.get("field_name", d.get("name")))
                    for d in raw if not d.get("is_custom_field", d.get("edit_flag"))
                }
                self._raw[name] = raw
                if not due_at_start:
                    # read because a record needed it: its tables may already have run in this
                    # chunk, so the next chunk loads them (`due_now`)
                    with self._state_lock:
                        mark_due(dlt.current.source_state(), (field_set.table, MAPPING_TABLE))
            return self._raw[name]

    def definitions(self, name: str) -> Optional[List[Dict[str, Any]]]:
        """The set's raw definitions when they are read in this run (due, or needed), else None."""
        return self.read(name) if self.is_due(name) else None

    def builtin_names(self, name: str) -> Dict[str, str]:
        """Key -> display name of the set's built-in fields (from this run's read or the state)."""
        if self.is_due(name):
            self.read(name)
        return dict(self._set_state(name).get("builtin_names") or {})

    def _parsed(self, field_set: FieldSet, raw: List[Dict[str, Any]]) -> List[FieldDefinition]:
        return [parse_field_definition(item, field_set.api) for item in raw]

    def _deleted_options_loader(self, field_set: FieldSet) -> Optional[Callable[[], List[FieldDefinition]]]:
        source = field_set.deleted_options_source
        if source is None:
            return None
        source_state = dlt.current.source_state()

        def load() -> List[FieldDefinition]:
            definitions = [
                parse_field_definition(raw, source.api) for page in self.client.paginate_endpoint(source) for raw in page
            ]
            with self._state_lock:
                # the labels join the mapping, which may already have been written in this chunk
                mark_due(source_state, (MAPPING_TABLE,))
            return definitions

        return load

    def _change_recorder(self, name: str) -> Callable[[Dict[str, Any]], None]:
        source_state = dlt.current.source_state()

        def record(change: Dict[str, Any]) -> None:
            with self._lock:
                source_state.setdefault(PENDING_CHANGES_KEY, {}).setdefault(name, []).append(change)

        return record

    def mapper(self, name: str) -> CustomFieldMapper:
        """The custom-field mapper of a set, built once per run from the definitions (when read)
        and the state; a mapper built from the state alone reads the definitions as soon as a
        record holds a field or option it does not know."""
        with self._lock:
            if name not in self._mappers:
                field_set = self.field_sets[name]
                raw = self.definitions(name)
                refresh = None if raw is not None else (lambda: self._parsed(field_set, self.read(name, fresh=True)))
                self._mappers[name] = CustomFieldMapper(
                    name,
                    self._parsed(field_set, raw or []),
                    dlt.current.source_schema().naming,
                    dlt.current.source_state().setdefault(STATE_KEY, {}).setdefault(name, {}),
                    deleted_options_loader=self._deleted_options_loader(field_set),
                    reserved_columns=reserved_columns(name),
                    refresh=refresh,
                    record_change=self._change_recorder(name),
                )
            return self._mappers[name]
