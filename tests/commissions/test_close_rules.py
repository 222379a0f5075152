"""Closing a period (issue 12 item 7): a month that has not ended, or has no calculated line, is
refused without --force (a typo such as 2027-01 for 2026-01 would otherwise lock an empty month)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import duckdb
import pytest
from typer.testing import CliRunner

from flows.cli.commissions import app
from flows.commissions.close import CloseError, close_period
from flows.commissions.lines import Line
from flows.commissions.tables import closed_periods, write_lines

NOV, DEC = date(2026, 11, 1), date(2026, 12, 1)


def _line(period: date) -> Line:
    return Line(
        commission_line_id=f"A:{period:%Y-%m}",
        line_type="commission",
        rep_id="ann",
        period_month=period,
        commission_amount=D("80.00"),
        explanation="4000.00 x 0.02",
    )


@pytest.fixture
def conn():
    c = duckdb.connect()
    write_lines(c, [_line(NOV), _line(DEC)], date(2026, 12, 3))
    yield c
    c.close()


def test_a_month_that_has_not_ended_is_refused(conn):
    with pytest.raises(CloseError, match=r"2026-12 has not ended \(today is 2026-12-03\).*--force"):
        close_period(conn, DEC, today=date(2026, 12, 3))
    assert closed_periods(conn) == set()
    # on the first day of the next month it has ended
    assert close_period(conn, DEC, today=date(2027, 1, 1)) == 1


def test_a_month_without_lines_is_refused_unless_forced(conn):
    with pytest.raises(CloseError, match="2026-10 has no calculated statement lines"):
        close_period(conn, date(2026, 10, 1), today=date(2026, 12, 3))
    assert close_period(conn, date(2026, 10, 1), today=date(2026, 12, 3), force=True) == 0
    assert closed_periods(conn) == {date(2026, 10, 1)}


def test_force_closes_a_month_that_has_not_ended(conn):
    assert close_period(conn, DEC, "cfo", today=date(2026, 12, 3), force=True) == 1


def test_the_cli_refuses_a_future_month_and_accepts_force(tmp_path, monkeypatch):
    monkeypatch.setenv("SALESOPS_HOME", str(tmp_path / "home"))
    from flows.config.settings import get_settings

    settings = get_settings()
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.warehouse_path)) as c:
        write_lines(c, [_line(date(2099, 1, 1))], date(2026, 12, 3))
    refused = CliRunner().invoke(app, ["close", "--period", "2099-01"])
    assert refused.exit_code == 1 and "2099-01 has not ended" in refused.output
    forced = CliRunner().invoke(app, ["close", "--period", "2099-01", "--force"])
    assert forced.exit_code == 0 and "closed 2099-01: 1 statement lines snapshotted" in forced.output
