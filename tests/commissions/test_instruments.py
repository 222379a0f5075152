"""Instruments: SPIF per qualifying deal, target incentive on an attainment curve (stepped,
linear, marginal), interpolated amount tables, proration by assignment dates, role as of the
credit date. Manual adjustments: ``test_manual_adjustments.py``.

Every expected figure is computed by hand next to it from the published figures it cites:

* [PROWI-SPIFF] Prowi glossary, "Spiff" (prowi.io/en/glossary/spiff): Product Push "$500 per
  Enterprise license sold"; example "Duration: Last 2 weeks of Q4 / Target: Premium tier product
  sales / Reward: $500 per Premium deal / Cap: No cap".
* [COMMISH] getcommish.io, "Managing SPIFFs": "Per-deal bonus $500 per deal - Flat bonus added for
  each qualifying deal"; criteria "deal type, product, minimum value"; "Date range".
* [BONUSPAYCALC] bonuspaycalc.com, "Bonus payout curve explained": quota 100,000, threshold 70 %,
  target bonus 10,000 at 100 %, "Accelerator: 2x payout rate above 100%", "Cap: 200% payout (max
  20,000)"; "85% is halfway between 70% and 100%, so payout could be roughly ~50% of target
  bonus -> ~5,000"; 120 %: "the full 10,000, then the extra 20% ... (20% x 2) -> ~4,000, total
  ~14,000".
* [XACTLY] Xactly help, "Plan Design > Pay Curves": "Pay curves are similar to rate tables, but
  represent linear rather than step functions" (stepped = the rate-table reading).
* [ORACLE-INTERP] Oracle Fusion Incentive Compensation, "Examples of Calculating Earnings Using
  Interpolated Rates": amount table 0-1,000 -> 10, 1,000-3,000 -> 40, 3,000-8,000 -> 100,
  8,000-20,000 -> 2,000; transactions processed individually: T1 200 -> 2, T2 300 -> 3, T3 1,500
  -> 10 + (500 / 2,000) x 40 = 20, T4 1,200 -> 14, T5 2,000 -> 30, T6 4,500 -> 10 + 40 + (1,500 /
  5,000) x 100 = 80; "the total amount of earnings is 149 USD". And "Options for Splitting
  Attainment Numbers Across Rate Tiers": percent tiers 0-25 -> 1,000, 25-50 -> 2,000, 50-100 ->
  5,000; formula (Percent Value / (Upper Bound - Lower Bound)) x Rate.
* [ORACLE-RF] Oracle Utilities, "RF Value Period Factor": a change on April 16 in the period April
  1 - April 30: "15 days / 30 days = 0.5" for each part.
* [SPIFF-PLANCHANGE] Salesforce Help, "Accounting for Inter-Period Plan Changes for Reps": "reps
  who transition from one plan to another within a statement period are paid for the plan they
  were assigned to when the deal closed".
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal as D
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from flows.cli.commissions import app
from flows.commissions.curves import payout_factor, table_value
from flows.commissions.engine import calculate
from flows.commissions.hierarchy import with_hierarchy
from flows.commissions.lines import Credit, Rep
from flows.config.commission_plan import PlanError, parse_plan_text

ROOT = Path(__file__).resolve().parents[2]
PLANS = ROOT / "config" / "plans"


def book(components: str, extra: str = "", start: str = "2026-01-01"):
    return parse_plan_text(
        f"""
plans:
  - plan_id: P
    version: 1
    effective_from: {start}
    currency: USD
    components:
{components}
{extra}
""",
        "test.yml",
    )


def credit(cid: str, day: str, amount: str, rep: str = "ann", **kw) -> Credit:
    return Credit(cid, kw.pop("deal_id", cid), rep, date.fromisoformat(day), D(amount), **kw)


def by_component(lines, component: str) -> dict[str, D]:
    return {
        ln.credit_id or f"{ln.period_month:%Y-%m}": ln.commission_amount
        for ln in lines
        if ln.component == component
    }


# --- SPIF ------------------------------------------------------------------------------------------

SPIF = """
      - component: premium_push
        type: spif
        amount_per_deal: 500.00
        filters:
          products: [Premium]
          min_deal_amount: 10000.00
          credit_from: 2026-12-18
          credit_to: 2027-01-01
