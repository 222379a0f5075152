"""The dbt macro exclude_quarantined: staging sees raw minus the active quarantine (dbt show --inline)."""

from __future__ import annotations

import json
from pathlib import Path

from flows.config.settings import Settings
from flows.quality.quarantine import ensure_quarantine_table
from flows.warehouse.database import Warehouse, ensure_raw_table
from flows.warehouse.dbt_runner import run_dbt


def _land(conn, table: str, obj: str, ids: list[str]) -> None:
    ensure_raw_table(conn, table)
    for rid in ids:
        conn.execute(
            f"insert into {table} values ('zoho', ?, ?, ?, now(), false, null, 'h', 'run-1', now())",
            [obj, rid, json.dumps({"id": rid.split(":")[0]})],
        )


def _show(settings: Settings, sql: str, capsys) -> str:
    """dbt's preview table, whitespace squeezed: '| 2 | 102 |'."""
    capsys.readouterr()
    result = run_dbt(settings, ["show", "--inline", sql], raise_on_failure=False)
    assert result.success
    captured = capsys.readouterr()
    return " ".join((captured.out + captured.err).split())


def test_exclude_quarantined_drops_active_rows_and_their_children(tmp_path: Path, capsys) -> None:
    settings = Settings(home=tmp_path / "home")
    warehouse = Warehouse(settings.warehouse_path)
    with warehouse.connect() as conn:
        _land(conn, "raw.zoho_deals", "deals", ["101", "102"])
        _land(conn, "raw.zoho_deal_stage_history", "deal_stage_history", ["101:1", "102:1", "102:2"])
    deals = "select count(*) as n_rows, max(id) as kept from {{ exclude_quarantined('zoho', 'zoho_deals') }}"
    history = (
        "select count(*) as n_rows, max(id) as kept from {{ exclude_quarantined('zoho', "
        "'zoho_deal_stage_history', id_column=\"split_part(landed.id, ':', 1)\", "
        "quarantined_table='zoho_deals') }}"
    )
    # no ops.quarantine yet: the macro is raw_source()
    assert "| 2 | 102 |" in _show(settings, deals, capsys)
    with warehouse.connect() as conn:
        ensure_quarantine_table(conn)
        conn.execute(
            "insert into ops.quarantine (run_id, source, object, raw_table, id, expectation, severity, "
            "reason, quarantined_at) "
            "values ('run-1', 'zoho', 'deals', 'zoho_deals', '102', 'x', 'warning', 'y', now())"
        )
    assert "| 1 | 101 |" in _show(settings, deals, capsys)
    assert "| 1 | 101:1 |" in _show(settings, history, capsys)
    with warehouse.connect() as conn:  # released: back in
        conn.execute("update ops.quarantine set released_at = now()")
    assert "| 2 | 102 |" in _show(settings, deals, capsys)
