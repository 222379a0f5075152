"""The rep's commission statement for a month: tiers reached, lines, adjustments and the payable total.

Only to that rep (``recipients.yml`` ``statements.cc_manager: true`` copies the manager), in the
rep's language.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import duckdb

from flows.config.settings import Settings
from flows.reports.commission_data import adjustment_rows, commission_sources
from flows.reports.common import dec, dicts, render
from flows.reports.formatting import Fmt
from flows.reports.model import STATEMENT_KIND, Report
from flows.reports.payroll import draw_balances, period_status
from flows.reports.recipients import RecipientsConfig, load_recipients

log = logging.getLogger(__name__)


def build_commission_statements(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    month: date,
    rep: str | None = None,
    recipients: RecipientsConfig | None = None,
) -> list[Report]:
    """One statement per rep with commission lines (or adjustments) in ``month``, only to that rep.

    ``recipients.yml`` ``statements.cc_manager: true`` adds the rep's manager as a second recipient
    of the same statement. ``rep`` (rep id or e-mail) limits it to one rep (preview).
    """
    month = month.replace(day=1)
    recipients = recipients or load_recipients(settings)
    ledger = _Ledger.discover(conn)
    provisional = period_status(conn, month) != "closed"
    balances = draw_balances(conn, month)
    out = []
    for r in _statement_reps(conn, ledger, month, rep):
        if not r["email"]:
            log.warning("rep %s (%s) has no e-mail: no commission statement", r["rep_name"], r["rep_id"])
            continue
        fmt = Fmt(recipients.language_for(r["email"], r["source"]), settings.reporting_currency)
        context = _statement_context(fmt, r, month, *ledger.rep_rows(conn, r["rep_id"], month))
        context["provisional"] = provisional  # the month is not closed: amounts can still change
        if provisional:
            context["subject"] += fmt.t("provisional_tag")
        balance = balances.get(r["rep_id"])
        context["draw_balance"] = fmt.money(balance) if balance else None
        to = [r["email"]]
        if recipients.statements_cc_manager and r["manager_email"]:
            to.append(r["manager_email"])
        out.append(
            Report(
                kind=STATEMENT_KIND,
                period_key=f"{month:%Y-%m}:{r['rep_id']}",
                recipients=to,
                subject=context["subject"],
                html=render("statement.html", context),
                text=render("statement.txt", context),
                language=fmt.language,
            )
        )
    return out


@dataclass(frozen=True)
class _Ledger:
    """The commission marts as found, and the SQL fragments every rep's statement queries share."""

    commissions: str
    dim: str
    adjustments: tuple | None
    deal_name: str
    deal_join: str

    @classmethod
    def discover(cls, conn: duckdb.DuckDBPyConnection) -> _Ledger:
        commissions, dim, deals, adjustments = commission_sources(conn)
        return cls(
            commissions=commissions,
            dim=dim,
            adjustments=adjustments,
            deal_name="coalesce(d.deal_name, c.deal_id)" if deals else "c.deal_id",
            deal_join=f"left join {deals} as d on d.deal_id = c.deal_id" if deals else "",
        )

    def rep_rows(
        self, conn: duckdb.DuckDBPyConnection, rep_id: str, month: date
    ) -> tuple[list[dict], list[dict], list[dict]]:
        """The rep's commission lines, the tiers they reached, and the adjustments of ``month``."""
        lines = dicts(
            conn,
            f"""
            select c.commission_line_id, {self.deal_name} as deal, c.close_date, c.component, c.tier_number,
                   c.band_lower, c.band_upper, c.rate, c.base_amount, c.commission_amount
            from {self.commissions} as c {self.deal_join}
            where c.rep_id = ? and c.period_month = ? and c.line_type = 'commission'
            order by c.close_date, c.commission_line_id
            """,
            [rep_id, month],
        )
        tiers = dicts(
            conn,
            f"""
            select component, tier_number, min(band_lower) as band_lower, max(band_upper) as band_upper,
                   max(rate) as rate, sum(base_amount) as base, sum(commission_amount) as commission
            from {self.commissions} as c where rep_id = ? and period_month = ? and line_type = 'commission'
            group by component, tier_number order by component, tier_number
            """,
            [rep_id, month],
        )
        # bonus, cap, clawback, prior-period adjustment and draw lines of the ledger are adjustments
        adj = dicts(
            conn,
            f"""
            select c.commission_amount as amount,
                   c.line_type || coalesce(': ' || c.explanation, '') as reason
            from {self.commissions} as c
            where c.rep_id = ? and c.period_month = ? and c.line_type <> 'commission'
            order by c.line_type, c.commission_line_id
            """,
            [rep_id, month],
        )
        adj += adjustment_rows(conn, self.adjustments, month, rep_id)
        return lines, tiers, adj


def _statement_reps(
    conn: duckdb.DuckDBPyConnection, ledger: _Ledger, month: date, rep: str | None
) -> list[dict]:
    """Reps with commission lines or adjustments in ``month`` (only ``rep``, by id or e-mail, if given)."""
    adjustments = ledger.adjustments
    adjusted = (
        f"or r.rep_id in (select rep_id from {adjustments[0]} where period_month = ?)" if adjustments else ""
    )
    reps = dicts(
        conn,
        f"""
        select r.rep_id, r.rep_name, r.email, r.team_name, r.manager_email,
               r.source
        from {ledger.dim} as r
        where r.rep_id in (select rep_id from {ledger.commissions} where period_month = ?)
           {adjusted}
        order by r.team_name, r.rep_name
        """,
        [month, month] if adjustments else [month],
    )
    if rep:
        reps = [r for r in reps if rep.lower() in (r["rep_id"].lower(), (r["email"] or "").lower())]
    return reps


def _statement_context(
    fmt: Fmt, r: dict, month: date, lines: list[dict], tiers: list[dict], adj: list[dict]
) -> dict[str, Any]:
    lines_total = sum((dec(x["commission_amount"]) for x in lines), Decimal(0))
    adj_total = sum((dec(a["amount"]) for a in adj), Decimal(0))
    month_label = fmt.month(month)
    return {
        "t": fmt.t,
        "lang": fmt.language,
        "subject": fmt.t("statement_subject", month=month_label),
        "rep_name": r["rep_name"] or r["rep_id"],
        "month_label": month_label,
        "currency": fmt.currency,
        "lines": [
            {
                "deal": x["deal"],
                "close_date": str(x["close_date"]),
                "tier": x["tier_number"],
                "rate": fmt.pct(x["rate"]),
                "base": fmt.money(x["base_amount"]),
                "commission": fmt.money(x["commission_amount"]),
            }
            for x in lines
        ],
        "tiers": [
            {
                "component": x["component"],
                "tier": x["tier_number"],
                "band": _band(fmt, x["band_lower"], x["band_upper"]),
                "rate": fmt.pct(x["rate"]),
                "base": fmt.money(x["base"]),
                "commission": fmt.money(x["commission"]),
            }
            for x in tiers
        ],
        "adjustments": [{"amount": fmt.money(a["amount"]), "reason": a["reason"] or ""} for a in adj],
        "lines_total": fmt.money(lines_total),
        "adjustments_total": fmt.money(adj_total),
        "payable": fmt.money(lines_total + adj_total),
    }


def _band(fmt: Fmt, lower: Any, upper: Any) -> str:
    return f"{fmt.pct(lower)} – {fmt.pct(upper) if upper is not None else '∞'}"
