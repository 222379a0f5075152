"""Every value that reaches a spreadsheet is neutralised (issue 13 item 2), and the one payroll
export per period is a UTF-8-with-BOM CSV and a typed XLSX with a totals row, frozen header and
filters (issue 12 item 7).

Source of the rule: OWASP, "CSV Injection" (owasp.org/www-community/attacks/CSV_Injection), and
ASVS 4 requirement 1.2.10 (asvs.emil.hemdal.se/1.2.10): when exporting to CSV or another
spreadsheet format (XLS, XLSX, ODF), a field value whose first character is '=', '+', '-', '@',
a tab or NUL (OWASP also names the carriage return) must be escaped with a single quote.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal as D

import openpyxl
import pytest
from reports_support import add_commissions

from flows.exports.spreadsheet import csv_bytes, safe_cell, xlsx_bytes
from flows.reports.finance import build_finance_summary
from flows.reports.payroll import payroll_rows

HYPERLINK = '=HYPERLINK("http://x","click")'


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (HYPERLINK, "'" + HYPERLINK),
        ("+1-555-0100", "'+1-555-0100"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("\0=1", "'\0=1"),
        ("Ann Lee", "Ann Lee"),  # plain text unchanged
        ("李娜", "李娜"),
        ("a=b", "a=b"),  # only the first character matters
        ("", ""),
        (D("-150.00"), D("-150.00")),  # a negative amount is a number, not a formula
        (-3, -3),
        (date(2026, 11, 1), date(2026, 11, 1)),
        (None, None),
    ],
)
def test_safe_cell_prefixes_formula_triggers_with_a_single_quote(value, expected):
    assert safe_cell(value) == expected


def test_csv_has_a_bom_crlf_and_neutralised_text_but_numbers_as_numbers():
    data = csv_bytes(
        ["rep_name", "amount", "day"], [[HYPERLINK, D("-150.00"), date(2026, 11, 1)], ["李娜", 1, None]]
    )
    assert data.startswith(b"\xef\xbb\xbf")  # Excel opens UTF-8 with a BOM correctly (Chinese names)
    text = data.decode("utf-8-sig")
    assert text.split("\r\n")[1] == '"\'=HYPERLINK(""http://x"",""click"")",-150.00,2026-11-01'
    assert list(csv.reader(io.StringIO(text)))[2] == ["李娜", "1", ""]


def test_xlsx_writes_formula_looking_text_as_text_and_numbers_typed():
    book = openpyxl.load_workbook(
        io.BytesIO(
            xlsx_bytes([("s", ["name", "amount"], [[HYPERLINK, D("-150.00")]], [["TOTAL", D("-150.00")]])])
        )
    )
    ws = book["s"]
    assert ws["A2"].data_type == "s" and ws["A2"].value == "'" + HYPERLINK  # never a live formula
    assert ws["B2"].data_type == "n" and ws["B2"].value == -150 and ws["B2"].number_format == "#,##0.00"
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:B2"  # the totals row is not filtered
    assert ws["A3"].value == "TOTAL" and ws["A3"].font.b and ws["A1"].font.b


def test_finance_attachments_neutralise_a_crm_name_that_is_a_formula(conn, settings):
    add_commissions(conn)
    conn.execute("update marts.dim_sales_reps set rep_name = ? where rep_id = 'r2'", [HYPERLINK])
    (report,) = build_finance_summary(conn, settings, month=date(2026, 11, 1), to=["fin@example.com"])
    rows = {r["rep_id"]: r for r in csv.DictReader(io.StringIO(report.attachments[0][1].decode("utf-8-sig")))}
    assert rows["r2"]["rep_name"] == "'" + HYPERLINK
    sheet = openpyxl.load_workbook(io.BytesIO(report.attachments[1][1]))["payroll"]
    names = [c.value for c in sheet["D"]]
    assert "'" + HYPERLINK in names and all(c.data_type != "f" for c in sheet["D"])


def test_payroll_rows_and_totals_as_computed_by_hand(conn, settings):
    # reports_support.add_commissions: November lines r1 1,000.00; r2 1,000.00 + 1,000.00 and an
    # adjustment of -150.00 (the adjustments mart); r5 600.00. Payable: r1 1,000.00, r2 1,850.00,
    # r5 600.00; total 3,450.00. No finance.commission_periods table: the month is provisional.
    add_commissions(conn)
    rows = {r["rep_id"]: r for r in payroll_rows(conn, date(2026, 11, 1))}
    assert {
        k: (r["commission_amount"], r["adjustment_amount"], r["payable_amount"]) for k, r in rows.items()
    } == {
        "r1": (D("1000.00"), D("0.00"), D("1000.00")),
        "r2": (D("2000.00"), D("-150.00"), D("1850.00")),
        "r5": (D("600.00"), D("0.00"), D("600.00")),
    }
    assert {r["period_status"] for r in rows.values()} == {"provisional"}
    (report,) = build_finance_summary(conn, settings, month=date(2026, 11, 1), to=["fin@example.com"])
    data = list(csv.DictReader(io.StringIO(report.attachments[0][1].decode("utf-8-sig"))))
    assert data[-1]["rep_id"] == "TOTAL" and data[-1]["payable_amount"] == "3450.00"
    assert data[-1]["line_count"] == "4" and data[-1]["adjustment_amount"] == "-150.00"
