"""The manager report (daily, and the Monday weekly edition): each manager's team, month to date.

One report per active manager with an e-mail, in the manager's language: attainment per rep and for
the team (recomputed from sums), pipeline coverage, the chart, the optional sections of
:mod:`flows.reports.manager_sections`, and a footnote with the last data-gate run and the team's
records held back by it.
"""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal
from typing import Any

import duckdb

from flows.config.settings import Settings
from flows.quality.quarantine import quarantine_summary
from flows.quality.tables import find_table
from flows.reports.charts import chart_label, render_attainment_chart
from flows.reports.common import column_or_null, columns, dec, dicts, render, to_float
from flows.reports.formatting import Fmt, attainment_color
from flows.reports.manager_sections import STALE_DAYS, SectionSources
from flows.reports.model import MANAGER_REPORT_KIND, MANAGER_WEEKLY_KIND, Report
from flows.reports.recipients import RecipientsConfig, load_recipients

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
    """One report per active manager with an e-mail: their reps' month to date for run_date's month.

    A rep is in the team when ``dim_sales_reps.manager_id`` is the manager; reps who left are still
    shown if they have numbers that month. Managers without reps are skipped (logged). ``weekly``
    makes the Monday edition (its own kind and ISO-week period, so it never collides with a daily).
    """
    dim = find_table(conn, "marts.dim_sales_reps")
    scorecard = find_table(conn, "marts.fct_rep_scorecard")
    if dim is None or scorecard is None:
        raise LookupError(
            "marts.dim_sales_reps and marts.fct_rep_scorecard must exist to build manager reports"
        )
    recipients = recipients or load_recipients(settings)
    month = run_date.replace(day=1)
    dim_cols = columns(conn, dim)
    sc_cols = columns(conn, scorecard)
    managers = dicts(
        conn,
        f"""
        select rep_id, rep_name, email, team_name, {column_or_null(dim_cols, "source")} as source
        from {dim}
        where lower(role) = 'manager' and coalesce(is_active, true)
        order by team_name, rep_name
        """,
    )
    context_tables = SectionSources.discover(conn)
    checks = _checks_footnote(conn)
    held_back = quarantine_summary(conn)  # raw rows the gate keeps out of the marts
    reports = []
    for manager in managers:
        if not manager["email"]:
            log.warning("manager %s (%s) has no e-mail: no report", manager["rep_name"], manager["rep_id"])
            continue
        reps = dicts(
            conn,
            f"""
            select r.rep_id, r.rep_name, r.email,
                   s.won_amount, s.target_amount, s.attainment, s.deals_won, s.deals_lost, s.win_rate,
                   s.open_pipeline_amount,
                   {column_or_null(sc_cols, "weighted_pipeline_amount", "s")} as weighted_pipeline_amount
            from {dim} as r
            left join {scorecard} as s on s.rep_id = r.rep_id and s.period_month = ?
            where r.manager_id = ? and r.rep_id <> ?
              and (coalesce(r.is_active, true) or s.rep_id is not null)
            order by s.attainment desc nulls last, r.rep_name
            """,
            [month, manager["rep_id"], manager["rep_id"]],
        )
        if not reps:
            log.info("manager %s has no reps: no report", manager["rep_name"])
            continue
        fmt = Fmt(recipients.language_for(manager["email"], manager["source"]), settings.reporting_currency)
        sections = context_tables.sections(conn, [r["rep_id"] for r in reps], run_date, fmt, manager)
        team_ids = {r["rep_id"] for r in reps}
        sections["quarantined"] = [q for q in held_back if q["rep_id"] in team_ids]
        reports.append(_manager_report(fmt, manager, reps, run_date, weekly, sections, checks))
    return reports


