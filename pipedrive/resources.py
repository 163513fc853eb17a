"""Resource factory: turns rows of the entity table into dlt resources.

Every entity resource follows the same path: page through the listing with the shared client
(sending `updated_since` from the incremental cursor where the API filters), rename custom
fields, flatten nested dicts, apply defaults and deletion handling, attach column hints, yield
the page. Field sets become `<set>_fields` tables and one `custom_fields_mapping` table.
"""

from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence

import dlt
from dlt.common import logger
from dlt.common.normalizers.naming import NamingConvention
from dlt.extract.resource import DltResource

from .chunking import is_chunkable, limit_pages
from .client import PipedriveClient, TDataPage
from .custom_fields import CustomFieldMapper
from .deal_children import deal_child_resources
from .entities import ENTITIES, FIELD_SETS, Entity, FieldSet
from .errors import UnsupportedMediaTypeError
from .field_sets import FieldSetCache
from .read_ahead import read_ahead
from .row_builder import RowBuilder
from .schema_hints import builtin_column_hints, custom_field_hints, deletion_hints
from .timestamps import format_timestamp, to_updated_since

CUSTOM_FIELDS_MAPPING_TABLE = "custom_fields_mapping"


def _naming() -> NamingConvention:
    """Naming convention of the schema being extracted."""
    return dlt.current.source_schema().naming


class PageShaper:
    """Shapes the raw pages of one entity into table rows.

    Args:
        entity: Row of the entity table.
        field_sets: The run's field-set cache (custom-field mapper on first non-empty page).
        hard_delete: Drop rows flagged deleted from `replace` tables (merge tables use the
            `hard_delete` column hint instead).
    """

    def __init__(self, entity: Entity, field_sets: FieldSetCache, hard_delete: bool) -> None:
        self.entity = entity
        self.field_sets = field_sets
        self.drop_deleted = (
            hard_delete
            and entity.soft_delete_column is not None
            and entity.write_disposition != "merge"
        )
        self._builder: Optional[RowBuilder] = None

    def _prepare(self) -> RowBuilder:
        if self._builder is not None:
            return self._builder
        mapper: Optional[CustomFieldMapper] = None
        if self.entity.custom_field_set:
            mapper = self.field_sets.mapper(self.entity.custom_field_set, _naming())
            # typed custom columns, merged into the running resource before its first page
            # (not `dlt.mark.with_hints`: item meta would flow into the deal-child transformers)
            dlt.current.resource().merge_hints(
                dlt.mark.make_hints(columns=custom_field_hints(mapper))
            )
        self._builder = RowBuilder(self.entity.record_defaults, mapper, self.entity.api)
        return self._builder

    def shape(self, page: TDataPage) -> List[Dict[str, Any]]:
        """Returns the page's rows: custom fields renamed, dicts flattened, defaults applied,
        null values left out (see `RowBuilder`).

        Args:
            page: Raw records of one page (non-empty).
        """
        build = self._prepare().build
        if not self.drop_deleted:
            return [build(record) for record in page]
        deleted = self.entity.soft_delete_column
        rows = []
        for record in page:
            row = build(record)
            if row.get(deleted) is not True:  # type: ignore[arg-type]
                rows.append(row)
        return rows


def _incremental_for(entity: Entity, start_date: Optional[Any]) -> "dlt.sources.incremental[str]":
    """The `update_time` cursor of an incremental entity.

    `primary_key=()` turns off dlt's boundary deduplication: rows whose cursor equals the last
    value are loaded again and deduplicated by the merge on the primary key. With dedup on, a
    row re-updated within the same second as the cursor would be dropped as already seen.
    """
    initial_value = format_timestamp(start_date, entity.cursor_format) if start_date else None
    # early stop only where the listing is sorted newest first and cannot be filtered
    row_order = "desc" if entity.sort_order == "desc" and not entity.updated_since_param else None
    return dlt.sources.incremental(
        entity.cursor_field,  # type: ignore[arg-type]
        initial_value=initial_value,
        primary_key=(),
        on_cursor_value_missing="include",
        row_order=row_order,  # type: ignore[arg-type]
    )


def _entity_pages(
    entity: Entity,
    client: PipedriveClient,
    shaper: PageShaper,
    params: Dict[str, Any],
    *,
    max_pages: Optional[int] = None,
    start_value: Optional[Any] = None,
) -> Iterator[Any]:
    pages = client.paginate_entity(entity, params)
    if entity.reads_every_page:
        pages = read_ahead(pages, name=entity.name)
    if is_chunkable(entity):
        pages = limit_pages(
            pages,
            max_pages=max_pages,
            cursor_field=entity.cursor_field or "",
            start_value=start_value,
            page_size=entity.page_size,
        )
    try:
        for page in pages:
            if page:
                yield shaper.shape(page)
    except UnsupportedMediaTypeError as error:
        logger.warning(f"Pipedrive table {entity.table} skipped (feature not on the plan): {error}")


