"""Issue 13 item 4: the raw gate quarantines every amount a warehouse decimal cannot hold.

``"1e309"`` (or ``1e20``) matches the "amount is numeric" check, so it used to pass the gate and
then stop the whole dbt build at the staging models' cast to DECIMAL(18,2) (``macros/money.sql``),
leaving the nightly stopped. Now the row is quarantined like NaN or ``"12,34"`` and every row the
gate lets through survives that exact cast.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from flows.config.settings import Settings
from flows.quality.gate import run_checks
from flows.warehouse.database import ensure_ops_schema

RAW_DDL = """
create table {table} (
    source varchar, object varchar, id varchar, record json, modified_at timestamptz,
    is_deleted boolean, deleted_at timestamptz, record_hash varchar, run_id varchar, loaded_at timestamptz
)"""
YESTERDAY = datetime.now(UTC) - timedelta(days=1)
#: Zoho sends Amount as a JSON number, Fxiaoke amounts as strings: both shapes of "too big".
ODD = {"901": "1e309", "902": 1e20, "903": "12345678901234567.5", "904": "9999999999999999.995"}
ALREADY_CAUGHT = {"905": "NaN", "906": "12,34"}  # quarantined before the fix, by the numeric check


def _insert(conn: duckdb.DuckDBPyConnection, table: str, rows: dict[str, dict]) -> None:
    source, obj = table.split(".", 1)[1].split("_", 1)
    conn.execute(RAW_DDL.format(table=table))
    for rec_id, record in rows.items():
        conn.execute(
            f"insert into {table} values (?, ?, ?, ?, ?, false, null, 'h', 'run-0', ?)",
            [source, obj, rec_id, json.dumps(record), YESTERDAY, YESTERDAY],
        )


def _zoho_deal(deal_id: str, amount: object) -> dict:
    return {
        "id": deal_id,
        "Deal_Name": f"Deal {deal_id}",
        "Amount": amount,
        "Stage": "Closed Won",
        "Currency": "USD",
        "Owner": {"id": "4000000000000000001"},
        "Closing_Date": "2026-11-20",
        "Created_Time": "2026-10-01T10:00:00-08:00",
    }


def _fx_opportunity(opp_id: str, amount: str) -> dict:
    return {
        "_id": opp_id,
        "name": "项目",
        "amount": amount,
        "mc_currency": "CNY",
        "sales_stage__r": "赢单",
        "owner": ["FSUID_AAA"],
        "close_date": 1795000000000,
        "create_time": 1790000000000,
        "life_status": "normal",
    }


def _zoho_invoice(invoice_id: str, paid: object) -> dict:
    return {
        "id": invoice_id,
        "Grand_Total": 1200.5,
        "Amount_Paid": paid,
        "Currency": "USD",
        "Owner": {"id": "4000000000000000001"},
        "Account_Name": {"id": "4000000000000000301"},
        "Invoice_Date": "2026-11-20",
        "Created_Time": "2026-11-20T10:00:00-08:00",
    }


@pytest.fixture
def conn(tmp_path: Path):
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    connection.execute("set TimeZone = 'UTC'")
    ensure_ops_schema(connection)
    yield connection
    connection.close()


def _let_through(conn: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            f"select id from {table} where id not in (select id from ops.quarantine"
            " where raw_table = ? and released_at is null)",
            [table.split(".", 1)[1]],
        ).fetchall()
    ]


def test_amounts_too_big_for_the_warehouse_are_quarantined(conn, tmp_path: Path) -> None:
    rows = {f"{100 + i}": _zoho_deal(f"{100 + i}", 1000 + i) for i in range(600)}
    rows |= {i: _zoho_deal(i, amount) for i, amount in (ODD | ALREADY_CAUGHT).items()}
    _insert(conn, "raw.zoho_deals", rows)
    fx = {f"fx{i}": _fx_opportunity(f"fx{i}", "100.00") for i in range(200)}
    fx["fx-odd"] = _fx_opportunity("fx-odd", "1e309")
    _insert(conn, "raw.fxiaoke_opportunities", fx)

    gate = run_checks(
        conn,
        Settings(home=tmp_path / "home"),
        run_id="r1",
        suites=["raw_zoho_deals", "raw_fxiaoke_opportunities"],
    )

    held = {(q["object"], q["id"]): q for q in gate.quarantined}
    for deal_id, amount in ODD.items():
        reasons = "; ".join(held[("deals", deal_id)]["reasons"]) if ("deals", deal_id) in held else ""
        assert "fits the warehouse" in reasons, (deal_id, amount, reasons)
    assert ("opportunities", "fx-odd") in held
    for deal_id in ALREADY_CAUGHT:  # reported once, by the numeric check, not twice
        assert held[("deals", deal_id)]["expectations"] == [
            "expect_column_values_to_match_regex(amount_text)"
        ]
    # a handful of odd rows among 600 is not systemic: the run goes on without them
    assert gate.success, gate.summary_markdown()
    # every row the gate lets through survives the staging models' cast (to_money)
    for table, field in (("raw.zoho_deals", "Amount"), ("raw.fxiaoke_opportunities", "amount")):
        ids = _let_through(conn, table)
        conn.execute(
            f"select cast(json_extract_string(record, '$.\"{field}\"') as decimal(18, 2)) from {table}"
            f" where id in ({', '.join('?' for _ in ids)})",
            ids,
        ).fetchall()


def test_an_amount_paid_too_big_is_quarantined(conn, tmp_path: Path) -> None:
    rows = {f"{300 + i}": _zoho_invoice(f"{300 + i}", 100) for i in range(40)}
    rows["399"] = _zoho_invoice("399", "1e25")
    _insert(conn, "raw.zoho_invoices", rows)

    gate = run_checks(conn, Settings(home=tmp_path / "home"), run_id="r1", suites=["raw_zoho_invoices"])

    held = {q["id"]: q for q in gate.quarantined}
    assert "expect_column_values_to_be_null(unstorable_amount_paid)" in held["399"]["expectations"]
    assert "1e25" in "; ".join(held["399"]["reasons"])
