"""The finance summary for a month: the payroll columns per team and rep, the month's reconciliation
(commission earned, then each kind of line, adding up to the payable amount) and the payroll export
attached.

Each figure is one kind of ledger line (:mod:`flows.reports.finance_figures`): adjustments are the
prior-period and manual adjustment lines only, never the draw, deficit or instalment lines. Goes to the
``finance`` list of ``recipients.yml``, one report per language among its addresses.
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
from flows.reports.finance_figures import (
    COLUMN_LABELS,
    FIGURES,
    check_figures_cover_line_types,
    shown_columns,
    total_figures,
)
from flows.reports.formatting import Fmt
from flows.reports.model import FINANCE_KIND, Report
from flows.reports.payroll import AMOUNT_COLUMNS, payroll_files, payroll_rows, period_status
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
    check_figures_cover_line_types()
    by_language: dict[str, list[str]] = {}
    for address in addresses:
        by_language.setdefault(recipients.language_for(address), []).append(address)
    out = []
    for language, group in by_language.items():
        fmt = Fmt(language, settings.reporting_currency)
        context = _finance_context(language, month, rows)
        context |= {"provisional": provisional, "warnings": warnings, "currency": fmt.currency}
        context["rep_count"] = len(rows)
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


def _team_totals(rows: list[dict], shown: list[str]) -> dict[tuple[str, str], dict[str, Decimal]]:
    """Per (team, currency): the shown columns, the payable amount and the number of reps."""
    teams: dict[tuple[str, str], dict[str, Decimal]] = {}
    for r in rows:
        team = teams.setdefault(
            (r["team_name"] or "–", r["currency"]),
            {c: Decimal(0) for c in (*shown, "payable_amount", "reps")},
        )
        for c in (*shown, "payable_amount"):
            team[c] += r[c]
        team["reps"] += 1
    return teams


def _currency_totals(rows: list[dict], month: date) -> dict[str, dict[str, Any]]:
    """Per currency: the payroll columns, the payable amount and the reconciliation's figures."""
    out: dict[str, dict[str, Any]] = {}
    for currency in sorted({r["currency"] for r in rows}):
        group = [r for r in rows if r["currency"] == currency]
        out[currency] = {
            c: sum((r[c] for r in group), Decimal(0)) for c in (*AMOUNT_COLUMNS, "payable_amount")
        } | {"figures": total_figures(group, month), "reps": len(group)}
    return out


def _finance_context(language: str, month: date, rows: list[dict]) -> dict[str, Any]:
    """What both templates show: every amount formatted in its row's currency (a month whose lines are
    in several currencies gets a total and a reconciliation per currency, never one mixed sum)."""
    fmts = {c: Fmt(language, c) for c in {r["currency"] for r in rows}}
    fmt = Fmt(language)  # words and the month; amounts go through their currency's fmts
    shown = shown_columns(rows)
    teams = _team_totals(rows, shown)
    totals = _currency_totals(rows, month)
    month_label = fmt.month(month)
    return {
        "t": fmt.t,
        "lang": language,
        "subject": fmt.t("finance_subject", month=month_label),
        "month_label": month_label,
        "columns": [fmt.t(COLUMN_LABELS[c]) for c in shown],
        "reps": [
            {
                "rep_name": r["rep_name"] or r["rep_id"],
                "team": r["team_name"] or "–",
                "lines": r["line_count"],
                "amounts": [fmts[r["currency"]].money(r[c]) for c in (*shown, "payable_amount")],
            }
            for r in rows
        ],
        "teams": [
            {
                "team": team,
                "reps": int(v["reps"]),
                "amounts": [fmts[currency].money(v[c]) for c in (*shown, "payable_amount")],
            }
            for (team, currency), v in sorted(teams.items())
        ],
        "totals": [
            {
                "currency": currency,
                "reps": v["reps"],
                "amounts": [fmts[currency].money(v[c]) for c in (*shown, "payable_amount")],
                "reconciliation": [
                    {"label": fmt.t(f.label), "amount": fmts[currency].money(v["figures"][f.key])}
                    for f in FIGURES
                ],
                "payable": fmts[currency].money(v["payable_amount"]),
            }
            for currency, v in totals.items()
        ],
    }