"""


def test_spif_pays_the_fixed_amount_per_qualifying_deal_only():
    # [PROWI-SPIFF] $500 per Premium deal in the last 2 weeks of Q4; [COMMISH] criteria product,
    # minimum value, date range. Only D1 qualifies: D2 is Standard, D3 closed before the window,
    # D4 is below the minimum deal size, D5 after it.
    prem, std = (("product", "Premium"),), (("product", "Standard"),)
    credits = [
        credit("D1", "2026-12-19", "24000.00", attributes=prem),
        credit("D2", "2026-12-20", "30000.00", attributes=std),
        credit("D3", "2026-12-10", "15000.00", attributes=prem),
        credit("D4", "2026-12-22", "8000.00", attributes=prem),
        credit("D5", "2027-01-02", "50000.00", attributes=prem),
    ]
    lines = calculate(book(SPIF), credits)
    assert by_component(lines, "premium_push") == {"D1": D("500.00")}
    (line,) = [ln for ln in lines if ln.component == "premium_push"]
    assert (line.line_type, line.component_type, line.deal_id) == ("bonus", "spif", "D1")


def test_spif_filters_compare_case_insensitively_and_a_split_deal_pays_once_in_all():
    # a 50/50 split Premium deal of 40,000: 500 x 0.5 = 250.00 to each rep, 500.00 in all
    prem = (("product", "premium"),)
    credits = [
        credit(
            "D5",
            "2026-12-28",
            "20000.00",
            attributes=prem,
            split_share=D("0.5"),
            original_amount=D("40000.00"),
            fx_rate=D(1),
        ),
        credit(
            "D5@bob",
            "2026-12-28",
            "20000.00",
            rep="bob",
            deal_id="D5",
            attributes=prem,
            split_share=D("0.5"),
            original_amount=D("40000.00"),
            fx_rate=D(1),
        ),
    ]
    lines = calculate(book(SPIF), credits)
    assert by_component(lines, "premium_push") == {"D5": D("250.00"), "D5@bob": D("250.00")}


def test_a_cancelled_deal_claws_its_spif_back():
    prem = (("product", "Premium"),)
    lines = calculate(
        book(SPIF), [credit("D1", "2026-12-19", "24000.00", attributes=prem, reversed_on=date(2027, 1, 10))]
    )
    claws = [ln for ln in lines if ln.line_type == "clawback"]
    assert [(ln.period_month, ln.commission_amount) for ln in claws] == [(date(2027, 1, 1), D("-500.00"))]


def test_spif_example_plan_runs_through_estimate():
    # config/plans/spif_per_deal.yml: 5 % on every deal + the SPIF; ann: commission 0.05 x
    # (24,000 + 30,000 + 15,000 + 8,000 + 20,000) = 4,850.00 + SPIF 500 + 250 = 5,600.00;
    # bob: 0.05 x 20,000 = 1,000.00 + 250.00 = 1,250.00
    result = CliRunner().invoke(
        app,
        [
            "estimate",
            "--plan",
            str(PLANS / "spif_per_deal.yml"),
            "--credits",
            str(PLANS / "examples" / "spif_credits.csv"),
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    totals = {t["rep_id"]: t["total_amount"] for t in json.loads(result.stdout)["totals_by_rep"]}
    assert totals == {"ann": "5600.00", "bob": "1250.00"}


def test_a_spif_without_amount_or_with_a_rate_is_rejected_naming_the_field():
    with pytest.raises(PlanError, match=r"components\[0\]\).*amount_per_deal"):
        book("      - {component: s, type: spif}\n")
    with pytest.raises(PlanError, match=r"components\[0\]\.rate\): type spif takes no rate"):
        book("      - {component: s, type: spif, amount_per_deal: 5, rate: 0.1}\n")
    with pytest.raises(PlanError, match="amount_per_deal is only for type spif"):
        book("      - {component: s, type: flat, rate: 0.1, amount_per_deal: 5}\n")


# --- target incentive curves -------------------------------------------------------------------------


def incentive(curve_type: str, points: str, extra: str = "") -> str:
    return f"""
      - component: incentive
        type: target_incentive
        target_incentive: 10000.00
        curve_type: {curve_type}
        curve: {points}
{extra}"""


LINEAR = incentive(
    "linear",
    "[{attainment: 0.70, payout: 0}, {attainment: 1.00, payout: 1.00}, {attainment: 1.50, payout: 2.00}]",
    "        above_last: cap\n",
)
STEPPED = incentive(
    "stepped",
    "[{attainment: 0.70, payout: 0}, {attainment: 1.00, payout: 1.00}, {attainment: 1.50, payout: 2.00}]",
)
MARGINAL = incentive(
    "marginal", "[{attainment: 0, rate: 1.0}, {attainment: 1.00, rate: 2.0}, {attainment: 1.50, rate: 0}]"
)


def pay_at(components: str, sold: str) -> D:
    lines = calculate(
        book(components),
        [credit("D", "2026-10-14", sold)],
        targets={("ann", date(2026, 10, 1)): D("100000.00")},
    )
    return sum((ln.commission_amount for ln in lines if ln.component == "incentive"), D(0))


@pytest.mark.parametrize(
    ("sold", "expected"),
    [
        ("65000.00", "0.00"),  # below the 70 % threshold: nothing
        ("85000.00", "5000.00"),  # [BONUSPAYCALC] halfway between 70 % and 100 % -> 50 % -> 5,000
        ("100000.00", "10000.00"),  # at quota: the target bonus
        ("120000.00", "14000.00"),  # [BONUSPAYCALC] 10,000 + 20 % x 2 x 10,000 = 14,000
        ("160000.00", "20000.00"),  # [BONUSPAYCALC] cap 200 % payout: 20,000
    ],
)
def test_linear_curve_pays_the_published_figures(sold, expected):
    assert pay_at(LINEAR, sold) == D(expected)


@pytest.mark.parametrize(
    ("sold", "expected"),
    # [XACTLY] the step-function reading of the same points: the payout of the highest point reached
    [("85000.00", "0.00"), ("120000.00", "10000.00"), ("150000.00", "20000.00"), ("190000.00", "20000.00")],
)
def test_stepped_curve_pays_the_highest_point_reached(sold, expected):
    assert pay_at(STEPPED, sold) == D(expected)


@pytest.mark.parametrize(
    ("sold", "expected"),
    # [BONUSPAYCALC] the marginal reading: 1 % of target bonus per 1 % of attainment to quota,
    # then "2x payout rate above 100%": 120 % -> 1.00 + 0.20 x 2 = 1.40 -> 14,000; the last point
    # (rate 0 from 150 %) caps at 1.00 + 0.50 x 2 = 2.00 -> 20,000 ("Cap: 200% payout")
    [("50000.00", "5000.00"), ("120000.00", "14000.00"), ("170000.00", "20000.00")],
)
def test_marginal_curve_adds_each_bands_rate(sold, expected):
    assert pay_at(MARGINAL, sold) == D(expected)


def test_curve_semantics_below_the_first_and_above_the_last_point_are_declared():
    pts = (
        "[{attainment: 0.50, payout: 0.25}, {attainment: 1.00, payout: 1.00}, "
        "{attainment: 1.50, payout: 2.00}]"
    )
    comp = book(
        incentive("linear", pts, "        below_first: proportional\n        above_last: extrapolate\n")
    )
    c = comp.plans[0].components[0]
    # proportional: the line from (0, 0) to (0.50, 0.25): at 0.40 -> 0.20
    assert payout_factor(c, D("0.40")) == D("0.200000")
    # extrapolate: the last segment's slope (2.00 - 1.00) / 0.50 = 2 -> at 1.70: 2.00 + 0.20 x 2 = 2.40
    assert payout_factor(c, D("1.70")) == D("2.400000")
    capped = book(incentive("linear", pts)).plans[0].components[0]  # defaults: zero below, cap above
    assert (payout_factor(capped, D("0.40")), payout_factor(capped, D("1.70"))) == (D(0), D("2.000000"))
    with pytest.raises(PlanError, match=r"above_last.*stepped curve has no slope"):
        book(incentive("stepped", pts, "        above_last: extrapolate\n"))
    with pytest.raises(PlanError, match=r"curve\[1\].attainment.*increasing"):
        book(incentive("linear", "[{attainment: 1.0, payout: 1}, {attainment: 0.5, payout: 0.25}]"))


def test_target_incentive_example_plan_through_estimate():
    # config/plans/target_incentive_curve.yml + examples: Sep 65 % -> 0.00, Oct 85 % -> 5,000.00,
    # Nov 120 % -> 14,000.00, Dec 160 % -> capped 20,000.00 ([BONUSPAYCALC]); 39,000.00 in all
    result = CliRunner().invoke(
        app,
        [
            "estimate",
            "--plan",
            str(PLANS / "target_incentive_curve.yml"),
            "--credits",
            str(PLANS / "examples" / "incentive_credits.csv"),
            "--targets",
            str(PLANS / "examples" / "incentive_targets.csv"),
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    monthly = {t["period_month"]: t["total_amount"] for t in data["totals_by_period"]}
    assert monthly == {
        "2026-09-01": "0.00",
        "2026-10-01": "5000.00",
        "2026-11-01": "14000.00",
        "2026-12-01": "20000.00",
    }
    assert data["grand_total"] == "39000.00"


# --- interpolated amount tables --------------------------------------------------------------------

ORACLE_TABLE = """
      - component: table
        type: amount_table
        measure: monthly_credited_amount
        tier_position: per_transaction
        amount_table:
          - {band_lower: 0, band_upper: 1000, amount: 10}
          - {band_lower: 1000, band_upper: 3000, amount: 40}
          - {band_lower: 3000, band_upper: 8000, amount: 100}
          - {band_lower: 8000, band_upper: 20000, amount: 2000}