def entity_resource(
    entity: Entity,
    client: PipedriveClient,
    field_sets: FieldSetCache,
    *,
    start_date: Optional[Any] = None,
    hard_delete: bool = False,
    max_pages_per_chunk: Optional[int] = None,
) -> DltResource:
    """Builds the dlt resource of one entity.

    Args:
        entity: Row of the entity table.
        client: The run's client.
        field_sets: The run's field-set cache.
        start_date: Earliest `update_time` loaded on the first run (incremental entities).
        hard_delete: Delete rows flagged deleted instead of keeping them with the flag.
        max_pages_per_chunk: Pages one run reads of an ascending incremental listing before
            it stops and flags the resource pending (see `pipedrive.chunking`; None: all).

    Returns:
        A resource named `entity.name` writing to `entity.table`.
    """
    shaper_factory: Callable[[], PageShaper] = lambda: PageShaper(entity, field_sets, hard_delete)

    if entity.is_incremental:

        def read_incremental(
            cursor: dlt.sources.incremental[str] = _incremental_for(entity, start_date),
        ) -> Iterator[Any]:
            params: Dict[str, Any] = {}
            if entity.updated_since_param:
                params[entity.updated_since_param] = to_updated_since(cursor.start_value)
            yield from _entity_pages(
                entity,
                client,
                shaper_factory(),
                params,
                max_pages=max_pages_per_chunk,
                start_value=cursor.start_value,
            )

        generator: Callable[..., Iterator[Any]] = read_incremental
    else:

        def read_all() -> Iterator[Any]:
            yield from _entity_pages(entity, client, shaper_factory(), {})

        generator = read_all

    return dlt.resource(
        generator,
        name=entity.name,
        table_name=entity.table,
        primary_key=list(entity.primary_key),
        write_disposition=entity.write_disposition,
        columns={**builtin_column_hints(entity), **deletion_hints(entity, hard_delete)},
        selected=entity.selected,
        # listings overlap in dlt's extract pool: with network latency, one listing at a time
        # sends half the requests the burst window allows (bench/RESULTS.md, benchmark 2)
        parallelized=True,
    )


def field_set_resource(
    field_set: FieldSet, field_sets: FieldSetCache, *, renames_records: bool
) -> DltResource:
    """Builds the `<set>_fields` resource: every field definition, custom and built-in.

    Args:
        field_set: The field set.
        field_sets: The run's field-set cache.
        renames_records: True when an entity's records are renamed with this set; its custom
            fields then get a `column_name` column naming the table column holding their values.
    """

    def read_definitions() -> Iterator[TDataPage]:
        mapper = field_sets.mapper(field_set.name, _naming()) if renames_records else None
        rows = []
        for raw in field_sets.definitions(field_set.name):
            row = dict(raw)
            if mapper is not None:
                row["column_name"] = mapper.column_of(str(raw.get(field_set.key_field)))
            rows.append(row)
        yield rows

    return dlt.resource(
        read_definitions,
        name=field_set.table,
        primary_key=field_set.key_field,
        write_disposition="replace",
        columns={
            "options": {"data_type": "json"},
            "subfields": {"data_type": "json"},
            **({"column_name": {"data_type": "text"}} if renames_records else {}),
        },
    )


def custom_fields_mapping_resource(
    field_sets: FieldSetCache, names: Sequence[str]
) -> DltResource:
    """Builds the `custom_fields_mapping` resource: hash -> name -> column per field set."""

    def read_mapping() -> Iterator[TDataPage]:
        for name in names:
            yield field_sets.mapper(name, _naming()).mapping_rows()

    return dlt.resource(
        read_mapping,
        name=CUSTOM_FIELDS_MAPPING_TABLE,
        primary_key=["entity", "hash_key"],
        write_disposition="replace",
        columns={"options": {"data_type": "json"}},
    )


def build_resources(
    client: PipedriveClient,
    *,
    start_date: Optional[Any] = None,
    hard_delete: bool = False,
    entities: Sequence[Entity] = ENTITIES,
    field_set_defs: Sequence[FieldSet] = FIELD_SETS,
    max_pages_per_chunk: Optional[int] = None,
    max_tokens_per_run: Optional[int] = None,
) -> List[DltResource]:
    """Builds every resource of the source around one client and one field-set cache.

    Args:
        client: The shared client (its `stats` count this run's requests and tokens).
        start_date: Earliest `update_time` for the first run of incremental entities.
        hard_delete: See `pipedrive_source`.
        entities: Entity rows to build (default: all).
        field_set_defs: Field sets to expose as `<set>_fields` tables (default: all).
        max_pages_per_chunk: See `entity_resource`.
        max_tokens_per_run: Token cap the per-deal children stop at (see
            `pipedrive.child_budget`; None: no cap).

    Returns:
        The resources, reference tables first.
    """
    field_sets = FieldSetCache(client)
    resources = [
        entity_resource(
            e,
            client,
            field_sets,
            start_date=start_date,
            hard_delete=hard_delete,
            max_pages_per_chunk=max_pages_per_chunk,
        )
        for e in entities
        if e.parent is None
    ]
    # deal children: transformers fed by the deals listings (pipedrive/deal_children.py)
    resources += deal_child_resources(
        [e for e in entities if e.parent is not None],
        {r.name: r for r in resources},
        client,
        field_sets,
        hard_delete=hard_delete,
        max_tokens_per_run=max_tokens_per_run,
    )
    mapped_sets = sorted({e.custom_field_set for e in entities if e.custom_field_set})
    resources += [
        field_set_resource(f, field_sets, renames_records=f.name in mapped_sets)
        for f in field_set_defs
    ]
    resources.append(custom_fields_mapping_resource(field_sets, mapped_sets))
    return resources
