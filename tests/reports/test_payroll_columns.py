"""The payroll export has a column per kind of line: deficit carry-forward and payout-schedule lines are
paid under ``deficit_amount`` and ``deferred_amount``, not folded into ``adjustment_amount``, and a line
type without a column is an error naming it.

Hand-computed figures, from the published plan documents the commission tests cite
(tests/commissions/test_balances_draws_payouts.py):

* [ORA5050] Oracle Customer Connect, "How to pay 50/50 on order/on payment collection?": a 10K order at
  10 % earns $1000, "paid 50% or $500 on order and the remaining as receivable invoices are
  collected"; an invoice collected pays $250.
* [SPIFFNEG] Salesforce Help, "Carry Forward a Negative Balance on a Statement" (Spiff): "zero-out the
  negative balance for the current statement period ... and carry the balance forward to the next
  period"; [ORAPP] Oracle Customer Connect, "Payment plan makes adjustment to all Plan Elements": the
  salesperson "is paid $0 ... and is recovered at a later date when there is positive commission".
"""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal as D

import duckdb
import pytest
from reports_support import FCT_COMMISSIONS_DDL

from flows.reports.payroll import AMOUNT_COLUMNS, payroll_csv, payroll_rows

MARCH, APRIL = date(2026, 3, 1), date(2026, 4, 1)

# March: the [ORA5050] order earns 1,000.00 and half of it is held back (deferral -500.00); a deal
# paid earlier is clawed back (-800.00). 1,000.00 - 500.00 - 800.00 = -300.00: paid 0.00 and the
# 300.00 carried forward ([SPIFFNEG], [ORAPP]), the engine's deficit_carry line of +300.00.
# April: half the order is collected (release +250.00, [ORA5050]), a new deal earns 200.00, and the
# 300.00 deficit is recovered (deficit_recovery -300.00): 250.00 + 200.00 - 300.00 = 150.00 paid.
LINES = [
    ("c1", "commission", MARCH, "1000.00", "tiered"),
    ("d1", "deferral", MARCH, "-500.00", "tiered"),
    ("k1", "clawback", MARCH, "-800.00", "tiered"),
    ("dc", "deficit_carry", MARCH, "300.00", "deficit"),
    ("r1", "release", APRIL, "250.00", "tiered"),
    ("c2", "commission", APRIL, "200.00", "tiered"),
    ("dr", "deficit_recovery", APRIL, "-300.00", "deficit"),
]


@pytest.fixture
def ledger() -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    conn.execute(FCT_COMMISSIONS_DDL)
    conn.executemany(
        "insert into marts.fct_commissions values (?, ?, 'ann', ?, ?, 'USD', ?)",
        [
            [line_id, line_type, month, amount, component]
            for line_id, line_type, month, amount, component in LINES
        ],
    )
    return conn


def test_deficit_and_deferred_lines_have_their_own_columns_that_add_up_to_the_pay(ledger):
    (march,) = payroll_rows(ledger, MARCH)
    assert (march["commission_amount"], march["deferred_amount"], march["clawback_amount"]) == (
        D("1000.00"), D("-500.00"), D("-800.00"),
    )  # fmt: skip
    assert (march["deficit_amount"], march["adjustment_amount"], march["payable_amount"]) == (
        D("300.00"), D("0.00"), D("0.00"),
    )  # fmt: skip
    (april,) = payroll_rows(ledger, APRIL)
    assert (april["commission_amount"], april["deferred_amount"], april["deficit_amount"]) == (
        D("200.00"), D("250.00"), D("-300.00"),
    )  # fmt: skip
    assert (april["adjustment_amount"], april["payable_amount"]) == (D("0.00"), D("150.00"))
    for row in (march, april):
        assert sum((row[c] for c in AMOUNT_COLUMNS), D(0)) == row["payable_amount"]


def test_the_csv_has_the_deficit_and_deferred_columns(ledger):
    text = payroll_csv(payroll_rows(ledger, APRIL)).decode("utf-8-sig")
    (ann, total) = list(csv.DictReader(io.StringIO(text)))
    assert (ann["deficit_amount"], ann["deferred_amount"], ann["payable_amount"]) == (
        "-300.00", "250.00", "150.00",
    )  # fmt: skip
    assert (total["rep_id"], total["deficit_amount"], total["deferred_amount"]) == (
        "TOTAL",
        "-300.00",
        "250.00",
    )


def test_a_line_type_without_a_payroll_column_is_an_error_naming_it(ledger):
    ledger.execute(
        "insert into marts.fct_commissions values ('x1', 'spiff_kicker', 'ann', date '2026-04-01', 50.00, "
        "'USD', 'flat')"
    )
    with pytest.raises(
        ValueError,
        match=r"fct_commissions\"?: rep ann, 2026-04: line_type 'spiff_kicker' has no payroll column",
    ):
        payroll_rows(ledger, APRIL)
