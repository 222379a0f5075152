"""Targets end to end: config files -> config.calendar -> dbt target marts, fiscal year from April.

A tiny warehouse (two Zoho reps in North America, so the US calendar applies) and a small config:
fiscal years start in April, year targets split by a monthly distribution (April 12 %, every
other month 8 %), one rep joins mid-April. Every expected number is computed by hand below.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb

from flows.config.loader import load_config
from flows.config.settings import PROJECT_DIR, get_settings
from flows.warehouse.database import ensure_raw_table
from flows.warehouse.dbt_runner import run_dbt

SELECT = (
    "run",
    "--select",
    "+fct_sales_target_periods",
    "+fct_rep_targets_monthly",
    "+fct_target_mismatches",
)


def _user(key: int, email: str, hired: str) -> dict:
    return {
        "id": str(4000000000000000000 + key),
        "full_name": f"User {key}",
        "email": email,
        "status": "active",
        "role": {"name": "Sales Representative", "id": "1"},
        "Reporting_To": None,
        "territories": [{"name": "North America", "id": "9"}],
        "Sales_Team": "T1",
        "Date_of_Joining": hired,
        "Date_of_Leaving": None,
    }


def _config(tmp_path: Path) -> Path:
    cfg = tmp_path / "config"
    cfg.mkdir()
    for name in ("exchange_rates.csv", "commission_plan.yml"):
        shutil.copy(PROJECT_DIR / "config" / name, cfg / name)
    (cfg / "settings.yml").write_text(
        "fiscal_year_start_month: 4\n"
        "target_month_split: distribution\n"
        "calendar_default_country: US\n"
        "calendar_region_countries:\n"
        "  North America: US\n",
        encoding="utf-8",
    )
    (cfg / "monthly_distribution.csv").write_text(
        "fiscal_month,share_pct\n1,12\n" + "".join(f"{m},8\n" for m in range(2, 13)), encoding="utf-8"
    )
    (cfg / "targets.csv").write_text(
        "scope_type,scope_key,grain,period,target_amount,currency\n"
        "rep,a@example.com,year,FY2026,12000.00,USD\n"
        "rep,b@example.com,month,2026-04,3000.00,USD\n"
        "team,T1,quarter,FY2026-Q1,5000.00,USD\n",
        encoding="utf-8",
    )
    return cfg


def test_fiscal_april_distribution_working_days_and_proration(tmp_path: Path) -> None:
    settings = get_settings(home=tmp_path, zoho_enabled=True, fxiaoke_enabled=False)
    path = settings.warehouse_path
    path.parent.mkdir(parents=True, exist_ok=True)
    now = datetime(2026, 5, 1, tzinfo=UTC)
    with duckdb.connect(str(path)) as conn:
        conn.execute("create schema if not exists raw")
        ensure_raw_table(conn, "raw.zoho_users")
        for u in (_user(1, "a@example.com", "2020-01-01"), _user(2, "b@example.com", "2026-04-16")):
            conn.execute(
                "insert into raw.zoho_users values ('zoho', 'users', ?, ?, ?, false, null, ?, 'test', ?)",
                [u["id"], json.dumps(u), now, u["id"], now],
            )
        load_config(conn, _config(tmp_path), run_id="t")
    run_dbt(settings, ("seed",), run_date=date(2026, 5, 15))
    run_dbt(settings, SELECT, run_date=date(2026, 5, 15))

    with duckdb.connect(str(path)) as conn:
        monthly = {
            (r[0][-1], r[1]): r[2:]
            for r in conn.execute(
                "select rep_id, period_month, full_target_amount, active_days, days_in_month, target_amount "
                "from marts.fct_rep_targets_monthly"
            ).fetchall()
        }
        # a: FY2026 12,000 -> April (fiscal month 1) 12 % = 1,440.00, May 8 % = 960.00
        assert monthly[("1", date(2026, 4, 1))] == (Decimal("1440.00"), 30, 30, Decimal("1440.00"))
        assert monthly[("1", date(2026, 5, 1))] == (Decimal("960.00"), 31, 31, Decimal("960.00"))
        assert monthly[("1", date(2027, 3, 1))][3] == Decimal("960.00")  # FY2026 ends in March 2027
        assert (("1", date(2027, 4, 1))) not in monthly
        # b joins 16 April: 15 of 30 days -> 3,000 x 15/30 = 1,500.00
        assert monthly[("2", date(2026, 4, 1))] == (Decimal("3000.00"), 15, 30, Decimal("1500.00"))

        days = dict(
            conn.execute(
                "select calendar_date, target_amount from marts.fct_sales_targets "
                "where scope_key = 'b@example.com' and period_month = date '2026-04-01'"
            ).fetchall()
        )
        # 1,500.00 over b's 11 US working days (16, 17, 20-24, 27-30 April), cumulative rounding
        working = [16, 17, 20, 21, 22, 23, 24, 27, 28, 29, 30]
        expected = ["136.36", "136.37", "136.36", "136.36", "136.37", "136.36", "136.37", "136.36", "136.36",
                    "136.37", "136.36"]  # fmt: skip
        assert {d.day: a for d, a in days.items() if a} == {
            day: Decimal(x) for day, x in zip(working, expected, strict=True)
        }
        assert sum(days.values()) == Decimal("1500.00") and len(days) == 30

        may = dict(
            conn.execute(
                "select calendar_date, target_amount from marts.fct_sales_targets "
                "where scope_key = 'a@example.com' and period_month = date '2026-05-01'"
            ).fetchall()
        )
        # May 2026 in the US: 21 weekdays minus Memorial Day (25 May) = 20 -> 960 / 20 = 48.00 a day
        assert may[date(2026, 5, 25)] == 0 and may[date(2026, 5, 23)] == 0
        assert sorted({a for a in may.values() if a}) == [Decimal("48.00")]
        assert sum(may.values()) == Decimal("960.00")

        periods = {
            (r[0], r[1]): r[2:]
            for r in conn.execute(
                "select period_grain, period_label, period_start, target_amount, target_to_date, "
                "to_date_label, is_current_period from marts.fct_sales_target_periods "
                "where scope_key = 'a@example.com'"
            ).fetchall()
        }
        # FY2026-Q1 = April-June 2026: 1,440 + 960 + 960 = 3,360.00; QTD to 15 May: 1,440 + 11 x 48 = 1,968.00
        assert periods[("quarter", "FY2026-Q1")] == (
            date(2026, 4, 1),
            Decimal("3360.00"),
            Decimal("1968.00"),
            "QTD",
            True,
        )
        # MTD: 11 working days 1-15 May (1, 4-8, 11-15) x 48.00 = 528.00
        assert periods[("month", "2026-05")][1:] == (Decimal("960.00"), Decimal("528.00"), "MTD", True)
        assert periods[("year", "FY2026")] == (
            date(2026, 4, 1),
            Decimal("12000.00"),
            Decimal("1968.00"),
            "YTD",
            True,
        )

        mismatch = conn.execute(
            "select target_amount, reps_target_amount, reps_with_target, difference_amount, mismatch_status "
            "from marts.fct_target_mismatches where scope_key = 'T1'"
        ).fetchone()
        # T1 FY2026-Q1 5,000 vs reps a 3,360 + b 3,000 (configured, before proration) = 6,360
        assert mismatch == (Decimal("5000.00"), Decimal("6360.00"), 2, Decimal("-1360.00"), "below_reps")
