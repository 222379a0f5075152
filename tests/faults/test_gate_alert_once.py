"""Issue 13: one alert per failure. A run stopped by the data-quality gate was e-mailed twice: its
data-quality alert, then the run-failed alert of the automation (``flows/alerts.py:run_alert``,
which Prefect runs for every Failed run), deduplicated only against an earlier run-failed alert.
Now the gate stop records in the e-mail ledger that its data-quality alert told the data engineers,
and the automation's alert skips them; a crashed run, which nothing inside alerted, still gets it.

The automation is not started here (tests/e2e/test_prefect_operations.py shows that it runs
``run_alert`` for a failed or crashed run); this runs the flow it starts, on the run's id.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from dq_helpers import fxiaoke_edited, served_fxiaoke
from e2e_support import RUN_DATE, demo_company, email_kind, outbox_messages
from faults_support import SMALL

from flows.alerts import run_alert
from flows.cli.demo import demo_environment
from flows.nightly import nightly
from flows.sandbox.fxiaoke.wire import to_ms

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.timeout(600)]


def _alerts_about(home: Path, run_id: str) -> Counter:
    return Counter(email_kind(m) for m in outbox_messages(home / "outbox") if run_id in str(m["Subject"]))


def _crashed_nightly() -> str:
    """A nightly run that crashed (its process killed): Prefect has it, nothing in it alerted."""
    from prefect.client.orchestration import get_client
    from prefect.states import Crashed

    with get_client(sync_client=True) as client:
        run = client.create_flow_run(
            nightly, parameters={"run_date": RUN_DATE.isoformat()}, state=Crashed(message="killed (OOM)")
        )
    return str(run.id)


def test_a_gate_stop_alerts_once_and_a_crash_still_alerts(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with demo_environment(home, demo_company(**SMALL)) as cluster:
        # every Fxiaoke payment in a currency nobody knows: the raw data gate stops the run
        now_ms = to_ms(cluster.fxiaoke.now())
        for record in served_fxiaoke(cluster, "PaymentObj").values():
            record["mc_currency"] = "XYZ"
            record["last_modified_time"] = now_ms
        fxiaoke_edited(cluster, "PaymentObj")
        state = nightly(run_date=RUN_DATE, return_state=True)
        assert state.is_failed() and "data checks" in str(state.message)
        stopped = str(state.state_details.flow_run_id)
        automation = run_alert(flow_run=f"prefect.flow-run.{stopped}")  # as the automation runs it

        crashed = _crashed_nightly()
        crash_alert = run_alert(flow_run=f"prefect.flow-run.{crashed}")

    # the gate stop: its data-quality alert, and nothing else
    assert _alerts_about(home, stopped) == Counter({"dq_alert": 1})
    assert [e.status for e in automation] == ["skipped_duplicate"]
    # the crash: the automation's run-failed alert, once
    assert _alerts_about(home, crashed) == Counter({"run_failed": 1})
    assert [e.status for e in crash_alert] == ["sent"]
