"""Sorted orders of the Fxiaoke sandbox's objects, so that the connector's keyset page (a time
range, ordered by time then ``_id``), its offset pages within one instant (ordered by ``_id``) and
its deletion sweep (``_id`` above the last one seen, ordered by ``_id``) are a bisection and a
slice, whatever the object's size.

An order is built (one pass, one sort) the first time a query shape asks for it, and then kept
sorted as rows change: the simulation and the modify-during-paging fault tell
:meth:`ObjectOrders.moved` which positions they changed and what those rows were before, and
each kept order of the object drops their old entries and inserts the new ones by bisection (an
``array`` insert: a memmove, no re-sort). Anything else that edits rows (a test reaching into
the store) calls :meth:`ObjectOrders.changed`, which forgets the object's orders. An order holds
positions in the object's :class:`~flows.sandbox.fxiaoke.lazy.LazyObject` (8 bytes a record) and
its sort values, never the records: a page encodes its own records and no others. Queries of
any other shape (other orders, filters on other fields, a non-admin caller) take the general
path in :mod:`flows.sandbox.fxiaoke.query`. See docs/sandbox.md ("Scale").
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from flows.sandbox.fxiaoke.lazy import LazyObject

#: Integer time fields an order can be kept on.
ORDERED_FIELDS = frozenset({"last_modified_time", "create_time", "operateTime"})
#: The record id: an order on it alone is kept too (its values are text).
ID_FIELD = "_id"
_RANGE_OPERATORS = frozenset({"GT", "GTE", "LT", "LTE", "BETWEEN"})


class RecordsView:
    """Records at ``positions``, fetched only when sliced (a page fetches its own records)."""

    def __init__(self, positions: Sequence[int], fetch: Callable[[int], dict]):
        self._positions, self._fetch = positions, fetch

    def __len__(self) -> int:
        return len(self._positions)

    def __getitem__(self, window: slice) -> list[dict]:
        return [self._fetch(pos) for pos in self._positions[window]]


@dataclass
class SortedRows:
    """Positions of rows with an integer ``field``, sorted by (field, ``_id``), with their values;
    the positions of the rows without one, by ``_id``. An order on ``_id`` itself holds its
    values as a list of text (``kind`` str) and has no nulls."""

    values: array | list
    positions: array
    nulls: array
    kind: type = int

    def window(
        self, filters: list[dict], fetch: Callable[[int], dict]
    ) -> tuple[RecordsView, int, int] | None:
        """The run of rows the range ``filters`` keep (all rows, nulls first, when there are none):
        (records, lo, hi); None when a filter is not a plain range of this order's ``kind``."""
        if not filters:
            every = self.nulls + self.positions if self.nulls else self.positions
            return RecordsView(every, fetch), 0, len(every)
        lo, hi = 0, len(self.values)
        for flt in filters:
            values = flt.get("field_values") or []
            if not values or any(type(v) is not self.kind for v in values):
                return None
            op, first = flt["operator"], values[0]
            if op in ("GT", "GTE"):
                lo = max(lo, (bisect_right if op == "GT" else bisect_left)(self.values, first))
            elif op in ("LT", "LTE"):
                hi = min(hi, (bisect_left if op == "LT" else bisect_right)(self.values, first))
            elif len(values) >= 2:
                lo = max(lo, bisect_left(self.values, first))
                hi = min(hi, bisect_right(self.values, values[1]))
            else:
                return None
        return RecordsView(self.positions, fetch), lo, max(lo, hi)

    def remove(self, pos: int, value: object) -> None:
        """Drop the entry of ``pos``, filed under ``value``."""
        if value is None:
            self.nulls.remove(pos)
            return
        at = self.positions.index(pos, bisect_left(self.values, value), bisect_right(self.values, value))
        del self.values[at], self.positions[at]

    def insert(self, pos: int, value: int | None, rid: str, id_at: Callable[[int], str]) -> None:
        """File ``pos`` under (``value``, ``rid``): after the rows of a lower value, or of the same
        value and a lower ``_id``."""
        if value is None:
            at = _first_above(self.nulls, 0, len(self.nulls), rid, id_at)
            self.nulls.insert(at, pos)
            return
        lo, hi = bisect_left(self.values, value), bisect_right(self.values, value)
        at = _first_above(self.positions, lo, hi, rid, id_at)
        self.values.insert(at, value)
        self.positions.insert(at, pos)


def _first_above(positions: array, lo: int, hi: int, rid: str, id_at: Callable[[int], str]) -> int:
    """The first index in [lo, hi) whose row's ``_id`` sorts after ``rid`` (hi when none does)."""
    while lo < hi:
        mid = (lo + hi) // 2
        if id_at(positions[mid]) <= rid:
            lo = mid + 1
        else:
            hi = mid
    return lo


@dataclass
class _Kept:
    """One kept order: the rows it holds (``keep``), its field, and the order itself."""

    field: str
    keep: Callable[[dict], bool]
    rows: SortedRows | None