"""


def test_amount_table_is_linear_inside_each_band_oracle_interpolated_rates():
    # [ORACLE-INTERP]: 2 + 3 + 20 + 14 + 30 + 80 = 149 USD
    days = ["2015-01-01", "2015-01-02", "2015-01-15", "2015-02-01", "2015-02-15", "2015-03-01"]
    amounts = ["200", "300", "1500", "1200", "2000", "4500"]
    credits = [credit(f"T{i}", d, a) for i, (d, a) in enumerate(zip(days, amounts, strict=True), start=1)]
    lines = calculate(book(ORACLE_TABLE, start="2015-01-01"), credits)
    paid = by_component(lines, "table")
    assert paid == {
        "T1": D("2.00"),
        "T2": D("3.00"),
        "T3": D("20.00"),
        "T4": D("14.00"),
        "T5": D("30.00"),
        "T6": D("80.00"),
    }
    assert sum(paid.values()) == D("149.00")


def test_amount_table_on_attainment_running_adds_up_to_the_table_value():
    # [ORACLE-INTERP] percent tiers 0-25 -> 1,000, 25-50 -> 2,000, 50-100 -> 5,000:
    # 12 % -> (12 / 25) x 1,000 = 480; 60 % -> 1,000 + 2,000 + (10 / 50) x 5,000 = 4,000
    comp = """
      - component: table
        type: amount_table
        amount_table:
          - {band_lower: 0, band_upper: 0.25, amount: 1000}
          - {band_lower: 0.25, band_upper: 0.50, amount: 2000}
          - {band_lower: 0.50, band_upper: 1.00, amount: 5000}
