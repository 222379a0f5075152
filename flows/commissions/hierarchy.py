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

import csv
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from flows.commissions.lines import Credit, Rep


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

    def chains(self) -> Callable[[str, date], tuple[str, ...]]:
        """:meth:`chain` remembered per (rep, span between two of the hierarchy's dates): the
        walk compares the day only with the versions' ``valid_from`` / ``valid_to``, so every day
        between the same two of them gets the same managers (``bisect_right`` counts the dates on
        or before the day, which decides each ``valid_from <= day`` and ``day < valid_to``). The
        nightly walks ~95k (rep, credit date) pairs at 200k deals; ~800 walks remain.
        For a hierarchy that no longer changes (the one the nightly read)."""
        dates = {d for rows in self.versions.values() for v in rows for d in (v.valid_from, v.valid_to)}
        edges = sorted(d for d in dates if d is not None)
        memo: dict[tuple[str, int], tuple[str, ...]] = {}

        def chain(rep_id: str, day: date) -> tuple[str, ...]:
            key = (rep_id, bisect_right(edges, day))
            if key not in memo:
                memo[key] = tuple(self.chain(rep_id, day))
            return memo[key]

        return chain


def level_of(credit_id: str) -> int:
    """A roll-up credit's level from its id path (0 for a direct credit)."""
    return credit_id.count(">")


def with_rollups(credits: Iterable[Credit], hierarchy: Hierarchy) -> list[Credit]:
    """The direct credits plus their roll-up credit to every level above, as of each credit date.
    Roll-up credits given in ``credits`` are replaced: the hierarchy decides who gets them."""
    direct = [c for c in credits if c.kind == "direct"]
    out = list(direct)
    chains: dict[tuple[str, date], list[str]] = {}  # reps close many deals on the same day
    for c in direct:
        key = (c.rep_id, c.credit_date)
        if key not in chains:
            chains[key] = hierarchy.chain(c.rep_id, c.credit_date)
        path = c.credit_id
        for level, manager in enumerate(chains[key], start=1):
            path = f"{path}>{manager}"
            out.append(rollup_credit(c, path, manager, level))
    return out


def rollup_credit(c: Credit, path: str, manager: str, level: int) -> Credit:
    """``copy_with(c, credit_id=path, rep_id=manager, kind="rollup", level=level)`` spelt out
    positionally (Credit's field order): the nightly builds one per credit and level above its
    rep, and the generic copy was a tenth of the engine's time at 100k deals."""
    return Credit(
        path,
        c.deal_id,
        manager,
        c.credit_date,
        c.amount,
        "rollup",
        c.split_share,
        c.original_amount,
        c.original_currency,
        c.fx_rate,
        c.reversed_on,
        c.basis,
        level,
        c.attributes,
        c.invoice_date,
        c.cancelled_on,
    )


class HierarchyError(ValueError):
    """A hierarchy CSV is wrong; names the file, row and field."""


def _day(value: str, where: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HierarchyError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from None


def read_hierarchy_csv(path: Path) -> tuple[Hierarchy, dict[str, Rep]]:
    """``commissions estimate --hierarchy``: ``rep_id, manager_id`` and optionally ``valid_from``,
    ``valid_to`` (YYYY-MM-DD, half-open; default always), ``role`` and ``rep_email`` (they choose
    each person's plan by its assignments). An empty ``manager_id`` is the top of the hierarchy."""
    if not path.exists():
        raise HierarchyError(f"{path}: file not found")
    versions: list[HierarchyVersion] = []
    people: dict[str, Rep] = {}
    roles: dict[str, list[tuple[date, date | None, str]]] = defaultdict(list)
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in ("rep_id", "manager_id") if c not in (reader.fieldnames or [])]
        if missing:
            raise HierarchyError(f"{path}: missing column(s) {', '.join(missing)}")
        for n, raw in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in raw.items() if k}
            if not row["rep_id"]:
                raise HierarchyError(f"{path} row {n}, field rep_id: a value is required")
            where = f"{path} row {n}, field"
            start = _day(row["valid_from"], f"{where} valid_from") if row.get("valid_from") else date.min
            end = _day(row["valid_to"], f"{where} valid_to") if row.get("valid_to") else None
            versions.append(HierarchyVersion(row["rep_id"], row["manager_id"] or None, start, end))
            if row.get("role"):  # effective-dated: a credit's plan is chosen by the role on its date
                roles[row["rep_id"]].append((start, end, row["role"]))
            if row.get("role") or row.get("rep_email") or row["rep_id"] not in people:
                email, role = row.get("rep_email") or None, row.get("role") or None
                people[row["rep_id"]] = Rep(row["rep_id"], email and email.lower(), role)
    for rep_id, history in roles.items():
        people[rep_id] = replace(people[rep_id], roles=tuple(sorted(history, key=lambda r: r[0])))
    return Hierarchy.of(versions), people


def with_hierarchy(credits: list[Credit], reps: dict[str, Rep], path: Path) -> list[Credit]:
    """``estimate``'s roll-up: the CSV's hierarchy decides who gets roll-up credit (roll-up rows
    of the credits CSV are replaced); its roles and emails choose each level's plan."""
    hierarchy, people = read_hierarchy_csv(path)
    for rep_id, person in people.items():
        old = reps.get(rep_id, Rep(rep_id))
        email, role = person.email or old.email, person.role or old.role
        reps[rep_id] = Rep(rep_id, email, role, old.hired_on, old.left_on, person.roles or old.roles)
    return sorted(with_rollups(credits, hierarchy), key=lambda c: c.credit_id)
