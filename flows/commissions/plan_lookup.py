"""A plan book whose ``plan_for`` answers are remembered.

The engine asks which plan version applies once per credit, per rep-month and per day of a
prorated month, and the warnings ask again per credit: at 40k credits that was ~125k walks over
the assignments and plans (a third of the engine's Python time, docs/bench.md). The answer depends
only on (rep id, e-mail, role, day) and the book, which is frozen, so remembering it is exact; and
on the day only through its place among the book's start and end dates, so one walk serves every
day between two of them (at 100k deals: a few hundred walks instead of 59k).
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import date

from flows.config.commission_plan import Assignment, PlanBook, PlanVersion


class PlanLookup:
    """Stands in for a :class:`PlanBook` where the engine reads ``plans``, ``assignments`` and
    ``plan_for`` (the only parts of the book it uses)."""

    def __init__(self, book: PlanBook) -> None:
        self.book = book
        self.plans: list[PlanVersion] = book.plans
        self.assignments: list[Assignment] | None = book.assignments
        self._memo: dict[tuple, PlanVersion | None] = {}
        # every date at which an assignment or plan version starts or ends: the book's answer
        # compares the day only with these (``from <= day < to``), so days between the same two
        # edges get the same answer, and a day is remembered as its place among the edges
        dates = [d for a in book.assignments or [] for d in (a.valid_from, a.valid_to)]
        dates += [d for p in book.plans for d in (p.effective_from, p.effective_to)]
        self._edges: list[date] = sorted({d for d in dates if d is not None})

    @classmethod
    def of(cls, book: PlanBook | PlanLookup) -> PlanLookup:
        return book if isinstance(book, PlanLookup) else cls(book)

    def plan_for(self, *, rep_id: str, email: str | None, role: str | None, day: date) -> PlanVersion | None:
        """:meth:`PlanBook.plan_for`, computed once per (rep id, e-mail, role, span between two
        edges of the book): ``bisect_right`` counts the edges on or before ``day``, which decides
        every ``edge <= day`` and ``day < edge`` the book's answer depends on."""
        key = (rep_id, email, role, bisect_right(self._edges, day))
        try:
            return self._memo[key]
        except KeyError:
            found = self._memo[key] = self.book.plan_for(rep_id=rep_id, email=email, role=role, day=day)
            return found


#: What the engine's functions take as "the book": the plan book itself, or it with remembered look-ups.
Book = PlanBook | PlanLookup
