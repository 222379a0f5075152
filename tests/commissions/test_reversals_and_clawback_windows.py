"""Reversal policy (keep | recompute) and clawback windows, through the engine, ``commissions
estimate`` and the nightly's engine step + ``commissions close``.

Every expected figure is computed by hand next to it from the published figures it cites:

* [SPIFF] Salesforce Trailhead, "Use Marginal Payout Rule Functions" (Salesforce Spiff): the range
  table 0-150,000 at 4 %, 150,000-250,000 at 6 %, 250,000+ at 8 %, and "A rep has closed $145,000
  ... closes a new deal with $20,000" - here read retroactively on the month.
* [CORE8] Core8 docs, "Commission plan patterns: Clawbacks and early exit": "Earned commission:
  $10,000 - Early termination triggers 50% clawback - Post a CLAWBACK adjustment of -5,000 in the
  clawback period"; "Decide (and document) which date anchors the behavior: booking date vs invoice
  date vs payment date".
* [GANGLY] Gangly, "Sales Clawback: How It Works and When It Triggers": clawbacks are "most
  commonly triggered within 90-180 days of contract execution ... full, partial, or sliding-scale".
* [SCOOKIE] Sales Cookie, "Retroactive sales data and true-ups": "The rep who got paid an
  accelerator in March no longer qualifies because the deal no longer belongs to March" - the
  recompute reading of a reversal.
"""

from __future__ import annotations

import json
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
from flows.commissions.ledger import run_engine
from flows.commissions.lines import Credit
from flows.commissions.pay_warnings import pay_warnings
from flows.config.commission_plan import PlanError, parse_plan_text

ROOT = Path(__file__).resolve().parents[2]
JAN, FEB, MAR, JUN = (date(2026, m, 1) for m in (1, 2, 3, 6))
RECOMPUTE = ROOT / "config/plans/recompute_clawback_windows.yml"
WINDOWS = """    clawback:
      anchor: {anchor}
      windows:
        - {{within_days: 90, percent: 100}}
        - {{within_days: 180, percent: 50}}
"""


def plan(component: str, extra: str = "") -> object:
    return parse_plan_text(
        f"""
plans:
  - plan_id: P
    version: 1
    effective_from: 2026-01-01
    currency: USD
{extra}    components:
{component}
""",
        "test.yml",
    )


FLAT_10 = "      - {component: b, type: flat, measure: monthly_credited_amount, rate: 0.10}"
SPIFF_RETRO = """      - component: bookings
        type: tiered_retroactive
        measure: monthly_credited_amount
        tiers:
          - {band_lower: 0, band_upper: 150000, rate: 0.04}
          - {band_lower: 150000, band_upper: 250000, rate: 0.06}
          - {band_lower: 250000, band_upper: null, rate: 0.08}"""


def credit(cid: str, day: str, amount: str, rep: str = "ann", **kw) -> Credit:
    return Credit(cid, cid, rep, date.fromisoformat(day), D(amount), **kw)


def by_id(lines, period: date | None = None) -> dict[str, D]:
    return {ln.commission_line_id: ln.commission_amount for ln in lines if period in (None, ln.period_month)}


# --- clawback windows ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cancelled", "expected"),
    [
        ("2026-03-01", D("-10000.00")),  # 59 days after the close: within 90 -> 100 %
        ("2026-04-02", D("-10000.00")),  # exactly 90 days: "within 90 days" includes day 90
        ("2026-05-01", D("-5000.00")),  # 119 days: within 180 -> 50 % ([CORE8]: 10,000 -> -5,000)
        ("2026-07-01", D("-5000.00")),  # exactly 180 days
        ("2026-07-02", D("0.00")),  # 181 days: after the last window, nothing ([GANGLY] 90-180)
    ],
)
def test_clawback_window_by_days_from_the_close_date(cancelled, expected):
    # flat 10 % on a 100,000 deal closed 2026-01-02 = 10,000.00 earned ([CORE8]'s figure)
    book = plan(FLAT_10, WINDOWS.format(anchor="close_date"))
    c = credit("d1", "2026-01-02", "100000", reversed_on=date.fromisoformat(cancelled))
    lines = calculate(book, [c])
    claws = [ln for ln in lines if ln.line_type == "clawback"]
    assert [ln.commission_amount for ln in claws] == [expected]
    assert claws[0].related_line_id == "d1:P:v1:b:0"
    if expected == 0:
        assert "after the last window (180 days), nothing clawed back" in claws[0].explanation


