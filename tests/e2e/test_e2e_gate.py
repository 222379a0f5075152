"""End to end: a critical data-quality failure leaves the previous marts readable and byte-identical.

A good nightly publishes ``<home>/warehouse.duckdb`` and ``<home>/marts/*.parquet``; their SHA-256
and a reader's query result are recorded. Then the sandbox CRMs are broken in two ways that must
each block publishing on their own: 95 % of the Zoho deals are deleted (a structural, table-level
failure) and every Fxiaoke payment comes back in an unknown currency (a row-level check over its
escalation share: systemic). The second nightly must fail, publish nothing (same bytes, same query
result from a fresh reader), send no manager or rep report, and send the data engineers one alert
naming every failed critical expectation with its offending examples.

Uses the e2e helpers (``tests/e2e_support.py``) and the sandbox helpers
(``tests/dq_helpers.py``).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from dq_helpers import file_digests, fxiaoke_edited, served_fxiaoke
from e2e_support import PUBLISHED_DEALS, RUN_DATE, demo_company, email_kind, outbox_messages
from reader_support import Reader

from flows.cli.demo import demo_environment
from flows.nightly import nightly
from flows.pipeline.summary import StepFailed
from flows.sandbox.fxiaoke.wire import to_ms
from flows.warehouse.database import Warehouse

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_harness"), pytest.mark.timeout(900)]


def _read_published(home: Path) -> str:
    """``run_id deals amount`` from a separate read-only process, as a BI tool sees the file."""
    reader = Reader(home / "warehouse.duckdb", PUBLISHED_DEALS)
    try:
        return reader.read()
    finally:
        reader.close()


def test_critical_failure_keeps_previous_marts_readable_and_byte_identical(tmp_path: Path) -> None:
    home = tmp_path / "home"
    company = demo_company(deals=120)
    with demo_environment(home, company) as cluster:
        first = nightly(run_date=RUN_DATE)
        assert first.status == "completed"
        published = file_digests(home)
        assert "warehouse.duckdb" in published and any(f.endswith(".parquet") for f in published)
        answer = _read_published(home)
        assert answer.startswith(first.run_id)
        kinds_before = Counter(email_kind(m) for m in outbox_messages(home / "outbox"))
        assert kinds_before["manager_daily"] > 0

        # break the CRMs: a 95 % drop of Zoho deals, and every Fxiaoke payment in an unknown currency
        live = cluster.zoho.live_ids("Deals")
        cluster.zoho.simulate("Deals", delete=round(len(live) * 0.95))
        now_ms = to_ms(cluster.fxiaoke.now())
        payments = served_fxiaoke(cluster, "PaymentObj")
        for record in payments.values():
            record["mc_currency"] = "XYZ"
            record["last_modified_time"] = now_ms
            record["version"] = str(int(record.get("version") or "0") + 1)
        fxiaoke_edited(cluster, "PaymentObj")

        state = nightly(run_date=RUN_DATE, return_state=True)

    # the flow run failed at the data gate
    assert state.is_failed()
    failure = state.result(raise_on_failure=False)
    assert isinstance(failure, StepFailed) and "data checks" in str(failure)
    second = failure.summary  # type: ignore[attr-defined]

    # the published files are untouched, byte for byte, and still answer the same query
    assert file_digests(home) == published
    assert _read_published(home) == answer

    # no manager or rep report for the second run: only one data-engineer alert was added
    messages = outbox_messages(home / "outbox")
    added = Counter(email_kind(m) for m in messages) - kinds_before
    assert added == Counter({"dq_alert": 1}), added
    alert_msg = next(
        m for m in messages if email_kind(m) == "dq_alert" and second.run_id in str(m["Subject"])
    )
    assert alert_msg["To"] == "data-engineers@salesops-demo.com"
    alert = alert_msg.get_body(("plain",)).get_content()

    # the alert names each failed critical expectation, with examples for row-level ones
    with Warehouse(home / "work" / "warehouse.duckdb").connect() as conn:
        failed = conn.execute(
            "select suite, column_name, details from ops.validation_results "
            "where run_id = ? and severity = 'critical' and not success",
            [second.run_id],
        ).fetchall()
    by_suite = {(suite, column) for suite, column, _ in failed}
    assert ("raw_zoho_deals", "live_ratio") in by_suite
    assert ("raw_fxiaoke_payments", "currency") in by_suite
    for suite, column, details in failed:
        info = json.loads(details)
        assert suite in alert and info["description"].split(" — ")[0] in alert, (suite, column)
        for example in info["examples"][:1]:  # row-level checks: the offending row is named
            assert example["id"] in alert, (suite, example)
    assert "near zero" in alert and "XYZ" in alert and "systemic" in alert
    assert len(second.critical_failures) == len(failed)
