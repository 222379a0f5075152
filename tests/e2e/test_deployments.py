"""prefect.yaml: every deployment points at a real flow, with a valid cron and an explicit time zone."""

from __future__ import annotations

import importlib
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from prefect import Flow

PREFECT_YAML = Path(__file__).resolve().parents[2] / "prefect.yaml"
DEPLOYMENTS = yaml.safe_load(PREFECT_YAML.read_text())["deployments"]


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=lambda d: d["name"])
def test_deployment_entrypoint_is_a_flow_with_a_zoned_schedule(deployment: dict) -> None:
    path, _, name = deployment["entrypoint"].partition(":")
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    assert isinstance(getattr(module, name), Flow)
    assert deployment["work_pool"]["name"] == "salesops-process"
    (schedule,) = deployment["schedules"]
    ZoneInfo(schedule["timezone"])  # raises on an unknown zone
    assert schedule["timezone"] == "Asia/Shanghai"
    from prefect.client.schemas.schedules import CronSchedule

    CronSchedule(cron=schedule["cron"], timezone=schedule["timezone"])  # raises on a bad cron


def test_schedules_are_the_agreed_ones() -> None:
    crons = {d["name"]: d["schedules"][0]["cron"] for d in DEPLOYMENTS}
    assert crons == {
        "nightly": "30 2 * * *",
        "weekly-manager-report": "0 8 * * 1",
        "monthly-commissions": "0 6 1 * *",
    }
