"""The manager reports: the daily one (each manager's team, month to date) and the Monday weekly one.

One report per active manager with an e-mail, in the manager's language: attainment per rep and for
the team against the month's target and against pace (:mod:`flows.reports.manager_figures`),
pipeline coverage of the reps still in the team, the chart, the optional sections of
:mod:`flows.reports.manager_sections`, and a footnote with the last data-gate run and the team's
records held back by it. The weekly report covers one ISO week (:func:`flows.reports.periods.report_week`):
what each rep closed in it (:mod:`flows.reports.weekly_section`), how the open pipeline moved and what
is expected to close next week (:mod:`flows.reports.pipeline_history`), and the month to date as of its
Sunday; it is rendered by :mod:`flows.reports.weekly_report`.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import duckdb

from flows.config.settings import Settings
from flows.quality.quarantine import quarantine_summary
from flows.quality.tables import find_table
from flows.reports.charts import chart_fmt, chart_label, render_attainment_chart
from flows.reports.common import dicts, render, to_float
from flows.reports.formatting import Fmt
from flows.reports.manager_context import manager_context
from flows.reports.manager_figures import rep_row, team_figures
from flows.reports.manager_sections import STALE_DAYS, SectionSources
from flows.reports.model import MANAGER_REPORT_KIND, Report
from flows.reports.periods import report_week
from flows.reports.pipeline_history import pipeline_sections
from flows.reports.recipients import RecipientsConfig, load_recipients
from flows.reports.semantic_figures import apply_month_figures, month_figures
from flows.reports.weekly_report import weekly_report
from flows.reports.weekly_section import week_section

log = logging.getLogger(__name__)

CHART_CID = "attainment_chart"


def build_manager_reports(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    run_date: date,
    weekly: bool = False,
    recipients: RecipientsConfig | None = None,
) -> list[Report]:
    """One report per active manager with an e-mail: their reps' month to date.

    A rep is in the team when ``dim_sales_reps.manager_id`` is the manager; reps who left are still
    shown if they have numbers that month, but not counted in pipeline and coverage. Managers without
    reps are skipped (logged). The daily report is as of ``run_date``; ``weekly`` makes the edition
    of the ISO week :func:`report_week` gives for ``run_date``, as of that week's Sunday (its own
    kind and ``YYYY-Www`` period, so it never collides with a daily).
    """
    dim = find_table(conn, "marts.dim_sales_reps")
    scorecard = find_table(conn, "marts.fct_rep_scorecard")
    if dim is None or scorecard is None:
        raise LookupError(
            "marts.dim_sales_reps and marts.fct_rep_scorecard must exist to build manager reports"
        )
    recipients = recipients or load_recipients(settings)
    week = report_week(run_date) if weekly else None
    as_of = week.end if week else run_date
    managers = dicts(
        conn,
        f"""
        select rep_id, rep_name, email, team_name, source
        from {dim}
        where lower(role) = 'manager' and coalesce(is_active, true)
        order by team_name, rep_name
        """,
    )
    context_tables = SectionSources.discover(conn)
    checks = _checks_footnote(conn)
    held_back = quarantine_summary(conn)  # raw rows the gate keeps out of the marts
    semantic = month_figures(conn, settings, as_of)  # the metrics, defined once (None: no manifest)
    reports = []
    for manager in managers:
        if not manager["email"]:
            log.warning("manager %s (%s) has no e-mail: no report", manager["rep_name"], manager["rep_id"])
            continue
        reps = _team(conn, dim, scorecard, manager["rep_id"], as_of)
        apply_month_figures(reps, semantic)
        if not reps:
            log.info("manager %s has no reps: no report", manager["rep_name"])
            continue
        fmt = Fmt(recipients.language_for(manager["email"], manager["source"]), settings.reporting_currency)
        team_ids = {r["rep_id"] for r in reps}
        sections: dict = {"quarantined": [q for q in held_back if q["rep_id"] in team_ids]}
        sections["pace_basis"], team_figs = team_figures(conn, reps, as_of, semantic)
        rows = [rep_row(r, fmt) for r in reps]
        if week:  # the weekly report: the week's closes, pipeline movement, next week's closes
            sections["week"] = week_section(conn, rows, week, fmt)
            sections |= pipeline_sections(conn, rows, week, fmt)
            reports.append(weekly_report(fmt, manager, rows, team_figs, week, sections, checks))
            continue
        sections |= context_tables.sections(conn, [r["rep_id"] for r in reps], as_of, fmt, manager)
        reports.append(_manager_report(fmt, manager, reps, rows, team_figs, as_of, sections, checks))
    return reports


def _team(
    conn: duckdb.DuckDBPyConnection, dim: str, scorecard: str, manager_id: str, as_of: date
) -> list[dict]:
    """The manager's reps with their month's scorecard, best attainment first; ``has_left`` as of the date.

    A rep has left when ``left_on`` is on or before the date (else, without ``left_on``, when not
    active); a rep who left is listed only with numbers that month.
    """
    return dicts(
        conn,
        f"""
        with team as (
            select r.*,
                   case when r.left_on is not null then r.left_on <= ?
                        else not coalesce(r.is_active, true) end as has_left
            from {dim} as r
            where r.manager_id = ? and r.rep_id <> ?
        )
        select r.rep_id, r.rep_name, r.email, r.has_left,
               s.won_amount, s.target_amount, s.attainment, s.deals_won, s.deals_lost, s.win_rate,
               s.open_pipeline_amount, s.weighted_pipeline_amount
        from team as r
        left join {scorecard} as s on s.rep_id = r.rep_id and s.period_month = ?
        where not r.has_left or s.rep_id is not null
        order by s.attainment desc nulls last, r.rep_name
        """,
        [as_of, manager_id, manager_id, as_of.replace(day=1)],
    )


def _manager_report(
    fmt: Fmt,
    manager: dict,
    reps: list[dict],
    rows: list[dict],
    team_figs: dict,
    as_of: date,
    sections: dict,
    checks: dict | None,
) -> Report:
    context = manager_context(
        fmt, manager, as_of, subject_key="subject_daily", rows=rows, team_figs=team_figs, checks=checks
    )
    total = context["total"]
    active = [row for row, r in zip(rows, reps, strict=True) if not r["has_left"]]
    context |= {
        "pipeline_rows": active,
        "leavers": [row["rep_name"] for row in rows if row["has_left"]],
        "chart_cid": CHART_CID,
        "stale_days": STALE_DAYS,
        **sections,
    }
    words_fmt = chart_fmt(fmt)
    chart = render_attainment_chart(
        [*(chart_label(r["rep_name"], r["email"]) for r in reps), words_fmt.t("team_total")],
        [*(to_float(r["attainment"]) for r in reps), to_float(total["attainment_raw"])],
        expected=[*(_share(r["target_to_date"], r["target_amount"]) for r in reps),
                  _share(total["target_to_date_raw"], total["target_raw"])],
        colors=[*(row["color"] for row in rows), total["color"]],
        fmt=words_fmt,
    )  # fmt: skip
    return Report(
        kind=MANAGER_REPORT_KIND,
        period_key=as_of.isoformat(),
        recipients=[manager["email"]],
        subject=context["subject"],
        html=render("manager_report.html", context),
        text=render("manager_report.txt", context),
        inline_images={CHART_CID: chart},
        language=fmt.language,
    )


def _share(to_date: Any, target: Any) -> float | None:
    """The part of the target due by the report date (where the pace mark sits on the chart)."""
    if to_date is None or target is None or not float(target):
        return None
    return float(to_date) / float(target)


def _checks_footnote(conn: duckdb.DuckDBPyConnection) -> dict | None:
    """The last gate run's counts, for the footnote (None when no results are recorded)."""
    if find_table(conn, "ops.validation_results") is None:
        return None
    row = conn.execute(
        """
        with last as (select run_id from ops.validation_results order by checked_at desc limit 1)
        select v.run_id, count(*) filter (where success), count(*) filter (where not success),
               count(*) filter (where not success and severity = 'critical')
        from ops.validation_results v join last using (run_id) group by v.run_id
        """
    ).fetchone()
    if row is None:
        return None
    return {"run_id": row[0], "passed": row[1], "failed": row[2], "critical": row[3]}