"""
    bands = book(comp).plans[0].components[0].amount_table
    assert table_value(bands, D("0.12")) == D(480)
    target = {("ann", date(2026, 10, 1)): D("100000.00")}
    lines = calculate(
        book(comp), [credit("a", "2026-10-02", "12000"), credit("b", "2026-10-20", "48000")], targets=target
    )
    # running: a 0 -> 12 % = 480.00; b 12 % -> 60 % = 4,000.00 - 480.00 = 3,520.00
    assert by_component(lines, "table") == {"a": D("480.00"), "b": D("3520.00")}


def test_amount_table_bands_must_be_closed_and_contiguous():
    with pytest.raises(PlanError, match=r"amount_table\[1\].band_lower.*contiguous"):
        book("""
      - component: t
        type: amount_table
        amount_table:
          - {band_lower: 0, band_upper: 1, amount: 10}
          - {band_lower: 2, band_upper: 3, amount: 10}
""")


# --- proration by assignment dates, role as of the credit date ----------------------------------------


def test_a_rep_moved_onto_a_plan_mid_month_gets_its_target_and_incentive_prorated_by_days():
    # config/plans/mid_month_move.yml: ann on AE-SMB until 2026-04-15, on AE-ENT from 04-16.
    # [ORACLE-RF] 15 / 30 days each: each plan's April target = 100,000 x 15 / 30 = 50,000.00.
    # [SPIFF-PLANCHANGE] each deal on the plan of its close date:
    # D-4001 (04-08, SMB) 60,000 / 50,000 = 1.20 -> 8 % = 4,800.00;
    # D-4002 (04-20, ENT) 40,000 / 50,000 = 0.80 -> 5 % = 2,000.00;
    # ENT's target incentive 10,000 x 15 / 30 = 5,000.00 x linear payout 0.80 = 4,000.00
    result = CliRunner().invoke(
        app,
        [
            "estimate",
            "--plan",
            str(PLANS / "mid_month_move.yml"),
            "--credits",
            str(PLANS / "examples" / "move_credits.csv"),
            "--targets",
            str(PLANS / "examples" / "move_targets.csv"),
            "--format",
            "csv",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = [r.split(",") for r in result.stdout.strip().splitlines()]
    header = rows[0]
    lines = [dict(zip(header, r, strict=False)) for r in rows[1:]]
    paid = {(r["plan_id"], r["component"]): (r["target_amount"], r["commission_amount"]) for r in lines}
    assert paid[("AE-SMB", "bookings")] == ("50000.00", "4800.00")
    assert paid[("AE-ENT", "bookings")] == ("50000.00", "2000.00")
    assert paid[("AE-ENT", "incentive")][1] == "4000.00"


def test_the_plan_of_a_credit_follows_the_role_held_on_the_credit_date(tmp_path):
    # [SPIFF-PLANCHANGE]: ann is a rep until 2026-03-15 and a manager from 03-16 (hierarchy
    # versions); the rep plan pays 5 %, the manager plan 2 %: 100,000 on 03-10 -> 5,000.00,
    # 100,000 on 03-20 -> 2,000.00 (the current role alone would pay 2,000.00 twice).
    plans = parse_plan_text(
        """