def _manager_report(
    fmt: Fmt,
    manager: dict,
    reps: list[dict],
    run_date: date,
    weekly: bool,
    sections: dict,
    checks: dict | None,
) -> Report:
    rows = [_rep_row(r, fmt) for r in reps]
    total = _total_row(reps, fmt)
    team = manager["team_name"] or f"{manager['rep_name']}'s team"
    month_label = fmt.month(run_date)
    as_of = run_date.isoformat()
    subject = fmt.t(
        "subject_weekly" if weekly else "subject_daily", team=team, month=month_label, as_of=as_of
    )
    context = {
        "t": fmt.t,
        "lang": fmt.language,
        "subject": subject,
        "manager_name": manager["rep_name"],
        "team_name": team,
        "month_label": month_label,
        "as_of": as_of,
        "currency": fmt.currency,
        "weekly": weekly,
        "rows": rows,
        "total": total,
        "chart_cid": CHART_CID,
        "checks": checks,
        "stale_days": STALE_DAYS,
        **sections,
    }
    chart = render_attainment_chart(
        [*(chart_label(r["rep_name"], r["email"]) for r in reps), "Team total"],
        [*(to_float(r["attainment"]) for r in reps), to_float(total["attainment_raw"])],
    )
    if weekly:
        year, week, _ = run_date.isocalendar()
        kind, period = MANAGER_WEEKLY_KIND, f"{year}-W{week:02d}"
    else:
        kind, period = MANAGER_REPORT_KIND, as_of
    return Report(
        kind=kind,
        period_key=period,
        recipients=[manager["email"]],
        subject=subject,
        html=render("manager_report.html", context),
        text=render("manager_report.txt", context),
        inline_images={CHART_CID: chart},
        language=fmt.language,
    )


def _rep_row(r: dict, fmt: Fmt) -> dict:
    gap = _gap(r)
    return {
        "rep_name": r["rep_name"] or r["rep_id"],
        "won": fmt.number(r["won_amount"]),
        "target": fmt.number(r["target_amount"]),
        "attainment": fmt.pct(r["attainment"]),
        "color": attainment_color(r["attainment"]),
        "deals_won": int(r["deals_won"] or 0),
        "deals_lost": int(r["deals_lost"] or 0),
        "win_rate": fmt.pct(r["win_rate"]),
        "open_pipeline": fmt.number(r["open_pipeline_amount"]),
        "weighted": fmt.number(r.get("weighted_pipeline_amount")),
        "gap": fmt.number(gap),
        "coverage": _coverage(r["open_pipeline_amount"], gap),
    }


def _gap(r: dict) -> Decimal | None:
    if r["target_amount"] is None:
        return None
    return max(dec(r["target_amount"]) - dec(r["won_amount"]), Decimal(0))


def _coverage(open_pipeline: Any, gap: Decimal | None) -> str:
    if gap is None:
        return "–"
    if gap == 0:
        return "✓"
    return f"{dec(open_pipeline) / gap:.1f}×"


def _total_row(reps: list[dict], fmt: Fmt) -> dict:
    """Team figures recomputed from sums (not averages of the reps' ratios)."""
    won = sum((dec(r["won_amount"]) for r in reps), Decimal(0))
    target = sum((dec(r["target_amount"]) for r in reps), Decimal(0))
    deals_won = sum(int(r["deals_won"] or 0) for r in reps)
    deals_lost = sum(int(r["deals_lost"] or 0) for r in reps)
    attainment = won / target if target else None
    open_pipeline = sum((dec(r["open_pipeline_amount"]) for r in reps), Decimal(0))
    gap = max(target - won, Decimal(0)) if target else None
    return {
        "won": fmt.number(won),
        "target": fmt.number(target),
        "attainment": fmt.pct(attainment),
        "attainment_raw": attainment,
        "color": attainment_color(attainment),
        "deals_won": deals_won,
        "deals_lost": deals_lost,
        "win_rate": fmt.pct(
            Decimal(deals_won) / (deals_won + deals_lost) if deals_won + deals_lost else None
        ),
        "open_pipeline": fmt.number(open_pipeline),
        "weighted": fmt.number(sum((dec(r.get("weighted_pipeline_amount")) for r in reps), Decimal(0))),
        "gap": fmt.number(gap),
        "coverage": _coverage(open_pipeline, gap),
    }


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
