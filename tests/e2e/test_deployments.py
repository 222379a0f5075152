"""prefect.yaml: every deployment points at a real flow, with a valid cron and an explicit time zone;
the alert automation watches every salesops flow."""

from __future__ import annotations

import importlib
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from prefect import Flow

PREFECT_YAML = Path(__file__).resolve().parents[2] / "prefect.yaml"
DEPLOYMENTS = yaml.safe_load(PREFECT_YAML.read_text())["deployments"]


SCHEDULED = [d for d in DEPLOYMENTS if d["schedules"]]


def _flow(deployment: dict) -> Flow:
    path, _, name = deployment["entrypoint"].partition(":")
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    return getattr(module, name)


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=lambda d: d["name"])
def test_deployment_entrypoint_is_a_flow_on_the_process_pool(deployment: dict) -> None:
    assert isinstance(_flow(deployment), Flow)
    assert deployment["work_pool"]["name"] == "salesops-process"
    assert deployment["work_pool"]["job_variables"]["env"] == {
        "SALESOPS_HOME": "{{ $SALESOPS_HOME }}",
        "SALESOPS_PROJECT_DIR": "{{ $SALESOPS_PROJECT_DIR }}",
    }


@pytest.mark.parametrize("deployment", SCHEDULED, ids=lambda d: d["name"])
def test_deployment_entrypoint_is_a_flow_with_a_zoned_schedule(deployment: dict) -> None:
    assert isinstance(_flow(deployment), Flow)
    (schedule,) = deployment["schedules"]
    ZoneInfo(schedule["timezone"])  # raises on an unknown zone
    assert schedule["timezone"] == "Asia/Shanghai"
    from prefect.client.schemas.schedules import CronSchedule

    CronSchedule(cron=schedule["cron"], timezone=schedule["timezone"])  # raises on a bad cron


def test_schedules_are_the_agreed_ones() -> None:
    crons = {d["name"]: d["schedules"][0]["cron"] for d in SCHEDULED}
    assert crons == {
        "nightly": "30 2 * * *",
        "weekly-manager-report": "0 8 * * 1",
        "monthly-commissions": "0 6 1 * *",
        "nightly-deadline": "0 6 * * *",
    }


def test_the_alert_automation_watches_every_salesops_flow_but_its_own() -> None:
    """The run-alert deployment's trigger is a valid Prefect automation that fires on Failed and
    Crashed runs of every other deployed flow (and the CLI's ingest), never on the alert flow."""
    import uuid

    from prefect.cli.deploy._triggers import _initialize_deployment_triggers

    (alert,) = [d for d in DEPLOYMENTS if d["name"] == "run-alert"]
    assert alert["schedules"] == []
    (trigger,) = _initialize_deployment_triggers(alert["name"], [dict(t) for t in alert["triggers"]])
    trigger.set_deployment_id(uuid.uuid4())
    automation = trigger.as_automation()
    assert set(automation.trigger.expect) == {"prefect.flow-run.Failed", "prefect.flow-run.Crashed"}
    watched = set(automation.trigger.match_related["prefect.resource.name"])
    others = {_flow(d).name for d in DEPLOYMENTS if d is not alert}
    assert watched == others | {"salesops-ingest"}
    assert _flow(alert).name not in watched
    (action,) = automation.actions
    assert action.parameters == {"flow_run": "{{ event.resource.id }}"}
