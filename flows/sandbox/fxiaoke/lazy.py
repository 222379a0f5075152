"""One Fxiaoke object's records by ``_id``, encoded when read rather than held.

Why: encoding a million-deal company up front held every record as a dict (9.3 GiB for the
sandbox process at 1M deals, issue 14). A :class:`LazyObject` keeps only how to encode the record
at each position of the company's list (``encode(pos)``) and how to name it (``record_id(pos)``);
a record is encoded when a page needs it and dropped after. It still behaves as the ``dict`` it
replaces (same keys, same order: encoding order, new records last):

- A record reached through the mapping (``obj[rid]``, ``values()``, ``items()``) is *pinned*:
  encoded once and kept, so that edits to it (simulation, faults, tests) stay.
- The sandbox's own read paths use :meth:`records` / :meth:`at`, which serve the pinned record
  where there is one and otherwise a fresh encoding, never pinning.
- The ``_id`` index (needed only to look a record up by id) is built on the first such look-up.

Every record an encoder writes has ``life_status: normal``; only a pinned record can be anything
else, which is what makes :meth:`normal_ids` cheap. See docs/sandbox.md ("Scale").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping, Sequence
from typing import TypeVar

T = TypeVar("T")


class LazyObject(MutableMapping[str, dict]):
    """Records at positions ``0 .. count-1`` encoded on demand, plus records added later."""

    def __init__(self, count: int, encode: Callable[[int], dict], record_id: Callable[[int], str]):
        self._count = self._next = count
        self._encode, self._record_id = encode, record_id
        self._pinned: dict[int, dict] = {}
        self._added_ids: dict[int, str] = {}
        self._gone: set[int] = set()
        self._index: dict[str, int] | None = None
        #: how many records were encoded (what the structural tests pin: a page encodes a page)
        self.encoded = 0

    @classmethod
    def over(
        cls, items: Sequence[T], encode: Callable[[T], dict], record_id: Callable[[T], str]
    ) -> LazyObject:
        """An object with one record per item of ``items`` (a company list, never copied)."""
        return cls(len(items), lambda pos: encode(items[pos]), lambda pos: record_id(items[pos]))

    @classmethod
    def of(cls, records: list[dict]) -> LazyObject:
        """An object over already encoded records (a handful: employees' PersonnelObj)."""
        obj = cls(0, records.__getitem__, lambda pos: records[pos]["_id"])
        for rec in records:
            obj.add_new(rec)
        return obj

    # --- the sandbox's read paths (never pin) -------------------------------------------------------

    def key_at(self, pos: int) -> str:
        return self._added_ids[pos] if pos >= self._count else self._record_id(pos)

    def at(self, pos: int) -> dict:
        """The record at ``pos``: the pinned one, else a fresh encoding (read it, do not edit it)."""
        pinned = self._pinned.get(pos)
        if pinned is not None:
            return pinned
        self.encoded += 1
        return self._encode(pos)

    def live(self, pos: int) -> dict | None:
        """The record at ``pos`` as :meth:`at` gives it, or None when it was deleted."""
        return None if pos in self._gone or not 0 <= pos < self._next else self.at(pos)

    def position(self, rid: str) -> int:
        """Where the record ``rid`` is (KeyError when there is none)."""
        return self._positions_by_id()[rid]

    def positions(self) -> Iterator[int]:
        """Live positions in the dict's order."""
        gone = self._gone
        return (pos for pos in range(self._next) if pos not in gone)

    def records(self) -> Iterator[tuple[int, dict]]:
        """(position, record) of every live record, in order, unpinned."""
        return ((pos, self.at(pos)) for pos in self.positions())

    def normal_ids(self) -> list[str]:
        """Ids of the records whose ``life_status`` is ``normal``, without encoding any."""
        pinned = self._pinned
        return [
            self.key_at(pos)
            for pos in self.positions()
            if pos not in pinned or pinned[pos].get("life_status") == "normal"
        ]

    def add_new(self, rec: dict) -> int:
        """Append a record whose ``_id`` is new (simulated creations, CRM log entries); its position."""
        pos = self._next
        self._next += 1
        self._pinned[pos] = rec
        self._added_ids[pos] = rec["_id"]
        if self._index is not None:
            self._index[rec["_id"]] = pos
        return pos

    # --- the dict it replaces (pins) ---------------------------------------------------------------

    def _positions_by_id(self) -> dict[str, int]:
        if self._index is None:
            self._index = {self.key_at(pos): pos for pos in self.positions()}
        return self._index

    def pin(self, rid: str) -> dict:
        pos = self._positions_by_id()[rid]
        if pos not in self._pinned:
            self._pinned[pos] = self.at(pos)
        return self._pinned[pos]

    def __getitem__(self, rid: str) -> dict:
        return self.pin(rid)

    def __setitem__(self, rid: str, rec: dict) -> None:
        pos = self._positions_by_id().get(rid)
        if pos is None:
            self.add_new(rec)
        else:
            self._pinned[pos] = rec

    def __delitem__(self, rid: str) -> None:
        pos = self._positions_by_id().pop(rid)
        self._pinned.pop(pos, None)
        self._gone.add(pos)

    def __contains__(self, rid: object) -> bool:
        return rid in self._positions_by_id()

    def __iter__(self) -> Iterator[str]:
        return (self.key_at(pos) for pos in self.positions())

    def __len__(self) -> int:
        return self._next - len(self._gone)
