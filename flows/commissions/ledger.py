"""The nightly side of commissions: run the engine over the warehouse's credits and build the
ledger (closed periods as snapshotted, open periods recalculated, prior-period adjustments and
clawbacks of credits that disappeared after close) into ``finance.commission_lines``.

Tables: :mod:`flows.commissions.tables`; close, payroll export and reconciliation have their own
modules (docs/commission_engine.md).
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from operator import attrgetter
from pathlib import Path

import duckdb

from flows.commissions.adjustments import manual_lines
from flows.commissions.balances import DEFICIT, apply_balances
from flows.commissions.chunks import DEFAULT_CHUNK_CREDITS, ChunkedInputs
from flows.commissions.clawback_windows import Anchors
from flows.commissions.engine import calculate
from flows.commissions.hierarchy import level_of
from flows.commissions.inputs import engine_tables, read_hierarchy, read_reps
from flows.commissions.lines import Credit, Line, Rep
from flows.commissions.money import ZERO, money, month_start, next_month
from flows.commissions.pay_warnings import (
    PayWarning,
    group_warnings,
    plan_warnings,
    unmatched_assignment_warnings,
)
from flows.commissions.plan_lookup import Book, PlanLookup
from flows.commissions.tables import CLOSED, closed_periods, ensure_ledger, replacing_lines, write_warnings
from flows.commissions.unpaid_rollups import unpaid_rollups
from flows.config.commission_adjustments import FILE_NAME, read_adjustments
from flows.config.commission_plan import load_plan_file

_CREDIT_ID = attrgetter("credit_id")


def first_open_after(period: date, closed: set[date]) -> date:
    p = next_month(period)
    while p in closed:
        p = next_month(p)
    return p


def _cause(old: Line | None, new: Line | None) -> str:
    if new is None:
        return (
            f"no longer calculated: the inputs of {old.commission_line_id} changed after close "
            f"(deal, plan, assignment, hierarchy or rate); reverses the closed {old.commission_amount}"
        )
    if old is None:
        return f"new line after close: {new.explanation}"
    changed = [
        f"{f} {getattr(old, f)} -> {getattr(new, f)}"
        for f in (
            "credit_amount",
            "original_amount",
            "fx_rate",
            "plan_version",
            "tier_number",
            "rate",
            "multiplier",
            "target_amount",
            "running_before",
            "running_after",
            "base_amount",
            "commission_amount",
        )
        if getattr(old, f) != getattr(new, f)
    ]
    return "recalculated after close: " + "; ".join(changed)


def adjustments(computed: list[Line], closed_lines: list[Line], closed: set[date]) -> list[Line]:
    """Prior-period adjustment lines: for every closed period, recalculated minus closed minus
    adjustments already posted (and closed) for the same line; posted in the first open period
    after the closed one, linked to the line (``related_line_id``) and explaining the cause."""
    snap: dict[tuple[date, str], Line] = {}
    already: dict[tuple[date, str], Decimal] = defaultdict(lambda: ZERO)
    for ln in closed_lines:
        if ln.component_type == DEFICIT:
            continue  # balances are re-derived over the whole ledger, never recalculated per line
        if ln.line_type == "adjustment" and ln.commission_line_id.startswith("adj:"):
            already[(ln.source_period, ln.related_line_id)] += ln.commission_amount
        else:
            snap[(ln.period_month, ln.commission_line_id)] = ln
    now = {(ln.period_month, ln.commission_line_id): ln for ln in computed if ln.period_month in closed}
    out: list[Line] = []
    for key in sorted(set(snap) | set(now)):
        period, line_id = key
        old, new = snap.get(key), now.get(key)
        diff = (
            (new.commission_amount if new else ZERO) - (old.commission_amount if old else ZERO) - already[key]
        )
        if diff == 0:
            continue
        post = first_open_after(period, closed)
        ref = new or old
        out.append(
            replace(
                ref,
                commission_line_id=f"adj:{post:%Y-%m}:{line_id}",
                line_type="adjustment",
                period_month=post,
                commission_amount=diff,
                related_line_id=line_id,
                source_period=period,
                explanation=f"prior-period adjustment for {period:%Y-%m}: {_cause(old, new)}",
            )
        )
    return out


def build_ledger(
    book: Book,
    credits: list[Credit],
    reps: dict[str, Rep],
    targets: dict[tuple[str, date], Decimal],
    closed_lines: list[Line],
    closed: set[date],
    *,
    run_date: date,
    cancelled_on: dict[str, date] | None = None,
    currency: str | None = None,
    fiscal_year_start_month: int = 1,
    manual: list[Line] | None = None,
    anchors_of: Callable[[set[str]], Anchors] | None = None,
) -> list[Line]:
    """All periods' lines: closed periods as snapshotted, open periods recalculated, plus
    adjustments. ``manual``: the manual adjustment lines (:mod:`flows.commissions.adjustments`),
    treated as lines of their month (a closed month's land in the first open one). A credit
    that was paid in a closed period and has since disappeared (the deal was cancelled, lost or
    deleted) is kept for its period's attainment and clawed back - its closed lines negated - in
    the period of the cancellation (``cancelled_on[credit_id]``, default ``run_date``), moved to
    the first open period if that one is closed. ``anchors_of``: the clawback windows' anchors of
    the given deals (those of the reversed credits), when ``credits`` are only some reps' (the
    nightly's groups of reps); default: from the credits given."""
    all_credits = _credits_with_reversals(credits, closed_lines, closed, cancelled_on or {}, run_date)
    anchors = None
    if anchors_of is not None:
        anchors = anchors_of({c.deal_id for c in all_credits if c.reversed_on is not None})
    computed = calculate(
        book,
        all_credits,
        reps,
        targets,
        currency=currency,
        prorate_targets=False,
        fiscal_year_start_month=fiscal_year_start_month,
        balances=False,
        anchors=anchors,
    )
    _limit_clawbacks_to_paid(computed, closed_lines)
    computed += manual or []
    ledger = [ln for ln in closed_lines]
    ledger += [ln for ln in computed if ln.period_month not in closed]
    ledger += adjustments(computed, closed_lines, closed)
    # deficits over what is really paid: closed periods as closed, open ones with their adjustments
    return apply_balances(book, ledger, reps, closed)


def _credits_with_reversals(
    credits: list[Credit],
    closed_lines: list[Line],
    closed: set[date],
    cancelled_on: dict[str, date],
    run_date: date,
) -> list[Credit]:
    """The credits to calculate: today's, with reversals moved out of closed periods, plus the
    credits paid in a closed period that have since disappeared, reversed (to be clawed back)."""
    present = set(map(_CREDIT_ID, credits))
    gone: dict[str, Line] = {}
    for ln in closed_lines:
        if ln.line_type == "commission" and ln.credit_id and ln.credit_id not in present:
            gone.setdefault(ln.credit_id, ln)
    # a clawback already closed stays in the period it was closed in (never posted twice)
    clawed = {ln.credit_id: ln.period_month for ln in closed_lines if ln.line_type == "clawback"}
    all_credits = []
    for c in credits:  # a cancellation dated in a closed period is clawed back in the next open one
        # (cancelled_on keeps the real date for clawback windows)
        if c.credit_id in clawed:
            c = replace(c, reversed_on=clawed[c.credit_id], cancelled_on=c.cancelled_on or c.reversed_on)
        elif c.reversed_on is not None and month_start(c.reversed_on) in closed:
            when = first_open_after(month_start(c.reversed_on), closed)
            c = replace(c, reversed_on=when, cancelled_on=c.cancelled_on or c.reversed_on)
        all_credits.append(c)
    for cid, ln in sorted(gone.items()):
        when = month_start(cancelled_on.get(cid, run_date))
        if when <= ln.period_month:
            when = next_month(ln.period_month)
        if cid in clawed:
            when = clawed[cid]
        elif when in closed:
            when = first_open_after(when, closed)
        all_credits.append(
            Credit(
                credit_id=cid,
                deal_id=ln.deal_id,
                rep_id=ln.rep_id,
                credit_date=ln.credit_date,
                amount=ln.credit_amount,
                kind=ln.credit_kind or "direct",
                split_share=ln.split_share or Decimal(1),
                original_amount=ln.original_amount,
                original_currency=ln.original_currency,
                fx_rate=ln.fx_rate,
                reversed_on=when,
                cancelled_on=cancelled_on.get(cid, run_date),
                basis=ln.credit_basis or "booking",
                level=level_of(cid) if ln.credit_kind == "rollup" else 0,
            )
        )
    return all_credits


def _limit_clawbacks_to_paid(computed: list[Line], closed_lines: list[Line]) -> None:
    """A clawback reverses at most what was paid: the closed amount of the line, times the share
    the clawback window gives (the engine's clawback / the engine's line; a clawback of a credit's
    part of a cap line keeps the engine's attribution; a closed period recalculated differently is
    settled by its adjustment lines)."""
    paid = {ln.commission_line_id: ln.commission_amount for ln in closed_lines}
    if not paid:  # nothing closed, nothing to limit (the lines of the group are not walked)
        return
    engine = {ln.commission_line_id: ln.commission_amount for ln in computed if ln.line_type != "clawback"}
    for ln in computed:
        if (
            ln.line_type == "clawback"
            and ln.related_line_id in paid
            and ln.commission_line_id == f"clawback:{ln.related_line_id}"
        ):
            orig = engine.get(ln.related_line_id)
            share = -ln.commission_amount / orig if orig else Decimal(1)
            ln.commission_amount = (
                -paid[ln.related_line_id] if share == 1 else money(-paid[ln.related_line_id] * share)
            )


def _fiscal_year_start_month(settings) -> int:
    """The fiscal year of the yearly caps: ``config/settings.yml`` (the file the targets use),
    else the pipeline settings' ``fiscal_year_start_month``, else January."""
    from flows.config.company_settings import read_settings

    config_dir = Path(settings.config_path)
    if (config_dir / "settings.yml").exists():
        return int(read_settings(config_dir)["fiscal_year_start_month"])
    return int(getattr(settings, "fiscal_year_start_month", 1) or 1)


def run_engine(conn: duckdb.DuckDBPyConnection, settings, run_date: date | None = None) -> int:
    """Recalculate every period from dbt's credits and write ``finance.commission_lines``.

    Call after dbt has built ``int_credit_lines`` and ``int_commission_rep_months`` and before
    ``marts.fct_commissions`` is (re)built. Returns the number of lines written."""
    with _without_cycle_collection(), _duckdb_returning_memory(conn):
        return _run_engine(conn, settings, run_date or date.today())


@contextmanager
def _duckdb_returning_memory(conn: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """DuckDB's allocator keeps what a query freed for its next ones: staging the credits (then
    the ``int_credit_lines`` view computed once, joined to the deals; a table since) left ~350 MiB
    of the process's 500 MiB at 200k deals with DuckDB holding ~50, and the groups' Python objects
    came on top (issue 14). Its background threads give that memory back to the system (RSS ~500
    -> ~200 MiB within a second); the setting is restored after the run."""
    name = "allocator_background_threads"
    (was,) = conn.execute("select current_setting(?)", [name]).fetchall()[0]
    conn.execute(f"set {name} = true")
    try:
        yield
    finally:
        conn.execute(f"set {name} = {'true' if was in (True, 'true') else 'false'}")


@contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """The engine builds ~10 objects per credit and frees none until it is done: Python's cycle
    collector would walk the growing heap again and again for nothing (15-20 % of the run at 20k
    deals, docs/bench.md). Reference counting still frees everything as usual; the collector is
    back on (as it was) when the engine returns or fails."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def _run_engine(conn: duckdb.DuckDBPyConnection, settings, run_date: date) -> int:
    """Streams by groups of reps (:mod:`flows.commissions.chunks`): what is global - the plan
    book, reps and hierarchy, closed periods, manual adjustments and the warnings on the book and
    its assignments - once; each group's credits, targets, closed lines, ledger and warnings in
    turn, its lines added to the one transaction that replaces ``finance.commission_lines`` and
    freed before the next group. The result is the all-at-once one for any group size."""
    book = PlanLookup(load_plan_file(Path(settings.config_path) / "commission_plan.yml"))
    credits_table, months_table = engine_tables(conn)
    reps = read_reps(conn, months_table)
    hierarchy = read_hierarchy(conn, reps)
    ensure_ledger(conn)
    closed = closed_periods(conn)
    currency = getattr(settings, "reporting_currency", None)
    config_dir = Path(settings.config_path)
    rows = read_adjustments(config_dir / FILE_NAME, f"{config_dir.name}/{FILE_NAME}")  # optional file
    manual, unmatched = manual_lines(
        rows, reps, currency or book.plans[0].currency, f"{config_dir.name}/{FILE_NAME}"
    )
    group = _Group(book, reps, closed, manual, run_date, currency, _fiscal_year_start_month(settings))
    bound = getattr(settings, "commission_engine_chunk_credits", None)
    found: set[PayWarning] = set(unmatched)
    matched: set[int] = set()  # assignments some rep matches
    written = 0
    unpaid = set()
    if hierarchy is not None:  # managers no plan pays: their roll-ups are not built at all
        closed_reps = {r for (r,) in conn.execute(f"select distinct rep_id from {CLOSED}").fetchall()}
        unpaid = unpaid_rollups(book, reps, hierarchy, closed_reps)
    staged = ChunkedInputs(conn, months_table, credits_table, hierarchy, unpaid)
    try:
        groups = staged.plan(reps, DEFAULT_CHUNK_CREDITS if bound is None else int(bound))
        with replacing_lines(conn, run_date) as add:
            for reps_of_group in groups:
                staged.select(reps_of_group)
                ledger, warnings, hits = group.ledger(staged)
                add(ledger)
                written += len(ledger)
                found |= warnings
                matched |= hits
                # freed here by reference counting (a group's objects hold no cycles: a collection
                # after each group found nothing at 100k deals), with the collector off
                del ledger, warnings
    finally:
        staged.close()
    found |= set(plan_warnings(book)) | set(unmatched_assignment_warnings(book, matched))
    write_warnings(conn, [w.as_row() for w in sorted(found)], run_date)
    return written


@dataclass(frozen=True)
class _Group:
    """What every group of reps is calculated with: the global inputs."""

    book: PlanLookup
    reps: dict[str, Rep]
    closed: set[date]
    manual: list[Line]
    run_date: date
    currency: str | None
    fiscal_year_start_month: int

    def ledger(self, staged: ChunkedInputs) -> tuple[list[Line], set[PayWarning], set[int]]:
        """The selected group's ledger lines, warnings and the assignments its reps match."""
        members = staged.group
        credits, targets, closed_lines = staged.credits(), staged.targets(), staged.closed_lines()
        reps = {k: v for k, v in self.reps.items() if k in members}
        gone_on = staged.deals_gone_on() if closed_lines else {}
        by_credit = {ln.credit_id: gone_on.get(ln.deal_id) for ln in closed_lines if ln.credit_id}
        run_date = self.run_date
        ledger = build_ledger(
            self.book,
            credits,
            reps,
            targets,
            closed_lines,
            self.closed,
            run_date=run_date,
            # never after the run date: a rerun or backfill of an earlier day posts in that day's period
            cancelled_on={k: min(v, run_date) for k, v in by_credit.items() if v is not None},
            currency=self.currency,
            fiscal_year_start_month=self.fiscal_year_start_month,
            manual=[ln for ln in self.manual if ln.rep_id in members],
            anchors_of=staged.anchors,
        )
        warnings, matched = group_warnings(self.book, credits, reps, targets, ledger)
        return ledger, warnings, matched
