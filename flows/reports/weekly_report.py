"""The weekly manager report: one manager's team over one ISO week, its own report and template.

Where the daily report answers "where do we stand this month", the Monday report answers "what
happened last week and what comes next": what each rep won and lost in the week against the week's
target (:mod:`flows.reports.weekly_section`), how the open pipeline moved from the week's opening to
its closing snapshot and the deals expected to close the next week (:mod:`flows.reports.pipeline_history`,
from the pipeline-history marts), then the month to date as of the week's Sunday. It has its own kind
(``manager_weekly``) and period (``YYYY-Www``), so it never collides with a daily report.
"""

from __future__ import annotations

from flows.reports.common import render
from flows.reports.formatting import Fmt
from flows.reports.manager_context import manager_context
from flows.reports.model import MANAGER_WEEKLY_KIND, Report
from flows.reports.periods import ReportWeek


def weekly_report(
    fmt: Fmt,
    manager: dict,
    rows: list[dict],
    team_figs: dict,
    week: ReportWeek,
    sections: dict,
    checks: dict | None,
) -> Report:
    """The rendered weekly report of one manager (``team_figs``: the team row's figures from
    :func:`flows.reports.manager_figures.team_figures`; ``sections``: week, movement, next_week,
    pace_basis, quarantined)."""
    context = manager_context(
        fmt,
        manager,
        week.end,
        subject_key="subject_weekly",
        rows=rows,
        team_figs=team_figs,
        checks=checks,
        week=week.number,
        start=fmt.short_date(week.start),
        end=fmt.short_date(week.end),
    )
    context |= {"movement": None, "next_week": None, **sections}
    return Report(
        kind=MANAGER_WEEKLY_KIND,
        period_key=week.label,
        recipients=[manager["email"]],
        subject=context["subject"],
        html=render("weekly_report.html", context),
        text=render("weekly_report.txt", context),
        language=fmt.language,
    )
