"""What ``accelerators`` do, exactly as docs/commission_plans.md says (issue 12 item 6): the
multiplier of the band the month's *final* attainment is in multiplies the rate of *every* credit
of the month (retroactive). A plan that wants the higher rate only on the part above the
threshold (marginal) writes it as ``tiered_marginal`` bands.

Published figures:
- Prowi, "Accelerator Commission Model" (prowi.io/en/provisionsmodel-accelerator): "base rate
  10 percent. At 110 percent attainment you apply rate x 1.5 ... You can calculate marginally on
  revenue above the threshold or retroactively on the whole period after the threshold is
  passed." Both readings are computed below on 120 % of a 100,000 quota.
- ExcelForum thread 861932 (excelforum.com): quota 100,000; 5 % up to 100,000, 6 % from 100,000
  to 125,000, 7 % above; "if they did $150,000 ... their commission would be
  $5,000+$1,500+$1,750" (= 8,250), the marginal tiers.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from flows.commissions.engine import calculate
from flows.commissions.lines import Credit, statement_totals
from flows.config.commission_plan import parse_plan_text

OCT = date(2026, 10, 1)
TARGETS = {("ann", OCT): D("100000.00")}


def plan(component: str):
    return parse_plan_text(
        f"""
plans:
  - plan_id: P
    version: 1
    effective_from: 2026-01-01
    currency: USD
    components:
{component}
"""
    )


def credit(cid: str, day: str, amount: str) -> Credit:
    return Credit(cid, cid, "ann", date.fromisoformat(day), D(amount))


ACCELERATED = """      - component: bookings
        type: flat
        rate: 0.10
        accelerators:
          - {attainment_from: 1.10, attainment_to: null, multiplier: 1.5}
"""
MARGINAL = """      - component: bookings
        type: tiered_marginal
        tiers:
          - {band_lower: 0.00, band_upper: 1.10, rate: 0.10}
          - {band_lower: 1.10, band_upper: null, rate: 0.15}
"""


def test_accelerators_are_retroactive_on_every_credit_of_the_month():
    # 120,000 booked against 100,000: attainment 1.20 >= 1.10, so both credits are paid at
    # 10 % x 1.5 = 15 %: 60,000 x 0.15 = 9,000.00 each, 18,000.00 - including the credit booked
    # on Oct 5 while the rep was at 60 %
    lines = calculate(
        plan(ACCELERATED),
        [credit("A", "2026-10-05", "60000"), credit("B", "2026-10-20", "60000")],
        targets=TARGETS,
    )
    assert {ln.credit_id: ln.commission_amount for ln in lines} == {"A": D("9000.00"), "B": D("9000.00")}
    assert {ln.multiplier for ln in lines} == {D("1.5")}
    assert all("accelerator x1.5 at attainment 1.200000" in ln.explanation for ln in lines)


def test_below_the_threshold_nothing_is_accelerated():
    # 60,000 alone: attainment 0.60 -> 60,000 x 10 % = 6,000.00, multiplier 1
    lines = calculate(plan(ACCELERATED), [credit("A", "2026-10-05", "60000")], targets=TARGETS)
    assert [(ln.commission_amount, ln.multiplier) for ln in lines] == [(D("6000.00"), D("1"))]


def test_the_marginal_reading_is_written_as_tiered_marginal_bands():
    # the same 120,000 marginally: 110,000 x 10 % = 11,000.00 + 10,000 x 15 % = 1,500.00 =
    # 12,500.00 (A: 60,000 x 10 % = 6,000.00; B: 50,000 x 10 % = 5,000.00 + 10,000 x 15 % = 1,500.00)
    lines = calculate(
        plan(MARGINAL),
        [credit("A", "2026-10-05", "60000"), credit("B", "2026-10-20", "60000")],
        targets=TARGETS,
    )
    assert [(ln.credit_id, ln.tier_number, ln.commission_amount) for ln in lines] == [
        ("A", 1, D("6000.00")),
        ("B", 1, D("5000.00")),
        ("B", 2, D("1500.00")),
    ]
    assert statement_totals(lines) == {("ann", OCT): D("12500.00")}


def test_excelforum_marginal_tiers_pay_5000_1500_1750():
    tiers = """      - component: bookings
        type: tiered_marginal
        tiers:
          - {band_lower: 0.00, band_upper: 1.00, rate: 0.05}
          - {band_lower: 1.00, band_upper: 1.25, rate: 0.06}
          - {band_lower: 1.25, band_upper: null, rate: 0.07}
"""
    lines = calculate(plan(tiers), [credit("A", "2026-10-05", "150000")], targets=TARGETS)
    assert [ln.commission_amount for ln in lines] == [D("5000.00"), D("1500.00"), D("1750.00")]
    assert statement_totals(lines) == {("ann", OCT): D("8250.00")}
