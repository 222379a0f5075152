"""The engine's per-band and per-span shortcuts give exactly what the long way round gave (a
faster nightly engine, docs/commission_engine.md "Speed and memory").

Flat and tiered lines format the text their lines share once per component and band; the
reference functions below are the engine's code before that change (the bodies verbatim), and
every line - id, amounts, explanation - must be the same on awkward values: negative and zero
amounts, many decimals, bands in money and in units, no target, gates and accelerators,
per-transaction positions. The hierarchy's chains are remembered per span between its dates and
must be the walk of every day, across version edges, open-ended versions and a cycle. The
lines are inserted in a thread of their own while the next group is calculated: every group's
lines arrive, and an insert that fails there fails the run and leaves the ledger as it was.
"""

from __future__ import annotations

import threading
from datetime import date, timedelta
from decimal import Decimal as D

import duckdb
import pytest

from flows.commissions.components import (
    _band_index,
    _marginal_parts,
    _multiplier,
    _tier_bounds,
    component_lines,
)
from flows.commissions.hierarchy import Hierarchy, HierarchyVersion
from flows.commissions.lines import Credit, CreditLineMaker, Line, Rep
from flows.commissions.money import ZERO, money
from flows.commissions.tables import LINES, replacing_lines, write_lines
from flows.config.commission_plan import parse_plan_text


# --- the engine's code before the per-band formatting, verbatim (the reference) -------------------
def _reference_flat_lines(plan, comp, rep, period, credits, target, attainment, mult, note, cur):
    prefix = f"{plan.plan_id}:v{plan.version}:{comp.component}"
    make = CreditLineMaker(plan, comp, rep, period, cur, target, attainment)
    tier, unmoved = (0, None, None, comp.rate), (None, None)
    lines: list[Line] = []
    for c in credits:
        amount = money(c.amount * comp.rate * comp.weight * mult)
        how = f"{comp.type}: {c.amount} x {comp.rate} x weight {comp.weight} x {mult}" + (
            f"; {note}" if note else ""
        )
        lines.append(make.line(c, f"{c.credit_id}:{prefix}:0", tier, mult, unmoved, c.amount, amount, how))
    return lines


def _reference_tiered_lines(plan, comp, rep, period, credits, target, attainment, mult, note, cur):
    prefix = f"{plan.plan_id}:v{plan.version}:{comp.component}"
    money_bounds, has_target, bounds = _tier_bounds(comp, target)
    retro = comp.type == "tiered_retroactive"
    make = CreditLineMaker(plan, comp, rep, period, cur, target, attainment)
    lines: list[Line] = []
    running = ZERO
    total = sum((c.amount for c in credits), ZERO)
    for c in credits:
        before = ZERO if comp.tier_position == "per_transaction" else running
        after = before + c.amount
        running += c.amount
        moved = (before, after)
        position = c.amount if comp.tier_position == "per_transaction" else total
        if retro:
            i = _band_index(comp.tiers, position, bounds) if has_target else 0
            parts = [(i, c.amount)]
        else:
            parts = _marginal_parts(bounds, before, after)
        for i, base in parts:
            band = comp.tiers[i]
            amount = money(base * band.rate * comp.weight * mult)
            upper = band.band_upper if band.band_upper is not None else "open"
            where = f"position {position}" if retro else f"running {before} -> {after}"
            lo, hi = bounds[i]
            in_money = f" = [{lo}, {hi if hi is not None else 'open'})" if money_bounds and has_target else ""
            how = (
                f"{comp.type} ({comp.tier_position}): band {i + 1} [{band.band_lower}, {upper}){in_money} "
                f"{where}; "
                f"{base} x {band.rate} x weight {comp.weight} x {mult}"
            )
            tier = (i + 1, band.band_lower, band.band_upper, band.rate)
            how += f"; {note}" if note else ""
            lines.append(
                make.line(c, f"{c.credit_id}:{prefix}:{i + 1}", tier, mult, moved, base, amount, how)
            )
    return lines


# --- the cases -------------------------------------------------------------------------------------

