"""Manual adjustments from ``config/commission_adjustments.csv`` (rep, period, amount, reason,
approved_by): validated naming file, row and field; an unknown rep is reported, not paid; a closed
period is never changed - the adjustment lands in the first open period as a prior-period
adjustment linked to the period it refers to; shown in ``estimate``, the statements' lines and the
payroll export.

Sources for the mechanics (the figures are the inputs themselves, hand-summed):

* [FULLCAST] Fullcast docs, "Adjustments": adjustment type "Adjustment (+ or -): Manual or system
  correction (positive or negative)"; "Historical changes: Retroactively correct commissions for
  transactions that have already been processed"; "Post-calculation adjustments: Make
  forward-compensating adjustments to the commission ledger".
* [1STOP] 1Stop, "Add and Complete a Commission Adjustment Record": "To add a fixed dollar amount
  of commission, such as a bonus, you would enter a positive number ... to subtract a fixed dollar
  amount of commission, you would enter a negative number"; an adjustment is "necessary when there
  is a requirement to deduct or add to an existing commission record that has already been
  approved".
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
from flows.commissions.ledger import run_engine
from flows.config.bundle import read_bundle
from flows.config.commission_adjustments import read_adjustments
from flows.config.errors import ConfigError
from flows.reports.payroll import payroll_rows

ROOT = Path(__file__).resolve().parents[2]
PLANS = ROOT / "config" / "plans"
SEP, OCT, NOV = date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)
HEADER = "rep,period,amount,reason,approved_by\n"
FLAT = """plans:
  - plan_id: AE
    version: 1
    effective_from: 2026-01-01
    currency: USD
    components: [{component: c, type: flat, measure: monthly_credited_amount, rate: 0.05}]
assignments:
  - {plan_id: AE, role: rep, valid_from: 2026-01-01}
