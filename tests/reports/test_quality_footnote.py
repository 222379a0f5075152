"""The manager report's footnote names quarantined order-to-cash rows of the team, as it does deals.

Uses the hand-built marts and settings fixtures of ``tests/reports/conftest.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from reports_support import RUN_DATE

from flows.quality.quarantine import ensure_quarantine_table, quarantine_summary
from flows.reports.manager_report import build_manager_reports


def test_footnote_names_held_back_invoices_and_orders_of_the_team(conn, settings):
    conn.execute(
        "update marts.dim_sales_reps set rep_id = 'zoho:' || rep_id, manager_id = 'zoho:' || manager_id"
    )
    conn.execute("update marts.fct_rep_scorecard set rep_id = 'zoho:' || rep_id")
    ensure_quarantine_table(conn)
    rows = [
        (
            "invoices",
            "zoho_invoices",
            "77",
            '{"id": "77", "Subject": "Invoice 000077", "Owner": {"id": "r1"}}',
        ),
        ("sales_orders", "zoho_sales_orders", "78", '{"id": "78", "Owner": {"id": "r1"}}'),
    ]
    for obj, table, rid, record in rows:
        conn.execute(
            "insert into ops.quarantine (run_id, source, object, raw_table, id, expectation, severity, "
            "reason, record, quarantined_at) values ('run-1', 'zoho', ?, ?, ?, "
            "'expect_column_values_to_be_in_set(currency)', 'warning', 'currency is known', ?, ?)",
            [obj, table, rid, record, datetime.now(UTC)],
        )
    labels = {q["id"]: q["label"] for q in quarantine_summary(conn)}
    assert labels == {"77": "Invoice 000077", "78": "sales order 78"}  # what each record is, always
    mia, wang = build_manager_reports(conn, settings, run_date=RUN_DATE)
    assert "Held back by data checks and not in these figures (2)" in mia.text
    assert "Invoice 000077" in mia.html and "sales order 78" in mia.text
    assert "Invoice 000077" not in wang.html
