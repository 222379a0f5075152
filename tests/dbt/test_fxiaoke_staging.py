"""Staging for every Fxiaoke raw table: PersonnelObj and the configured custom objects.

Lands the sandbox's employees, personnel and custom object through the real connector and
ingest, then builds (and tests) the staging models with the real dbt project.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pytest
from fxiaoke_support import AS_OF

from flows.config.settings import get_settings
from flows.crm.fxiaoke.values import ms_to_datetime
from flows.crm.landing import ingest_source
from flows.sandbox.company.generator import generate_company
from flows.sandbox.company.model import Company
from flows.sandbox.fxiaoke.server import FxiaokeSandbox
from flows.sandbox.fxiaoke.wire import VISIT_OBJECT
from flows.warehouse.database import Warehouse
from flows.warehouse.dbt_runner import run_dbt

MODELS = ("stg_fxiaoke__employees", "stg_fxiaoke__personnel", "stg_fxiaoke__custom_object_records")


@pytest.fixture(scope="module")
def company() -> Company:
    return generate_company(seed=3, reps=8, deals=40, as_of=AS_OF)


def _build(home: Path, sandbox: FxiaokeSandbox, make_connector, custom_objects: list[str]) -> Path:
    settings = get_settings(home=home, zoho_enabled=False, fxiaoke_enabled=True)
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    connector = make_connector(custom_objects=custom_objects)
    objects = ["employees", "personnel", *(f"custom_{api}" for api in custom_objects)]
    ingest_source(connector, Warehouse(settings.warehouse_path), run_id="r1", objects=objects)
    run_dbt(settings, ("build", "--select", *MODELS), run_date=date(2026, 3, 31))
    return settings.warehouse_path


def _rows(path: Path, sql: str) -> list[dict]:
    with duckdb.connect(str(path)) as conn:
        cursor = conn.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_personnel_and_custom_objects_are_staged(tmp_path, sandbox, make_connector, company):
    # No custom object configured yet: the model builds, empty.
    path = _build(tmp_path, sandbox, make_connector, [])
    assert _rows(path, "select count(*) as n from staging.stg_fxiaoke__custom_object_records") == [{"n": 0}]
    # Configured and landed: the next build stages it, with no dbt change.
    path = _build(tmp_path, sandbox, make_connector, [VISIT_OBJECT])
    fx = company.for_crm("fxiaoke")

    personnel = _rows(path, "select * from staging.stg_fxiaoke__personnel order by personnel_id")
    employees = {r["employee_id"]: r for r in _rows(path, "select * from staging.stg_fxiaoke__employees")}
    assert len(personnel) == len(fx.users) == len(employees)
    by_key = {str(1000 + u.key): u for u in fx.users}
    for row in personnel:
        user = by_key[row["personnel_id"]]
        assert row["user_id"] == row["personnel_id"] and row["personnel_name"] == user.full_name
        employee = employees[row["open_user_id"]]  # one personnel row per employee, same person
        assert employee["employee_name"] == row["personnel_name"] and employee["email"] == row["email"]
        assert row["main_department_id"] == employee["main_department_id"]
        assert row["status_code"] == ("1" if user.active else "2")
        assert (row["leader_personnel_id"] is None) == (user.manager_key is None)
        assert row["created_at"] is not None and row["modified_at"] is not None

    visits = _rows(path, "select * from staging.stg_fxiaoke__custom_object_records order by record_id")
    with duckdb.connect(str(path)) as conn:
        raw = dict(conn.execute(f"select id, record from raw.fxiaoke_custom_{VISIT_OBJECT}").fetchall())
    assert len(visits) == len(raw) == len(fx.contacts)
    for row in visits:
        source = json.loads(raw[row["record_id"]])
        assert row["object_api_name"] == VISIT_OBJECT
        assert row["custom_record_key"] == f"{VISIT_OBJECT}:{row['record_id']}"
        assert row["owner_id"] == source["owner"][0] and row["record_name"] == source["name"]
        # staging timestamps are naive UTC
        assert row["created_at"] == ms_to_datetime(source["create_time"]).replace(tzinfo=None)
        assert row["modified_at"] == ms_to_datetime(source["last_modified_time"]).replace(tzinfo=None)
        kept = json.loads(row["record"]) if isinstance(row["record"], str) else row["record"]
        assert kept == source, "the record's JSON is kept whole"