def test_clawback_window_anchored_on_invoice_or_payment_and_a_missing_anchor_is_warned():
    # close 2026-01-02, invoiced 2026-03-01, paid 2026-05-01, cancelled 2026-07-15:
    # from the invoice 136 days -> 50 %: -5,000.00; from the payment 75 days -> 100 %: -10,000.00.
    # Without an invoice date the window cannot be measured: clawed back in full, and warned.
    deal = dict(reversed_on=date(2026, 7, 15))
    paid = Credit("d1:pay", "d1", "ann", date(2026, 5, 1), D("100000"), basis="collection")
    for anchor, invoice, expected in (
        ("invoice_date", date(2026, 3, 1), D("-5000.00")),
        ("payment_date", None, D("-10000.00")),
        ("invoice_date", None, D("-10000.00")),
    ):
        book = plan(FLAT_10, WINDOWS.format(anchor=anchor))
        credits = [credit("d1", "2026-01-02", "100000", invoice_date=invoice, **deal), paid]
        lines = calculate(book, credits)
        assert by_id(lines)["clawback:d1:P:v1:b:0"] == expected, anchor
        found = [w.warning_code for w in pay_warnings(book, credits, {}, {}, lines)]
        assert ("clawback_anchor_missing" in found) == (anchor == "invoice_date" and invoice is None)


def test_windows_must_increase_and_percents_stay_within_100():
    with pytest.raises(PlanError, match=r"windows\[1\]\.within_days.*must be greater"):
        plan(
            FLAT_10,
            "    clawback: {windows: [{within_days: 180, percent: 50}, {within_days: 90, percent: 100}]}\n",
        )
    with pytest.raises(PlanError, match="percent"):
        plan(FLAT_10, "    clawback: {windows: [{within_days: 90, percent: 150}]}\n")


# --- reversal policy ------------------------------------------------------------------------------


def test_keep_vs_recompute_on_the_spiff_table():
    # [SPIFF] table, retroactive on the month. January: d1 145,000 (Jan 20) + d2 20,000 (Jan 25) =
    # 165,000, band 2: both at 6 %: 8,700.00 + 1,200.00 = 9,900.00. d2 cancelled on 2026-03-10.
    # keep: March claws back d2's 1,200.00 only; d1 keeps 6 % (January's attainment stands).
    # recompute ([SCOOKIE]): January without d2 is 145,000, band 1: d1 earns 145,000 x 4 % = 5,800.00,
    # so March also posts d1's difference 5,800.00 - 8,700.00 = -2,900.00 (band-2 line -8,700.00,
    # band-1 line +5,800.00, each linked to d1's January line): March = -1,200.00 - 2,900.00 = -4,100.00.
    credits = [
        credit("d1", "2026-01-20", "145000"),
        credit("d2", "2026-01-25", "20000", reversed_on=date(2026, 3, 10)),
    ]
    allow = "    balances: {allow_negative_payout: true}\n"
    keep = calculate(plan(SPIFF_RETRO, allow), credits)
    assert by_id(keep, MAR) == {"clawback:d2:P:v1:bookings:2": D("-1200.00")}
    again = calculate(plan(SPIFF_RETRO, allow + "    on_reversal: recompute\n"), credits)
    assert by_id(again, JAN) == {"d1:P:v1:bookings:2": D("8700.00"), "d2:P:v1:bookings:2": D("1200.00")}
    assert by_id(again, MAR) == {
        "recompute:2026-03:d2:d1:P:v1:bookings:1": D("5800.00"),
        "recompute:2026-03:d2:d1:P:v1:bookings:2": D("-8700.00"),
        "clawback:d2:P:v1:bookings:2": D("-1200.00"),
    }
    adjustments = [ln for ln in again if ln.line_type == "adjustment"]
    assert {(ln.related_line_id, ln.source_period, ln.deal_id) for ln in adjustments} == {
        ("d1:P:v1:bookings:1", JAN, "d1"),
        ("d1:P:v1:bookings:2", JAN, "d1"),
    }
    assert all("credit d2 (deal d2) cancelled on 2026-03-10" in ln.explanation for ln in adjustments)