"""


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("ann,2026-13,10,x,y", r"row 2, field period: '2026-13' is not a month"),
        ("ann,2026-10,1O0,x,y", r"row 2, field amount: .*not a number"),
        ("ann,2026-10,10.005,x,y", r"row 2, field amount: .*more than 2 decimal places"),
        ("ann,2026-10,0,x,y", r"row 2, field amount: an adjustment of 0"),
        ("ann,2026-10,10,,y", r"row 2, field reason: a value is required"),
        ("ann,2026-10,10,x,", r"row 2, field approved_by: a value is required"),
        (",2026-10,10,x,y", r"row 2, field rep: a value is required"),
        ("ann,2026-10,10,Bonus,y\nANN,2026-10,5,bonus,z", r"row 3, field reason: .*row 2"),
    ],
)
def test_a_bad_adjustments_file_is_rejected_naming_file_row_and_field(tmp_path, row, message):
    path = tmp_path / "commission_adjustments.csv"
    path.write_text(HEADER + row + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        read_adjustments(path, "config/commission_adjustments.csv")


def test_the_configuration_load_rejects_a_bad_file_and_accepts_none(tmp_path):
    import shutil

    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config, ignore=shutil.ignore_patterns("plans", "maven"))
    read_bundle(config)  # no adjustments file: nothing to check
    (config / "commission_adjustments.csv").write_text(HEADER + "ann,2026-10,ten,x,y\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"config/commission_adjustments.csv row 2, field amount"):
        read_bundle(config)


def test_estimate_shows_adjustments_and_reports_an_unknown_rep(tmp_path):
    # examples/adjustments.csv: [1STOP] +500.00 bonus for ann, -120.50 correction for bob; a row
    # for "zed", who is in no credit: reported, not paid. ann: 5 % x 40,000 = 2,000.00 + 500.00.
    adjustments = tmp_path / "adj.csv"
    adjustments.write_text(
        (PLANS / "examples" / "adjustments.csv").read_text(encoding="utf-8") + "zed,2026-10,75.00,Typo,CFO\n",
        encoding="utf-8",
    )
    credits = tmp_path / "credits.csv"
    credits.write_text(
        "rep_id,credit_date,amount\nAnn,2026-10-03,40000.00\nbob,2026-10-05,10000.00\n", encoding="utf-8"
    )
    plan = tmp_path / "plan.yml"
    plan.write_text(FLAT, encoding="utf-8")
    args = ["estimate", "--plan", str(plan), "--credits", str(credits), "--adjustments", str(adjustments)]
    result = CliRunner().invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    totals = {t["rep_id"]: t["total_amount"] for t in data["totals_by_rep"]}
    assert totals == {"Ann": "2500.00", "bob": "379.50"}  # bob: 500.00 - 120.50
    manual = [ln for ln in data["lines"] if ln["line_type"] == "adjustment"]
    assert sorted(ln["commission_amount"] for ln in manual) == ["-120.50", "500.00"]
    assert any("approved by VP Sales" in ln["explanation"] for ln in manual)
    (warning,) = [w for w in data["warnings"] if w["code"] == "unmatched_adjustment"]
    assert "row 4" in warning["message"] and "zed" in warning["message"]
    table = CliRunner().invoke(app, args)
    assert "Q3 customer reference bonus" in table.stdout and "unmatched_adjustment" in table.stdout


def _warehouse(tmp_path: Path) -> SimpleNamespace:
    config = tmp_path / "config"
    config.mkdir()
    (config / "commission_plan.yml").write_text(FLAT, encoding="utf-8")
    conn = duckdb.connect()
    create_engine_inputs(conn)
    conn.execute(
        "insert into intermediate.int_credit_lines values ('D1', 'D1', 'ann', 'direct', 'booking', "
        "'2026-09-10', '2026-09-01', 1, 10000, 'USD', 1, 10000, null)"
    )
    for month in (SEP, OCT, NOV):
        conn.execute(
            "insert into intermediate.int_commission_rep_months values "
            "('ann', 'ann@example.com', 'rep', null, null, ?, null, null)",
            [month],
        )
    return SimpleNamespace(conn=conn, settings=SimpleNamespace(config_path=config, reporting_currency="USD"))


def _lines(conn, table: str = "finance.commission_lines"):
    sql = (
        f"select period_month, line_type, commission_amount, source_period, related_line_id from {table} "
        "order by period_month, commission_line_id"
    )
    return conn.execute(sql).fetchall()


def test_an_adjustment_for_a_closed_period_lands_in_the_first_open_one_and_never_changes_it(tmp_path):
    # [FULLCAST] "forward-compensating adjustments": September is closed with 5 % x 10,000 =
    # 500.00; a +250.00 adjustment for September, added after the close, is posted in October
    # linked to September; September's closed lines stay as they were.
    wh = _warehouse(tmp_path)
    run_engine(wh.conn, wh.settings, date(2026, 10, 2))
    close_period(wh.conn, SEP)
    closed_before = _lines(wh.conn, "finance.closed_statement_lines")
    adjustments = wh.settings.config_path / "commission_adjustments.csv"
    adjustments.write_text(
        HEADER + "ANN@example.com,2026-09,250.00,Missed SPIF on D1,Head of Sales\n", encoding="utf-8"
    )
    run_engine(wh.conn, wh.settings, date(2026, 10, 20))
    assert _lines(wh.conn, "finance.closed_statement_lines") == closed_before
    sep = [r for r in _lines(wh.conn) if r[0] == SEP]
    assert [r[2] for r in sep] == [D("500.00")]
    (posted,) = [r for r in _lines(wh.conn) if r[0] == OCT]
    assert (posted[1], posted[2], posted[3]) == ("adjustment", D("250.00"), SEP)
    assert posted[4].startswith("manual:2026-09:ann:")
    # October closes with it; the next run does not post it again
    close_period(wh.conn, OCT)
    run_engine(wh.conn, wh.settings, date(2026, 11, 5))
    assert [r for r in _lines(wh.conn) if r[0] == NOV] == []
    # the amount corrected to 300.00 later: only the difference, +50.00, in November
    adjustments.write_text(HEADER + "ann,2026-09,300.00,Missed SPIF on D1,Head of Sales\n", encoding="utf-8")
    run_engine(wh.conn, wh.settings, date(2026, 11, 6))
    assert [(r[1], r[2], r[3]) for r in _lines(wh.conn) if r[0] == NOV] == [("adjustment", D("50.00"), SEP)]


def test_an_adjustment_for_an_open_period_is_a_line_of_that_period(tmp_path):
    wh = _warehouse(tmp_path)
    (wh.settings.config_path / "commission_adjustments.csv").write_text(
        HEADER + "ann,2026-10,-80.00,Correction of a duplicate expense,Controller\nnobody,2026-10,5,x,y\n",
        encoding="utf-8",
    )
    run_engine(wh.conn, wh.settings, date(2026, 10, 20))
    octo = [r for r in _lines(wh.conn) if r[0] == OCT]
    # ann earns nothing else in October: the negative month is carried forward as a deficit (the
    # default since deficit carry-forward, docs/commission_plans.md), never a negative payroll row
    assert sorted((r[1], r[2], r[3]) for r in octo) == [
        ("adjustment", D("-80.00"), OCT),
        ("deficit_carry", D("80.00"), None),
    ]
    codes = wh.conn.execute("select warning_code, subject from finance.commission_warnings").fetchall()
    assert ("unmatched_adjustment", "config/commission_adjustments.csv row 3") in codes
    # the payroll export of October: the adjustment (-80.00) and its deficit carry (+80.00), each in
    # its own column, net to a payable of 0.00
    (row,) = [r for r in payroll_rows(wh.conn, OCT) if r["rep_id"] == "ann"]
    assert (row["adjustment_amount"], row["deficit_amount"], row["payable_amount"]) == (
        D("-80.00"), D("80.00"), D("0.00"),
    )  # fmt: skip
