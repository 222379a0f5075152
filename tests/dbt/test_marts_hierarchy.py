"""int_rep_hierarchy_versions keeps an effective-dated hierarchy across nightly runs.

The CRMs only serve today's hierarchy, so the history is built by dbt itself (incremental
SCD-2). This runs the real dbt project on a tiny warehouse: a rep changes team between two
runs, and re-running the night with --full-refresh keeps the history unchanged.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import duckdb

from flows.config.settings import get_settings
from flows.warehouse.database import ensure_raw_table
from flows.warehouse.dbt_runner import run_dbt

SELECT = ("run", "--select", "+int_rep_hierarchy_versions")


def _user(key: int, team: str | None, manager: int | None, role: str = "Sales Representative") -> dict:
    return {
        "id": str(4000000000000000000 + key),
        "full_name": f"User {key}",
        "email": f"user{key}@example.com",
        "status": "active",
        "role": {"name": role, "id": "1"},
        "Reporting_To": (
            {"name": f"User {manager}", "id": str(4000000000000000000 + manager)} if manager else None
        ),
        "territories": [{"name": "North America", "id": "9"}],
        "Sales_Team": team,
        "Date_of_Joining": "2024-01-15",
        "Date_of_Leaving": None,
    }


def _land(path, users: list[dict]) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with duckdb.connect(str(path)) as conn:
        conn.execute("create schema if not exists raw")
        ensure_raw_table(conn, "raw.zoho_users")
        conn.execute("delete from raw.zoho_users")
        for u in users:
            conn.execute(
                "insert into raw.zoho_users values ('zoho', 'users', ?, ?, ?, false, null, ?, 'test', ?)",
                [u["id"], json.dumps(u), now, str(hash(json.dumps(u))), now],
            )


def _versions(path) -> list[tuple]:
    with duckdb.connect(str(path)) as conn:
        return conn.execute(
            """
            select replace(rep_id, 'zoho:400000000000000000', 'u'), team_name, valid_from, valid_to
            from intermediate.int_rep_hierarchy_versions order by 1, 3
            """
        ).fetchall()


def test_team_change_opens_a_new_version_and_history_survives_full_refresh(tmp_path):
    settings = get_settings(home=tmp_path, zoho_enabled=True, fxiaoke_enabled=False)
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    manager = _user(1, "T1", None, role="Sales Manager")

    _land(settings.warehouse_path, [manager, _user(2, "T1", 1)])
    run_dbt(settings, SELECT, run_date=date(2026, 5, 1))
    assert _versions(settings.warehouse_path) == [
        ("u1", "T1", date(2024, 1, 15), None),
        ("u2", "T1", date(2024, 1, 15), None),
    ]

    # the rep moves to T2; the nightly run of 2026-06-01 sees it
    _land(settings.warehouse_path, [manager, _user(2, "T2", 1)])
    run_dbt(settings, SELECT, run_date=date(2026, 6, 1))
    expected = [
        ("u1", "T1", date(2024, 1, 15), None),
        ("u2", "T1", date(2024, 1, 15), date(2026, 6, 1)),
        ("u2", "T2", date(2026, 6, 1), None),
    ]
    assert _versions(settings.warehouse_path) == expected

    # re-running the night, even with --full-refresh, leaves the history as it is
    run_dbt(settings, (*SELECT, "--full-refresh"), run_date=date(2026, 6, 1))
    assert _versions(settings.warehouse_path) == expected
