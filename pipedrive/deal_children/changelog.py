"""Deal field-change history: `/v1/deals/{id}/changelog` items -> `deal_changes` and
`deal_stage_changes` rows.

Why the changelog and not the flow: `/deals/{id}/changelog` (20 tokens) lists every field change
of a deal, custom fields and `stage_id` included, with old/new value, user and time.
`/deals/{id}/flow` (40 tokens) carries the same changes as `dealChange` items (custom fields
only with `all_changes=1`) mixed with notes, activities, files and mails. One changelog call per
deal therefore feeds both tables at half the price.

Changelog items have no id. A change is identified by the digest of (deal, time, field, old
value, new value, occurrence), where occurrence numbers identical changes within the same
second, so re-reading an overlapping window merges instead of duplicating.
"""

from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

from dlt.common.utils import digest128

from ..fields import CustomFieldMapper

STAGE_FIELD = "stage_id"


@dataclass(frozen=True)
class FieldNamer:
    """Readable name and deals-table column of a changelog `field_key`.

    Args:
        builtin_names: Built-in field key -> display name (from the `dealFields` definitions).
        mapper: The deal custom-field mapper (hash -> stable column and current name).
    """

    builtin_names: Mapping[str, str]
    mapper: Optional[CustomFieldMapper]

    def name_and_column(self, field_key: str) -> Tuple[Optional[str], str]:
        """(display name, column in `deals`) of a field key; unknown keys keep the key."""
        mapped = self.mapper.fields.get(field_key) if self.mapper is not None else None
        if mapped is not None:
            return mapped.name, mapped.column
        return self.builtin_names.get(field_key), field_key


def change_id(deal_id: int, item: Mapping[str, Any], occurrence: int) -> str:
    """Stable key of one change (see the module docstring)."""
    parts = (
        deal_id,
        item.get("time"),
        item.get("field_key"),
        item.get("old_value"),
        item.get("new_value"),
        occurrence,
    )
    return digest128("\x1f".join("" if p is None else str(p) for p in parts))


def changes_since(
    items: Iterable[Mapping[str, Any]], since: Optional[str]
) -> List[Mapping[str, Any]]:
    """Changelog items with `time >= since` (all when `since` is None); v1 times compare as text."""
    return [item for item in items if since is None or str(item.get("time") or "") >= since]


def change_rows(
    deal_id: int, items: Iterable[Mapping[str, Any]], namer: FieldNamer
) -> List[Dict[str, Any]]:
    """Turns a deal's changelog items into `deal_changes` rows.

    Args:
        deal_id: The deal.
        items: Changelog items (any order; each full second must be complete, see
            `change_id`).
        namer: Field-name lookup.

    Returns:
        One row per change, keyed by `change_id`.
    """
    seen: Dict[Tuple[Any, ...], int] = {}
    rows = []
    for item in items:
        identity = (
            item.get("time"),
            item.get("field_key"),
            item.get("old_value"),
            item.get("new_value"),
        )
        occurrence = seen.get(identity, 0)
        seen[identity] = occurrence + 1
        field_key = str(item.get("field_key"))
        field_name, column = namer.name_and_column(field_key)
        rows.append(
            {
                "change_id": change_id(deal_id, item, occurrence),
                "deal_id": deal_id,
                "field_key": field_key,
                "field_name": field_name,
                "column_name": column,
                "old_value": item.get("old_value"),
                "new_value": item.get("new_value"),
                "actor_user_id": item.get("actor_user_id"),
                "time": item.get("time"),
                "change_source": item.get("change_source"),
                "change_source_user_agent": item.get("change_source_user_agent"),
                "is_bulk_update_flag": item.get("is_bulk_update_flag"),
            }
        )
    return rows


def as_int(value: Any) -> Optional[int]:
    """An id from a changelog value (a string or a number), None when it holds none."""
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def stage_change_rows(
    changes: Iterable[Mapping[str, Any]], stage_pipelines: Mapping[int, int]
) -> List[Dict[str, Any]]:
    """Picks the `stage_id` changes of `deal_changes` rows as `deal_stage_changes` rows.

    Args:
        changes: Rows made by `change_rows` (possibly flagged deleted / tombstones).
        stage_pipelines: Stage id -> pipeline id (a stage belongs to exactly one pipeline).

    Returns:
        One row per stage move: previous and new stage and their pipelines, time and user.
    """
    rows = []
    for change in changes:
        if change.get("field_key") != STAGE_FIELD:
            continue
        previous, stage = as_int(change.get("old_value")), as_int(change.get("new_value"))
        row = {
            "change_id": change["change_id"],
            "deal_id": change["deal_id"],
            "previous_stage_id": previous,
            "stage_id": stage,
            "previous_pipeline_id": stage_pipelines.get(previous) if previous is not None else None,
            "pipeline_id": stage_pipelines.get(stage) if stage is not None else None,
            "time": change.get("time"),
            "user_id": change.get("actor_user_id"),
            "change_source": change.get("change_source"),
        }
        for flag in ("is_deleted", "_tombstone"):
            if flag in change:
                row[flag] = change[flag]
        rows.append(row)
    return rows
