"""Issue 13 item 6: the e-mail ledger outlives the work warehouse, and a failure anywhere alerts.

Before: the record of what was sent lived only in the work warehouse (``ops.email_log``), so deleting
a corrupt one and rerunning the same day sent every report again; the run-failed alert needed that
same file, so a truncated work warehouse failed the run without an alert; and a corrupt published
file with no work warehouse crashed before any step was named.
"""

from __future__ import annotations

from datetime import date
from email import message_from_bytes
from pathlib import Path

import duckdb
import pytest

from flows.config.settings import Settings
from flows.pipeline.summary import StepFailed
from flows.reports.emailer import send_report
from flows.sandbox.smtp_outbox import LocalSmtpServer

RUN_DATE = date(2026, 11, 28)


def _send(conn, settings: Settings, recipients: list[str], **kw) -> list[str]:
    results = send_report(
        conn,
        settings,
        kind="manager_daily",
        period_key=RUN_DATE.isoformat(),
        recipients=recipients,
        subject="Team attainment",
        html="<p>hi</p>",
        text="hi",
        retry_delay_seconds=0.01,
        **kw,
    )
    return [r.status for r in results]


def _kinds(outbox: Path) -> list[str]:
    return [str(message_from_bytes(p.read_bytes())["X-Salesops-Kind"]) for p in sorted(outbox.glob("*.eml"))]


def test_a_rebuilt_work_warehouse_does_not_resend(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    work = tmp_path / "home" / "work" / "warehouse.duckdb"
    work.parent.mkdir(parents=True)
    with LocalSmtpServer(outbox) as server:
        settings = Settings(home=tmp_path / "home", smtp_host=server.host, smtp_port=server.port)
        with duckdb.connect(str(work)) as conn:
            assert _send(conn, settings, ["mia@example.com", "wang@example.com"]) == ["sent", "sent"]
        work.unlink()  # "corrupt": deleted, the rerun rebuilds it from scratch
        with duckdb.connect(str(work)) as conn:
            again = _send(conn, settings, ["mia@example.com", "wang@example.com", "new@example.com"])
            copied = conn.execute("select recipient, status from ops.email_log order by recipient").fetchall()
    assert again == ["skipped_duplicate", "skipped_duplicate", "sent"]
    assert len(list(outbox.glob("*.eml"))) == 3
    # the warehouse still gets its copy of what this run did, for SQL users
    assert ("new@example.com", "sent") in copied and ("mia@example.com", "skipped_duplicate") in copied


def test_the_history_of_an_existing_warehouse_is_imported_once(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    with LocalSmtpServer(outbox) as server, duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        settings = Settings(home=tmp_path / "home", smtp_host=server.host, smtp_port=server.port)
        conn.execute(
            "create schema ops; create table ops.email_log (kind varchar not null,"
            " period_key varchar not null,"
            " recipient varchar not null, subject varchar, message_id varchar, status varchar not null,"
            " error varchar, sent_at timestamptz not null)"
        )
        conn.execute(
            "insert into ops.email_log values"
            " ('manager_daily', '2026-11-28', 'Mia@example.com', 's', '<m>', 'sent', null, now())"
        )
        assert _send(conn, settings, ["mia@example.com"]) == ["skipped_duplicate"]
        assert _send(None, settings, ["mia@example.com"]) == ["skipped_duplicate"]  # no warehouse needed
    assert not list(outbox.glob("*.eml"))


@pytest.fixture
def smtp_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    outbox = tmp_path / "outbox"
    with LocalSmtpServer(outbox) as server:
        for key, value in {
            "SALESOPS_HOME": str(tmp_path / "home"),
            "SALESOPS_SMTP_HOST": server.host,
            "SALESOPS_SMTP_PORT": str(server.port),
            "SALESOPS_ZOHO_ENABLED": "false",
            "SALESOPS_FXIAOKE_ENABLED": "false",
        }.items():
            monkeypatch.setenv(key, value)
        yield outbox


@pytest.mark.usefixtures("prefect_harness")
def test_a_truncated_work_warehouse_fails_the_run_with_an_alert(tmp_path: Path, smtp_env: Path) -> None:
    from flows.nightly import nightly

    work = tmp_path / "home" / "work" / "warehouse.duckdb"
    work.parent.mkdir(parents=True)
    with duckdb.connect(str(work)) as conn:
        conn.execute("create table t as select range as i from range(100000)")
    with work.open("r+b") as fh:
        fh.truncate(work.stat().st_size // 2)

    with pytest.raises(StepFailed) as failure:
        nightly(run_date=RUN_DATE)

    assert "at step '" in str(failure.value)
    assert _kinds(smtp_env) == ["run_failed"]


@pytest.mark.usefixtures("prefect_harness")
def test_a_corrupt_published_file_without_a_work_warehouse_is_a_named_step_with_an_alert(
    tmp_path: Path, smtp_env: Path
) -> None:
    from flows.nightly import nightly

    published = tmp_path / "home" / "warehouse.duckdb"
    published.parent.mkdir(parents=True)
    published.write_bytes(b"not a database" * 1000)

    with pytest.raises(StepFailed) as failure:
        nightly(run_date=RUN_DATE)

    assert f"step 'prepare' ({published})" in str(failure.value)
    (alert,) = sorted(smtp_env.glob("*.eml"))
    assert "prepare" in alert.read_text(errors="replace")
