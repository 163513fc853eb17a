"""Per-entity sorted indexes and cached serialized records, keyed on ``account.version(entity)``.

The HTTP layer never re-sorts or re-serializes a whole entity per request: an :class:`EntityIndex`
is built once per entity version, sort orders are built lazily per sort field, and each record's
JSON bytes are produced on first use and then reused, so a page is a ``b",".join`` of cached
chunks.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from bisect import bisect_left, bisect_right
from datetime import datetime, timezone
from functools import lru_cache
from itertools import islice
from typing import Any, Callable, Iterator, Protocol

import orjson

from ..data import INCLUDE_FIELDS, UPDATE_TIME_FIELD

SortKey = tuple[Any, ...]


class AccountLike(Protocol):
    """The part of ``Account`` that indexes need."""

    def records(self, entity: str) -> list[dict[str, Any]]: ...  # noqa: D102

    def version(self, entity: str) -> int: ...  # noqa: D102


@lru_cache(maxsize=200_000)
def parse_timestamp(value: str) -> float:
    """Parse a v1 (``2019-01-22 08:55:59``) or v2 (RFC 3339) timestamp to epoch seconds (UTC).

    Date-only values (``2024-05-01``) are midnight UTC. Naive values are UTC.

    Raises:
        ValueError: not a timestamp.
    """
    text = value.strip()
    if len(text) == 10:
        text += "T00:00:00"
    parsed = datetime.fromisoformat(text.replace(" ", "T", 1))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


MEMO_SIZE = 64
TIME_FIELDS = frozenset({"update_time", "add_time", "due_date", "log_time", "time", "timestamp"})


def normalize(field: str, value: Any) -> SortKey:
    """Turn a field value into a totally ordered key (None first, timestamps as epoch seconds)."""
    if value is None or value == "":
        return (0,)
    if field in TIME_FIELDS and isinstance(value, str):
        try:
            return (1, parse_timestamp(value))
        except ValueError:
            return (2, value)
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, (int, float)):
        return (1, value)
    return (2, str(value))


def id_key(value: Any) -> SortKey:
    """Sort key of an id (ints numerically, UUID strings lexically after ints)."""
    return (0, value) if isinstance(value, int) else (1, str(value))


class Row:
    """One record with its cached JSON bytes and parsed update time.

    Args:
        rec: the record (never mutated).
        strip: keys left out of the default serialization (include-only fields).
        time_field: the field holding the record's last-update time.
    """

    __slots__ = ("rec", "id", "strip", "_raw", "update_ts", "v1_raw")

    def __init__(self, rec: dict[str, Any], strip: tuple[str, ...] = (), time_field: str = "update_time") -> None:
        self.rec = rec
        self.id = rec.get("id")
        self.strip = strip
        self._raw: bytes | None = None
        self.v1_raw: bytes | None = None  # v1 shape of a v2 record (for /recents), filled on demand
        update_time = rec.get(time_field)
        try:
            self.update_ts: float | None = parse_timestamp(update_time) if isinstance(update_time, str) else None
        except ValueError:
            self.update_ts = None

    @property
    def raw(self) -> bytes:
        """The record serialized with orjson, include-only fields left out (computed once)."""
        if self._raw is None:
            self._raw = self.render(self.strip)
        return self._raw

    def render(self, strip: tuple[str, ...] | frozenset[str], custom_fields: list[str] | None = None) -> bytes:
        """Serialize without the ``strip`` keys and, if given, with only those ``custom_fields`` keys."""
        rec = self.rec
        if strip:
            rec = {k: v for k, v in rec.items() if k not in strip}
        if custom_fields is not None and isinstance(rec.get("custom_fields"), dict):
            values = rec["custom_fields"]
            rec = {**rec, "custom_fields": {k: values[k] for k in custom_fields if k in values}}
        return orjson.dumps(rec)


class SortedView:
    """Rows of an entity sorted ascending by ``(normalize(field), id)`` with a parallel key list."""

    def __init__(self, field: str, rows: list[Row], presorted_keys: list[tuple[SortKey, SortKey]] | None = None) -> None:
        self.field = field
        if presorted_keys is not None:
            self.keys: list[tuple[SortKey, SortKey]] = presorted_keys
            self.rows: list[Row] = rows
            return
        decorated = sorted(((normalize(field, r.rec.get(field)), id_key(r.id)), i) for i, r in enumerate(rows))
        self.keys = [k for k, _ in decorated]
        self.rows = [rows[i] for _, i in decorated]

    def filtered(self, predicate: Callable[[Row], bool]) -> SortedView:
        """A new view with only the rows matching ``predicate`` (order kept, no re-sort)."""
        kept = [(k, r) for k, r in zip(self.keys, self.rows) if predicate(r)]
        return SortedView(self.field, [r for _, r in kept], [k for k, _ in kept])

    def key_of(self, row: Row) -> tuple[SortKey, SortKey]:
        """The sort key of a row in this view."""
        return (normalize(self.field, row.rec.get(self.field)), id_key(row.id))

    def iterate(self, after: tuple[SortKey, SortKey] | None, descending: bool) -> Iterator[Row]:
        """Yield rows strictly after ``after`` in the given direction (all rows when None)."""
        if not descending:
            start = 0 if after is None else bisect_right(self.keys, after)
            yield from islice(self.rows, start, None)
        else:
            stop = len(self.rows) if after is None else bisect_left(self.keys, after)
            for i in range(stop - 1, -1, -1):
                yield self.rows[i]


class EntityIndex:
    """All rows of one entity at one version, with lazily built sort views."""

    def __init__(
        self, version: int, records: list[dict[str, Any]], strip: tuple[str, ...] = (), time_field: str = "update_time"
    ) -> None:
        self.version = version
        self.strip = strip
        self.rows = [Row(r, strip, time_field) for r in records]
        self.by_id: dict[Any, Row] = {r.id: r for r in self.rows}
        self._views: dict[str, SortedView] = {}
        self._groups: dict[str, dict[Any, list[Row]]] = {}
        self._lock = threading.RLock()

    def view(self, field: str) -> SortedView:
        """The rows sorted by ``field`` (then id), built on first use."""
        view = self._views.get(field)
        if view is None:
            with self._lock:
                view = self._views.get(field)
                if view is None:
                    view = SortedView(field, self.rows)
                    self._views[field] = view
        return view

    def group_by(self, field: str) -> dict[Any, list[Row]]:
        """Rows grouped by the value of ``field`` (id order inside a group), built on first use."""
        groups = self._groups.get(field)
        if groups is None:
            with self._lock:
                groups = self._groups.get(field)
                if groups is None:
                    groups = {}
                    for row in self.view("id").rows:
                        groups.setdefault(row.rec.get(field), []).append(row)
                    self._groups[field] = groups
        return groups

    def select(self, predicate: Callable[[Row], bool] | None) -> list[Row]:
        """Rows (id order) matching ``predicate``."""
        rows = self.view("id").rows
        return rows if predicate is None else [r for r in rows if predicate(r)]


class IndexStore:
    """Cache of :class:`EntityIndex` per entity, rebuilt when the account version changes.

    Args:
        account: the simulated account.
        lock: the lock that serializes access to the account's data.
    """

    def __init__(self, account: AccountLike, lock: threading.RLock) -> None:
        self.account = account
        self.lock = lock
        self._indexes: dict[str, EntityIndex] = {}
        self._memo: OrderedDict[Any, Any] = OrderedDict()
        self._memo_lock = threading.Lock()

    def get(self, entity: str) -> EntityIndex:
        """The current index of ``entity``."""
        with self.lock:
            version = self.account.version(entity)
            index = self._indexes.get(entity)
            if index is None or index.version != version:
                index = EntityIndex(
                    version,
                    list(self.account.records(entity)),
                    INCLUDE_FIELDS.get(entity, ()),
                    UPDATE_TIME_FIELD.get(entity, "update_time"),
                )
                self._indexes[entity] = index
            return index

    def memo(self, key: Any, build: Callable[[], Any]) -> Any:
        """Small LRU cache for derived results (e.g. a filtered view); ``key`` must include versions."""
        with self._memo_lock:
            if key in self._memo:
                self._memo.move_to_end(key)
                return self._memo[key]
        value = build()
        with self._memo_lock:
            self._memo[key] = value
            while len(self._memo) > MEMO_SIZE:
                self._memo.popitem(last=False)
        return value

    def versions(self, entities: tuple[str, ...]) -> tuple[int, ...]:
        """Current versions of several entities (a cache key for derived data)."""
        with self.lock:
            return tuple(self.account.version(e) for e in entities)
