"""The benchmark's set-based baseline (flows/bench/setbased.py) pays what the engine pays, on
figures computed by hand, and writes the engine's lines column for column (the bench compares the
two ledgers row for row).

Graduated (marginal) commission, from MathTutor's business-math lesson 8.3 "Graduated Commissions"
(https://mathtutor.com/software/business-math-lesson-overviews/lesson-0803.html): 6 % on the first
$3,000 of sales, 8 % on the next $5,000 and 10 % over $8,000; sales of $9,000 earn
$3,000 x 6 % + $5,000 x 8 % + $1,000 x 10 % = $180 + $400 + $100 = $680. Here the same bands are
attainment bands of an $8,000 monthly target ([0, 0.375), [0.375, 1), [1, open)), and the $9,000
arrive as two credits, $4,000 then $5,000: the running position crosses band 1 and 2 with the
first and band 2 and 3 with the second, which must still add up to $680.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import duckdb
import pytest

from flows.bench.setbased import TABLE, UnsupportedPlan, baseline_sql
from flows.commissions.engine import calculate
from flows.commissions.lines import Credit, Rep
from flows.commissions.tables import line_columns_ddl
from flows.config.commission_plan import parse_plan_text

PLAN = """
plans:
  - plan_id: GRAD
    version: 1
    name: graduated
    effective_from: 2026-01-01
    currency: USD
    components:
      - component: bookings
        type: tiered_marginal
        measure: monthly_target_attainment
        tier_position: running
        tiers:
          - {band_lower: 0.00, band_upper: 0.375, rate: 0.06}
          - {band_lower: 0.375, band_upper: 1.00, rate: 0.08}
          - {band_lower: 1.00, band_upper: null, rate: 0.10}
      - component: collections
        type: flat
        credit_on: collection
        measure: monthly_credited_amount
        rate: 0.01
assignments:
  - {plan_id: GRAD, role: rep, valid_from: 2026-01-01}