plans:
  - {plan_id: REP, version: 1, effective_from: 2026-01-01, currency: USD,
     components: [{component: c, type: flat, measure: monthly_credited_amount, rate: 0.05}]}
  - {plan_id: MGR, version: 1, effective_from: 2026-01-01, currency: USD,
     components: [{component: c, type: flat, measure: monthly_credited_amount, rate: 0.02}]}
assignments:
  - {plan_id: REP, role: rep, valid_from: 2026-01-01}
  - {plan_id: MGR, role: manager, valid_from: 2026-01-01}
""",
        "roles.yml",
    )
    hierarchy = tmp_path / "h.csv"
    hierarchy.write_text(
        "rep_id,manager_id,valid_from,valid_to,role\nann,max,2026-01-01,2026-03-16,rep\n"
        "ann,dora,2026-03-16,,manager\nmax,,,,manager\ndora,,,,director\n",
        encoding="utf-8",
    )
    reps = {"ann": Rep("ann", role="manager")}
    credits = with_hierarchy(
        [credit("a", "2026-03-10", "100000"), credit("b", "2026-03-20", "100000")], reps, hierarchy
    )
    lines = calculate(plans, credits, reps)
    assert {(ln.credit_id, ln.plan_id): ln.commission_amount for ln in lines if ln.rep_id == "ann"} == {
        ("a", "REP"): D("5000.00"),
        ("b", "MGR"): D("2000.00"),
    }


def test_each_hierarchy_level_is_paid_by_its_role_on_the_credit_date(tmp_path):
    # Lee is a team lead (override 3 %) until 2026-05-31, a manager (override 2 %) from 06-01:
    # roll-up of 75,000 on 05-20 pays 2,250.00 (Prowi: a 3 % override on $75,000 is $2,250), on
    # 06-10 1,500.00.
    plans = parse_plan_text(
        """
