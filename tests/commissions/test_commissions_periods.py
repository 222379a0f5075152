"""Measurement periods (quarter / half / year measured, paid monthly with advances and true-ups)
and hierarchy cascades, through the engine, ``commissions estimate`` and the nightly's engine
step + ``commissions close``.

Every expected figure is computed by hand next to it from the published figures it cites:

* [SPIFF] Salesforce Trailhead, "Use Marginal Payout Rule Functions" (Salesforce Spiff): range
  table 0-150,000 at 4 %, 150,000-250,000 at 6 %, 250,000+ at 8 %; "A rep has closed $145,000 ...
  closes a new deal with $20,000 ... $5,000 ... at 4%, while $15,000 ... at 6% ... will return
  $1,100". The Spiff ``mpercent`` reference: the accumulated starting value is "previous progress
  toward a quarterly quota where commissions are calculated monthly". Spiff ``amount_from``: "A
  commission plan that pays year-to-date totals and subtracts previous earnings" (the true-up).
* [CYGNAL] Cygnal Group, "What is an override": "payout thresholds (e.g., no variable pay earned
  under 75% of the year-to-date goal)" - a gate on the goal of the months to date.
* [PROWI] Prowi glossary, "Override Commission": Rep A $75,000, manager override 3 % = $2,250;
  team total $300,000; tiered override on team quota attainment under 80 % 2 %, 80-100 % 3 %,
  100-120 % 4 %, over 120 % 5 %.
* [CORE] CoreCommissions, "Management Overrides: A Commission Within a Commission": 12 % of a sale
  paid in commission, "half of the commission goes directly to the sale rep (6%), and the other
  half is split ... among the chain of leadership".
* [IDYN] iDynamics, "Direct Commissions Example": salesperson 10 %, team manager 2 %, sub-manager
  1 % on the same sale.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest
from commissions_support import create_engine_inputs
from typer.testing import CliRunner

from flows.cli.commissions import app
from flows.commissions.close import close_period
from flows.commissions.engine import calculate
from flows.commissions.hierarchy import Hierarchy, HierarchyVersion, with_rollups
from flows.commissions.ledger import run_engine
from flows.commissions.lines import Credit, Rep, statement_totals
from flows.commissions.periods import period_label, period_start
from flows.config.commission_plan import PlanError, load_plan_file, parse_plan_text

ROOT = Path(__file__).resolve().parents[2]
JAN, FEB, MAR, APR = (date(2026, m, 1) for m in (1, 2, 3, 4))
SPIFF_TIERS = """
        tiers:
          - {band_lower: 0, band_upper: 150000, rate: 0.04}
          - {band_lower: 150000, band_upper: 250000, rate: 0.06}
          - {band_lower: 250000, band_upper: null, rate: 0.08}
"""


def plan(component: str, assignments: str = "", plan_extra: str = "") -> object:
    return parse_plan_text(
        f"""