PLANS = """
plans:
  - {plan_id: P, version: 3, effective_from: 2026-01-01, currency: EUR,
     components: [
       {component: marginal_money, type: tiered_marginal, measure: monthly_target_attainment, weight: 0.5,
        tiers: [{band_lower: 0, band_upper: 0.5, rate: 0.02}, {band_lower: 0.5, band_upper: 1.25, rate: 0.05},
                {band_lower: 1.25, rate: 0.1234567}]},
       {component: retro_money, type: tiered_retroactive, measure: monthly_target_attainment,
        gate: {min_attainment: 0.1},
        accelerators: [{attainment_from: 0.5, multiplier: 1.5}],
        tiers: [{band_lower: 0, band_upper: 1, rate: 0.03}, {band_lower: 1, rate: 0.06}]},
       {component: marginal_units, type: tiered_marginal, measure: monthly_credited_amount,
        tiers: [{band_lower: 0, band_upper: 1000, rate: 0.01}, {band_lower: 1000, rate: 0.02}]},
       {component: per_deal, type: tiered_retroactive, measure: monthly_credited_amount,
        tier_position: per_transaction,
        tiers: [{band_lower: 0, band_upper: 500.005, rate: 0.04}, {band_lower: 500.005, rate: 0.07}]},
       {component: per_deal_marginal, type: tiered_marginal, measure: monthly_credited_amount,
        tier_position: per_transaction,
        tiers: [{band_lower: 0, band_upper: 100, rate: 0.04}, {band_lower: 100, rate: 0.07}]},
       {component: flat, type: flat, measure: monthly_credited_amount, rate: 0.0333333, weight: 0.75},
       {component: gated_flat, type: flat, measure: monthly_target_attainment, rate: 0.05,
        gate: {min_attainment: 0.9}},
       {component: accelerated_flat, type: flat, measure: monthly_target_attainment, rate: 0.015,
        accelerators: [{attainment_from: 0.2, attainment_to: 5, multiplier: 1.25}]}]}
"""


def _credit(n: int, amount: str, day: int = 1, kind: str = "direct") -> Credit:
    return Credit(f"c{n}-ünï", f"d{n}", "Ann", date(2026, 3, day), D(amount), kind, D("0.333333"), None, None)


CREDITS = [
    _credit(1, "1234.56", 2),
    _credit(2, "-250.10", 3),  # a negative amount (a refund credited as such)
    _credit(3, "0.00", 3),
    _credit(4, "987.654321", 5),  # more decimals than the column keeps
    _credit(5, "500.005", 9),  # on a band's boundary
    _credit(6, "99999.99", 20),
    _credit(7, "0.01", 28),
]


@pytest.mark.parametrize("target", [D("5000.00"), D("1234.57"), None, D("0")])
@pytest.mark.parametrize("credits", [CREDITS, CREDITS[1:2], CREDITS[3:], []])
def test_flat_and_tiered_lines_equal_the_whole_format(target, credits):
    book = parse_plan_text(PLANS, "speed.yml")
    plan = book.plans[0]
    rep, period = Rep("Ann"), date(2026, 3, 1)
    total = sum((c.amount for c in credits), ZERO)
    attainment = (total / target).quantize(D("0.000001")) if target else None
    seen = 0
    for comp in plan.components:
        mult, note = _multiplier(comp, attainment)
        assert comp.attainment_on != "component" and comp.kinds == ("direct",)  # component_lines as is
        args = (plan, comp, rep, period, credits, target, attainment, mult, note, "EUR")
        reference = _reference_flat_lines if comp.type in ("flat", "override") else _reference_tiered_lines
        expected = reference(*args)
        got = component_lines(plan, comp, rep, period, credits, target, attainment, "EUR")
        assert got == expected, comp.component
        assert [ln.explanation for ln in got] == [ln.explanation for ln in expected]
        seen += len(got)
    assert seen > 0 or not credits


def _walk_days() -> list[date]:
    return [date(2025, 12, 25) + timedelta(days=n) for n in range(120)]


