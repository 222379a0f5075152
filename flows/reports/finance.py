"""The finance summary for a month: commission totals per team and rep, with the payroll export attached.

Goes to the ``finance`` list of ``recipients.yml``, one report per language among its addresses.
"""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal
from typing import Any

import duckdb

from flows.config.settings import Settings
from flows.reports.commission_data import warning_rows
from flows.reports.common import render
from flows.reports.formatting import Fmt
from flows.reports.model import FINANCE_KIND, Report
from flows.reports.payroll import payroll_files, payroll_rows, period_status
from flows.reports.recipients import RecipientsConfig, load_recipients

log = logging.getLogger(__name__)


def build_finance_summary(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    month: date,
    recipients: RecipientsConfig | None = None,
    to: list[str] | None = None,
) -> list[Report]:
    """Totals per rep and team for ``month`` with the payroll export attached (CSV + XLSX).

    Goes to the ``finance`` list of recipients.yml (or ``to``); one report per language among them.
    """
    month = month.replace(day=1)
    recipients = recipients or load_recipients(settings)
    addresses = list(to) if to is not None else recipients.distribution("finance")
    if not addresses:
        log.warning("no finance recipients (recipients.yml lists.finance): no finance summary")
        return []
    rows = payroll_rows(conn, month, settings.reporting_currency)
    provisional = period_status(conn, month) != "closed"
    warnings = [{"code": w["warning_code"], "message": w["message"]} for w in warning_rows(conn, month)]
    attachments = payroll_files(conn, month, rows, settings.reporting_currency)
    teams = _team_totals(rows)
    by_language: dict[str, list[str]] = {}
    for address in addresses:
        by_language.setdefault(recipients.language_for(address), []).append(address)
    out = []
    for language, group in by_language.items():
        fmt = Fmt(language, settings.reporting_currency)
        context = _finance_context(fmt, month, rows, teams)
        context |= {"provisional": provisional, "warnings": warnings}
        if provisional:  # the month is not closed: the amounts can still change
            context["subject"] += fmt.t("provisional_tag")
        out.append(
            Report(
                kind=FINANCE_KIND,
                period_key=f"{month:%Y-%m}",
                recipients=group,
                subject=context["subject"],
                html=render("finance_summary.html", context),
                text=render("finance_summary.txt", context),
                attachments=attachments,
                language=language,
            )
        )
    return out


def _other(row: dict) -> Decimal:
    """Everything payable besides commission lines: bonuses, caps, clawbacks, adjustments, draws,
    deficit carry / recovery and deferred / released instalments."""
    return row["payable_amount"] - row["commission_amount"]


def _team_totals(rows: list[dict]) -> dict[str, dict[str, Decimal]]:
    teams: dict[str, dict[str, Decimal]] = {}
    for r in rows:
        team = teams.setdefault(
            r["team_name"] or "–",
            {"commission": Decimal(0), "adjustment": Decimal(0), "payable": Decimal(0), "reps": Decimal(0)},
        )
        team["commission"] += r["commission_amount"]
        team["adjustment"] += _other(r)
        team["payable"] += r["payable_amount"]
        team["reps"] += 1
    return teams


def _finance_context(
    fmt: Fmt, month: date, rows: list[dict], teams: dict[str, dict[str, Decimal]]
) -> dict[str, Any]:
    month_label = fmt.month(month)
    return {
        "t": fmt.t,
        "lang": fmt.language,
        "subject": fmt.t("finance_subject", month=month_label),
        "month_label": month_label,
        "currency": fmt.currency,
        "rep_count": len(rows),
        "reps": [
            {
                "rep_name": r["rep_name"] or r["rep_id"],
                "team": r["team_name"] or "–",
                "lines": r["line_count"],
                "commission": fmt.money(r["commission_amount"]),
                "adjustment": fmt.money(_other(r)),
                "payable": fmt.money(r["payable_amount"]),
            }
            for r in rows
        ],
        "teams": [
            {
                "team": name,
                "reps": int(v["reps"]),
                "commission": fmt.money(v["commission"]),
                "adjustment": fmt.money(v["adjustment"]),
                "payable": fmt.money(v["payable"]),
            }
            for name, v in sorted(teams.items())
        ],
        "total": {
            "commission": fmt.money(sum((r["commission_amount"] for r in rows), Decimal(0))),
            "adjustment": fmt.money(sum((_other(r) for r in rows), Decimal(0))),
            "payable": fmt.money(sum((r["payable_amount"] for r in rows), Decimal(0))),
        },
    }
