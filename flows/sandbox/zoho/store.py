"""The Zoho sandbox's record store: one module's live rows by id, with the three orders a listing
sorts by (``id``, ``Created_Time``, ``Modified_Time``) kept sorted as rows are created, modified
and deleted.

Why: a listing used to sort the whole module on every page, so reading a module page by page
grew with the square of its size. Kept sorted (``sortedcontainers``), a page is a slice found by
bisection, whatever the module's size; ``If-Modified-Since`` with ``sort_by=Modified_Time`` (what
the connector sends) is a bisection too. Other combinations (``If-Modified-Since`` with an ``id``
or ``Created_Time`` order) walk the order from the start and filter: linear in the offset, never
a sort. See docs/sandbox.md ("Scale").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice

from sortedcontainers import SortedList

from flows.sandbox.zoho.encoding.wire import ZohoRow


@dataclass
class Page:
    """One listing page: its rows, whether more follow, and whether anything matched at all."""

    rows: list[ZohoRow]
    more: bool
    matched: bool


class RowOrders:
    """The three listing orders of a set of rows (sort keys only; rows stay in the store).

    The ``Created_Time`` order is built the first time a listing asks for it (from ``source``,
    the set's rows as they are then) and kept from then on: the connector never sorts by it, and
    at 1M deals it is a (datetime, id) tuple per row, ~170 MiB that nothing read."""

    def __init__(self, rows: Iterable[ZohoRow] = (), source: Callable[[], Iterable[ZohoRow]] = tuple):
        rows = list(rows)
        self.by_id = SortedList(r.rid for r in rows)
        self.by_modified = SortedList((r.modified, r.rid) for r in rows)
        self._source = source
        self._by_created: SortedList | None = None

    @property
    def by_created(self) -> SortedList:
        if self._by_created is None:
            self._by_created = SortedList((r.created, r.rid) for r in self._source())
        return self._by_created

    def __len__(self) -> int:
        return len(self.by_id)

    def order(self, sort_by: str) -> SortedList:
        """The order a listing sorts by (``Modified_Time`` for anything but ``id``/``Created_Time``);
        the ``Created_Time`` one is built only when asked for."""
        if sort_by == "id":
            return self.by_id
        return self.by_created if sort_by == "Created_Time" else self.by_modified

    def add(self, row: ZohoRow) -> None:
        """Add ``row`` (already in the ``source`` rows: a lazy order built later holds it too)."""
        self.by_id.add(row.rid)
        if self._by_created is not None:
            self._by_created.add((row.created, row.rid))
        self.by_modified.add((row.modified, row.rid))

    def remove(self, row: ZohoRow) -> None:
        """Remove ``row`` (already gone from the ``source`` rows)."""
        self.by_id.remove(row.rid)
        if self._by_created is not None:
            self._by_created.remove((row.created, row.rid))
        self.by_modified.remove((row.modified, row.rid))

    def ids(self, sort_by: str, desc: bool) -> Iterator[str]:
        order = self.order(sort_by)
        keys = reversed(order) if desc else iter(order)
        return keys if order is self.by_id else (rid for _, rid in keys)

    def window(self, sort_by: str, desc: bool, since: datetime | None) -> tuple[SortedList, int, int]:
        """The order and the [lo, hi) positions of its rows modified at or after ``since``, when
        the order allows a bisection (``Modified_Time``, or no ``since``)."""
        order = self.order(sort_by)
        lo = order.bisect_left((since,)) if since is not None else 0
        return order, lo, len(order)


class ModuleRows:
    """A module's live rows by id, with the listing orders of all of them and of each ``tag``."""

    def __init__(self, rows: Iterable[ZohoRow]):
        self._rows: dict[str, ZohoRow] = {r.rid: r for r in rows}
        self._orders: dict[str | None, RowOrders] = {None: RowOrders(self._rows.values(), self._rows.values)}
        for tag in {r.tag for r in self._rows.values()} - {None}:
            self._orders[tag] = RowOrders(self._tag_rows(tag), lambda tag=tag: self._tag_rows(tag))

    def _tag_rows(self, tag: str) -> Iterator[ZohoRow]:
        return (r for r in self._rows.values() if r.tag == tag)

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, rid: object) -> bool:
        return rid in self._rows

    def __getitem__(self, rid: str) -> ZohoRow:
        return self._rows[rid]

    def get(self, rid: str) -> ZohoRow | None:
        return self._rows.get(rid)

    def ids(self) -> SortedList:
        """Every live id, ascending (a sorted view: do not edit)."""
        return self._orders[None].by_id

    def _tagged(self, row: ZohoRow) -> list[RowOrders]:
        orders = [self._orders[None]]
        if row.tag is not None and row.tag not in self._orders:
            tag = row.tag
            self._orders[tag] = RowOrders((), lambda: self._tag_rows(tag))
        if row.tag is not None:
            orders.append(self._orders[row.tag])
        return orders

    def add(self, row: ZohoRow) -> None:
        self._rows[row.rid] = row
        for orders in self._tagged(row):
            orders.add(row)

    def pop(self, rid: str) -> ZohoRow:
        row = self._rows.pop(rid)
        for orders in self._tagged(row):
            orders.remove(row)
        return row

    def set_modified(self, row: ZohoRow, at: datetime) -> None:
        """Move a row in the ``Modified_Time`` orders (its record's text is the caller's job)."""
        for orders in self._tagged(row):
            orders.by_modified.remove((row.modified, row.rid))
            orders.by_modified.add((at, row.rid))
        row.modified = at

    def has(self, tag: str | None) -> bool:
        orders = self._orders.get(tag)
        return bool(orders and len(orders))

    def page(
        self, tag: str | None, sort_by: str, desc: bool, offset: int, size: int, since: datetime | None
    ) -> Page:
        """Rows ``offset`` .. ``offset + size`` of the ``tag`` rows modified since ``since``, in order."""
        orders = self._orders.get(tag) or RowOrders()
        if since is None or sort_by == "Modified_Time":
            order, lo, hi = orders.window(sort_by, desc, since)
            if desc:
                start, stop = max(lo, hi - offset - size), max(lo, hi - offset)
                keys = list(reversed(order[start:stop]))
            else:
                keys = order[min(hi, lo + offset) : min(hi, lo + offset + size)]
            rids = keys if order is orders.by_id else [rid for _, rid in keys]
            return Page([self._rows[r] for r in rids], offset + size < hi - lo, hi > lo)
        return self._scan(orders, sort_by, desc, offset, size, since)

    def _scan(
        self, orders: RowOrders, sort_by: str, desc: bool, offset: int, size: int, since: datetime
    ) -> Page:
        """A filtered walk of an order that ``since`` cannot bisect: linear in the offset."""
        fresh = (r for r in map(self._rows.__getitem__, orders.ids(sort_by, desc)) if r.modified >= since)
        skipped = sum(1 for _ in islice(fresh, offset))
        rows = list(islice(fresh, size))
        more = next(fresh, None) is not None
        return Page(rows, more, bool(skipped or rows))