def test_remembered_chains_equal_the_walk_of_every_day():
    hierarchy = Hierarchy.of(
        [
            HierarchyVersion("ann", "bo", date(2026, 1, 1), date(2026, 2, 1)),
            HierarchyVersion("ann", "cy", date(2026, 2, 1)),  # moves on Feb 1 (half-open)
            HierarchyVersion("bo", "dee", date(2025, 1, 1), date(2026, 1, 15)),
            HierarchyVersion("bo", None, date(2026, 1, 15)),  # top from Jan 15
            HierarchyVersion("cy", "dee", date(2026, 1, 1)),
            HierarchyVersion("dee", "cy", date(2026, 3, 1)),  # a cycle from Mar 1: the walk stops
            HierarchyVersion("éva", "ann", date(2026, 1, 10), date(2026, 1, 11)),  # a single day
        ]
    )
    chain = hierarchy.chains()
    for rep in ("ann", "bo", "cy", "dee", "éva", "nobody"):
        for day in _walk_days():
            assert list(chain(rep, day)) == hierarchy.chain(rep, day), (rep, day)
    # asked again (remembered), the same answer
    assert list(chain("ann", date(2026, 2, 1))) == ["cy", "dee"]
    assert list(chain("ann", date(2026, 1, 31))) == ["bo"]
    assert list(chain("dee", date(2026, 3, 5))) == ["cy"]


# --- writing in the background -----------------------------------------------------------------------


def _line(n: int, explanation: str | None = "ok") -> Line:
    return Line(
        f"l{n}-ü", "commission", "Ann", date(2026, 3, 1), credit_id=f"c{n}", rate=D("0.0512345"),
        commission_amount=D(f"-{n}.005"), explanation=explanation,
    )  # fmt: skip


def _writing() -> bool:
    return any(t.name == "commission-lines-writer" for t in threading.enumerate())


def test_lines_added_group_by_group_are_all_written_in_order_of_groups():
    conn = duckdb.connect()
    groups = [
        [_line(n) for n in range(k * 50_000, k * 50_000 + size)] for k, size in enumerate([3, 0, 40_000, 1])
    ]
    with replacing_lines(conn, date(2026, 3, 31)) as add:
        for lines in groups:
            add(lines)
    rows = conn.execute(f"select commission_line_id, rate, commission_amount from {LINES}").fetchall()
    expected = [ln for lines in groups for ln in lines]
    assert len(rows) == len(expected)
    assert sorted(rows) == sorted(
        (ln.commission_line_id, D("0.051235"), D(f"-{ln.commission_line_id[1:-2]}.01")) for ln in expected
    )


@pytest.mark.parametrize("failing", [0, 2])
def test_a_failed_insert_in_the_background_fails_the_run_and_leaves_the_ledger(failing):
    """An insert fails in the writer's thread (NULL in a not-null column): the error is the run's,
    raised by the next group's add or at the end, and the ledger is the last run's."""
    conn = duckdb.connect()
    write_lines(conn, [_line(1)], date(2026, 2, 28))
    groups = [[_line(10)], [_line(20)], [_line(30)]]
    groups[failing] = [_line(40), _line(41, explanation=None)]
    raises = pytest.raises(duckdb.ConstraintException, match="explanation")
    with raises, replacing_lines(conn, date(2026, 3, 31)) as add:
        for lines in groups:
            add(lines)
    assert conn.execute(f"select commission_line_id, run_date from {LINES}").fetchall() == [
        ("l1-ü", date(2026, 2, 28))
    ]
    tables = conn.execute("select table_name from information_schema.tables where table_schema = 'finance'")
    assert ("commission_lines_next",) not in tables.fetchall()
    assert not _writing()  # the writer's thread is gone


def test_a_failing_group_waits_for_the_write_in_flight_before_dropping_the_staging_table():
    conn = duckdb.connect()
    write_lines(conn, [_line(1)], date(2026, 2, 28))
    raises = pytest.raises(RuntimeError, match="the group fails")
    with raises, replacing_lines(conn, date(2026, 3, 31)) as add:
        add([_line(n) for n in range(2, 60_000)])
        raise RuntimeError("the group fails")
    assert conn.execute(f"select count(*) from {LINES}").fetchall() == [(1,)]
    tables = conn.execute("select table_name from information_schema.tables where table_schema = 'finance'")
    assert ("commission_lines_next",) not in tables.fetchall()
    assert not _writing()
