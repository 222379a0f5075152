"""Reference data the suites check against, loaded once per gate run.

The stage list comes from the dbt seed ``crm_stage_mapping.csv``, the known currencies from
``config/exchange_rates.csv``, the user ids owners must resolve to from the landed users tables;
they reach GX as suite parameters (``{"$PARAMETER": "..."}``). The stage seed and the landed
accounts are also joined in the row-level SQL (:func:`reference_relations`).
"""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from flows.config.settings import Settings
from flows.quality.sources import ACCOUNT_TABLES, NO_ACCOUNTS, USER_TABLES
from flows.quality.tables import find_table

#: Clock skew tolerated before a record's modified time counts as "in the future".
FUTURE_SKEW = timedelta(minutes=5)


def stage_mapping_path(settings: Settings) -> Path:
    return settings.dbt_project_dir / "seeds" / "crm_stage_mapping.csv"


def load_stage_mapping(settings: Settings) -> list[dict[str, str]]:
    """The dbt seed's rows (``source, stage, stage_category, ...``), read at every gate run."""
    path = stage_mapping_path(settings)
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as fh:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(fh)]


def known_currencies(settings: Settings) -> list[str] | None:
    """Currencies with an exchange rate in ``config/exchange_rates.csv`` plus the reporting one."""
    path = settings.config_path / "exchange_rates.csv"
    if not path.exists():
        return None
    with path.open(newline="", encoding="utf-8") as fh:
        found = {(row.get("currency") or "").strip() for row in csv.DictReader(fh)}
    found.add(settings.reporting_currency)
    return sorted(c for c in found if c)


def stage_mapping_sql(settings: Settings) -> str:
    """The seed as an inline ``(values ...)`` relation ``(source, stage, stage_category)``.

    Inline rather than a registered frame so any cursor can read it (the row frame streams on its
    own cursor); the seed is a few dozen rows.
    """

    def lit(value: str | None) -> str:
        return "null" if value is None else "'" + value.replace("'", "''") + "'"

    rows = [
        f"({lit(r.get('source'))}, {lit(r.get('stage'))}, {lit(r.get('stage_category'))})"
        for r in load_stage_mapping(settings)
    ] or ["(null, null, null)"]
    return f"(values {', '.join(rows)}) as stage_mapping(source, stage, stage_category)"


def suite_parameters(
    conn: duckdb.DuckDBPyConnection, settings: Settings, checked_at: datetime
) -> dict[str, Any]:
    """Suite parameters; None means "reference data missing": checks using it are skipped (warned)."""
    mapping = load_stage_mapping(settings)
    params: dict[str, Any] = {"max_modified_at": checked_at + FUTURE_SKEW}
    for source in ("zoho", "fxiaoke"):
        stages = sorted({r["stage"] for r in mapping if r.get("source") == source and r.get("stage")})
        params[f"stages_{source}"] = stages or None
        users = USER_TABLES[source]
        qualified = find_table(conn, users)
        params[f"{source}_user_ids"] = (
            [r[0] for r in conn.execute(f"select id from {qualified}").fetchall()] if qualified else None
        )
        # customers resolve against the landed accounts in SQL (see reference_relations); this
        # flag only says whether they can: without an accounts table those checks are skipped
        params[f"{source}_accounts_landed"] = True if find_table(conn, ACCOUNT_TABLES[source]) else None
    params["currencies"] = known_currencies(settings)
    return params


def reference_relations(conn: duckdb.DuckDBPyConnection, settings: Settings) -> dict[str, str]:
    """What the row-level SQL templates join against: the stage seed and the landed accounts."""
    relations = {"stage_mapping": stage_mapping_sql(settings)}
    for source, table in ACCOUNT_TABLES.items():
        relations[f"{source}_accounts"] = find_table(conn, table) or NO_ACCOUNTS
    return relations
