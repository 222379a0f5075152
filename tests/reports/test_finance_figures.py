"""The finance summary shows each kind of ledger line as its own figure (adjustments are only the
adjustment lines, never the draw, deficit or instalment lines) and reconciles them to the payable.

The ledger below is built by hand with every line type; each figure is computed by hand from the
published plan documents the commission tests cite (tests/commissions/test_balances_draws_payouts.py):

* [ORA5050] Oracle Customer Connect, "How to pay 50/50 on order/on payment collection?": a 10K order
  at 10 % earns $1000, "paid 50% or $500 on order and the remaining as receivable invoices are
  collected"; an invoice collected pays $250.
* [XACTLY] Xactly, "The Non-Recoverable Draw Against Commission": a $1,500 draw, August earns $500:
  paid $1,500 ($500 + $1,000 from the draw); September earns $3,000: paid $2,000 ($3,000 - $1,000).
* [SPIFFNEG] Salesforce Help, "Carry Forward a Negative Balance on a Statement" (Spiff): "zero-out the
  negative balance for the current statement period ... and carry the balance forward to the next
  period"; [ORAPP] Oracle Customer Connect, "Payment plan makes adjustment to all Plan Elements": the
  salesperson "is paid $0 ... and is recovered at a later date when there is positive commission".
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal as D

import duckdb
import pytest
from reports_support import FCT_COMMISSIONS_DDL

from flows.reports.finance import build_finance_summary
from flows.reports.finance_figures import FIGURES, total_figures
from flows.reports.payroll import payroll_rows

APRIL = date(2026, 4, 1)

# April 2026, all in USD:
# ann (East): the [ORA5050] order earns 1,000.00 and half is held back (deferral -500.00); an earlier
#   order's collected invoice releases 250.00 ([ORA5050]); a bonus 200.00, cut by a cap of -100.00; a
#   clawback of -300.00; a prior-period adjustment line +75.00 and a manual adjustment of -40.00 (the
#   adjustments mart); 120.00 of an earlier deficit recovered ([ORAPP]); a pending instalment of a
#   cancelled deal cancelled (0.00). Payable 1,000 - 500 + 250 + 200 - 100 - 300 + 75 - 40 - 120 = 465.00.
# bob (East): [XACTLY]'s August: earns 500.00, the draw tops it up by 1,000.00. Payable 1,500.00.
# cat (West): earns 200.00, a clawback of -450.00: -250.00, paid 0.00 and carried forward
#   ([SPIFFNEG], [ORAPP]): deficit_carry +250.00. Payable 0.00.
# dan (West): [XACTLY]'s September: earns 3,000.00, 1,000.00 of the draw recovered. Payable 2,000.00.
LINES = [
    ("a1", "ann", "commission", "1000.00"),
    ("a2", "ann", "deferral", "-500.00"),
    ("a3", "ann", "release", "250.00"),
    ("a4", "ann", "bonus", "200.00"),
    ("a5", "ann", "cap", "-100.00"),
    ("a6", "ann", "clawback", "-300.00"),
    ("a7", "ann", "adjustment", "75.00"),
    ("a8", "ann", "deficit_recovery", "-120.00"),
    ("a9", "ann", "pending_cancel", "0.00"),
    ("b1", "bob", "commission", "500.00"),
    ("b2", "bob", "draw", "1000.00"),
    ("c1", "cat", "commission", "200.00"),
    ("c2", "cat", "clawback", "-450.00"),
    ("c3", "cat", "deficit_carry", "250.00"),
    ("d1", "dan", "commission", "3000.00"),
    ("d2", "dan", "draw_recovery", "-1000.00"),
]
# the month's figures, added up by hand from LINES (and the -40.00 of the adjustments mart)
EXPECTED = {
    "commission": D("4700.00"),  # 1,000 + 500 + 200 + 3,000
    "bonus": D("200.00"),
    "cap": D("-100.00"),
    "clawback": D("-750.00"),  # -300 - 450
    "adjustment": D("35.00"),  # 75 - 40: adjustment lines only
    "draw": D("1000.00"),
    "draw_recovery": D("-1000.00"),
    "deficit_carry": D("250.00"),
    "deficit_recovery": D("-120.00"),
    "deferral": D("-500.00"),
    "release": D("250.00"),
}
PAYABLE = D("3965.00")  # 465 + 1,500 + 0 + 2,000
REPS = ("ann", "bob", "cat", "dan")


@pytest.fixture
def ledger() -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    conn.execute(
        FCT_COMMISSIONS_DDL + "; create table marts.dim_sales_reps (rep_id varchar, "
        "rep_name varchar, email varchar, team_name varchar); create table marts.fct_commission_adjustments "
        "(rep_id varchar, period_month date, amount decimal(18, 2), reason varchar)"
    )
    conn.executemany(
        "insert into marts.fct_commissions values (?, ?, ?, ?, ?, 'USD', 'flat')",
        [[line_id, line_type, rep, APRIL, amount] for line_id, rep, line_type, amount in LINES],
    )
    conn.executemany(
        "insert into marts.dim_sales_reps values (?, ?, ?, ?)",
        [[r, r.title(), f"{r}@example.com", "East" if r in ("ann", "bob") else "West"] for r in REPS],
    )
    conn.execute("insert into marts.fct_commission_adjustments values ('ann', ?, -40.00, 'manual')", [APRIL])
    return conn


def test_each_figure_is_one_kind_of_line_and_they_add_up_to_the_payable(ledger):
    rows = payroll_rows(ledger, APRIL)
    assert {r["rep_id"]: r["payable_amount"] for r in rows} == {
        "ann": D("465.00"), "bob": D("1500.00"), "cat": D("0.00"), "dan": D("2000.00"),
    }  # fmt: skip
    figures = total_figures(rows, APRIL)
    assert figures == EXPECTED
    assert sum(figures.values(), D(0)) == PAYABLE == sum((r["payable_amount"] for r in rows), D(0))


def _reconciliation(text: str) -> list[tuple[str, str]]:
    block = text.split("Reconciliation (USD)\n", 1)[1].split("\n\n", 1)[0]
    return [tuple(re.split(r"\s{2,}", line.strip())) for line in block.splitlines()]


def test_the_summary_shows_the_reconciliation_in_text_and_html(ledger, settings):
    (report,) = build_finance_summary(ledger, settings, month=APRIL, to=["fin@example.com"])
    assert _reconciliation(report.text) == [
        ("Commission earned", "$4,700.00"),
        ("Bonuses", "$200.00"),
        ("Caps", "-$100.00"),
        ("Clawbacks", "-$750.00"),
        ("Adjustments", "$35.00"),
        ("Draw paid", "$1,000.00"),
        ("Draw recovered", "-$1,000.00"),
        ("Deficit carried forward", "$250.00"),
        ("Deficit recovered", "-$120.00"),
        ("Instalments held back", "-$500.00"),
        ("Instalments released", "$250.00"),
        ("= Total payable", "$3,965.00"),
    ]
    for label, amount in [("Adjustments", "$35.00"), ("Deficit carried forward", "$250.00")]:
        assert re.search(rf">{label}</td><td[^>]*>{re.escape(amount)}</td>", report.html)
    # the tables: the payroll columns; ann's adjustments are 35.00, her deficit -120.00 and her
    # deferred -500.00 + 250.00 = -250.00 ([ORA5050]), each in its own column
    header = next(line for line in report.text.splitlines() if line.startswith("Rep "))
    assert re.split(r"\s{2,}", header.strip())[3:] == [
        "Commission earned", "Bonuses", "Caps", "Clawbacks", "Adjustments", "Draw paid",
        "Draw recovered", "Deficit", "Deferred", "Total payable",
    ]  # fmt: skip
    ann = next(line for line in report.text.splitlines() if line.startswith("Ann "))
    assert ann.split()[2:] == [
        "9", "$1,000.00", "$200.00", "-$100.00", "-$300.00", "$35.00", "$0.00", "$0.00", "-$120.00",
        "-$250.00", "$465.00",
    ]  # fmt: skip
    west = next(line for line in report.text.splitlines() if line.startswith("West "))
    assert west.split()[1:] == [
        "2", "$3,200.00", "$0.00", "$0.00", "-$450.00", "$0.00", "$0.00", "-$1,000.00", "$250.00",
        "$0.00", "$2,000.00",
    ]  # fmt: skip


def test_a_month_without_draws_or_instalments_shows_no_such_columns(ledger, settings):
    ledger.execute("delete from marts.fct_commissions where rep_id <> 'cat'")
    ledger.execute("delete from marts.fct_commission_adjustments")
    (report,) = build_finance_summary(ledger, settings, month=APRIL, to=["fin@example.com"])
    header = next(line for line in report.text.splitlines() if line.startswith("Rep "))
    assert re.split(r"\s{2,}", header.strip())[3:] == [
        "Commission earned", "Clawbacks", "Deficit", "Total payable",
    ]  # fmt: skip
    # the reconciliation still lists every figure: 200.00 - 450.00 + 250.00 = 0.00
    assert ("Deficit carried forward", "$250.00") in _reconciliation(report.text)
    assert _reconciliation(report.text)[-1] == ("= Total payable", "$0.00")


def test_an_unknown_line_type_is_an_error_naming_it(ledger, settings):
    ledger.execute(
        "insert into marts.fct_commissions values ('x1', 'spiff_kicker', 'bob', ?, 50.00, 'USD', 'flat')",
        [APRIL],
    )
    with pytest.raises(ValueError, match=r"rep bob, 2026-04: line_type 'spiff_kicker' has no payroll column"):
        build_finance_summary(ledger, settings, month=APRIL, to=["fin@example.com"])


def test_an_amount_on_a_zero_line_type_is_an_error_not_a_figure_that_does_not_add_up(ledger, settings):
    ledger.execute("update marts.fct_commissions set commission_amount = 10 where commission_line_id = 'a9'")
    with pytest.raises(ValueError, match=r"rep ann, 2026-04: line_type 'pending_cancel' carries 10.00"):
        build_finance_summary(ledger, settings, month=APRIL, to=["fin@example.com"])


def test_every_figure_sums_distinct_line_types():
    types = [t for f in FIGURES for t in f.line_types]
    assert len(types) == len(set(types))


def test_lines_in_another_currency_get_their_own_total_and_reconciliation(ledger, settings):
    # dan's lines are in EUR: USD keeps ann, bob and cat (465.00 + 1,500.00 + 0.00 = 1,965.00), EUR has
    # dan's 3,000.00 - 1,000.00 = 2,000.00; no total mixes the two
    ledger.execute("update marts.fct_commissions set currency = 'EUR' where rep_id = 'dan'")
    (report,) = build_finance_summary(ledger, settings, month=APRIL, to=["fin@example.com"])
    assert _reconciliation(report.text)[-1] == ("= Total payable", "$1,965.00")
    eur = report.text.split("Reconciliation (EUR)\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert eur[0].split() == ["Commission", "earned", "€3,000.00"] and eur[-1].split()[-1] == "€2,000.00"
    totals = [line.split() for line in report.text.splitlines() if line.startswith("Total EUR")]
    assert [t[2] for t in totals] == ["1"] and totals[0][-1] == "€2,000.00"