plans:
  - {plan_id: TL, version: 1, effective_from: 2026-01-01, currency: USD,
     components: [{component: o, type: override, rate: 0.03}]}
  - {plan_id: MGR, version: 1, effective_from: 2026-01-01, currency: USD,
     components: [{component: o, type: override, rate: 0.02}]}
assignments:
  - {plan_id: TL, role: director, valid_from: 2026-01-01}
  - {plan_id: MGR, role: manager, valid_from: 2026-01-01}
""",
        "levels.yml",
    )
    hierarchy = tmp_path / "h.csv"
    hierarchy.write_text(
        "rep_id,manager_id,valid_from,valid_to,role\nann,lee,,,rep\n"
        "lee,,2026-01-01,2026-06-01,director\nlee,,2026-06-01,,manager\n",
        encoding="utf-8",
    )
    reps = {"ann": Rep("ann", role="rep")}
    credits = with_hierarchy(
        [credit("a", "2026-05-20", "75000"), credit("b", "2026-06-10", "75000")], reps, hierarchy
    )
    lines = calculate(plans, credits, reps)
    assert {ln.plan_id: ln.commission_amount for ln in lines if ln.rep_id == "lee"} == {
        "TL": D("2250.00"),
        "MGR": D("1500.00"),
    }


def test_the_nightly_chooses_the_plan_by_the_role_on_the_credit_date_and_reads_deal_attributes(tmp_path):
    # The nightly's engine step on the hierarchy dbt builds: ann is a rep until 2026-03-15, a
    # manager from 03-16 (two versions of dim_sales_rep_history) - [SPIFF-PLANCHANGE]. The rep plan
    # pays 5 % plus a 500.00 SPIF on Premium deals ([PROWI-SPIFF]); the manager plan 2 %.
    # a: 03-10, 100,000, Premium -> 5,000.00 + 500.00; b: 03-20, 100,000 -> 2,000.00.
    import duckdb
    from commissions_support import create_engine_inputs

    from flows.commissions.ledger import run_engine

    config = tmp_path / "config"
    config.mkdir()
    (config / "commission_plan.yml").write_text(
        """
plans:
  - {plan_id: REP, version: 1, effective_from: 2026-01-01, currency: USD,
     components: [{component: c, type: flat, measure: monthly_credited_amount, rate: 0.05},
                  {component: s, type: spif, amount_per_deal: 500, filters: {products: [Premium]}}]}
  - {plan_id: MGR, version: 1, effective_from: 2026-01-01, currency: USD,
     components: [{component: c, type: flat, measure: monthly_credited_amount, rate: 0.02}]}
assignments:
  - {plan_id: REP, role: rep, valid_from: 2026-01-01}
  - {plan_id: MGR, role: manager, valid_from: 2026-01-01}