def test_recompute_re_evaluates_a_bonus_and_a_component_can_keep():
    # A 1,000.00 bonus at 100 % of a 150,000 target (illustrative plan amounts): January 165,000 =
    # 110 % reaches it; without d2 (145,000 = 96.7 %) it is lost: -1,000.00 in March. The SPIF-like
    # `keep` component (flat 1 %) is not re-evaluated: only d2's own 200.00 is clawed back.
    comps = (
        "      - {component: bonus, type: bonus, milestones: [{attainment: 1.00, amount: 1000}]}\n"
        "      - {component: spif, type: flat, rate: 0.01, on_reversal: keep}"
    )
    book = plan(comps, "    on_reversal: recompute\n    balances: {allow_negative_payout: true}\n")
    credits = [
        credit("d1", "2026-01-20", "145000"),
        credit("d2", "2026-01-25", "20000", reversed_on=date(2026, 3, 10)),
    ]
    lines = calculate(book, credits, targets={("ann", JAN): D("150000")})
    assert by_id(lines, MAR) == {
        "recompute:2026-03:d2:bonus:ann:2026-01:P:v1:bonus:1": D("-1000.00"),
        "clawback:d2:P:v1:spif:0": D("-200.00"),
    }


def test_recompute_is_refused_on_a_longer_measurement_period():
    with pytest.raises(PlanError, match="recompute is for components measured per month"):
        plan(
            "      - {component: q, type: flat, rate: 0.04, measurement_period: quarter, "
            "on_reversal: recompute}"
        )
    with pytest.raises(PlanError, match="give 'q' on_reversal: keep"):
        plan(
            "      - {component: q, type: flat, rate: 0.04, measurement_period: quarter}",
            "    on_reversal: recompute\n",
        )


