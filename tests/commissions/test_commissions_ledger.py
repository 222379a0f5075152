"""Period close, prior-period adjustments, clawbacks after close, payroll export and the
reconciliation - on a DuckDB warehouse holding the two tables dbt builds for the engine
(intermediate.int_credit_lines, int_commission_rep_months). Expected values are hand-computed."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from pathlib import Path
from types import SimpleNamespace

import duckdb
import openpyxl
import pytest
from commissions_support import create_engine_inputs

from flows.commissions.close import CloseError, close_period
from flows.commissions.ledger import run_engine
from flows.commissions.reconcile import reconcile
from flows.reports.payroll import export_period

PLAN = """
plans:
  - plan_id: AE
    version: 1
    effective_from: 2026-01-01
    currency: USD
    components:
      - component: bookings
        type: tiered_marginal
        tiers:
          - {band_lower: 0.00, band_upper: 0.50, rate: 0.02}
          - {band_lower: 0.50, band_upper: 1.00, rate: 0.05}
          - {band_lower: 1.00, band_upper: null, rate: 0.10}
assignments:
  - {plan_id: AE, role: rep, valid_from: 2026-01-01}
"""
OCT, NOV, DEC = date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1)


@pytest.fixture
def wh(tmp_path: Path):
    config = tmp_path / "config"
    config.mkdir()
    (config / "commission_plan.yml").write_text(PLAN, encoding="utf-8")
    conn = duckdb.connect()
    create_engine_inputs(conn)
    conn.execute("""
        insert into intermediate.int_commission_rep_months values
        ('r1', 'r1@example.com', 'rep', null, null, '2026-10-01', 10000, 10000),
        ('r1', 'r1@example.com', 'rep', null, null, '2026-11-01', 10000, 10000),
        ('r1', 'r1@example.com', 'rep', null, null, '2026-12-01', 10000, 10000)""")
    conn.execute("""
        create table marts.fct_deals (deal_id varchar, is_won boolean, close_date date,
                                      amount_reporting decimal(18,2), modified_at timestamptz)""")
    deal("d1", "2026-10-05", "6000.00", conn)
    deal("d2", "2026-10-20", "6000.00", conn)
    yield SimpleNamespace(conn=conn, settings=SimpleNamespace(config_path=config, reporting_currency="USD"))
    conn.close()


def deal(deal_id: str, day: str, amount: str, conn) -> None:
    conn.execute(
        "insert into intermediate.int_credit_lines values (?, ?, 'r1', 'direct', 'booking', ?, "
        "date_trunc('month', cast(? as date)), 1, ?, 'USD', 1, ?, null)",
        [deal_id, deal_id, day, day, amount, amount],
    )
    conn.execute("insert into marts.fct_deals values (?, true, ?, ?, ?)", [deal_id, day, amount, day])


def lines(conn, period: date) -> dict[str, D]:
    return dict(
        conn.execute(
            "select commission_line_id, commission_amount from finance.commission_lines "
            "where period_month = ?",
            [period],
        ).fetchall()
    )


def closed_rows(conn):
    return conn.execute(
        "select * exclude (closed_at) from finance.closed_statement_lines order by 1"
    ).fetchall()


# October as calculated (target 10,000; marginal bands 2 % / 5 % / 10 % at 50 % and 100 %):
# d1 0 -> 6,000: 5,000 x 2 % = 100.00, 1,000 x 5 % = 50.00
# d2 6,000 -> 12,000: 4,000 x 5 % = 200.00, 2,000 x 10 % = 200.00. Total 550.00
OCTOBER = {
    "d1:AE:v1:bookings:1": D("100.00"),
    "d1:AE:v1:bookings:2": D("50.00"),
    "d2:AE:v1:bookings:2": D("200.00"),
    "d2:AE:v1:bookings:3": D("200.00"),
}


def test_editing_a_deal_after_close_posts_an_adjustment_and_never_changes_closed_lines(wh):
    conn = wh.conn
    run_engine(conn, wh.settings, date(2026, 10, 31))
    assert lines(conn, OCT) == OCTOBER
    assert close_period(conn, OCT, closed_by="finance") == 4
    snapshot = closed_rows(conn)

    # d2 grows from 6,000 to 7,000 after the close: 6,000 -> 13,000 puts 3,000 in band 3:
    # 300.00 instead of 200.00 -> +100.00 posted in November, linked to the closed line.
    conn.execute(
        "update intermediate.int_credit_lines set credit_amount = 7000, original_amount = 7000 "
        "where deal_id = 'd2'"
    )
    run_engine(conn, wh.settings, date(2026, 11, 15))
    assert closed_rows(conn) == snapshot
    assert lines(conn, OCT) == OCTOBER  # the closed period as closed
    (adj,) = conn.execute(
        "select commission_line_id, commission_amount, related_line_id, source_period, explanation "
        "from finance.commission_lines where line_type = 'adjustment'"
    ).fetchall()
    assert adj[:4] == ("adj:2026-11:d2:AE:v1:bookings:3", D("100.00"), "d2:AE:v1:bookings:3", OCT)
    assert "credit_amount 6000.00 -> 7000.00" in adj[4]

    # November closes with the +100.00; d2 is then edited down to 6,500: band 3 = 2,500 x 10 % =
    # 250.00. Closed 200.00 + adjusted 100.00 = 300.00 paid -> -50.00, posted in December.
    assert close_period(conn, NOV) == 1
    conn.execute("update intermediate.int_credit_lines set credit_amount = 6500 where deal_id = 'd2'")
    run_engine(conn, wh.settings, date(2026, 12, 2))
    # December has nothing else: -50.00 would be a negative payroll row, so it is carried forward as
    # a deficit (+50.00 deficit_carry; paid 0.00) - over the adjustment lines too, not only the engine's
    assert lines(conn, DEC) == {
        "adj:2026-12:d2:AE:v1:bookings:3": D("-50.00"),
        "deficit-carry:r1:2026-12": D("50.00"),
    }
    assert lines(conn, NOV) == {"adj:2026-11:d2:AE:v1:bookings:3": D("100.00")}


def test_clawback_after_close_reverses_what_was_paid_in_the_cancellation_period(wh):
    conn = wh.conn
    run_engine(conn, wh.settings, date(2026, 10, 31))
    close_period(conn, OCT)
    snapshot = closed_rows(conn)
    # d1 is cancelled in the CRM on Nov 10: no longer won, so dbt no longer credits it
    conn.execute("delete from intermediate.int_credit_lines where deal_id = 'd1'")
    conn.execute(
        "update marts.fct_deals set is_won = false, modified_at = '2026-11-10 08:00:00+00' "
        "where deal_id = 'd1'"
    )
    run_engine(conn, wh.settings, date(2026, 11, 20))
    assert closed_rows(conn) == snapshot
    # November: -100.00 and -50.00, each linked to the closed line it reverses. d2 keeps its
    # October position (attainment is not reduced): no adjustment of d2.
    got = conn.execute(
        "select commission_line_id, line_type, related_line_id, commission_amount "
        "from finance.commission_lines where period_month = ? order by 1",
        [NOV],
    ).fetchall()
    assert got == [
        ("clawback:d1:AE:v1:bookings:1", "clawback", "d1:AE:v1:bookings:1", D("-100.00")),
        ("clawback:d1:AE:v1:bookings:2", "clawback", "d1:AE:v1:bookings:2", D("-50.00")),
        # the month nets -150.00: carried forward as a deficit, paid 0.00
        ("deficit-carry:r1:2026-11", "deficit_carry", None, D("150.00")),
    ]
    # a cancellation in a closed period is moved to the next open one: close November, rerun
    close_period(conn, NOV)
    run_engine(conn, wh.settings, date(2026, 12, 3))
    assert lines(conn, DEC) == {}  # already clawed back and closed: nothing twice


def test_close_is_insert_only_and_refuses_a_second_close(wh):
    run_engine(wh.conn, wh.settings, date(2026, 10, 31))
    close_period(wh.conn, OCT)
    with pytest.raises(CloseError, match="2026-10 is already closed"):
        close_period(wh.conn, OCT)


def test_payroll_export_csv_and_xlsx(wh, tmp_path):
    conn = wh.conn
    run_engine(conn, wh.settings, date(2026, 10, 31))
    close_period(conn, OCT)
    csv_path, xlsx_path = export_period(conn, OCT, tmp_path / "out")
    raw = csv_path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 byte-order mark: Excel reads the file as UTF-8
    text = raw.decode("utf-8-sig").split("\r\n")
    assert text[0].startswith(
        "period_month,period_status,rep_id,rep_name,email,team_name,currency,line_count,commission_amount,"
    )
    # October, closed: 4 commission lines, 550.00 (see OCTOBER); nothing else
    assert text[1] == "2026-10-01,closed,r1,,,,USD,4,550.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,550.00,"
    assert (
        text[2] == "2026-10-01,closed,TOTAL,,,,USD,4,550.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,550.00,"
    )
    book = openpyxl.load_workbook(xlsx_path)
    assert book.sheetnames == ["payroll", "lines"]
    sheet = book["payroll"]
    assert sheet["R2"].value == 550 and sheet["R1"].value == "payable_amount"
    assert sheet["A2"].is_date and sheet["H2"].data_type == "n"  # typed: a date and numbers
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:S2"
    assert sheet["C3"].value == "TOTAL" and sheet["R3"].value == 550 and sheet["R3"].font.b
    assert book["lines"].max_row == 6  # header + 4 lines + totals


def test_reconciliation_passes_and_reports_a_mismatch(wh):
    conn = wh.conn
    run_engine(conn, wh.settings, date(2026, 10, 31))
    assert reconcile(conn) == []
    # a won deal the credits do not carry: credited <> won revenue x split shares
    conn.execute("insert into marts.fct_deals values ('d9', true, '2026-10-25', 10.00, '2026-10-25')")
    assert reconcile(conn) == ["2026-10: credited 12000.00 <> won revenue x split shares 12010.00"]


CAPPED_PLAN = """
plans:
  - plan_id: AE
    version: 1
    effective_from: 2026-01-01
    currency: USD
    components:
      - component: bookings
        type: flat
        rate: 0.10
        caps: {per_period: 1000.00}