plans:
  - plan_id: P
    version: 1
    effective_from: 2026-01-01
    currency: USD
{plan_extra}    components:
{component}
{assignments}
""",
        "test.yml",
    )


def credit(cid: str, day: str, amount: str, rep: str = "ann", **kw) -> Credit:
    return Credit(cid, cid, rep, date.fromisoformat(day), D(amount), **kw)


YTD_GATE = """      - component: bookings
        type: flat
        rate: 0.04
        measurement_period: year
        quota: to_date
        gate: {min_attainment: 0.75}"""
YTD_TARGETS = {("ann", JAN): D("100000"), ("ann", FEB): D("100000"), ("ann", MAR): D("100000")}
YTD_CREDITS = [credit("d1", "2026-01-15", "70000"), credit("d2", "2026-02-10", "90000")]


def totals(lines, rep: str = "ann") -> dict[date, D]:
    return {p: t for (r, p), t in statement_totals(lines).items() if r == rep}


# --- measurement periods -------------------------------------------------------------------------


def test_fiscal_periods_follow_the_fiscal_year_start():
    assert period_start(date(2026, 2, 1), "quarter") == JAN
    assert period_start(date(2026, 6, 1), "half") == JAN
    # fiscal year from April: FY2026 = Apr 2026 - Mar 2027; Q4 = Jan-Mar 2027, H2 = Oct-Mar
    assert period_start(date(2027, 2, 1), "quarter", 4) == date(2027, 1, 1)
    assert period_start(date(2027, 2, 1), "half", 4) == date(2026, 10, 1)
    assert period_start(date(2027, 2, 1), "year", 4) == date(2026, 4, 1)
    assert period_label(date(2027, 1, 1), "quarter", 4) == "FY2026-Q4"
    assert period_label(date(2026, 10, 1), "half", 4) == "FY2026-H2"


def test_quarter_to_date_marginal_tiers_pay_the_spiff_figure():
    # [SPIFF]: $145,000 closed earlier in the quarter (January), a $20,000 deal in February:
    # 5,000 x 4 % + 15,000 x 6 % = 200 + 900 = 1,100.00 (the figure Spiff states). January:
    # 145,000 x 4 % = 5,800.00. Measured per calendar month, February would pay 20,000 x 4 % = 800.
    book = plan(
        f"""      - component: bookings
        type: tiered_marginal
        measure: monthly_credited_amount
        measurement_period: quarter
{SPIFF_TIERS}"""
    )
    lines = calculate(book, [credit("d1", "2026-01-20", "145000"), credit("d2", "2026-02-12", "20000")])
    assert totals(lines) == {JAN: D("5800.00"), FEB: D("1100.00")}
    feb = {ln.commission_line_id: ln.commission_amount for ln in lines if ln.period_month == FEB}
    assert feb == {"d2:P:v1:bookings:1": D("200.00"), "d2:P:v1:bookings:2": D("900.00")}


def test_retroactive_quarter_pays_monthly_advances_and_true_ups():
    # The example plan config/plans/quarterly_advances.yml: the [SPIFF] table, the band reached
    # applies to the whole quarter to date; pay = quarter-to-date result - paid ([SPIFF] amount_from).
    # Jan: 145,000 in band 1: 145,000 x 4 % = 5,800.00 (advance).
    # Feb: +20,000 -> 165,000 in band 2: result 165,000 x 6 % = 9,900.00; paid 5,800.00 -> 4,100.00
    #      = advance 20,000 x 6 % = 1,200.00 + true-up of January's deal 145,000 x (6 % - 4 %) = 2,900.00.
    # Mar: +100,000 -> 265,000 in band 3: result 265,000 x 8 % = 21,200.00; paid 9,900.00 -> 11,300.00
    #      = advance 100,000 x 8 % = 8,000.00 + true-ups 145,000 x 2 % = 2,900.00 and 20,000 x 2 % = 400.00.
    # Apr: a new quarter: 50,000 x 4 % = 2,000.00. The quarter paid 5,800 + 4,100 + 11,300 = 21,200.00.
    book = load_plan_file(ROOT / "config/plans/quarterly_advances.yml")
    credits = [
        credit("Q-1", "2026-01-20", "145000"),
        credit("Q-2", "2026-02-12", "20000"),
        credit("Q-3", "2026-03-25", "100000"),
        credit("Q-4", "2026-04-08", "50000"),
    ]
    lines = calculate(book, credits)
    assert totals(lines) == {JAN: D("5800.00"), FEB: D("4100.00"), MAR: D("11300.00"), APR: D("2000.00")}
    feb = [ln for ln in lines if ln.period_month == FEB]
    true_ups = [ln for ln in feb if ln.commission_line_id.startswith("trueup:2026-02:")]
    related = {ln.related_line_id for ln in true_ups}
    assert related == {"Q-1:AE-QUARTERLY:v1:bookings:1", "Q-1:AE-QUARTERLY:v1:bookings:2"}
    assert sum(ln.commission_amount for ln in true_ups) == D("2900.00")
    assert all(ln.line_type == "commission" and ln.deal_id == "Q-1" for ln in true_ups)


def test_year_to_date_gate_holds_back_then_releases():
    # [CYGNAL]: nothing below 75 % of the year-to-date goal. Goal 100,000 a month; flat 4 % ([SPIFF]
    # tier 1 rate). Jan: 70,000 of a YTD goal of 100,000 = 70 % < 75 %: 0.00.
    # Feb: 160,000 of 200,000 = 80 %: result 160,000 x 4 % = 6,400.00; paid 0 -> Feb pays 6,400.00
    # (January's 2,800.00 released as a true-up, February's advance 3,600.00).
    # Mar, no sale: 160,000 of a YTD goal of 300,000 = 53.3 % < 75 %: result 0.00; paid 6,400.00 ->
    # a negative true-up of -6,400.00 (a deficit of the period to date, not a clawback of a deal).
    # What March PAYS follows the plan's `balances` setting: this plan has none, so the default
    # applies - never a negative payroll row: March pays 0.00 and the -6,400.00 is carried forward
    # as a deficit (a deficit_carry line of +6,400.00), recovered from later earnings.
    # test_ytd_gate_with_negative_payout_allowed asserts the -6,400.00 row of a plan that allows it.
    book = plan(YTD_GATE)
    lines = calculate(book, YTD_CREDITS, targets=YTD_TARGETS)
    assert totals(lines) == {JAN: D("0.00"), FEB: D("6400.00"), MAR: D("0.00")}
    mar = {ln.commission_line_id: ln.commission_amount for ln in lines if ln.period_month == MAR}
    assert mar == {"trueup:2026-03:d2:P:v1:bookings:0": D("-3600.00"),
                   "trueup:2026-03:d1:P:v1:bookings:0": D("-2800.00"),
                   "deficit-carry:ann:2026-03": D("6400.00")}  # fmt: skip
    feb = {ln.commission_line_id: ln.commission_amount for ln in lines if ln.period_month == FEB}
    assert feb == {"d2:P:v1:bookings:0": D("3600.00"), "trueup:2026-02:d1:P:v1:bookings:0": D("2800.00")}


def test_ytd_gate_with_negative_payout_allowed():
    # The same figures with `balances: {allow_negative_payout: true}`: March is a -6,400.00 row (the
    # period-to-date result 0.00 minus the 6,400.00 paid), as before balances existed.
    book = plan(YTD_GATE, plan_extra="    balances: {allow_negative_payout: true}\n")
    lines = calculate(book, YTD_CREDITS, targets=YTD_TARGETS)
    assert totals(lines) == {JAN: D("0.00"), FEB: D("6400.00"), MAR: D("-6400.00")}
    assert not any(ln.component_type == "deficit" for ln in lines)


def test_quota_period_is_the_whole_quarters_quota_and_bonus_is_paid_once():
    # A 100 % milestone of the quarter's quota (3 x 50,000 = 150,000), amount 1,000: paid in the
    # month the quarter-to-date credit reaches 150,000 (Feb: 80,000 + 70,000), never again.
    book = plan(
        """      - component: quota_bonus
        type: bonus
        measurement_period: quarter
        milestones: [{attainment: 1.00, amount: 1000}]"""
    )
    targets = {("ann", m): D("50000") for m in (JAN, FEB, MAR)}
    credits = [
        credit("d1", "2026-01-05", "80000"),
        credit("d2", "2026-02-05", "70000"),
        credit("d3", "2026-03-05", "1"),
    ]
    assert totals(calculate(book, credits, targets=targets)) == {FEB: D("1000.00")}  # no line in Jan or Mar


def test_a_cancelled_credit_in_a_quarter_is_clawed_back_once_not_also_trued_up():
    # Flat 4 % quarterly: Jan d1 100,000 -> 4,000.00; d1 cancelled in Feb -> clawback -4,000.00, and
    # no true-up of the same amount on top (the credit leaves the quarter's result).
    book = plan("      - {component: bookings, type: flat, rate: 0.04, measurement_period: quarter}")
    lines = calculate(book, [credit("d1", "2026-01-05", "100000", reversed_on=date(2026, 2, 3))])
    # February nets -4,000.00, carried forward as a deficit (paid 0.00; the plan has no `balances`)
    assert totals(lines) == {JAN: D("4000.00"), FEB: D("0.00")}
    assert [ln.line_type for ln in lines if ln.period_month == FEB] == ["clawback", "deficit_carry"]


def test_month_measurement_is_unchanged_and_quota_to_date_needs_a_longer_period():
    with pytest.raises(PlanError, match="quota to_date needs a measurement_period"):
        plan("      - {component: b, type: flat, rate: 0.04, quota: to_date}")
    with pytest.raises(PlanError, match="levels"):
        plan("      - {component: b, type: flat, rate: 0.04, levels: [1]}")


# --- hierarchy cascades ---------------------------------------------------------------------------


CASCADE = ROOT / "config/plans/override_cascade.yml"
CHAIN = [
    HierarchyVersion("ann", "lee", date(2026, 1, 1)),
    HierarchyVersion("lee", "max", date(2026, 1, 1)),
    HierarchyVersion("max", "dora", date(2026, 1, 1)),
]
PEOPLE = {
    "ann": Rep("ann", "ann@example.com", "rep"),
    "lee": Rep("lee", "tl.lee@example.com", "manager"),
    "max": Rep("max", "max@example.com", "manager"),
    "dora": Rep("dora", "dora@example.com", "director"),
}


def test_three_level_cascade_pays_every_level_by_its_own_plan():
    # [CORE] 12 % in total, 6 % to the rep, 6 % shared by the chain: team lead 3 % ([PROWI]: 3 % of
    # Rep A's $75,000 = $2,250), manager 2 % and director 1 % ([IDYN] manager 2 % / sub-manager 1 %).
    # 75,000 x 6 % = 4,500.00; x 3 % = 2,250.00; x 2 % = 1,500.00; x 1 % = 750.00; total 9,000.00 = 12 %.
    book = load_plan_file(CASCADE)
    credits = with_rollups([credit("C-1", "2026-03-10", "75000")], Hierarchy.of(CHAIN))
    assert [c.credit_id for c in credits] == ["C-1", "C-1>lee", "C-1>lee>max", "C-1>lee>max>dora"]
    lines = calculate(book, credits, dict(PEOPLE))
    by_rep = {r: t for (r, _), t in statement_totals(lines).items()}
    assert by_rep == {"ann": D("4500.00"), "lee": D("2250.00"), "max": D("1500.00"), "dora": D("750.00")}
    assert sum(by_rep.values()) == D("9000.00")


def test_roll_up_follows_the_hierarchy_of_the_credit_date():
    # ann moves from team lead lee to team lead tia on 2026-03-15: the 2026-03-10 deal rolls up to
    # lee, the 2026-03-20 deal to tia (as of each credit date), both to max and dora above them.
    versions = [
        HierarchyVersion("ann", "lee", date(2026, 1, 1), date(2026, 3, 15)),
        HierarchyVersion("ann", "tia", date(2026, 3, 15)),
        HierarchyVersion("lee", "max", date(2026, 1, 1)),
        HierarchyVersion("tia", "max", date(2026, 1, 1)),
        HierarchyVersion("max", "dora", date(2026, 1, 1)),
    ]
    credits = with_rollups(
        [credit("a", "2026-03-10", "10000"), credit("b", "2026-03-20", "20000")], Hierarchy.of(versions)
    )
    assert {c.credit_id: c.rollup_level for c in credits if c.kind == "rollup"} == {
        "a>lee": 1,
        "a>lee>max": 2,
        "a>lee>max>dora": 3,
        "b>tia": 1,
        "b>tia>max": 2,
        "b>tia>max>dora": 3,
    }


def test_existing_one_level_override_ignores_deeper_levels():
    # An override without `levels` pays on level 1 only (today's plans): a director two levels up
    # receives nothing from MGR-OVERRIDE-style components.
    book = plan("      - {component: o, type: override, rate: 0.01}")
    credits = with_rollups([credit("d", "2026-03-10", "10000")], Hierarchy.of(CHAIN[:2]))
    by_rep = {r: t for (r, _), t in statement_totals(calculate(book, credits)).items()}
    assert by_rep == {"lee": D("100.00")}  # 10,000 x 1 %; max (level 2) gets no line


def test_team_quota_measured_on_roll_up_credit():
    # [PROWI] tiered override on team quota attainment (2 % / 3 % / 4 % / 5 % at 80 / 100 / 120 %),
    # team total $300,000 against a team quota of 300,000: attainment 100 %, a boundary belongs to
    # the higher band -> 4 % on all of it (retroactive): 300,000 x 4 % = 12,000.00.
    book = plan(
        """      - component: team
        type: tiered_retroactive
        credit_kinds: [rollup]
        levels: [1, 2]
        attainment_on: component
        tiers:
          - {band_lower: 0.00, band_upper: 0.80, rate: 0.02}
          - {band_lower: 0.80, band_upper: 1.00, rate: 0.03}
          - {band_lower: 1.00, band_upper: 1.20, rate: 0.04}
          - {band_lower: 1.20, band_upper: null, rate: 0.05}"""
    )
    sales = [("A", "75000"), ("B", "60000"), ("C", "67500"), ("D", "52500"), ("E", "45000")]  # [PROWI]
    versions = [HierarchyVersion(f"rep{r}", "mgr", date(2026, 1, 1)) for r, _ in sales]
    credits = with_rollups(
        [credit(f"d{r}", "2026-03-10", amt, rep=f"rep{r}") for r, amt in sales], Hierarchy.of(versions)
    )
    lines = [ln for ln in calculate(book, credits, targets={("mgr", MAR): D("300000")}) if ln.rep_id == "mgr"]
    assert sum(ln.commission_amount for ln in lines) == D("12000.00")
    assert {ln.attainment for ln in lines} == {D("1.000000")}


# --- through estimate -----------------------------------------------------------------------------


def test_estimate_runs_both_example_plans():
    runner = CliRunner()
    out = runner.invoke(
        app,
        [
            "estimate",
            "--plan",
            str(ROOT / "config/plans/quarterly_advances.yml"),
            "--credits",
            str(ROOT / "config/plans/examples/quarterly_credits.csv"),
        ],
    )
    assert out.exit_code == 0, out.output
    assert "2026-02  ann  4100.00" in out.output and "2026-03  ann  11300.00" in out.output
    out = runner.invoke(
        app,
        [
            "estimate",
            "--plan",
            str(CASCADE),
            "--credits",
            str(ROOT / "config/plans/examples/cascade_credits.csv"),
            "--hierarchy",
            str(ROOT / "config/plans/examples/cascade_hierarchy.csv"),
        ],
    )
    assert out.exit_code == 0, out.output
    for rep, total in (("ann", "4500.00"), ("lee", "2250.00"), ("max", "1500.00"), ("dora", "750.00")):
        assert f"2026-03  {rep}  {total}" in out.output


# --- through the nightly's engine step and close ----------------------------------------------------


def _warehouse(tmp_path: Path, plan_file: Path, credits, months, hierarchy) -> SimpleNamespace:
    config = tmp_path / "config"
    config.mkdir()
    (config / "commission_plan.yml").write_text(plan_file.read_text(encoding="utf-8"), encoding="utf-8")
    conn = duckdb.connect()
    create_engine_inputs(conn)
    conn.execute("""
        create table marts.dim_sales_rep_history (
            rep_id varchar, email varchar, role varchar, manager_id varchar,
            valid_from date, valid_to date, is_current boolean, hired_on date, left_on date)""")
    for cid, rep, day, amount in credits:
        _add_credit(conn, cid, day, amount, rep)
    for rep, email, role, month in months:
        conn.execute(
            "insert into intermediate.int_commission_rep_months values (?, ?, ?, null, null, ?, null, null)",
            [rep, email, role, month],
        )
    for rep, email, role, manager in hierarchy:
        conn.execute(
            "insert into marts.dim_sales_rep_history "
            "values (?, ?, ?, ?, '2025-01-01', null, true, null, null)",
            [rep, email, role, manager],
        )
    settings = SimpleNamespace(config_path=config, reporting_currency="USD")
    return SimpleNamespace(conn=conn, settings=settings)


def _add_credit(conn, cid: str, day: str, amount: str, rep: str = "ann") -> None:
    conn.execute(
        "insert into intermediate.int_credit_lines values (?, ?, ?, 'direct', 'booking', ?, "
        "date_trunc('month', cast(? as date)), 1, ?, 'USD', 1, ?, null)",
        [cid, cid, rep, day, day, amount, amount],
    )


def _totals(conn, table: str = "finance.commission_lines") -> dict[tuple[str, date], D]:
    rows = conn.execute(f"select rep_id, period_month, sum(commission_amount) from {table} group by 1, 2")
    return {(r, p): t for r, p, t in rows.fetchall()}


def test_nightly_and_close_pay_the_quarterly_true_ups(tmp_path):
    # The same figures as test_retroactive_quarter_pays_monthly_advances_and_true_ups, month by month:
    # January is calculated and closed before February's deal exists; February's true-up then pays
    # the difference to what the closed January paid (5,800.00), and so on.
    wh = _warehouse(
        tmp_path,
        ROOT / "config/plans/quarterly_advances.yml",
        [("Q-1", "ann", "2026-01-20", "145000")],
        [("ann", "ann@example.com", "rep", m) for m in (JAN, FEB, MAR)],
        [("ann", "ann@example.com", "rep", None)],
    )
    run_engine(wh.conn, wh.settings, date(2026, 2, 1))
    close_period(wh.conn, JAN)
    _add_credit(wh.conn, "Q-2", "2026-02-12", "20000")
    run_engine(wh.conn, wh.settings, date(2026, 3, 1))
    close_period(wh.conn, FEB)
    _add_credit(wh.conn, "Q-3", "2026-03-25", "100000")
    run_engine(wh.conn, wh.settings, date(2026, 4, 1))
    close_period(wh.conn, MAR)
    closed = _totals(wh.conn, "finance.closed_statement_lines")
    assert closed == {("ann", JAN): D("5800.00"), ("ann", FEB): D("4100.00"), ("ann", MAR): D("11300.00")}


def test_nightly_rolls_up_to_every_level_and_close_snapshots_it(tmp_path):
    # The cascade figures above, from dbt's hierarchy (marts.dim_sales_rep_history) and credits.
    wh = _warehouse(
        tmp_path,
        CASCADE,
        [("C-1", "ann", "2026-03-10", "75000")],
        [("ann", "ann@example.com", "rep", MAR)],
        [
            ("ann", "ann@example.com", "rep", "lee"),
            ("lee", "tl.lee@example.com", "manager", "max"),
            ("max", "max@example.com", "manager", "dora"),
            ("dora", "dora@example.com", "director", None),
        ],
    )
    run_engine(wh.conn, wh.settings, date(2026, 4, 1))
    close_period(wh.conn, MAR)
    assert _totals(wh.conn, "finance.closed_statement_lines") == {
        ("ann", MAR): D("4500.00"),
        ("lee", MAR): D("2250.00"),
        ("max", MAR): D("1500.00"),
        ("dora", MAR): D("750.00"),
    }