def test_the_example_plan_runs_through_estimate_with_the_50_percent_window():
    # config/plans/recompute_clawback_windows.yml + examples/recompute_credits.csv: R-2 (closed
    # 2026-01-25) cancelled 2026-06-10 = 136 days: within 180 -> 50 % ([CORE8]'s 50 %). June: clawback
    # -1,200.00 x 50 % = -600.00; recompute -2,900.00 x 50 % = -1,450.00 (+2,900.00 / -4,350.00);
    # June totals -2,050.00 and pays 0.00: the plan's default balances carry the deficit forward.
    out = CliRunner().invoke(
        app,
        ["estimate", "--plan", str(RECOMPUTE), "--format", "json",
         "--credits", str(ROOT / "config/plans/examples/recompute_credits.csv")],
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    result = json.loads(out.output)
    june = {
        ln["commission_line_id"]: ln["commission_amount"]
        for ln in result["lines"]
        if ln["period_month"] == "2026-06-01"
    }
    assert june == {
        "recompute:2026-06:R-2:R-1:AE-RECOMPUTE:v1:bookings:1": "2900.00",
        "recompute:2026-06:R-2:R-1:AE-RECOMPUTE:v1:bookings:2": "-4350.00",
        "clawback:R-2:AE-RECOMPUTE:v1:bookings:2": "-600.00",
        "deficit-carry:ann:2026-06": "2050.00",
    }
    assert {"rep_id": "ann", "period_month": "2026-06-01", "balance": "2050.00"} in result["deficit_balances"]


# --- through the nightly's engine step and close ------------------------------------------------------


def _warehouse(tmp_path: Path, plan_file: Path) -> SimpleNamespace:
    config = tmp_path / "config"
    config.mkdir()
    (config / "commission_plan.yml").write_text(plan_file.read_text(encoding="utf-8"), encoding="utf-8")
    conn = duckdb.connect()
    create_engine_inputs(conn)
    for month in (JAN, FEB, MAR):
        conn.execute(
            "insert into intermediate.int_commission_rep_months values "
            "('ann', 'ann@example.com', 'rep', null, null, ?, null, null)",
            [month],
        )
    return SimpleNamespace(conn=conn, settings=SimpleNamespace(config_path=config, reporting_currency="USD"))


def _add_credit(conn, cid: str, day: str, amount: str, reversed_on: str | None = None) -> None:
    conn.execute(
        "insert into intermediate.int_credit_lines values (?, ?, 'ann', 'direct', 'booking', ?, "
        "date_trunc('month', cast(? as date)), 1, ?, 'USD', 1, ?, ?)",
        [cid, cid, day, day, amount, amount, reversed_on],
    )


def _totals(conn, table: str) -> dict[date, D]:
    rows = conn.execute(f"select period_month, sum(commission_amount) from {table} group by 1")
    return dict(rows.fetchall())


def test_nightly_recompute_posts_in_the_first_open_month_and_never_changes_the_closed_one(tmp_path):
    # The [SPIFF] figures: January paid 9,900.00 and closed. R-2 is cancelled on 2026-02-10 (16 days
    # after its close: 100 %): February (open) gets the clawback -1,200.00 and the recompute of R-1
    # -2,900.00 = -4,100.00, carried forward as a deficit (paid 0.00); January's closed lines stay.
    wh = _warehouse(tmp_path, RECOMPUTE)
    _add_credit(wh.conn, "R-1", "2026-01-20", "145000")
    _add_credit(wh.conn, "R-2", "2026-01-25", "20000")
    run_engine(wh.conn, wh.settings, date(2026, 2, 1))
    close_period(wh.conn, JAN, today=date(2026, 2, 1))
    closed = wh.conn.execute("select * from finance.closed_statement_lines order by 1").fetchall()
    wh.conn.execute(
        "update intermediate.int_credit_lines set reversed_on = '2026-02-10' where credit_id = 'R-2'"
    )
    run_engine(wh.conn, wh.settings, date(2026, 3, 1))
    assert wh.conn.execute("select * from finance.closed_statement_lines order by 1").fetchall() == closed
    feb = dict(
        wh.conn.execute(
            "select commission_line_id, commission_amount from finance.commission_lines "
            "where period_month = ?",
            [FEB],
        ).fetchall()
    )
    assert feb == {
        "recompute:2026-02:R-2:R-1:AE-RECOMPUTE:v1:bookings:1": D("5800.00"),
        "recompute:2026-02:R-2:R-1:AE-RECOMPUTE:v1:bookings:2": D("-8700.00"),
        "clawback:R-2:AE-RECOMPUTE:v1:bookings:2": D("-1200.00"),
        "deficit-carry:ann:2026-02": D("4100.00"),
    }
    close_period(wh.conn, FEB, today=date(2026, 3, 1))
    assert _totals(wh.conn, "finance.closed_statement_lines") == {JAN: D("9900.00"), FEB: D("0.00")}
    # a later run changes nothing of either closed month and posts nothing twice
    run_engine(wh.conn, wh.settings, date(2026, 3, 20))
    assert _totals(wh.conn, "finance.commission_lines") == {JAN: D("9900.00"), FEB: D("0.00")}


def test_nightly_reads_the_first_invoice_date_for_an_invoice_anchored_window(tmp_path):
    # [CORE8]'s 10,000.00 (flat 10 % of 100,000), window anchored on the invoice ([CORE8]: "booking date
    # vs invoice date vs payment date"): closed 2026-01-02, first invoice 2026-01-20 (dbt's
    # int_deal_invoice_dates), cancelled 2026-05-01 = 101 days after the invoice: 50 % -> -5,000.00.
    plan_file = tmp_path / "plan.yml"
    plan_file.write_text(
        "plans:\n  - plan_id: P\n    version: 1\n    effective_from: 2026-01-01\n    currency: USD\n"
        + WINDOWS.format(anchor="invoice_date")
        + "    components:\n" + FLAT_10 + "\n",
        encoding="utf-8",
    )  # fmt: skip
    wh = _warehouse(tmp_path, plan_file)
    wh.conn.execute(
        "create table intermediate.int_deal_invoice_dates (deal_id varchar, first_invoice_date date)"
    )
    wh.conn.execute("insert into intermediate.int_deal_invoice_dates values ('d1', '2026-01-20')")
    _add_credit(wh.conn, "d1", "2026-01-02", "100000", "2026-05-01")
    run_engine(wh.conn, wh.settings, date(2026, 5, 31))
    claw = wh.conn.execute(
        "select commission_amount, explanation from finance.commission_lines where line_type = 'clawback'"
    ).fetchall()
    assert [c[0] for c in claw] == [D("-5000.00")]
    assert "101 days after the invoice_date 2026-01-20: within 180 days, 50 % clawed back" in claw[0][1]