""",
        encoding="utf-8",
    )
    conn = duckdb.connect()
    create_engine_inputs(conn)
    conn.execute("""
        create table marts.dim_sales_rep_history (
            rep_id varchar, email varchar, role varchar, manager_id varchar,
            valid_from date, valid_to date, is_current boolean, hired_on date, left_on date);
        insert into marts.dim_sales_rep_history values
            ('ann', 'ann@x.com', 'rep', null, '2025-01-01', '2026-03-16', false, null, null),
            ('ann', 'ann@x.com', 'manager', null, '2026-03-16', null, true, null, null);
        create table marts.fct_deals (deal_id varchar, account_id varchar, product_name varchar,
            is_won boolean, modified_at timestamp);
        insert into marts.fct_deals values
            ('a', 'acc', 'Premium', true, null), ('b', 'acc', 'Premium', true, null);
        insert into intermediate.int_commission_rep_months values
            ('ann', 'ann@x.com', 'manager', null, null, '2026-03-01', null, null);
    """)
    for cid, day in (("a", "2026-03-10"), ("b", "2026-03-20")):
        conn.execute(
            "insert into intermediate.int_credit_lines values (?, ?, 'ann', 'direct', 'booking', ?, "
            "'2026-03-01', 1, 100000, 'USD', 1, 100000, null)",
            [cid, cid, day],
        )
    run_engine(conn, SimpleNamespace(config_path=config, reporting_currency="USD"), date(2026, 4, 1))
    paid = conn.execute(
        "select credit_id, plan_id, component, commission_amount from finance.commission_lines "
        "order by 1, 2, 3"
    ).fetchall()
    assert paid == [
        ("a", "REP", "c", D("5000.00")),
        ("a", "REP", "s", D("500.00")),
        ("b", "MGR", "c", D("2000.00")),
    ]


def test_proration_by_hire_and_assignment_dates_gives_the_same_cents_in_the_nightly_and_estimate():
    # [ORACLE-RF]-style day counts, calendar days: ann hired 2026-04-11 (20 of April's 30 days
    # employed), on plan B from 04-21 (10 of the 20). Step 1, the hire/leave rule of the targets
    # mart: 100,000 x 20 / 30 = 66,666.666... -> 66,666.67; step 2: x 10 / 20 = 33,333.335 ->
    # 33,333.34 (half-up). The nightly passes 66,666.67 (already prorated), estimate 100,000.
    from flows.commissions.proration import plan_share, plan_target

    plans = parse_plan_text(
        """
plans:
  - {plan_id: A, version: 1, effective_from: 2026-01-01, currency: USD,
     components: [{component: c, type: flat, rate: 0.01}]}
  - {plan_id: B, version: 1, effective_from: 2026-01-01, currency: USD,
     components: [{component: c, type: flat, rate: 0.01}]}
assignments:
  - {plan_id: A, rep_id: ann, valid_from: 2026-01-01, valid_to: 2026-04-21}
  - {plan_id: B, rep_id: ann, valid_from: 2026-04-21}
""",
        "p.yml",
    )
    ann, april = Rep("ann", hired_on=date(2026, 4, 11)), date(2026, 4, 1)
    estimate = plan_target(D("100000.00"), plans, ann, ("B", 1), april, {}, full=True)
    nightly = plan_target(D("66666.67"), plans, ann, ("B", 1), april, {}, full=False)
    assert estimate == nightly == D("33333.34")
    assert plan_target(D("100000.00"), plans, ann, ("A", 1), april, {}, full=True) == D("33333.34")
    # a fixed amount: 10 days employed on B / 30 calendar days
    assert plan_share(plans, ann, ("B", 1), [april], {}) == D(10) / D(30)


def test_the_nightly_configuration_refuses_a_spif_segment_filter_it_could_never_match(tmp_path):
    """The nightly's credits carry product and industry, never a segment (the RFM segment changes
    every day): a ``segments`` filter would pay nobody without a word, so the configuration load
    refuses it, naming the file, plan, component and field. Products and industries load."""
    import shutil

    import yaml

    from flows.config.bundle import read_bundle
    from flows.config.errors import ConfigError

    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config, ignore=shutil.ignore_patterns("plans", "maven"))
    plan_file = config / "commission_plan.yml"
    book = yaml.safe_load(plan_file.read_text(encoding="utf-8"))
    spif = {"component": "push", "type": "spif", "amount_per_deal": 100, "filters": {"products": ["Premium"]}}
    book["plans"][0]["components"].append(spif)
    plan_file.write_text(yaml.safe_dump(book, sort_keys=False), encoding="utf-8")
    read_bundle(config)  # a product filter: the nightly knows each deal's product
    spif["filters"]["segments"] = ["Champions"]
    plan_file.write_text(yaml.safe_dump(book, sort_keys=False), encoding="utf-8")
    plan = book["plans"][0]
    with pytest.raises(ConfigError) as raised:
        read_bundle(config)
    assert f"config/commission_plan.yml plan {plan['plan_id']} v{plan['version']} component push" in str(
        raised.value
    )
    assert "field filters.segments" in str(raised.value)
