"""The nightly engine's inputs a group of reps at a time, so that its memory does not grow with
the number of credits (issue 14; docs/commission_engine.md, "Streaming by groups of reps").

The credits (with their deal attributes, decimals as text) are staged once in a temporary
DuckDB table ordered by rep; with a hierarchy, each direct credit's chain of managers (as of its
credit date) is staged too, so a group's roll-up credits are read with SQL. Each group then reads
its credits, targets, closed lines and cancelled deals filtered to its reps.

What crosses reps, and why the groups still give the all-at-once result:

* roll-up credits are the manager's, derived from the reports' direct credits: each direct
  credit's chain of managers is walked once (``Hierarchy.chain``, as ``with_rollups``) and staged,
  and a group reads its roll-up credits by joining the direct credits with its reps' chain rows;
* a credit id can move to another rep (the owner's credit keeps the deal's id when the owner
  changes) and a closed line or its adjustment may be another rep's: reps that share a credit id
  or a line id between the closed lines and the credits are one unit, never split
  (:meth:`ChunkedInputs.plan`); so is every spelling of one rep id (``identity.rep_key``);
* clawback windows' anchors (a deal's close, invoice, payment date) come from every direct
  credit of the deal, and from the closed lines of the deal's credits that disappeared:
  :meth:`ChunkedInputs.anchors` asks SQL for the deals of a group's reversed credits;
* warnings that need the whole book or every rep are computed once (``pay_warnings``).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from operator import attrgetter

import duckdb
import pandas as pd

from flows.commissions.clawback_windows import Anchors
from flows.commissions.hierarchy import Hierarchy, rollup_credit
from flows.commissions.identity import rep_key
from flows.commissions.inputs import credits_from_rows, credits_select
from flows.commissions.lines import Credit, Line, Rep
from flows.commissions.tables import CLOSED, dict_rows, find_table, line_from_row

#: Credits (roll-ups included) a group of reps may hold when the setting is not given
#: (``SALESOPS_COMMISSION_ENGINE_CHUNK_CREDITS`` has the same default): the all-at-once engine
#: peaked at ~490 MiB at 100k deals (~200k credits) and 2,928 MiB at 1M, so a group of 50k credits
#: keeps the engine's own objects to a few hundred MiB, while groups stay few (5 at 100k deals):
#: each group costs a few queries and re-reads the direct credits below its managers.
DEFAULT_CHUNK_CREDITS = 50_000

_CREDITS = "_engine_credits"
_CHAINS = "_engine_chains"
_GROUP = "_engine_group"
_PAIRS = "_engine_rep_days"
_ROLLUPS = "_engine_group_rollups"
_BY_ID = attrgetter("credit_id")


class ChunkedInputs:
    """The warehouse's engine inputs, staged for reading one group of reps at a time."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, months_table: str, credits_table: str,
                 hierarchy: Hierarchy | None, unpaid: set[str] | None = None) -> None:  # fmt: skip
        """``unpaid``: managers whose roll-up credits are not staged (they would change nothing,
        :mod:`flows.commissions.unpaid_rollups`)."""
        self.conn, self.months, self.hierarchy = conn, months_table, hierarchy
        self.unpaid = unpaid or set()
        self.group: set[str] = set()
        # with a hierarchy the roll-up credits are derived from the direct ones (as read_inputs)
        only_direct = "where c.credit_kind = 'direct'" if hierarchy is not None else ""
        select = credits_select(conn, credits_table, only_direct)
        conn.execute(f"create or replace temp table {_CREDITS} as {select} order by c.rep_id, c.credit_id")
        conn.execute(f"create or replace temp table {_GROUP} (rep_id varchar)")
        self._columns = [d[0] for d in conn.execute(f"select * from {_CREDITS} limit 0").description]
        if hierarchy is not None:
            self._stage_chains(hierarchy)

    def _stage_chains(self, hierarchy: Hierarchy) -> None:
        """Each (rep, credit date) of a direct credit with the managers above the rep that day
        (``Hierarchy.chain``: the walk ``with_rollups`` does), a row per manager with its level and
        the path its roll-up credit ids end with (``>level 1 manager>...>this manager``)."""
        conn = self.conn
        conn.execute(
            f"create or replace temp table {_CHAINS} (rep_id varchar, credit_date date, level integer, "
            "manager_id varchar, path varchar)"
        )
        conn.execute(
            f"create or replace temp table {_PAIRS} as select row_number() over (order by rep_id, "
            "credit_date) as n, rep_id, credit_date from "
            f"(select distinct rep_id, credit_date from {_CREDITS})"
        )
        # a page at a time (one connection: temp tables are its own, and an insert ends a read)
        start, page = 0, 50_000
        chain = hierarchy.chains()  # one walk per rep and span of the hierarchy's dates
        while batch := conn.execute(
            f"select rep_id, credit_date from {_PAIRS} where n > ? and n <= ?", [start, start + page]
        ).fetchall():
            start += page
            rows = []
            for rep, day in batch:
                path = ""
                for level, manager in enumerate(chain(rep, day), start=1):
                    path = f"{path}>{manager}"  # an unpaid manager stays in the ids above them
                    if manager not in self.unpaid:
                        rows.append((rep, day, level, manager, path))
            if rows:
                columns = ["rep_id", "credit_date", "level", "manager_id", "path"]
                conn.register("_engine_chain_rows", pd.DataFrame(rows, columns=columns, dtype=object))
                try:
                    conn.execute(
                        f"insert into {_CHAINS} select rep_id, cast(credit_date as date), "
                        "cast(level as integer), manager_id, path from _engine_chain_rows"
                    )
                finally:
                    conn.unregister("_engine_chain_rows")
        conn.execute(f"drop table {_PAIRS}")

    def close(self) -> None:
        for table in (_CREDITS, _CHAINS, _GROUP, _PAIRS, _ROLLUPS):
            self.conn.execute(f"drop table if exists {table}")

    # --- the groups -----------------------------------------------------------------------------

    def plan(self, reps: dict[str, Rep], bound: int) -> list[list[str]]:
        """The groups of reps: consecutive units in rep id order while their credits (roll-ups
        included) stay within ``bound``; a unit above it alone. A unit is the reps that must be
        calculated together: one rep's spellings, and reps sharing a credit or line id between the
        closed lines and the credits (module docstring)."""
        counts: dict[str, int] = defaultdict(int)
        for rep_id, n in self.conn.execute(
            f"select rep_id, count(*) from {_CREDITS} group by rep_id"
        ).fetchall():
            counts[rep_id] += n
        if self.hierarchy is not None:
            sql = (
                f"select ch.manager_id, sum(d.n) from {_CHAINS} as ch join (select rep_id, credit_date, "
                f"count(*) as n from {_CREDITS} group by all) as d using (rep_id, credit_date) group by 1"
            )
            for rep_id, n in self.conn.execute(sql).fetchall():
                counts[rep_id] += int(n)
        closed_reps = [r for (r,) in self.conn.execute(f"select distinct rep_id from {CLOSED}").fetchall()]
        everyone = sorted({*reps, *counts, *closed_reps})
        parent = {r: r for r in everyone}

        def find(r: str) -> str:
            while parent[r] != r:
                parent[r] = parent[parent[r]]
                r = parent[r]
            return r

        def union(a: str, b: str) -> None:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)

        first: dict[str, str] = {}
        for r in everyone:  # one rep's spellings ('Ann', 'ann') are one rep to the engine
            union(first.setdefault(rep_key(r), r), r)
        for a, b in self._links():
            if a in parent and b in parent:
                union(a, b)
        units: dict[str, list[str]] = defaultdict(list)
        for r in everyone:
            units[find(r)].append(r)
        groups: list[list[str]] = []
        size = 0
        for unit in sorted(units.values(), key=min):
            n = sum(counts.get(r, 0) for r in unit)
            if groups and size + n <= bound:
                groups[-1] += unit
                size += n
            else:
                groups.append(list(unit))
                size = n
        return groups

    def _links(self) -> list[tuple[str, str]]:
        """Pairs of reps whose lines the ledger compares with each other: a closed line's rep and
        the rep now holding its credit (a roll-up id ends with its manager), and the reps of closed
        lines sharing a credit id or a line id (a line, its adjustments, trueups, clawbacks)."""
        if not self.conn.execute(f"select 1 from {CLOSED} limit 1").fetchone():
            return []
        pairs = self.conn.execute(
            f"select distinct l.rep_id, c.rep_id from {CLOSED} as l join {_CREDITS} as c "
            "on c.credit_id = l.credit_id where l.rep_id <> c.rep_id "
            "union select distinct rep_id, regexp_extract(credit_id, '>([^>]*)$', 1) "
            f"from {CLOSED} where credit_id like '%>%'"
        ).fetchall()
        shared = self.conn.execute(
            "select list(distinct rep_id) from ("
            f"select credit_id as k, rep_id from {CLOSED} where credit_id is not null "
            f"union all select commission_line_id, rep_id from {CLOSED} "
            f"union all select related_line_id, rep_id from {CLOSED} where related_line_id is not null"
            ") group by k having count(distinct rep_id) > 1"
        ).fetchall()
        pairs += [(reps[0], r) for (reps,) in shared for r in reps[1:]]
        return pairs

    # --- one group's inputs ---------------------------------------------------------------------

    def select(self, group: list[str]) -> None:
        """Make ``group`` the reps the next reads are about."""
        self.group = set(group)
        self.conn.execute(f"delete from {_GROUP}")
        self.conn.execute(f"insert into {_GROUP} select unnest(?::varchar[])", [group])

    def credits(self) -> list[Credit]:
        """The group's credits, as ``read_inputs`` gives them (sorted by credit id): their direct
        credits and roll-up credits (given rows without a hierarchy; with one, built from the
        staged chains exactly as ``with_rollups`` builds them)."""
        mine = f"c.rep_id in (select rep_id from {_GROUP})"
        if self.hierarchy is None:
            rows = self.conn.execute(f"select * from {_CREDITS} as c where {mine}").fetchall()
            return sorted(credits_from_rows(rows), key=_BY_ID)
        # the direct credits the group's roll-ups come from are built once (a manager's reports'),
        # each roll-up from its direct credit as with_rollups builds it (rollup_credit)
        below = (
            f"select c.credit_id, ch.manager_id, ch.level, ch.path from {_CREDITS} as c join {_CHAINS} "
            "as ch on ch.rep_id = c.rep_id and ch.credit_date = c.credit_date "
            f"where ch.manager_id in (select rep_id from {_GROUP})"
        )
        self.conn.execute(f"create or replace temp table {_ROLLUPS} as {below}")
        sql = (
            f"select * from {_CREDITS} as c where {mine} or c.credit_id in (select credit_id from {_ROLLUPS})"
        )
        direct = credits_from_rows(self.conn.execute(sql).fetchall())
        by_id = {c.credit_id: c for c in direct}
        out = [c for c in direct if c.rep_id in self.group]
        for cid, manager, level, path in self.conn.execute(f"select * from {_ROLLUPS}").fetchall():
            out.append(rollup_credit(by_id[cid], cid + path, manager, level))
        self.conn.execute(f"drop table {_ROLLUPS}")
        return sorted(out, key=_BY_ID)

    def targets(self) -> dict[tuple[str, date], Decimal]:
        """The group's monthly targets, as ``read_inputs`` reads them."""
        sql = (
            f"select rep_id, period_month, target_amount from {self.months} "
            f"where target_amount is not null and rep_id in (select rep_id from {_GROUP})"
        )
        return {(r, p): t for r, p, t in self.conn.execute(sql).fetchall()}

    def closed_lines(self) -> list[Line]:
        sql = f"select * from {CLOSED} where rep_id in (select rep_id from {_GROUP})"
        return [line_from_row(r) for r in dict_rows(self.conn, sql)]

    def deals_gone_on(self) -> dict[str, date]:
        """When each deal of the group's closed lines that may have been paid stopped counting: a
        deal no longer won on its last modification, a deal deleted in the CRM on its deletion
        (``fct_deals`` leaves deleted deals out; the conformed ``int_deals_unioned`` keeps them
        flagged), as the CRM reports it. Only those deals: all not-won deals are many."""
        conn = self.conn
        paid = f"deal_id in (select deal_id from {CLOSED} where rep_id in (select rep_id from {_GROUP}))"
        gone: dict[str, date] = {}
        deals = find_table(conn, "marts", "fct_deals")
        if deals:
            sql = f"select deal_id, cast(modified_at as date) from {deals} where not is_won and {paid}"
            gone.update({d: when for d, when in conn.execute(sql).fetchall() if when is not None})
        unioned = find_table(conn, "intermediate", "int_deals_unioned")
        if unioned:
            when = "cast(coalesce(deleted_at, modified_at) as date)"
            sql = f"select deal_id, {when} from {unioned} where is_deleted and {paid}"
            gone.update({d: when for d, when in conn.execute(sql).fetchall() if when is not None})
        return gone

    def anchors(self, deals: set[str]) -> Anchors:
        """``Anchors.of`` the credits of every rep for ``deals``: their direct credits, and the
        direct credits paid in a closed period that have since disappeared (``ledger`` rebuilds
        those from their first closed commission line)."""
        if not deals:
            return Anchors()
        ids = sorted(deals)
        rows = self.conn.execute(
            f"select * from {_CREDITS} where deal_id in (select unnest(?::varchar[]))", [ids]
        )
        credits = credits_from_rows(rows.fetchall())
        sql = (
            f"select credit_id, deal_id, rep_id, credit_date, credit_kind, credit_basis from {CLOSED} "
            "where line_type = 'commission' and credit_id is not null and deal_id in "
            f"(select unnest(?::varchar[])) and credit_id not in (select credit_id from {_CREDITS})"
        )
        gone: dict[str, Credit] = {}
        for cid, deal, rep, day, kind, basis in self.conn.execute(sql, [ids]).fetchall():
            if cid not in gone and day is not None:
                gone[cid] = Credit(
                    cid, deal, rep, day, Decimal(0), kind or "direct", basis=basis or "booking"
                )
        return Anchors.of([*credits, *gone.values()])
