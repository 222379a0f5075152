"""The week a weekly manager report covers: one ISO week, the same for the scheduled send and a preview.

The Monday flow (:mod:`flows.weekly`) and ``salesops report preview --weekly`` both ask
:func:`report_week` with their run date, so a run date gives one week number everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class ReportWeek:
    """An ISO week, Monday to Sunday."""

    start: date
    end: date

    @property
    def label(self) -> str:
        """``2026-W48``: the ISO year and week (the e-mail log's period key of a weekly report)."""
        year, week, _ = self.start.isocalendar()
        return f"{year}-W{week:02d}"

    @property
    def number(self) -> int:
        return self.start.isocalendar()[1]


def report_week(run_date: date) -> ReportWeek:
    """The last ISO week that has ended by the end of ``run_date``.

    A Sunday is the end of its own week; any other day reports the week before it, so Monday
    2026-11-30 (the scheduled send) and Sunday 2026-11-29 both give 2026-W48 (23–29 November).
    """
    end = run_date - timedelta(days=run_date.isoweekday() % 7)
    return ReportWeek(start=end - timedelta(days=6), end=end)
