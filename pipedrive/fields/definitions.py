"""Field definitions of every field set, fetched at most once per run and shared by resources.

The `<set>_fields` tables, the `custom_fields_mapping` table and the record transformation of
every entity using the set all read from one `FieldSetCache`, so `/dealFields` is requested
once per run even though deals, archived deals, leads and archived leads all need it.
"""

import threading
from typing import Any, Callable, Dict, List, Mapping, Optional, Set

import dlt

from ..entities import ENTITIES, FIELD_SETS_BY_NAME, FieldSet
from ..http import PipedriveClient
from .column_hints import RECORD_KEYS
from .mapper import CustomFieldMapper, FieldDefinition, parse_field_definition

STATE_KEY = "custom_fields"


def reserved_columns(field_set: str) -> Set[str]:
    """Built-in record keys of every table whose records the field set renames."""
    tables = {e.table for e in ENTITIES if e.custom_field_set == field_set}
    return set().union(*(RECORD_KEYS.get(table, frozenset()) for table in tables))


class FieldSetCache:
    """Lazily fetches field definitions and builds the custom-field mappers of one run.

    Args:
        client: The run's client.
        field_sets: Field sets by name (defaults to the entity table's `FIELD_SETS`).
    """

    def __init__(
        self, client: PipedriveClient, field_sets: Mapping[str, FieldSet] = FIELD_SETS_BY_NAME
    ) -> None:
        self.client = client
        self.field_sets = field_sets
        self._raw: Dict[str, List[Dict[str, Any]]] = {}
        self._mappers: Dict[str, CustomFieldMapper] = {}
        self._lock = threading.RLock()

    def definitions(self, name: str) -> List[Dict[str, Any]]:
        """Raw field definitions of a set, fetched on first use.

        Args:
            name: Field-set name, e.g. `deal`.

        Returns:
            The `*Fields` items as returned by the API.
        """
        with self._lock:
            if name not in self._raw:
                field_set = self.field_sets[name]
                self._raw[name] = [
                    item for page in self.client.paginate_endpoint(field_set) for item in page
                ]
            return self._raw[name]

    def _deleted_options_loader(
        self, field_set: FieldSet
    ) -> Optional[Callable[[], List[FieldDefinition]]]:
        source = field_set.deleted_options_source
        if source is None:
            return None

        def load() -> List[FieldDefinition]:
            return [
                parse_field_definition(raw, source.api)
                for page in self.client.paginate_endpoint(source)
                for raw in page
            ]

        return load

    def mapper(self, name: str) -> CustomFieldMapper:
        """The custom-field mapper of a set, built once per run from definitions + state.

        Must run inside resource extraction: it reads and updates `dlt.current.source_state()`
        and names columns with the source schema's naming convention.

        Args:
            name: Field-set name.
        """
        with self._lock:
            if name not in self._mappers:
                field_set = self.field_sets[name]
                definitions = [
                    parse_field_definition(raw, field_set.api) for raw in self.definitions(name)
                ]
                state = dlt.current.source_state().setdefault(STATE_KEY, {}).setdefault(name, {})
                self._mappers[name] = CustomFieldMapper(
                    name,
                    definitions,
                    dlt.current.source_schema().naming,
                    state,
                    deleted_options_loader=self._deleted_options_loader(field_set),
                    reserved_columns=reserved_columns(name),
                )
            return self._mappers[name]
