"""Load the files sales operations maintain in ``config/`` into the warehouse's ``config`` schema.

:func:`load_config` validates every file (:func:`flows.config.bundle.read_bundle`), refuses an
unrecorded change to a locked target (:mod:`flows.config.target_locks`) and then drops and
recreates every ``config.*`` table in one transaction, so dbt never sees a half-loaded
configuration. The files, their tables and the error messages: ``config/README.md`` and
``docs/configuration.md``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from flows.config import target_locks
from flows.config.bundle import read_bundle

CONFIG_SCHEMA = "config"

_DDL = {
    "settings": "setting_key varchar not null primary key, setting_value varchar not null",
    "targets": """
        scope_type varchar not null, scope_key varchar not null, grain varchar not null,
        period varchar not null, period_start date not null, period_end date not null,
        target_amount decimal(18,2) not null, currency varchar not null,
        source_file varchar not null, source_row integer not null""",
    "exchange_rates": """
        currency varchar not null, rate_date date not null, rate_to_reporting decimal(18,8) not null,
        reporting_currency varchar not null, source_row integer not null""",
    "commission_plans": """
        plan_id varchar not null, plan_version integer not null, plan_name varchar,
        effective_from date not null, effective_to date, currency varchar not null,
        credit_on varchar not null""",
    "commission_plan_components": """
        plan_id varchar not null, plan_version integer not null, component varchar not null,
        component_type varchar not null, measure varchar not null, weight decimal(9,4) not null,
        tier_position varchar not null, rate decimal(9,6)""",
    "commission_plan_tiers": """
        plan_id varchar not null, plan_version integer not null, component varchar not null,
        tier_number integer not null, band_lower decimal(18,4) not null, band_upper decimal(18,4),
        rate decimal(9,6) not null""",
    "commission_plan_assignments": """
        assignment_id integer not null, plan_id varchar not null, role varchar, rep_email varchar,
        rep_id varchar, valid_from date not null, valid_to date""",
    "deal_splits": """
        source varchar not null, source_deal_id varchar not null, rep_email varchar not null,
        split_share decimal(9,6) not null, split_type varchar not null, source_row integer not null""",
    "monthly_distribution": """
        fiscal_month integer not null, share_pct decimal(7,4) not null, source_row integer not null""",
    "calendar_regions": "region_name varchar not null, country_code varchar not null",
    "calendar": """
        calendar_date date not null, country_code varchar not null, is_weekend boolean not null,
        is_public_holiday boolean not null, is_working_day boolean not null, holiday_name varchar,
        day_source varchar not null, fiscal_year integer not null, fiscal_quarter integer not null,
        fiscal_month integer not null, period_month date not null, fiscal_quarter_start date not null,
        fiscal_year_start date not null, month_label varchar not null,
        fiscal_quarter_label varchar not null, fiscal_year_label varchar not null,
        week_start date not null, week_label varchar not null""",
}


def load_config(
    conn: duckdb.DuckDBPyConnection, config_dir: Path, run_id: str | None = None
) -> dict[str, int]:
    """Validate ``config_dir`` and (re)create the ``config.*`` tables in one transaction.

    Returns the number of rows written per table (keys are table names without schema). Every
    table also gets ``run_id`` and ``loaded_at`` columns. Nothing is written when a file is wrong,
    or when a locked target changed without a record in ``target_changes.csv``; accepted changes
    are appended to ``config.target_changes`` (never dropped) in the same transaction.
    """
    bundle = read_bundle(config_dir)
    tables = bundle.tables
    run_id = run_id or "manual"
    loaded_at = datetime.now(UTC)
    # Changes to locked targets need a change record (raises ConfigError naming file, row, field).
    history = target_locks.check_locked_targets(conn, bundle)
    conn.execute("begin transaction")
    try:
        conn.execute(f"create schema if not exists {CONFIG_SCHEMA}")
        target_locks.record_changes(conn, history, run_id)
        for table, rows in tables.items():
            qualified = f"{CONFIG_SCHEMA}.{table}"
            meta = "run_id varchar not null, loaded_at timestamptz not null"
            conn.execute(f"drop table if exists {qualified}")
            conn.execute(f"create table {qualified} ({_DDL[table]}, {meta})")
            if not rows:
                continue
            # Values travel as text and are cast by the insert to the column types: exact decimals.
            frame = pd.DataFrame(
                [[None if v is None else str(v) for v in row] for row in rows],
                columns=[f"c{i}" for i in range(len(rows[0]))],
                dtype=object,
            )
            conn.register("_salesops_config_rows", frame)
            try:
                conn.execute(
                    f"insert into {qualified} select *, ?, ? from _salesops_config_rows", [run_id, loaded_at]
                )
            finally:
                conn.unregister("_salesops_config_rows")
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise
    return {table: len(rows) for table, rows in tables.items()}