"""

# (credit id, rep, day, amount, basis)
CREDITS = [
    ("c1", "ann", date(2026, 3, 2), "4000.00", "booking"),
    ("c2", "ann", date(2026, 3, 9), "5000.00", "booking"),
    ("c3", "ann", date(2026, 3, 20), "1000.00", "collection"),  # flat 1 %: 10.00
    ("c4", "bob", date(2026, 3, 5), "9000.00", "booking"),  # no target: band 1's 6 % on all: 540.00
    ("c5", "cy", date(2026, 3, 25), "9000.00", "booking"),  # after cy left on 03-15: nothing
    # dee: 0.04 of a 16,000.00 target is 0.0000025, a tie: half-up 0.000003 (half-even 0.000002);
    # two credits of one day run in credit id order
    ("c6", "dee", date(2026, 3, 3), "0.03", "booking"),
    ("c7", "dee", date(2026, 3, 3), "0.01", "booking"),
]
MONTHS = [  # (rep, role, left_on, month, target)
    ("ann", "rep", None, date(2026, 3, 1), "8000.00"),
    ("bob", "rep", None, date(2026, 3, 1), None),
    ("cy", "rep", date(2026, 3, 15), date(2026, 3, 1), "8000.00"),
    ("dee", "rep", None, date(2026, 3, 1), "16000.00"),
]


def _warehouse() -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    conn.execute("create schema intermediate")
    conn.execute(
        "create table intermediate.int_credit_lines (credit_id varchar, deal_id varchar, rep_id varchar, "
        "credit_date date, credit_amount decimal(18, 2), credit_kind varchar, credit_basis varchar, "
        "split_share decimal(9, 6), original_amount decimal(18, 2), original_currency varchar, "
        "fx_rate decimal(18, 8))"
    )
    conn.executemany(
        "insert into intermediate.int_credit_lines values (?, ?, ?, ?, ?, 'direct', ?, 1, null, null, null)",
        [(c, f"deal-{c}", r, d, a, b) for c, r, d, a, b in CREDITS],
    )
    conn.execute(
        "create table intermediate.int_commission_rep_months (rep_id varchar, role varchar, left_on date, "
        "period_month date, target_amount decimal(18, 2))"
    )
    conn.executemany("insert into intermediate.int_commission_rep_months values (?, ?, ?, ?, ?)", MONTHS)
    conn.execute(f"create table {TABLE} ({line_columns_ddl()})")
    conn.execute(f"insert into {TABLE} {baseline_sql(parse_plan_text(PLAN))}")
    return conn


def _engine_lines() -> list:
    book = parse_plan_text(PLAN)
    credits = [Credit(c, f"deal-{c}", r, d, Decimal(a), basis=b) for c, r, d, a, b in CREDITS]
    reps = {r: Rep(r, role=role, left_on=left) for r, role, left, _, _ in MONTHS}
    targets = {(r, m): Decimal(t) for r, _, _, m, t in MONTHS if t is not None}
    lines = calculate(book, credits, reps, targets, prorate_targets=False)
    return [ln for ln in lines if ln.line_type == "commission"]


def test_the_baseline_pays_the_hand_computed_graduated_commission() -> None:
    paid = dict(
        _warehouse()
        .execute(
            f"select rep_id || ':' || component, sum(commission_amount) from {TABLE} "
            "where rep_id in ('ann', 'bob', 'cy') group by all"
        )
        .fetchall()
    )
    # ann: c1 crosses bands 1 and 2, c2 bands 2 and 3 = 680.00; bob: band 1's 6 % on all = 540.00
    assert paid == {
        "ann:bookings": Decimal("680.00"),
        "ann:collections": Decimal("10.00"),
        "bob:bookings": Decimal("540.00"),
    }


def test_the_engine_pays_the_same_on_the_same_credits() -> None:
    lines = _engine_lines()
    ann = sum(ln.commission_amount for ln in lines if ln.rep_id == "ann" and ln.component == "bookings")
    assert ann == Decimal("680.00")
    assert sum(ln.commission_amount for ln in lines if ln.rep_id == "bob") == Decimal("540.00")
    assert sum(ln.commission_amount for ln in lines if ln.component == "collections") == Decimal("10.00")
    assert not [ln for ln in lines if ln.rep_id == "cy"]


def test_the_baseline_writes_the_engine_lines_column_for_column() -> None:
    """The bench compares the two ledgers row for row (``except all``): here on lines whose
    explanations carry band bounds in money, running totals and a missing target."""
    conn = _warehouse()
    ours = sorted(ln.as_row() for ln in _engine_lines())
    theirs = conn.execute(f"select * from {TABLE} order by all").fetchall()
    assert len(theirs) == len(ours) == 8
    assert [tuple(row) for row in theirs] == ours
    ann_c2 = [row for row in theirs if row[0] == "c2:GRAD:v1:bookings:3"]
    assert ann_c2[0][-1] == (
        "tiered_marginal (running): band 3 [1.00, open) = [8000.00, open) running 4000.00 -> 9000.00; "
        "1000.00 x 0.10 x weight 1 x 1"
    )
    dee = conn.execute(f"select distinct attainment from {TABLE} where rep_id = 'dee'").fetchall()
    assert dee == [(Decimal("0.000003"),)]
    running = conn.execute(
        f"select credit_id, running_before, running_after from {TABLE} where rep_id = 'dee'"
    )
    assert sorted(running.fetchall()) == [
        ("c6", Decimal("0.00"), Decimal("0.03")),
        ("c7", Decimal("0.03"), Decimal("0.04")),
    ]


def test_a_plan_shape_the_baseline_does_not_reproduce_is_refused_by_name() -> None:
    text = PLAN.replace("type: tiered_marginal", "type: tiered_retroactive")
    with pytest.raises(UnsupportedPlan, match="GRAD v1 component bookings: type tiered_retroactive"):
        baseline_sql(parse_plan_text(text))