class ObjectOrders:
    """Per object, the (field, ``_id``) orders asked for, kept sorted as rows change."""

    def __init__(self) -> None:
        self._cache: dict[tuple, _Kept] = {}
        #: how many orders were built (what the tests count: one per query shape, not per page)
        self.builds = 0

    def changed(self, api_name: str) -> None:
        """Forget the orders of ``api_name`` (after edits :meth:`moved` was not told about)."""
        self._cache = {k: v for k, v in self._cache.items() if k[0] != api_name}

    def moved(self, api_name: str, store: LazyObject, before: Mapping[int, dict | None]) -> None:
        """Keep the orders of ``api_name`` sorted after the rows at the positions of ``before``
        changed: ``before[pos]`` is the row as it was (None: the row is new), ``store`` holds
        the rows as they are now (a deleted row is gone from it)."""
        for key, kept in list(self._cache.items()):
            if key[0] != api_name or kept.rows is None:
                continue
            for pos, old in before.items():
                if old is not None and kept.keep(old):
                    kept.rows.remove(pos, old.get(kept.field))
                new = store.live(pos)
                if new is None or not kept.keep(new):
                    continue
                value = new.get(kept.field)
                if value is not None and type(value) is not kept.rows.kind:
                    del self._cache[key]  # no longer an integer order: the general path serves it
                    break
                kept.rows.insert(pos, value, str(new.get("_id")), store.key_at)

    def sorted_rows(
        self,
        key: tuple,
        field: str,
        rows: Callable[[], Iterable[tuple[int, dict]]],
        keep: Callable[[dict], bool],
    ) -> SortedRows | None:
        """The (position, row) pairs of ``key`` (``key[0]`` is the object's API name; ``rows``
        gives those ``keep`` is true of) ordered by ``field``; None when ``field`` holds something
        other than integers."""
        if key not in self._cache:
            self.builds += 1
            self._cache[key] = _Kept(field, keep, _build(field, rows()))
        return self._cache[key].rows


def _build(field: str, rows: Iterable[tuple[int, dict]]) -> SortedRows | None:
    if field == ID_FIELD:
        by_id = sorted((str(rec.get(ID_FIELD)), pos) for pos, rec in rows)
        return SortedRows([rid for rid, _ in by_id], array("q", (p for _, p in by_id)), array("q"), str)
    keyed: list[tuple[int, str, int]] = []
    nulls: list[tuple[str, int]] = []
    for pos, rec in rows:
        value = rec.get(field)
        if value is None:
            nulls.append((str(rec.get("_id")), pos))
        elif type(value) is int:
            keyed.append((value, str(rec.get("_id")), pos))
        else:
            return None
    keyed.sort(key=lambda item: (item[0], item[1]))
    nulls.sort(key=lambda item: item[0])
    return SortedRows(
        array("q", (v for v, _, _ in keyed)),
        array("q", (p for _, _, p in keyed)),
        array("q", (p for _, p in nulls)),
    )


def keyset_order(orders: list[dict], filters: list[dict]) -> str | None:
    """The field of a kept order that serves the query, or None for any other query: a
    ``[field asc, _id asc]`` order whose filters are all ranges on that field (the connector's
    keyset page), or an ``[_id asc]`` order whose range filters pin one value of such a field
    (the connector's offset pages inside one instant: within one value, the kept order is by
    ``_id``, so the same slice serves it), or an ``[_id asc]`` order whose filters are all ranges
    on ``_id`` (the deletion sweep: the ``_id`` order itself)."""
    if not orders or not all(isinstance(o, dict) for o in orders):
        return None
    if not all(o.get("isAsc", True) for o in orders):
        return None
    names = [o.get("fieldName") for o in orders]
    if names == [ID_FIELD] and all(
        flt.get("field_name") == ID_FIELD and flt.get("operator") in _RANGE_OPERATORS for flt in filters
    ):
        return ID_FIELD
    if names == [ID_FIELD]:
        fields = {flt.get("field_name") for flt in filters}
        field = fields.pop() if len(fields) == 1 else None
        return field if field in ORDERED_FIELDS and _pins_one_value(filters) else None
    if len(names) != 2 or names[0] not in ORDERED_FIELDS or names[1] != "_id":
        return None
    field = names[0]
    for flt in filters:
        if flt.get("field_name") != field or flt.get("operator") not in _RANGE_OPERATORS:
            return None
    return field


def _pins_one_value(filters: list[dict]) -> bool:
    """Whether inclusive integer range filters (``BETWEEN``, ``GTE``, ``LTE``) leave one value."""
    lows: list[int] = []
    highs: list[int] = []
    for flt in filters:
        op, values = flt.get("operator"), flt.get("field_values") or []
        if not values or any(type(v) is not int for v in values):
            return False
        if op == "BETWEEN" and len(values) >= 2:
            lows.append(values[0])
            highs.append(values[1])
        elif op in ("GTE", "LTE"):
            (lows if op == "GTE" else highs).append(values[0])
        else:
            return False
    return bool(lows and highs) and max(lows) == min(highs)