assignments:
  - {plan_id: AE, role: rep, valid_from: 2026-01-01}
"""


@pytest.mark.parametrize("how", ["reversed_on", "no_longer_won"])
def test_clawback_after_close_of_a_capped_deal_reverses_only_what_was_paid(wh, how):
    # flat 10 % capped at 1,000.00 a month. October: d1 (Oct 5) 6,000 -> 600.00, d2 (Oct 20)
    # 6,000 -> 600.00 = 1,200.00 -> period cap -200.00, attributed in credit-date order: d1 is paid
    # 600.00, d2 only 400.00. October closes at 1,000.00.
    (wh.settings.config_path / "commission_plan.yml").write_text(CAPPED_PLAN, encoding="utf-8")
    conn = wh.conn
    run_engine(conn, wh.settings, date(2026, 10, 31))
    assert lines(conn, OCT) == {
        "d1:AE:v1:bookings:0": D("600.00"),
        "d2:AE:v1:bookings:0": D("600.00"),
        "cap:period:r1:2026-10:AE:v1:bookings": D("-200.00"),
    }
    close_period(conn, OCT)
    snapshot = closed_rows(conn)
    # d2 is cancelled on Nov 10 (its sales orders cancelled, or the deal no longer won)
    if how == "reversed_on":
        conn.execute(
            "update intermediate.int_credit_lines set reversed_on = '2026-11-10' where deal_id = 'd2'"
        )
    else:
        conn.execute("delete from intermediate.int_credit_lines where deal_id = 'd2'")
        conn.execute(
            "update marts.fct_deals set is_won = false, modified_at = '2026-11-10 08:00:00+00' "
            "where deal_id = 'd2'"
        )
    run_engine(conn, wh.settings, date(2026, 11, 20))
    assert closed_rows(conn) == snapshot
    # November: d2's line reversed (-600.00) and the 200.00 of the closed cap line that fell on d2
    # given back (+200.00): -400.00, exactly what d2 was paid. October is not adjusted.
    assert lines(conn, NOV) == {
        "clawback:d2:AE:v1:bookings:0": D("-600.00"),
        "clawback:cap:period:r1:2026-10:AE:v1:bookings:d2": D("200.00"),
        "deficit-carry:r1:2026-11": D("400.00"),  # -400.00 carried forward, paid 0.00
    }
    assert lines(conn, OCT) == {
        "d1:AE:v1:bookings:0": D("600.00"),
        "d2:AE:v1:bookings:0": D("600.00"),
        "cap:period:r1:2026-10:AE:v1:bookings": D("-200.00"),
    }
    related = dict(
        conn.execute(
            "select commission_line_id, related_line_id from finance.commission_lines "
            "where line_type = 'clawback'"
        ).fetchall()
    )
    assert (
        related["clawback:cap:period:r1:2026-10:AE:v1:bookings:d2"] == "cap:period:r1:2026-10:AE:v1:bookings"
    )


def test_yearly_cap_follows_the_fiscal_year_of_settings_yml(wh):
    # settings.yml starts the fiscal year in April. Flat 10 % capped at 1,000.00 a year: d1 and d2
    # (October 2026, FY2026) earn 600.00 + 600.00 -> cap -200.00 in October.
    config = wh.settings.config_path
    (config / "settings.yml").write_text("fiscal_year_start_month: 4\n", encoding="utf-8")
    (config / "commission_plan.yml").write_text(
        CAPPED_PLAN.replace("per_period: 1000.00", "per_year: 1000.00"), encoding="utf-8"
    )
    conn = wh.conn
    run_engine(conn, wh.settings, date(2026, 10, 31))
    (cap,) = conn.execute(
        "select commission_amount, explanation from finance.commission_lines where line_type = 'cap'"
    ).fetchall()
    assert cap[0] == D("-200.00")
    assert "fiscal year FY2026 from 2026-04-01" in cap[1]


def test_reconciliation_reads_the_split_aware_model_per_basis(wh):
    # int_credit_reconciliation (dbt) compares, per month and basis, the direct credits with the
    # revenue x split shares: here November's collections credit 1,190.00 where 1,000.00 collected
    # + a 20 % overlay (200.00) = 1,200.00 are due.
    conn = wh.conn
    conn.execute("""
        create table intermediate.int_credit_reconciliation as
        select * from (values
            (date '2026-10-01', 'booking', 12000.00, 0.00, 12000.00, 12000.00, 0.00),
            (date '2026-11-01', 'collection', 1000.00, 200.00, 1200.00, 1190.00, -10.00)
        ) as t(period_month, credit_basis, won_amount, overlay_expected, expected_amount,
               credited_amount, difference)""")
    run_engine(conn, wh.settings, date(2026, 10, 31))
    assert reconcile(conn) == [
        "2026-11 collection: credited 1190.00 <> collected revenue x split shares 1200.00 "
        "(revenue 1000.00 + overlay 200.00)"
    ]
