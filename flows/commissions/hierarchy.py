"""Roll-up credit to every level above the credited rep, from the effective-dated hierarchy.

One implementation for the nightly (the hierarchy versions dbt builds,
``marts.dim_sales_rep_history``) and ``commissions estimate`` (a hierarchy CSV): each direct
credit rolls up to the rep's manager as of the credit date (level 1), that manager's manager as
of the same date (level 2), and so on to the top. Validity is half-open ``[valid_from, valid_to)``.
A roll-up credit's id is the path ``<credit id>><level 1 manager>>...>`` (level 1 is the id
``int_credit_lines`` has always used). Which levels pay what is each level's plan's choice
(component ``levels``; docs/commission_plans.md, "Hierarchy cascades").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date

from flows.commissions.lines import Credit


@dataclass(frozen=True)
class HierarchyVersion:
    rep_id: str
    manager_id: str | None
    valid_from: date
    valid_to: date | None = None


@dataclass
class Hierarchy:
    """Who managed whom when; ``manager_on`` answers for one day."""

    versions: dict[str, list[HierarchyVersion]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def of(cls, versions: Iterable[HierarchyVersion]) -> Hierarchy:
        out = cls()
        for v in versions:
            out.versions[v.rep_id].append(v)
        for rows in out.versions.values():
            rows.sort(key=lambda v: v.valid_from)
        return out

    def manager_on(self, rep_id: str, day: date) -> str | None:
        for v in self.versions.get(rep_id, []):
            if v.valid_from <= day and (v.valid_to is None or day < v.valid_to):
                return v.manager_id
        return None

    def chain(self, rep_id: str, day: date) -> list[str]:
        """The managers above ``rep_id`` on ``day``, nearest first (a cycle stops the walk)."""
        out: list[str] = []
        seen = {rep_id}
        manager = self.manager_on(rep_id, day)
        while manager is not None and manager not in seen:
            out.append(manager)
            seen.add(manager)
            manager = self.manager_on(manager, day)
        return out


def level_of(credit_id: str) -> int:
    """A roll-up credit's level from its id path (0 for a direct credit)."""
    return credit_id.count(">")


def with_rollups(credits: Iterable[Credit], hierarchy: Hierarchy) -> list[Credit]:
    """The direct credits plus their roll-up credit to every level above, as of each credit date.
    Roll-up credits given in ``credits`` are replaced: the hierarchy decides who gets them."""
    direct = [c for c in credits if c.kind == "direct"]
    out = list(direct)
    for c in direct:
        path = c.credit_id
        for level, manager in enumerate(hierarchy.chain(c.rep_id, c.credit_date), start=1):
            path = f"{path}>{manager}"
            out.append(replace(c, credit_id=path, rep_id=manager, kind="rollup", level=level))
    return out
