"""The engine's columnar reading and writing and its positional constructors give exactly what
the keyword / per-row way gave (issue 14, an engine within 2x of the set-based baseline).

Decimals read as text keep DuckDB's value and scale (``str`` of a value is what an explanation
prints); lines written column by column are cast by the insert as the per-row text was (the
rounding expected below is done by hand: half away from zero at the column's scale); a roll-up
credit and a commission line built positionally equal the keyword construction field by field.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal as D

import duckdb
from commissions_support import create_engine_inputs

from flows.commissions.hierarchy import Hierarchy, HierarchyVersion, with_rollups
from flows.commissions.inputs import read_inputs
from flows.commissions.lines import Credit, CreditLineMaker, Line, Rep, credit_line_fields
from flows.commissions.tables import LINES, line_columns, write_lines
from flows.config.commission_plan import parse_plan_text

FULL = Credit(
    "c1",
    "d1",
    "ann",
    date(2026, 3, 2),
    D("250.00"),
    "direct",
    D("0.500000"),
    D("460.00"),
    "EUR",
    D("1.08695652"),
    date(2026, 5, 3),
    "booking",
    0,
    (("product", "Pro"), ("industry", "Retail")),
    date(2026, 3, 20),
    date(2026, 5, 1),
)


def test_roll_up_credits_built_positionally_equal_a_field_by_field_copy():
    # ann -> bo -> cy on the credit date: level 1 is bo, level 2 is cy, every other field copied
    hierarchy = Hierarchy.of(
        [HierarchyVersion("ann", "bo", date(2026, 1, 1)), HierarchyVersion("bo", "cy", date(2026, 1, 1))]
    )
    got = with_rollups([FULL], hierarchy)
    assert got == [
        FULL,
        replace(FULL, credit_id="c1>bo", rep_id="bo", kind="rollup", level=1),
        replace(FULL, credit_id="c1>bo>cy", rep_id="cy", kind="rollup", level=2),
    ]


def test_a_commission_line_built_positionally_equals_the_keyword_construction():
    book = parse_plan_text(
        """
plans:
  - {plan_id: P, version: 2, effective_from: 2026-01-01, currency: USD,
     components: [{component: t, type: tiered_marginal, measure: monthly_target_attainment, weight: 0.5,
                   tiers: [{band_lower: 0, band_upper: 1, rate: 0.05}, {band_lower: 1, rate: 0.08}]}]}
""",
        "positional.yml",
    )
    plan = book.plans[0]
    comp = plan.components[0]
    rep, period = Rep("ann"), date(2026, 3, 1)
    target, attainment = D("1000.00"), D("1.25")
    made = CreditLineMaker(plan, comp, rep, period, "USD", target, attainment).line(
        FULL, "c1:P:v2:t:2", (2, D(1), None, D("0.08")), D(1), (D("1000.00"), D("1250.00")), D("250.00"),
        D("10.00"), "how",
    )  # fmt: skip
    expected = Line(
        commission_line_id="c1:P:v2:t:2",
        line_type="commission",
        tier_number=2,
        band_lower=D(1),
        band_upper=None,
        rate=D("0.08"),
        multiplier=D(1),
        running_before=D("1000.00"),
        running_after=D("1250.00"),
        base_amount=D("250.00"),
        commission_amount=D("10.00"),
        explanation="how",
        **credit_line_fields(plan, comp, rep, period, FULL, "USD", target, attainment),
    )
    assert made == expected and made.tier_position == "running" and made.fx_rate == D("1.08695652")


def test_credit_decimals_read_as_text_keep_duckdbs_value_and_scale():
    conn = duckdb.connect()
    create_engine_inputs(conn)
    conn.execute(
        "insert into intermediate.int_commission_rep_months values "
        "('ann', 'ann@x.com', 'rep', null, null, '2026-03-01', 1000, 1000)"
    )
    conn.execute(
        "insert into intermediate.int_credit_lines values "
        "('1', 'a', 'ann', 'direct', 'booking', '2026-03-10', '2026-03-01', 0.5, 99.9, 'EUR', 1.08695652, "
        "54.3, null), "
        "('2', 'b', 'ann', 'direct', 'booking', '2026-03-11', '2026-03-01', 1, null, null, null, 100, null)"
    )
    credits, _, _ = read_inputs(conn)
    got = [(str(c.amount), str(c.split_share), str(c.original_amount), str(c.fx_rate)) for c in credits]
    # the columns' scales: credit_amount and original_amount 2, split_share 6, fx_rate 8
    assert got == [("54.30", "0.500000", "99.90", "1.08695652"), ("100.00", "1.000000", "None", "None")]
    native = conn.execute(
        "select credit_amount, split_share, original_amount, fx_rate from intermediate.int_credit_lines "
        "order by credit_id"
    ).fetchall()
    assert [(c.amount, c.split_share, c.original_amount, c.fx_rate) for c in credits] == native


def test_lines_written_column_by_column_are_cast_as_the_per_row_text_was():
    line = Line(
        "l1",
        "commission",
        "ann",
        date(2026, 3, 1),
        credit_date=date(2026, 3, 2),
        plan_version=2,
        tier_number=1,
        rate=D("0.05"),
        attainment=D("0.1234565"),  # 7 places into decimal(18,6): half away from zero -> 0.123457
        commission_amount=D("12.345"),  # decimal(18,2): 12.35
        explanation="x",
    )
    other = replace(line, commission_line_id="l2", attainment=None, commission_amount=D("-0.005"))  # -0.01
    columns = line_columns([line, other])
    assert columns["rate"] == ["0.05", "0.05"] and columns["attainment"] == ["0.1234565", None]
    assert columns["deal_id"] == [None, None] and columns["line_type"] == ["commission", "commission"]
    conn = duckdb.connect()
    write_lines(conn, [line, other], date(2026, 3, 31))
    rows = conn.execute(
        f"select commission_line_id, period_month, credit_date, plan_version, attainment, commission_amount, "
        f"deal_id from {LINES} order by 1"
    ).fetchall()
    assert rows == [
        ("l1", date(2026, 3, 1), date(2026, 3, 2), 2, D("0.123457"), D("12.35"), None),
        ("l2", date(2026, 3, 1), date(2026, 3, 2), 2, None, D("-0.01"), None),
    ]
