"""Issue 13 item 7: a message whose DATA was sent is never blindly resent; SMTP waits are bounded.

Before: when the server took the message but its acknowledgement was lost (the connection dropped
after DATA), or the server hung after DATA, the retry sent another copy - three in all - and a hang
cost ~93 s per recipient (3 x 30 s timeouts plus the retry delays). Now such a delivery is recorded
as ``ambiguous``, fails the step (so the run-failed alert goes out), and only ``--resend`` repeats
it; a timeout is not retried and pauses that server, so the next recipients fail at once.
``--resend-undecided`` repeats only the recipients whose outcome is unknown, never a confirmed one.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import duckdb
import pytest

from flows.config.settings import Settings
from flows.pipeline.summary import EmailSent, StepFailed
from flows.pipeline.tasks import raise_on_failed_sends
from flows.reports import emailer
from flows.reports.emailer import send_report
from flows.sandbox.smtp_outbox import LocalSmtpServer, OutboxHandler


class LostAckHandler(OutboxHandler):
    """Keeps the message, then drops the connection before the 250 reaches the client."""

    async def handle_DATA(self, server, session, envelope):
        self.write(envelope)
        server.transport.abort()
        return "250 Message accepted for delivery"


class HangAfterDataHandler(OutboxHandler):
    """Keeps the message, then never answers (until the test ends)."""

    async def handle_DATA(self, server, session, envelope):
        self.write(envelope)
        await asyncio.sleep(20)
        return "250 Message accepted for delivery"


def _send(settings: Settings, recipients: list[str], **kw) -> list[emailer.SendResult]:
    settings.home_dir.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.home_dir / "work.duckdb")) as conn:  # as the report tasks send
        return send_report(
            conn,
            settings,
            kind="manager_daily",
            period_key="2026-11-28",
            recipients=recipients,
            subject="Team attainment",
            html="<p>hi</p>",
            text="hi",
            retry_delay_seconds=0.01,
            **kw,
        )


def _copies(outbox: Path, who: str) -> int:
    return sum(1 for p in outbox.glob("*.eml") if who in p.name)


@pytest.fixture(autouse=True)
def fresh_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(emailer, "_PAUSED", {}, raising=False)
    monkeypatch.setattr(emailer, "SMTP_TIMEOUT_SECONDS", 1.0)


def test_a_lost_acknowledgement_is_not_resent(tmp_path: Path) -> None:
    outbox, home = tmp_path / "outbox", tmp_path / "home"
    with LocalSmtpServer(outbox, handler=LostAckHandler(outbox)) as server:
        settings = Settings(home=home, smtp_host=server.host, smtp_port=server.port)
        first = _send(settings, ["ann@example.com", "bo@example.com"])
        assert [r.status for r in first] == ["ambiguous", "ambiguous"]
        assert all(r.attempts == 1 and "--resend" in (r.error or "") for r in first)
        assert _copies(outbox, "ann@example.com") == _copies(outbox, "bo@example.com") == 1

        rerun = _send(settings, ["ann@example.com", "bo@example.com"])  # the same day, no --resend
        assert [r.status for r in rerun] == ["skipped_duplicate", "skipped_duplicate"]
        assert "may have been delivered" in (rerun[0].error or "")
        assert _copies(outbox, "ann@example.com") == 1

    # somebody checked: ann never got it. --resend decides.
    with LocalSmtpServer(outbox) as healthy:
        settings = Settings(home=home, smtp_host=healthy.host, smtp_port=healthy.port)
        assert [r.status for r in _send(settings, ["ann@example.com"], resend=True)] == ["sent"]
    assert _copies(outbox, "ann@example.com") == 2


def test_a_server_hanging_after_data_costs_one_timeout_and_no_copy(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    with LocalSmtpServer(outbox, handler=HangAfterDataHandler(outbox)) as server:
        settings = Settings(home=tmp_path / "home", smtp_host=server.host, smtp_port=server.port)
        started = time.monotonic()
        results = _send(settings, ["ann@example.com", "bo@example.com", "cy@example.com"])
        elapsed = time.monotonic() - started

    assert [r.status for r in results] == ["ambiguous", "failed", "failed"]
    assert _copies(outbox, "ann@example.com") == 1
    assert not _copies(outbox, "bo@example.com")  # paused: not even tried
    assert "not attempted" in (results[1].error or "")
    # before: 3 attempts x 3 recipients x 1 s; now one timeout (the rest is ledger writes on a busy box)
    assert elapsed < 6, f"{elapsed:.1f} s: one 1 s timeout, not one per attempt and recipient"


def test_an_ambiguous_delivery_fails_the_step_so_the_run_alerts() -> None:
    sent = [EmailSent("ann@example.com", "s", "ambiguous", "outcome unknown: ... --resend")]
    with pytest.raises(StepFailed, match=r"ann@example\.com: outcome unknown"):
        raise_on_failed_sends(sent, "manager")


def test_a_send_interrupted_mid_conversation_is_not_repeated_blindly(tmp_path: Path) -> None:
    from flows.reports.email_ledger import EmailLedger

    outbox = tmp_path / "outbox"
    with LocalSmtpServer(outbox) as server:
        settings = Settings(home=tmp_path / "home", smtp_host=server.host, smtp_port=server.port)
        with EmailLedger(settings) as ledger:  # the process died after this, during the SMTP talk
            ledger.begin("manager_daily", "2026-11-28", "ann@example.com", "s", "<id@x>")
        (result,) = _send(settings, ["ann@example.com"])
    assert result.status == "skipped_duplicate" and "interrupted" in (result.error or "")
    assert not list(outbox.glob("*.eml"))


def test_resend_undecided_repeats_only_the_unknown_outcomes(tmp_path: Path) -> None:
    """After an ambiguous outcome, ``--resend-undecided`` sends again to exactly the recipients whose
    outcome is unknown (ambiguous, or interrupted mid-send), never to one the server confirmed."""
    from flows.reports.email_ledger import EmailLedger

    outbox, home = tmp_path / "outbox", tmp_path / "home"
    with LocalSmtpServer(outbox, handler=LostAckHandler(outbox)) as server:
        settings = Settings(home=home, smtp_host=server.host, smtp_port=server.port)
        assert [r.status for r in _send(settings, ["ann@example.com"])] == ["ambiguous"]
    with LocalSmtpServer(outbox) as healthy:
        settings = Settings(home=home, smtp_host=healthy.host, smtp_port=healthy.port)
        assert [r.status for r in _send(settings, ["bo@example.com"])] == ["sent"]
        with EmailLedger(settings) as ledger:  # cy: the process died during the SMTP conversation
            ledger.begin("manager_daily", "2026-11-28", "cy@example.com", "s", "<id@x>")
        everyone = ["ann@example.com", "bo@example.com", "cy@example.com", "dee@example.com"]
        again = _send(settings, everyone, resend="undecided")
        assert [(r.recipient, r.status) for r in again] == [
            ("ann@example.com", "sent"),  # ambiguous: sent again
            ("bo@example.com", "skipped_duplicate"),  # confirmed: never twice
            ("cy@example.com", "sent"),  # interrupted: sent again
            ("dee@example.com", "sent"),  # never tried: sent as on any run
        ]
        # now every outcome is decided: a second --resend-undecided sends nothing
        assert {r.status for r in _send(settings, everyone, resend="undecided")} == {"skipped_duplicate"}
    copies = {who: _copies(outbox, who) for who in everyone}
    assert copies == {"ann@example.com": 2, "bo@example.com": 1, "cy@example.com": 1, "dee@example.com": 1}


def test_resend_flags_of_the_cli() -> None:
    from flows.nightly import nightly
    from flows.reports.emailer import resend_mode

    assert resend_mode(False, True) == "undecided" and resend_mode(True, False) is True
    assert resend_mode(False, False) is False
    with pytest.raises(ValueError, match="exclude each other"):
        resend_mode(True, True)
    assert nightly.validate_parameters({"resend": "undecided"})["resend"] == "undecided"  # a deployment too
    with pytest.raises(Exception, match="resend"):
        nightly.validate_parameters({"resend": "some"})
