"""What a built report is: plain data (:class:`Report`), its kind, and the period it covers.

Building, saving (:mod:`flows.reports.html_files`) and sending (:mod:`flows.reports.emailer`) are
separate steps, so each can be tested; see docs/reports.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

# ``kind`` + ``period_key`` is what the e-mail log deduplicates on (one send per recipient and period)
MANAGER_REPORT_KIND = "manager_daily"
MANAGER_WEEKLY_KIND = "manager_weekly"
STATEMENT_KIND = "commission_statement"
FINANCE_KIND = "finance_summary"
ALERT_KIND = "dq_alert"
RUN_FAILED_KIND = "run_failed"


@dataclass
class Report:
    """One rendered report, ready for :func:`flows.reports.emailer.send_report`."""

    kind: str
    period_key: str
    recipients: list[str]
    subject: str
    html: str
    text: str
    inline_images: dict[str, bytes] = field(default_factory=dict)
    attachments: list[tuple[str, bytes, str]] = field(default_factory=list)
    language: str = "en"


def previous_month(run_date: date) -> date:
    """The month a monthly run on ``run_date`` closes: the one before run_date's month."""
    return (run_date.replace(day=1) - timedelta(days=1)).replace(day=1)
