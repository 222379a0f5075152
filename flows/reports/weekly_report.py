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
from flows.reports.manager_figures import pipeline_total, team_label, total_row
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
    team = team_label(manager)
    month_label = fmt.month(week.end)
    words = {
        "team": team,
        "month": month_label,
        "as_of": fmt.full_date(week.end),
        "week": week.number,
        "start": fmt.short_date(week.start),
        "end": fmt.short_date(week.end),
    }
    subject = fmt.t("subject_weekly", **words)
    context = {
        "t": fmt.t,
        "lang": fmt.language,
        "subject": subject,
        "manager_name": manager["rep_name"],
        "team_name": team,
        "month_label": month_label,
        "as_of": words["as_of"],
        "words": words,
        "currency": fmt.currency,
        "rows": rows,
        "total": total_row(team_figs, fmt),
        "pipeline_total": pipeline_total(team_figs, fmt),
        "checks": checks,
        "movement": None,
        "next_week": None,
        **sections,
    }
    return Report(
        kind=MANAGER_WEEKLY_KIND,
        period_key=week.label,
        recipients=[manager["email"]],
        subject=subject,
        html=render("weekly_report.html", context),
        text=render("weekly_report.txt", context),
        language=fmt.language,
    )
